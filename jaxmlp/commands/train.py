"""jaxmlp train: load MNIST, train a preset (any field changed by a flag), save the network and say where."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from jaxmlp.commands import stopping
from jaxmlp.commands.common import Reporter, add_data_flags, load_data, positive
from jaxmlp.commands.config_flags import Plan, add_config_flags, plan_run

PRESET_HELP = "seed: the article's sigmoid network and plain gradient descent; best: ReLU + cross-entropy + AdamW"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train the network on MNIST", description=__doc__)
    p.add_argument("--preset", choices=("seed", "best"), help=PRESET_HELP + " (default: seed)")
    add_config_flags(p)
    add_data_flags(p)
    p.add_argument("--out", help="folder for params.npz, metrics.json, checkpoint.npz (default: runs/PRESET-DATE-TIME)")
    p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --out")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout (progress goes to stderr)")
    p.add_argument("--plots", action="store_true", help="also write curves.png and weights_layer1.png into --out")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in this checkpoint (same config)")
    p.add_argument("--devices", type=positive(int), help="data-parallel over this many devices (batch split evenly)")
    p.add_argument("--ensemble", type=positive(int), metavar="K", help="train K networks in one program")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="multi-host: address of process 0 (all processes)")
    p.add_argument("--num-processes", type=positive(int), help="multi-host: how many processes take part")
    p.add_argument("--process-id", type=int, help="multi-host: this process's rank, 0..N-1")
    p.add_argument("--coordinator-timeout", type=positive(int), default=300, help="multi-host: seconds to wait for all")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxmlp.runs import RunFolder

    say = Reporter(args.json)
    plan: Plan = plan_run(args, say)
    if args.plots:
        require_pictures()
    if args.coordinator is not None:
        from jaxmlp.parallel import initialize_distributed

        say.phase(f"joining the multi-host run at {args.coordinator} (timeout {args.coordinator_timeout} s)")
        try:
            initialize_distributed(
                args.coordinator, args.num_processes, args.process_id, timeout=args.coordinator_timeout
            )
        except KeyboardInterrupt as stop:  # the rendezvous thread cannot be stopped: end the process right here
            print("jaxmlp train: interrupted while joining the multi-host run; nothing was saved", file=sys.stderr)
            sys.stderr.flush()
            os._exit(stopping.exit_code(stop))
    main = args.process_id in (None, 0)  # in a multi-host run only process 0 writes (and locks) the folder
    opened = RunFolder.open(plan.out, overwrite=args.overwrite, resuming_from=args.resume) if main else None
    with opened or RunFolder(Path(plan.out)) as folder:
        data = load_data(args, say)
        if args.ensemble:
            from jaxmlp.commands.train_ensemble import run_ensemble

            return run_ensemble(args, plan, data, folder, say)
        return _train(args, plan, data, folder, say)


def _train(args: argparse.Namespace, plan: Plan, data: Any, folder: Any, say: Reporter) -> int:
    import jaxmlp
    from jaxmlp.checkpoint import save_params
    from jaxmlp.train import DivergenceError, run_metrics

    resuming = f", resuming after epoch {plan.state.epoch}" if plan.state is not None else ""
    say(f"training {'-'.join(map(str, plan.config.sizes))} on {data.name} from {data.source}{resuming}")
    progress = say.epochs(plan.config.epochs, done=plan.state.epoch if plan.state is not None else 0)
    saver = _Checkpoints(folder.file("checkpoint.npz"), plan, progress.update)
    main = args.process_id in (None, 0)
    try:
        params, history = jaxmlp.fit(
            data,
            plan.config,
            state=plan.state,
            on_epoch=saver if main else progress.update,
            on_compiled=progress.compiled,
            devices=args.devices,
            history=plan.history,
        )
    except KeyboardInterrupt as stop:
        progress.close()
        return _interrupted(args, saver, plan, stop)
    except DivergenceError as error:
        progress.close()
        return _diverged(error, saver, plan, folder, say)
    progress.close()
    metrics = run_metrics(plan.config, history, data.source, plan.preset)
    say(
        f"test accuracy {metrics['test_accuracy']:.2%}  (compile {history.compile_seconds:.2f} s, "
        f"train {sum(history.epoch_seconds):.1f} s, {history.examples_per_second:,.0f} examples/s)"
    )
    if main:
        save_params(folder.file("params.npz"), params, {"config": plan.config.to_dict(), "preset": plan.preset})
        folder.write_json("metrics.json", metrics)
        say(f"saved the trained network: {folder.file('params.npz')} (and metrics.json, checkpoint.npz)")
        if args.plots:
            from jaxmlp.plots import save_training_plots

            say(f"wrote {' and '.join(save_training_plots(str(folder.path), params, history, plan.config))}")
    if args.json:
        from jaxmlp.runs import json_safe

        print(json.dumps(json_safe(metrics)))
    return 0


class _Checkpoints:
    """``on_epoch``: write a resumable checkpoint (atomically) after every epoch, then report the progress."""

    def __init__(self, path: Any, plan: Plan, report: Any):
        self.path, self.plan, self.report = str(path), plan, report
        self.epoch: int | None = None  # the last epoch saved by this run

    def __call__(self, state: Any, history: Any) -> None:
        from jaxmlp.resume import save_state

        save_state(self.path, state, self.plan.config, {"preset": self.plan.preset, "history": history.to_dict()})
        self.epoch = state.epoch
        self.report(state, history)


def _interrupted(args: argparse.Namespace, saver: _Checkpoints, plan: Plan, stop: BaseException) -> int:
    """Ctrl-C or SIGTERM: the checkpoint of the last completed epoch is already on disk; say how to resume."""
    code = stopping.exit_code(stop)
    signal_name = "terminated" if code == 143 else "interrupted"
    if saver.epoch is None and not args.resume:
        print(f"jaxmlp train: {signal_name} before the first epoch finished; nothing was saved", file=sys.stderr)
        return code
    path = saver.path if saver.epoch is not None else args.resume
    where = (
        f"epoch {saver.epoch} of {plan.config.epochs} is saved in {path}"
        if saver.epoch is not None
        else f"nothing new was saved; {path} is unchanged"
    )
    command = ["jaxmlp", "train", "--resume", path, "--out", plan.out]
    command += [flag for flag in ("--source", args.source) if args.source != "auto"]
    command += ["--data-dir", args.data_dir] if args.data_dir else []
    print(f"jaxmlp train: {signal_name}; {where}; resume with: {shlex.join(command)}", file=sys.stderr)
    return code


def _diverged(error: Any, saver: _Checkpoints, plan: Plan, folder: Any, say: Reporter) -> int:
    """A non-finite cost: keep the last finite params as params.diverged.npz (never over params.npz); exit 1."""
    from jaxmlp.resume import save_diverged

    kept = [f"the checkpoint {saver.path} holds epoch {saver.epoch}"] if saver.epoch is not None else []
    path = save_diverged(folder.path, error.state, plan.config, plan.preset)
    kept.append(f"the last finite params (after epoch {error.state.epoch}) are in {path}")
    print(f"jaxmlp train: error: {error}; {'; '.join(kept)}", file=sys.stderr)
    return 1


def require_pictures() -> None:
    """Say in one line, before any work, that the pictures need matplotlib and Pillow."""
    import importlib.util

    from jaxmlp.errors import InputError

    missing = [name for name in ("matplotlib", "PIL") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"pictures need {' and '.join(missing)}: pip install 'jaxmlp[plot]'")
