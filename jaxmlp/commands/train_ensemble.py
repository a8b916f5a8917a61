"""``jaxmlp train --ensemble K``: K networks in one program; each member, the vote and the mean output."""

from __future__ import annotations

import argparse
import json
from typing import Any


def run_ensemble(args: argparse.Namespace, plan: Any, data: Any, folder: Any, say: Any) -> int:
    """Train the members, report them, and write ``metrics.json`` (strict JSON: a diverged member is ``null``)."""
    from jaxmlp.ensemble import fit_ensemble
    from jaxmlp.runs import json_safe

    config = plan.config
    seeds = list(range(config.seed, config.seed + args.ensemble))
    say(f"training an ensemble of {args.ensemble} on {data.name} from {data.source}")

    def progress(epoch: int, result: Any) -> None:
        best, vote = max(result.member_accuracy), result.vote_accuracy
        say(f"epoch {epoch:3d}  best member {best:.2%}  majority vote {vote:.2%}")

    result = fit_ensemble(data, config, seeds=seeds, lrs=plan.lrs, on_epoch=progress)
    for seed, lr, acc in zip(result.seeds, result.lrs, result.member_accuracy, strict=True):
        say(f"member seed {seed:3d}  lr {lr:g}  test accuracy {acc:.2%}")
    best = max(result.member_accuracy)
    vote, mean = result.vote_accuracy, result.mean_output_accuracy
    say(f"majority vote {vote:.2%}  mean output {mean:.2%}  (best member {best:.2%})")
    metrics = json_safe({**result.to_dict(), "preset": plan.preset, "config": config.to_dict()})
    if args.plots:
        from jaxmlp.plots import save_training_plots

        member = int(max(range(result.size), key=lambda k: result.member_accuracy[k]))
        say(f"wrote {' and '.join(save_training_plots(str(folder.path), result.member(member), None))}")
    say(f"saved the ensemble's record: {folder.write_json('metrics.json', metrics)} (members are not saved as params)")
    if args.json:
        print(json.dumps(metrics))
    return 0
