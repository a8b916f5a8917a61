"""jaxmlp train: load MNIST, train a preset (optionally changed by flags), report and save."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from typing import Any

PRESET_HELP = "seed: the article's sigmoid network and plain gradient descent; best: ReLU + cross-entropy + AdamW"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train the network on MNIST", description=__doc__)
    p.add_argument("--preset", choices=("seed", "best"), help=PRESET_HELP + " (default: seed)")
    p.add_argument("--sizes", type=_sizes, help="layer widths, e.g. 784,16,16,10")
    p.add_argument("--activation", choices=("sigmoid", "relu", "tanh"), help="hidden-layer activation")
    p.add_argument("--output", choices=("sigmoid", "softmax", "identity"), help="output-layer activation")
    p.add_argument("--cost", choices=("quadratic", "cross-entropy"))
    p.add_argument("--optimizer", choices=("gd", "sgd", "momentum", "adam", "adamw"), help="gd: p - lr * grad")
    p.add_argument("--lr", type=_lrs, help="learning rate; with --ensemble a comma list a,b,c (one per member)")
    p.add_argument("--schedule", choices=("constant", "cosine", "warmup-cosine"), help="learning-rate schedule")
    p.add_argument("--batch-size", type=_batch_size, help="examples per step, or 'full' for full-batch descent")
    p.add_argument("--epochs", type=_positive(int))
    p.add_argument("--shift", type=int, help="random shifts of up to this many pixels (0 = none)")
    p.add_argument("--seed", type=int, help="random seed for the initial weights and the shuffling")
    p.add_argument("--source", default="auto", choices=("auto", "cache", "tfds", "idx", "mirror"), help="MNIST source")
    p.add_argument("--data-dir", help="folder of IDX files (for --source idx)")
    p.add_argument("--out", help="write params.npz and metrics.json to this folder")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on the last line of stdout")
    p.add_argument("--plots", action="store_true", help="with --out: also write curves.png and weights_layer1.png")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint (same config)")
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="resumable checkpoint written after every epoch (default: OUT/checkpoint.npz, else the --resume file, "
        "else runs/last/checkpoint.npz)",
    )
    p.add_argument("--devices", type=_positive(int), help="data-parallel over this many devices (batch split evenly)")
    p.add_argument("--ensemble", type=_positive(int), metavar="K", help="train K networks in one program")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="multi-host: address of process 0 (all processes)")
    p.add_argument("--num-processes", type=_positive(int), help="multi-host: how many processes take part")
    p.add_argument("--process-id", type=int, help="multi-host: this process's rank, 0..N-1")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import jaxmlp
    from jaxmlp.checkpoint import save_params
    from jaxmlp.train import DivergenceError

    _check_paths(args)
    lrs = _scale_out(args)
    config, state, preset, history = _start(args)
    data = jaxmlp.load_mnist(args.source, data_dir=args.data_dir)
    if args.ensemble:
        return _run_ensemble(args, config, data, preset, lrs)
    say = _say(args)
    resuming = f", resuming after epoch {state.epoch}" if state is not None else ""
    say(f"training {'-'.join(map(str, config.sizes))} ({preset} preset) on {data.name} from {data.source}{resuming}")
    progress = _Progress(config.epochs, say)
    checkpoints = _Checkpoints(_checkpoint_path(args), config, preset, progress.update)
    try:
        main = args.coordinator is None or args.process_id == 0  # one process writes the checkpoints
        on_epoch = checkpoints if main else progress.update
        params, history = jaxmlp.fit(
            data, config, state=state, on_epoch=on_epoch, devices=args.devices, history=history
        )
    except KeyboardInterrupt:
        progress.close()
        return _interrupted(args, checkpoints, config)
    except DivergenceError as error:
        progress.close()
        return _diverged(args, error, checkpoints, preset)
    progress.close()

    metrics = run_metrics(config, history, data.source, preset)
    say(
        f"test accuracy {metrics['test_accuracy']:.2%}  (compile {history.compile_seconds:.2f} s, "
        f"train {sum(history.epoch_seconds):.1f} s, {history.examples_per_second:,.0f} examples/s)"
    )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        save_params(os.path.join(args.out, "params.npz"), params, {"config": metrics["config"], "preset": preset})
        _write_metrics(args.out, metrics)
        say(f"wrote {os.path.join(args.out, 'params.npz')} and metrics.json")
        if args.plots:
            from jaxmlp.plots import save_training_plots

            say(f"wrote {' and '.join(save_training_plots(args.out, params, history))}")
    if args.json:
        print(json.dumps(metrics))
    return 0


def _say(args: argparse.Namespace) -> Any:
    """``print`` for the human-readable lines; with ``--json`` they go to stderr, keeping stdout for the JSON."""
    return print if not args.json else (lambda *a, **k: print(*a, **k, file=sys.stderr))


def _write_metrics(out: str, metrics: dict[str, Any]) -> str:
    """Write ``OUT/metrics.json`` atomically (like every other file ``jaxmlp train`` writes); return its path."""
    from jaxmlp.checkpoint import atomic_write

    path = os.path.join(out, "metrics.json")
    text = json.dumps(metrics, indent=2).encode()
    atomic_write(path, lambda f: f.write(text))
    return path


def run_metrics(config: Any, history: Any, source: str, preset: str) -> dict[str, Any]:
    """The ``metrics.json`` object: results, timings, the full config, data source, device and versions."""
    import jax
    import numpy as np
    import optax

    import jaxmlp

    device = jax.devices()[0]
    return {
        "test_accuracy": history.test_accuracy[-1],
        "test_cost": history.test_cost[-1],
        "epochs": len(history.epoch_seconds),
        "epoch_seconds": history.epoch_seconds,
        "compile_seconds": history.compile_seconds,
        "examples_per_second": history.examples_per_second,
        "history": {
            "train_cost": history.train_cost,
            "test_cost": history.test_cost,
            "test_accuracy": history.test_accuracy,
        },
        "preset": preset,
        "config": dataclasses.asdict(config),
        "data_source": source,
        "backend": jax.default_backend(),
        "device": f"{device.platform}:{device.device_kind}",
        "versions": {
            "jaxmlp": jaxmlp.__version__,
            "jax": jax.__version__,
            "optax": optax.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
    }


class _Progress:
    """A tqdm bar over epochs on a terminal; one plain line per epoch otherwise."""

    def __init__(self, epochs: int, say: Any):
        self.say, self.bar = say, None
        if sys.stdout.isatty() and say is print:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True)

    def update(self, state: Any, history: Any) -> None:
        cost, acc = history.test_cost[-1], history.test_accuracy[-1]
        rate = history.examples_per_epoch / history.epoch_seconds[-1]
        if self.bar is not None:
            self.bar.set_postfix(cost=f"{cost:.4f}", test_acc=f"{acc:.2%}", ex_per_s=f"{rate:,.0f}")
            self.bar.update(1)
        else:
            self.say(
                f"epoch {state.epoch:3d}  test cost {cost:.4f}  test accuracy {acc:.2%}  {rate:,.0f} examples/s",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Checkpoints:
    """``on_epoch``: write a resumable checkpoint (atomically) after every epoch, then report the progress."""

    def __init__(self, path: str, config: Any, preset: str, report: Any):
        self.path, self.config, self.preset, self.report = path, config, preset, report
        self.epoch: int | None = None  # the last epoch saved by this run

    def __call__(self, state: Any, history: Any) -> None:
        from jaxmlp.checkpoint import save_state

        save_state(self.path, state, self.config, {"preset": self.preset, "history": history.to_dict()})
        self.epoch = state.epoch
        self.report(state, history)


def _check_paths(args: argparse.Namespace) -> None:
    """Fail before any training on paths that cannot work."""
    from jaxmlp.cli import UsageError

    if args.plots and not args.out:
        raise UsageError("--plots needs --out DIR (the pictures are written next to params.npz)")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file; expected a folder for params.npz and metrics.json")
    if args.data_dir and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir} is not a folder; expected a folder holding the MNIST IDX files")
    if args.resume and not os.path.isfile(args.resume):
        raise UsageError(f"--resume {args.resume}: no such file; expected a checkpoint.npz written by jaxmlp train")
    if args.checkpoint and os.path.isdir(args.checkpoint):
        raise UsageError(f"--checkpoint {args.checkpoint} is a folder; expected a file name like run/checkpoint.npz")


def _start(args: argparse.Namespace) -> tuple[Any, Any, str, Any]:
    """``(config, state, preset, history)``: from the preset and flags, or from the ``--resume`` checkpoint."""
    import jaxmlp
    from jaxmlp.checkpoint import load_state
    from jaxmlp.cli import UsageError

    overrides = _overrides(args)
    if not args.resume:
        preset = args.preset or "seed"
        return dataclasses.replace(jaxmlp.PRESETS[preset], **overrides), None, preset, None
    state, config, meta = load_state(args.resume)
    preset = meta.get("preset", "seed")
    changed = [f"{k}={getattr(config, k)!r} (flag: {v!r})" for k, v in overrides.items() if getattr(config, k) != v]
    if args.preset and args.preset != preset:
        changed.insert(0, f"preset={preset!r} (flag: {args.preset!r})")
    if changed:
        raise UsageError(
            f"--resume {args.resume} was saved with {', '.join(changed)}; drop those flags to resume or start a new run"
        )
    if state.epoch >= config.epochs:
        raise UsageError(f"--resume {args.resume} already finished all {config.epochs} epochs; nothing to resume")
    history = jaxmlp.History.from_dict(meta["history"]) if "history" in meta else None
    return config, state, preset, history


def _checkpoint_path(args: argparse.Namespace) -> str:
    if args.checkpoint:
        return args.checkpoint
    if args.out:
        return os.path.join(args.out, "checkpoint.npz")
    return args.resume or os.path.join("runs", "last", "checkpoint.npz")


def _resume_command(args: argparse.Namespace, path: str) -> str:
    command = ["jaxmlp", "train", "--resume", path]
    for flag, value in (("--out", args.out), ("--data-dir", args.data_dir), ("--checkpoint", args.checkpoint)):
        if value:
            command += [flag, value]
    if args.source != "auto":
        command += ["--source", args.source]
    return shlex.join(command)


def _interrupted(args: argparse.Namespace, checkpoints: _Checkpoints, config: Any) -> int:
    """Ctrl-C: the checkpoint of the last completed epoch is already on disk; say how to resume. Exit 130."""
    if checkpoints.epoch is not None:
        where = f"epoch {checkpoints.epoch} of {config.epochs} is saved in {checkpoints.path}"
        path = checkpoints.path
    elif args.resume:
        where, path = f"nothing new was saved; {args.resume} is unchanged", args.resume
    else:
        print("jaxmlp train: interrupted before the first epoch finished; nothing was saved", file=sys.stderr)
        return 130
    print(f"jaxmlp train: interrupted; {where}; resume with: {_resume_command(args, path)}", file=sys.stderr)
    return 130


def _diverged(args: argparse.Namespace, error: Any, checkpoints: _Checkpoints, preset: str) -> int:
    """A non-finite cost: keep the last finite params (never NaNs over a good file), report, exit 1."""
    from jaxmlp.checkpoint import save_params

    state, kept = error.state, []
    if checkpoints.epoch is not None:
        kept.append(f"the checkpoint {checkpoints.path} holds epoch {checkpoints.epoch}")
    if args.out:
        path = os.path.join(args.out, "params.npz")
        meta = {"config": dataclasses.asdict(checkpoints.config), "preset": preset, "diverged": True}
        save_params(path, state.params, {**meta, "epoch": state.epoch})
        kept.append(f"the last finite params (after epoch {state.epoch}) are in {path}")
    kept_text = "; " + "; ".join(kept) if kept else "; nothing was saved"
    print(f"jaxmlp train: error: {error}{kept_text}", file=sys.stderr)
    return 1


def _scale_out(args: argparse.Namespace) -> list[float] | None:
    """Check the --devices/--ensemble/multi-host flags, join a multi-host run; return the ensemble's lr list."""
    from jaxmlp.cli import UsageError

    lrs = list(args.lr) if isinstance(args.lr, tuple) else None
    if lrs is not None and not args.ensemble:
        raise UsageError(f"--lr {','.join(map(str, lrs))}: a list of learning rates needs --ensemble K")
    if args.ensemble and lrs is not None and len(lrs) not in (1, args.ensemble):
        raise UsageError(f"--lr lists {len(lrs)} learning rates for --ensemble {args.ensemble}; give 1 or K of them")
    if args.ensemble and (args.devices or args.coordinator or args.resume):
        raise UsageError("--ensemble runs on one device; it does not combine with --devices, --coordinator, --resume")
    multi = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in multi):
        if any(v is None for v in multi):
            raise UsageError("multi-host training needs all of --coordinator, --num-processes and --process-id")
        from jaxmlp.parallel import initialize_distributed

        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    if lrs is not None:
        args.lr = lrs[0]
    return lrs


def _run_ensemble(args: argparse.Namespace, config: Any, data: Any, preset: str, lrs: list[float] | None) -> int:
    """--ensemble K: train K members in one program; report each member, the vote and the mean output."""
    from jaxmlp.ensemble import fit_ensemble

    say = _say(args)
    seeds = list(range(config.seed, config.seed + args.ensemble))
    say(f"training an ensemble of {args.ensemble} ({preset} preset) on {data.name} from {data.source}")

    def progress(epoch: int, result: Any) -> None:
        best, vote = max(result.member_accuracy), result.vote_accuracy
        say(f"epoch {epoch:3d}  best member {best:.2%}  majority vote {vote:.2%}", flush=True)

    result = fit_ensemble(data, config, seeds=seeds, lrs=lrs, on_epoch=progress)
    for seed, lr, acc in zip(result.seeds, result.lrs, result.member_accuracy, strict=True):
        say(f"member seed {seed:3d}  lr {lr:g}  test accuracy {acc:.2%}")
    best = max(result.member_accuracy)
    vote, mean = result.vote_accuracy, result.mean_output_accuracy
    say(f"majority vote {vote:.2%}  mean output {mean:.2%}  (best member {best:.2%})")
    metrics = {**result.to_dict(), "preset": preset, "config": dataclasses.asdict(config)}
    if args.out:
        say(f"wrote {_write_metrics(args.out, metrics)}")
    if args.json:
        print(json.dumps(metrics))
    return 0


def _lrs(text: str) -> float | tuple[float, ...]:
    """One positive learning rate, or a comma list of them (for --ensemble)."""
    values = tuple(_positive(float)(part) for part in text.split(","))
    return values[0] if len(values) == 1 else values


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("sizes", "activation", "output", "cost", "optimizer", "lr", "schedule", "epochs", "shift", "seed")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.batch_size is not None:
        overrides["batch_size"] = None if args.batch_size == "full" else args.batch_size
    return overrides


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
    return "full" if text == "full" else _positive(int)(text)


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse
