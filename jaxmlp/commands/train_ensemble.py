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
    saved = _save_members(folder, result, config, plan.preset)
    say(f"saved the trained networks: {saved} ({result.size - len(list(saved.iterdir()))} diverged, not saved)")
    say(f"and the ensemble's record: {folder.write_json('metrics.json', metrics)}")
    if args.json:
        print(json.dumps(metrics))
    return 0


def _save_members(folder: Any, result: Any, config: Any, preset: str) -> Any:
    """Every finite member as ``FOLDER/members/member-K.npz`` (its own seed and lr in the stored config)."""
    import numpy as np

    from jaxmlp.checkpoint import save_params

    members = folder.file("members")
    members.mkdir(exist_ok=True)
    for k, (seed, lr) in enumerate(zip(result.seeds, result.lrs, strict=True)):
        params = result.member(k)
        if all(np.all(np.isfinite(np.asarray(leaf))) for layer in params for leaf in layer.values()):
            meta = {"config": config.replace(seed=seed, lr=lr).to_dict(), "preset": preset, "member": k}
            save_params(members / f"member-{k:02d}.npz", params, meta)
    return members
