"""One flag for every ``TrainConfig`` field (choices from the library's own tables), and the run's plan.

``plan_run`` turns the flags into what ``jaxmlp train`` runs: the preset with the flags applied (or the config of
the ``--resume`` checkpoint), the output folder, and the ensemble's learning rates, all checked before any work.
It prints the effective configuration in one line, and warns once about combinations the README warns about.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NamedTuple

from jaxmlp.commands.common import positive

FIELDS = ("sizes", "activation", "output", "cost", "init", "optimizer", "lr", "schedule", "batch_size", "epochs")
FIELDS += ("shift", "label_smoothing", "weight_decay", "seed")


class Plan(NamedTuple):
    """What ``jaxmlp train`` runs, decided and checked before any work."""

    config: Any
    preset: str
    state: Any  # a TrainState when resuming, else None
    history: Any
    out: str
    lrs: tuple[float, ...] | None


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """``--sizes``, ``--activation``, ..., ``--seed``: each overrides one field of the preset."""
    from jaxmlp.config import OPTIMIZERS, SCHEDULES
    from jaxmlp.costs import COSTS
    from jaxmlp.model import ACTIVATIONS, INITS, OUTPUTS

    p.add_argument("--sizes", type=_sizes, help="layer widths, e.g. 784,16,16,10")
    p.add_argument("--activation", choices=list(ACTIVATIONS), help="hidden-layer activation")
    p.add_argument("--output", choices=list(OUTPUTS), help="output-layer activation")
    p.add_argument("--cost", choices=list(COSTS))
    p.add_argument("--init", choices=list(INITS), help="normal: N(0, 1) (Nielsen); lecun/he: scaled, zero biases")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), help="gd: the plain rule p - lr * grad")
    p.add_argument("--lr", type=_lrs, help="learning rate; with --ensemble a comma list a,b,c (one per member)")
    p.add_argument("--schedule", choices=list(SCHEDULES), help="learning-rate schedule")
    p.add_argument("--batch-size", type=_batch_size, help="examples per step, or 'full' for full-batch descent")
    p.add_argument("--epochs", type=positive(int))
    p.add_argument("--shift", type=int, help="random shifts of up to this many pixels (0 = none, at most 4)")
    p.add_argument("--label-smoothing", type=float, help="cross-entropy only: targets (1 - e) onehot + e / 10")
    p.add_argument("--weight-decay", type=float, help="adamw only: decoupled weight decay")
    p.add_argument("--seed", type=int, help="random seed for the initial weights and the shuffling")


EPOCHS_ENV = "JAXMLP_EPOCHS"  # caps every run's epochs: quick tries, and the test that runs the README's commands


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line (the ensemble's lr list counts as its first value).

    ``$JAXMLP_EPOCHS``, when set, caps the number of epochs (announced in the run's first line).
    """
    values = {name: getattr(args, name) for name in FIELDS if getattr(args, name, None) is not None}
    if os.environ.get(EPOCHS_ENV):
        values["epochs"] = _env_epochs()
    if isinstance(values.get("lr"), tuple):
        values["lr"] = values["lr"][0]
    if values.get("batch_size") == "full":
        values["batch_size"] = None
    return values


def plan_run(args: argparse.Namespace, say: Any) -> Any:
    """The ``Plan`` of a ``jaxmlp train`` invocation; ``InputError`` for anything that cannot work."""
    import jaxmlp
    from jaxmlp.errors import InputError
    from jaxmlp.runs import default_folder

    _check_scale_out(args)
    changes = overrides(args)
    lrs = args.lr if isinstance(args.lr, tuple) else None
    if args.resume is not None:
        if os.environ.get(EPOCHS_ENV) and args.epochs is None:  # a resumed run keeps its own epochs
            changes.pop("epochs", None)
        config, state, preset, history = _from_checkpoint(args, changes)
        out = args.out or os.path.dirname(os.path.abspath(args.resume))
    else:
        preset = args.preset or "seed"
        config, state, history = jaxmlp.PRESETS[preset].replace(**changes), None, None
        out = args.out if args.out is not None else str(default_folder(preset))
    if args.out is not None and args.out.strip() == "":
        raise InputError("--out is empty; expected a folder name like runs/seed")
    if args.devices and args.coordinator is None:  # the device count and the split are known before any work
        from jaxmlp.parallel import check_batch, data_mesh

        check_batch(config.batch_size or 60_000, data_mesh(args.devices))  # full batch: MNIST's 60,000 images
    shown = ", ".join(f"{k}={v}" for k, v in config.changes_from(jaxmlp.PRESETS[preset]).items())
    capped = f" (epochs capped by ${EPOCHS_ENV})" if os.environ.get(EPOCHS_ENV) else ""
    say(f"{preset} preset" + (f", overridden: {shown}" if shown else "") + f"{capped}; writing to {out}")
    for warning in poor_combinations(config):
        say(f"warning: {warning}")
    return Plan(config, preset, state, history, out, lrs)


def poor_combinations(config: Any) -> list[str]:
    """Combinations that train badly (measured; the README's tuning notes), one sentence each."""
    notes = []
    if config.activation == "relu" and config.init == "normal":
        notes.append("ReLU with N(0, 1) weights starts with exploding activations; add --init he")
    if config.optimizer in ("adam", "adamw") and config.lr > 0.1:
        notes.append(f"lr {config.lr:g} is large for {config.optimizer} (the best preset uses 5e-3)")
    if config.cost == "quadratic" and config.output == "softmax":
        notes.append("softmax with the quadratic cost learns slowly; cross-entropy is its natural cost")
    return notes


def _from_checkpoint(args: argparse.Namespace, changes: dict[str, Any]) -> tuple[Any, Any, str, Any]:
    import jaxmlp
    from jaxmlp.errors import InputError
    from jaxmlp.resume import load_state

    if args.resume.strip() == "" or not os.path.isfile(args.resume):
        raise InputError(f"--resume {args.resume!r}: no such file; expected a checkpoint.npz written by jaxmlp train")
    state, config, meta = load_state(args.resume)
    preset = meta.get("preset", "seed") if meta.get("preset") in jaxmlp.PRESETS else "seed"
    changed = [f"{k}={getattr(config, k)!r} (flag: {v!r})" for k, v in changes.items() if getattr(config, k) != v]
    if args.preset and args.preset != preset:
        changed.insert(0, f"preset={preset!r} (flag: {args.preset!r})")
    if changed:
        raise InputError(
            f"--resume {args.resume} was saved with {', '.join(changed)}; drop those flags to resume or start a new run"
        )
    if state.epoch >= config.epochs:
        raise InputError(f"--resume {args.resume} already finished all {config.epochs} epochs; nothing to resume")
    history = jaxmlp.History.from_dict(meta["history"]) if "history" in meta else None
    return config, state, preset, history


def _check_scale_out(args: argparse.Namespace) -> None:
    from jaxmlp.errors import InputError

    lrs = args.lr if isinstance(args.lr, tuple) else None
    if lrs is not None and not args.ensemble:
        raise InputError(f"--lr {','.join(map(str, lrs))}: a list of learning rates needs --ensemble K")
    if args.ensemble and lrs is not None and len(lrs) not in (1, args.ensemble):
        raise InputError(f"--lr lists {len(lrs)} learning rates for --ensemble {args.ensemble}; give 1 or K of them")
    if args.ensemble and (args.devices or args.coordinator or args.resume):
        raise InputError("--ensemble runs on one device; it does not combine with --devices, --coordinator, --resume")
    multi = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in multi) and any(v is None for v in multi):
        raise InputError("multi-host training needs all of --coordinator, --num-processes and --process-id")


def _env_epochs() -> int:
    from jaxmlp.errors import InputError

    text = os.environ[EPOCHS_ENV]
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{EPOCHS_ENV}={text!r}; expected a positive number of epochs (or unset it)")
    return int(text)


def _lrs(text: str) -> float | tuple[float, ...]:
    """One positive learning rate, or a comma list of them (for --ensemble)."""
    values = tuple(positive(float)(part) for part in text.split(","))
    return values[0] if len(values) == 1 else values


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n) for n in text.split(","))
    except ValueError:
        message = f"expected comma-separated layer widths like 784,16,16,10; got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if len(sizes) < 2 or min(sizes) < 1 or sizes[0] != 784 or sizes[-1] != 10:
        raise argparse.ArgumentTypeError(f"layer widths must start at 784, end at 10 and be positive; got {text!r}")
    return sizes


def _batch_size(text: str) -> int | str:
    return "full" if text == "full" else positive(int)(text)
