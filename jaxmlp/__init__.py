"""jaxmlp: the classic 784-16-16-10 handwritten-digit network, as pure JAX functions.

Conventions, kept everywhere (the NumPy reference included):

* Parameters are a pytree: a list with one dict per layer, ``{"w": (n_in, n_out), "b": (n_out,)}``.
* Inputs are batch-major: ``x`` is ``(batch, 784)`` float pixels in [0, 1] (or one image ``(784,)``),
  and a layer computes ``a' = f(a @ w + b)``.
* Labels ``y`` are integers 0..9 of shape ``(batch,)``; targets are their one-hot vectors.
* Randomness only through explicit ``jax.random`` keys.
"""

from jaxmlp.costs import COSTS, cross_entropy_cost, quadratic_cost
from jaxmlp.data import Dataset, load_mnist, to_float
from jaxmlp.ensemble import EnsembleResult, fit_ensemble
from jaxmlp.model import (
    ACTIVATIONS,
    OUTPUTS,
    SEED_SIZES,
    accuracy,
    forward,
    init_params,
    layer_sizes,
    num_params,
    predict,
)
from jaxmlp.parallel import data_mesh, initialize_distributed
from jaxmlp.train import PRESETS, History, TrainConfig, evaluate, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "OUTPUTS",
    "PRESETS",
    "SEED_SIZES",
    "Dataset",
    "EnsembleResult",
    "History",
    "TrainConfig",
    "accuracy",
    "cross_entropy_cost",
    "data_mesh",
    "evaluate",
    "fit",
    "fit_ensemble",
    "forward",
    "init_params",
    "initialize_distributed",
    "layer_sizes",
    "load_mnist",
    "make_optimizer",
    "num_params",
    "predict",
    "quadratic_cost",
    "to_float",
]
