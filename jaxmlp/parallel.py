"""Data parallelism with ``jax.sharding``: a 1-D mesh over a ``data`` axis, and multi-host set-up.

Params are replicated on every device of the mesh (``P()``); each minibatch ``(batch, 784)`` is split along
its first axis (``P("data")``), so every device computes the gradient of its share and ``jit`` inserts the
all-reduce. Works the same on CPU devices (``JAX_NUM_CPU_DEVICES=N``), GPUs, TPU cores and several hosts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxmlp.errors import InputError

DATA_AXIS = "data"

Devices = int | Sequence[jax.Device]

_MORE_DEVICES_HINT = "on CPU, set JAX_NUM_CPU_DEVICES=N in the environment before JAX starts to get N devices"


def data_mesh(devices: Devices | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"``: over the first ``devices`` devices (an int), the given list, or all.

    Raises ``ValueError`` for a count below 1 or above the number of devices JAX sees.
    """
    available = jax.devices()
    if devices is None:
        chosen = available
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise InputError(
                f"devices={devices} asked for, but JAX sees {len(available)} "
                f"{available[0].platform.upper()} device(s) ({_MORE_DEVICES_HINT})"
            )
        chosen = available[: int(devices)]
    elif isinstance(devices, Sequence):
        chosen = list(devices)
        if not chosen:
            raise InputError(f"devices is an empty list; JAX sees {len(available)} device(s)")
        if not all(isinstance(d, jax.Device) for d in chosen):
            raise InputError(f"devices must be an int or a list of jax devices; got {devices!r}")
        if len(set(chosen)) != len(chosen):
            raise InputError("devices lists the same device twice")
    else:
        raise InputError(f"devices must be an int or a list of jax devices; got {devices!r}")
    if jax.process_count() > 1 and len(chosen) != len(available):
        raise InputError(f"with {jax.process_count()} processes the mesh must span all {len(available)} devices")
    return jax.make_mesh((len(chosen),), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=chosen)


def check_batch(batch_size: int, mesh: Mesh) -> None:
    """Raise ``ValueError`` unless the global ``batch_size`` splits evenly over the mesh's devices."""
    n = mesh.size
    if batch_size % n:
        lower, upper = batch_size - batch_size % n, batch_size + n - batch_size % n
        raise InputError(
            f"batch size {batch_size} does not divide evenly over {n} devices; "
            f"use a multiple of {n}, such as {lower or upper} or {upper}"
        )


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device of ``mesh`` (params, optimizer state, the dataset)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """Sharding that splits dimension ``axis`` (the batch) of an array across the ``data`` axis."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), DATA_AXIS))


def constrain_batch(tree: Any, mesh: Mesh | None) -> Any:
    """Inside ``jit``: ask that every leaf of ``tree`` ``(batch, ...)`` be split along ``data`` (no-op if no mesh)."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, batch_sharded(mesh))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Put every leaf of ``tree`` on every device of ``mesh``; host values must be equal in every process."""
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(a: Any) -> jax.Array:
        if isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(put(jax.random.key_data(a)), impl=jax.random.key_impl(a))
        return jax.make_array_from_process_local_data(sharding, np.asarray(a))

    return jax.tree.map(put, tree)


def global_batch(local_batch: Any, mesh: Mesh) -> Any:
    """The global batch from each process's share: leaves ``(batch // num_processes, ...)`` → ``(batch, ...)``.

    Each process passes its own consecutive slice of the global batch (process ``i`` holds rows
    ``i * b : (i + 1) * b``); the result is split along ``data`` (``jax.make_array_from_process_local_data``).
    """
    sharding = batch_sharded(mesh)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), local_batch)


def process_share(n: int) -> slice:
    """The rows ``[lo, hi)`` of a length-``n`` global batch that this process feeds (``n`` must divide evenly)."""
    count, index = jax.process_count(), jax.process_index()
    if n % count:
        raise InputError(f"batch of {n} does not split evenly over {count} processes")
    share = n // count
    return slice(index * share, (index + 1) * share)


def initialize_distributed(
    coordinator: str,
    num_processes: int,
    process_id: int,
    *,
    local_device_ids: Sequence[int] | None = None,
    timeout: int = 300,
) -> None:
    """Join a multi-host run: ``jax.distributed.initialize`` with the coordinator ``HOST:PORT`` of process 0.

    Call it once per process, before any other JAX call; afterwards ``jax.devices()`` lists every process's
    devices (on CPU they talk through gloo collectives, the default).
    """
    if not isinstance(num_processes, int) or num_processes < 1:
        raise InputError(f"num_processes must be a positive integer; got {num_processes!r}")
    if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise InputError(f"process_id must be in 0..{num_processes - 1}; got {process_id!r}")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"coordinator must look like HOST:PORT (e.g. 10.0.0.1:1234); got {coordinator!r}")
    # The rendezvous blocks inside C++, where Python cannot deliver Ctrl-C; waiting for it from the main thread in
    # short joins keeps Ctrl-C and SIGTERM working (the caller then ends the process: the C++ call cannot be undone).
    failure: list[BaseException] = []
    deadline = time.monotonic() + timeout
    # jax aborts the whole process (a C++ check failure) when the coordinator is absent, and when a second process
    # 0 joins a running one: both are looked for first, so they end in one line instead.
    if process_id != 0:
        _wait_for_listener(host, int(port), deadline, coordinator)
    elif _refused(host, int(port)) is None:
        raise InputError(
            f"something already listens at {coordinator} (another process 0?); each run needs its own --coordinator"
        )

    def join() -> None:
        try:
            jax.distributed.initialize(
                coordinator_address=coordinator,
                num_processes=num_processes,
                process_id=process_id,
                local_device_ids=local_device_ids,
                initialization_timeout=max(1, round(deadline - time.monotonic())),
            )
        except BaseException as error:  # handed to the main thread below
            failure.append(error)

    worker = threading.Thread(target=join, name="jaxmlp-rendezvous", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if failure:
        message = " ".join(str(failure[0]).split())[:200]
        raise InputError(
            f"could not join the multi-host run at {coordinator} within {timeout} s ({message}); "
            "start every process with the same --coordinator and --num-processes"
        ) from None


def _refused(host: str, port: int) -> str | None:
    """None if something accepts a TCP connection at ``host:port``, else why not."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as error:
        return error.strerror or type(error).__name__


def _wait_for_listener(host: str, port: int, deadline: float, coordinator: str) -> None:
    """Return once something accepts TCP connections at ``host:port``; ``InputError`` after ``deadline``."""
    while (reason := _refused(host, port)) is not None:
        if time.monotonic() >= deadline:
            raise InputError(
                f"no coordinator answers at {coordinator} ({reason}); start process 0 first, with the same "
                "--coordinator, or raise --coordinator-timeout"
            )
        time.sleep(0.5)
