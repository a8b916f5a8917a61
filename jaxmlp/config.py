"""``TrainConfig``: everything that defines a training run, checked field by field; and the two ``PRESETS``.

A config is frozen and hashable, so it is static for ``jax.jit``: everything that changes the computation is
one of its fields, and nothing else does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from jaxmlp.costs import COSTS, OUTPUTS_FOR_CROSS_ENTROPY, CostName
from jaxmlp.errors import InputError
from jaxmlp.model import ACTIVATIONS, INITS, OUTPUTS, SEED_SIZES, ActivationName, InitName, OutputName, check_sizes
from jaxmlp.validate import check_choice, check_int, check_memory, check_positive_number

OptimizerName = Literal["gd", "momentum", "adam", "adamw"]
ScheduleName = Literal["constant", "cosine", "warmup-cosine"]
#: ``gd`` is the plain rule ``p <- p - lr * grad``, written out; the others are optax's.
OPTIMIZERS: tuple[str, ...] = ("gd", "momentum", "adam", "adamw")
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "warmup-cosine")
SEED_RANGE = (-(2**63), 2**63 - 1)  # seeds travel through checkpoints and JSON as int64
MAX_SHIFT = 4


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. ``batch_size=None`` means full-batch gradient descent.

    Every field is checked on construction (``InputError`` naming the field); ``sizes`` also against the memory
    the run would need.
    """

    sizes: tuple[int, ...] = SEED_SIZES
    activation: ActivationName = "sigmoid"
    output: OutputName = "sigmoid"
    cost: CostName = "quadratic"
    init: InitName = "normal"
    optimizer: OptimizerName = "gd"
    lr: float = 3.0
    schedule: ScheduleName = "constant"
    batch_size: int | None = 10
    epochs: int = 30
    shift: int = 0
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "sizes", check_sizes(self.sizes))
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("output", self.output, OUTPUTS)
        check_choice("cost", self.cost, COSTS)
        check_choice("init", self.init, INITS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        fix(self, "lr", check_positive_number(self.lr, "lr"))
        fix(self, "epochs", check_int(self.epochs, "epochs", low=1))
        if self.batch_size is not None:
            fix(self, "batch_size", check_int(self.batch_size, "batch_size", low=1))
        fix(self, "shift", check_int(self.shift, "shift", low=0, high=MAX_SHIFT))
        fix(self, "seed", check_int(self.seed, "seed", low=SEED_RANGE[0], high=SEED_RANGE[1]))
        fix(self, "weight_decay", check_positive_number(self.weight_decay, "weight_decay", allow_zero=True))
        smoothing = check_positive_number(self.label_smoothing, "label_smoothing", allow_zero=True)
        if smoothing >= 1:
            raise InputError(f"label_smoothing must be in [0, 1); got {self.label_smoothing!r}")
        fix(self, "label_smoothing", smoothing)
        if self.cost == "cross-entropy" and self.output not in OUTPUTS_FOR_CROSS_ENTROPY:
            raise InputError(f"cost 'cross-entropy' needs output 'softmax' or 'sigmoid'; got output {self.output!r}")
        if smoothing and self.cost != "cross-entropy":
            raise InputError(
                f"label_smoothing needs cost 'cross-entropy'; got cost {self.cost!r} (set label_smoothing=0, "
                "--label-smoothing 0)"
            )
        if self.weight_decay and self.optimizer != "adamw":
            raise InputError(
                f"weight_decay needs optimizer 'adamw'; got optimizer {self.optimizer!r} (set weight_decay=0, "
                "--weight-decay 0)"
            )
        check_memory(self.sizes, self.batch_size or 60_000)

    @classmethod
    def from_dict(cls, record: Any) -> TrainConfig:
        """The config from ``to_dict()`` (or ``dataclasses.asdict``) after a JSON round trip.

        Unknown keys are an ``InputError`` (a typo must not be dropped silently), as is anything but a dict.
        """
        if not isinstance(record, dict):
            raise InputError(f"config is a {type(record).__name__}; expected a dict of TrainConfig fields")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - fields)
        if unknown:
            raise InputError(f"unknown config fields {', '.join(map(str, unknown))}; expected fields of TrainConfig")
        values = dict(record)
        if isinstance(values.get("sizes"), list):
            values["sizes"] = tuple(values["sizes"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (``sizes`` as a list)."""
        return {**dataclasses.asdict(self), "sizes": list(self.sizes)}

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied; unknown names are an ``InputError`` naming them."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InputError(f"unknown settings {', '.join(unknown)}; expected fields of TrainConfig")
        return dataclasses.replace(self, **changes)

    def changes_from(self, other: TrainConfig) -> dict[str, Any]:
        """The fields whose value differs from ``other``'s, as ``{name: value in self}``."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }


#: ``seed``: the article's network and method (sigmoid, quadratic cost, the plain rule ``p - lr * grad``
#: on minibatches of 10, Nielsen's N(0, 1) start) with a cosine learning-rate decay and random ±1-pixel shifts.
#: ``best``: the same 13,002 parameters trained with ReLU, softmax cross-entropy (label smoothing 0.05),
#: He init, AdamW with a warm-up + cosine schedule, and ±1-pixel shifts.
PRESETS: dict[str, TrainConfig] = {
    "seed": TrainConfig(lr=1.0, schedule="cosine", batch_size=10, epochs=40, shift=1),
    "best": TrainConfig(
        activation="relu",
        output="softmax",
        cost="cross-entropy",
        init="he",
        optimizer="adamw",
        lr=5e-3,
        schedule="warmup-cosine",
        batch_size=64,
        epochs=60,
        shift=1,
        label_smoothing=0.05,
        weight_decay=1e-4,
    ),
}
