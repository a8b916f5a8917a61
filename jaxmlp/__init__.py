"""jaxmlp: the classic 784-16-16-10 handwritten-digit network, as pure JAX functions.

Conventions, kept everywhere (the NumPy reference included):

* Parameters are a pytree: a list with one dict per layer, ``{"w": (n_in, n_out), "b": (n_out,)}``.
* Inputs are batch-major: ``x`` is ``(batch, 784)`` pixels (or one image ``(784,)``), and a layer computes
  ``a' = f(a @ w + b)``. Pixels are floats in [0, 1], or uint8 0..255 where a function says so
  (``jaxmlp.to_float`` converts).
* Labels ``y`` are integers 0..9 of shape ``(batch,)``; targets are their one-hot vectors.
* Activations, outputs and costs are named by strings (``activation="sigmoid"``, ``cost="quadratic"``).
* Randomness only through explicit ``jax.random`` keys. Bad input raises ``jaxmlp.InputError``.

The names below are imported on first use, so ``import jaxmlp`` (and ``jaxmlp --help``) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "COSTS": "jaxmlp.costs",
    "cost_function": "jaxmlp.costs",
    "cross_entropy_cost": "jaxmlp.costs",
    "quadratic_cost": "jaxmlp.costs",
    "Dataset": "jaxmlp.data",
    "load_mnist": "jaxmlp.data",
    "EnsembleResult": "jaxmlp.ensemble",
    "fit_ensemble": "jaxmlp.ensemble",
    "InputError": "jaxmlp.errors",
    "ACTIVATIONS": "jaxmlp.model",
    "OUTPUTS": "jaxmlp.model",
    "SEED_SIZES": "jaxmlp.model",
    "accuracy": "jaxmlp.model",
    "forward": "jaxmlp.model",
    "init_params": "jaxmlp.model",
    "layer_activations": "jaxmlp.model",
    "layer_sizes": "jaxmlp.model",
    "num_params": "jaxmlp.model",
    "predict": "jaxmlp.model",
    "data_mesh": "jaxmlp.parallel",
    "initialize_distributed": "jaxmlp.parallel",
    "PRESETS": "jaxmlp.config",
    "TrainConfig": "jaxmlp.config",
    "TrainState": "jaxmlp.epoch",
    "compiled_epoch": "jaxmlp.epoch",
    "make_optimizer": "jaxmlp.epoch",
    "History": "jaxmlp.train",
    "DivergenceError": "jaxmlp.train",
    "evaluate": "jaxmlp.train",
    "fit": "jaxmlp.train",
    "to_float": "jaxmlp.validate",
    "tree_relative_error": "jaxmlp.grads",
    "check_gradients": "jaxmlp.gradcheck",
}

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "OUTPUTS",
    "PRESETS",
    "SEED_SIZES",
    "Dataset",
    "DivergenceError",
    "EnsembleResult",
    "History",
    "InputError",
    "TrainConfig",
    "TrainState",
    "__version__",
    "accuracy",
    "check_gradients",
    "compiled_epoch",
    "cost_function",
    "cross_entropy_cost",
    "data_mesh",
    "evaluate",
    "fit",
    "fit_ensemble",
    "forward",
    "init_params",
    "initialize_distributed",
    "layer_activations",
    "layer_sizes",
    "load_mnist",
    "make_optimizer",
    "num_params",
    "predict",
    "quadratic_cost",
    "to_float",
    "tree_relative_error",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jaxmlp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from jaxmlp.config import PRESETS, TrainConfig
    from jaxmlp.costs import COSTS, cost_function, cross_entropy_cost, quadratic_cost
    from jaxmlp.data import Dataset, load_mnist
    from jaxmlp.ensemble import EnsembleResult, fit_ensemble
    from jaxmlp.epoch import TrainState, compiled_epoch, make_optimizer
    from jaxmlp.errors import InputError
    from jaxmlp.gradcheck import check_gradients
    from jaxmlp.grads import tree_relative_error
    from jaxmlp.model import (
        ACTIVATIONS,
        OUTPUTS,
        SEED_SIZES,
        accuracy,
        forward,
        init_params,
        layer_activations,
        layer_sizes,
        num_params,
        predict,
    )
    from jaxmlp.parallel import data_mesh, initialize_distributed
    from jaxmlp.train import DivergenceError, History, evaluate, fit
    from jaxmlp.validate import to_float
