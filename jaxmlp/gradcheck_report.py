"""The gradient checker's report: one ``LeafCheck`` per leaf, the diagnosis, and a table a learner can read."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """One leaf's comparison at the requested batch (``worst_index``: an element, or in direction mode the
    direction's number), the relative errors at the other batch sizes, and the diagnosis ``hint`` if it fails."""

    layer: int
    leaf: str
    shape: tuple[int, ...]
    max_abs_error: float
    relative_error: float
    worst_index: tuple[int, ...] | None
    passed: bool
    problem: str | None = None
    hint: str | None = None
    other_relative_errors: tuple[float, ...] = ()

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.leaf!r}"

    def with_hint(self, hint: str | None) -> LeafCheck:
        return dataclasses.replace(self, hint=hint)


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of ``check_gradients``: one ``LeafCheck`` per leaf, problems with the structure, notes on how the
    check was made (layout conversion, second batch) and the diagnosis lines."""

    reference: str
    method: str
    dtype: str
    tolerance: float
    leaves: tuple[LeafCheck, ...]
    problems: tuple[str, ...] = ()
    layout: str = "jaxmlp"
    batch_sizes: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    diagnosis: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems and all(leaf.passed for leaf in self.leaves)

    @property
    def failures(self) -> tuple[str, ...]:
        """Names of the leaves that fail, like ``"layer 1 'w'"``."""
        return tuple(leaf.name for leaf in self.leaves if not leaf.passed)

    def leaf(self, layer: int, name: str) -> LeafCheck:
        return next(leaf for leaf in self.leaves if (leaf.layer, leaf.leaf) == (layer, name))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and inf become ``None``)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return [clean(v) for v in value] if isinstance(value, tuple | list) else value

        leaves = [{k: clean(v) for k, v in dataclasses.asdict(leaf).items()} for leaf in self.leaves]
        fields = ("reference", "method", "dtype", "tolerance", "layout", "batch_sizes", "notes", "problems")
        return {
            "passed": self.passed,
            **{name: clean(getattr(self, name)) for name in fields},
            "failures": list(self.failures),
            "diagnosis": list(self.diagnosis),
            "leaves": leaves,
        }

    def __str__(self) -> str:
        worst = "worst direction" if "direction" in self.method.split(";")[0] else "worst index"
        first = f"rel. error (batch {self.batch_sizes[0]})" if self.batch_sizes else "relative error"
        others = [f"batch {n}" for n in self.batch_sizes[1:]]
        header = ("layer", "leaf", "shape", "max abs error", first, *others, worst, "result")

        def number(value: float, leaf: LeafCheck) -> str:
            return "-" if leaf.problem or not math.isfinite(value) else f"{value:.3e}"

        rows = [
            (
                str(leaf.layer),
                leaf.leaf,
                str(leaf.shape),
                number(leaf.max_abs_error, leaf),
                number(leaf.relative_error, leaf),
                *(number(r, leaf) for r in leaf.other_relative_errors),
                "-" if leaf.worst_index is None else str(leaf.worst_index),
                "pass" if leaf.passed else "FAIL",
            )
            for leaf in self.leaves
        ]
        rows = [row[: len(header)] + ("",) * (len(header) - len(row)) for row in rows]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        right = {0, *range(3, 5 + len(others))}  # numbers are right-aligned

        def line(row: Sequence[str]) -> str:
            cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            return "  ".join(cells).rstrip()

        lines = [
            f"gradient check against {self.method} ({self.dtype}; pass: relative error <= {self.tolerance:.3g} "
            f"at every batch size)",
            *(f"  {note}" for note in self.notes),
            line(header),
            line(["-" * w for w in widths]),
            *(line(row) for row in rows),
        ]
        lines += [f"  {problem}" for problem in self.problems]
        lines += [f"  {leaf.name}: {leaf.problem}" for leaf in self.leaves if leaf.problem]
        lines += [f"  {text}" for text in self.diagnosis]
        if self.passed:
            lines.append(f"PASS: all {len(self.leaves)} leaves agree at {_sizes(self.batch_sizes)}")
        else:
            lines.append("FAIL: " + (", ".join(self.failures) or "the gradient's structure is wrong"))
        return "\n".join(lines)


def _sizes(batch_sizes: Sequence[int]) -> str:
    return ("batch size " if len(batch_sizes) == 1 else "batch sizes ") + " and ".join(map(str, batch_sizes))


def diagnosis_lines(leaves: Sequence[LeafCheck], hints: dict[tuple[int, str], str], num_layers: int) -> list[str]:
    """Group the failing leaves by explanation (``layer 3: matches ...``); for leaves no mistake explains, name the
    deepest failing layer, where the error starts: a wrong δ^l spreads to every layer below through BP2."""
    failing = [leaf for leaf in leaves if not leaf.passed and leaf.problem is None]
    groups: dict[str, list[LeafCheck]] = {}
    for leaf in failing:
        if (leaf.layer, leaf.leaf) in hints:
            groups.setdefault(hints[leaf.layer, leaf.leaf], []).append(leaf)
    lines = [f"{_where(group, leaves)}: {text}" for text, group in groups.items()]
    unexplained = [leaf for leaf in failing if (leaf.layer, leaf.leaf) not in hints]
    if unexplained:
        start = max(leaf.layer for leaf in failing)
        look = (
            f"BP1 (δ^{start} at the output) and BP3/BP4 of layer {start}"
            if start == num_layers
            else f"BP2 (δ^{start} from δ^{start + 1}) and BP3/BP4 of layer {start}"
        )
        lines.append(
            f"{_where(unexplained, leaves)}: no mistake in the catalogue matches; the error starts in layer {start} "
            f"(the deepest failing layer: errors flow backwards, so the layers below fail with it): check {look}"
        )
    return lines


def _where(group: Sequence[LeafCheck], leaves: Sequence[LeafCheck]) -> str:
    """``layer 3`` when both of its leaves are in the group, else ``layer 3 'w'``; joined with commas."""
    parts = []
    for layer in sorted({leaf.layer for leaf in group}):
        names = [leaf.leaf for leaf in group if leaf.layer == layer]
        total = sum(leaf.layer == layer for leaf in leaves)
        parts.append(f"layer {layer}" if len(names) == total else ", ".join(f"layer {layer} {n!r}" for n in names))
    return ", ".join(parts)
