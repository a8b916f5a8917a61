"""The public API as a user writes it, checked by pyright (``make typecheck``); pytest runs it once too.

Each ``assert_type`` states what a user's editor should infer. A ``# type: ignore`` marks a call that must be
rejected: with ``reportUnnecessaryTypeIgnoreComment`` on (below), pyright fails if that call ever type-checks.
Nothing heavy happens on import: the functions that load MNIST or train are checked, not called.
"""
# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

from typing import Any, assert_type

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp.gradcheck import GradientReport, check_gradients
from jaxmlp.model import Params


def the_ten_lines() -> None:
    """The README's "library in ten lines", with the types a user sees."""
    data = jaxmlp.load_mnist()
    assert_type(data, jaxmlp.Dataset)
    assert_type(data.x_train, np.ndarray)
    params = jaxmlp.init_params(jax.random.key(0))
    assert_type(params, Params)
    assert_type(params, list[dict[str, jax.Array]])
    x, y = jaxmlp.to_float(data.x_test), data.y_test
    assert_type(jaxmlp.num_params(params), int)
    assert_type(jaxmlp.quadratic_cost(params, x, y), jax.Array)  # NumPy images and labels are accepted

    params, history = jaxmlp.fit(data, jaxmlp.PRESETS["seed"], epochs=5)
    assert_type(history, jaxmlp.History)
    assert_type(history.test_accuracy, list[float])
    assert_type(jaxmlp.predict(params, x[:10]), jax.Array)
    assert_type(jaxmlp.evaluate(params, x, y), tuple[float, float])


def configs() -> None:
    config = jaxmlp.TrainConfig(activation="relu", output="softmax", cost="cross-entropy", optimizer="adam")
    assert_type(config, jaxmlp.TrainConfig)
    assert_type(jaxmlp.PRESETS, dict[str, jaxmlp.TrainConfig])
    assert_type(config.lr, float)
    assert_type(config.batch_size, int | None)
    assert_type(config.sizes, tuple[int, ...])
    assert_type(config.replace(lr=0.5), jaxmlp.TrainConfig)


def the_network(params: Params, x: jax.Array, y: jax.Array) -> None:
    assert_type(jaxmlp.forward(params, x), jax.Array)
    assert_type(jaxmlp.forward(params, x, activation="tanh", output="identity"), jax.Array)
    assert_type(jaxmlp.accuracy(params, x, y), jax.Array)
    assert_type(jaxmlp.layer_sizes(params), tuple[int, ...])
    assert_type(jaxmlp.layer_activations(params, x), list[jax.Array])


def rejected_calls(params: Params, x: jax.Array) -> None:
    """Mistakes the type checker catches before anything runs (and that raise InputError at run time)."""
    jaxmlp.TrainConfig(activation="sigmod")  # type: ignore  # misspelt names
    jaxmlp.forward(params, x, activation="softplus")  # type: ignore  # not one of ACTIVATIONS
    jaxmlp.forward(params, x, output="sigmoid ")  # type: ignore


def my_backprop(params: Any, x: Any, y: Any) -> list[dict[str, np.ndarray]]:
    """A learner's gradient: the shape check_gradients expects."""
    return [{"w": np.zeros_like(layer["w"]), "b": np.zeros_like(layer["b"])} for layer in params]


def the_gradient_checker(params: Params, x: jax.Array, y: jax.Array) -> None:
    report = check_gradients(my_backprop, params, x, y, cost="quadratic", activation="sigmoid", output="sigmoid")
    assert_type(report, GradientReport)
    assert_type(jaxmlp.check_gradients(my_backprop, params, x, y), GradientReport)
    assert_type(report.passed, bool)
    assert_type(report.failures, tuple[str, ...])
    assert_type(report.to_dict(), dict[str, Any])
    assert_type(jaxmlp.tree_relative_error(params, params), float)


def errors() -> None:
    try:
        jaxmlp.load_mnist(source="mirror")
    except jaxmlp.InputError as e:
        assert_type(e, jaxmlp.InputError)
        assert isinstance(e, ValueError)
    assert_type(jaxmlp.__version__, str)


def test_the_checked_code_runs() -> None:
    """The cheap parts of the above, at run time: pyright's view and Python's agree."""
    params = jaxmlp.init_params(jax.random.key(0))
    x = np.zeros((3, 784), np.float32)
    the_network(params, jax.numpy.asarray(x), jax.numpy.arange(3))
    assert jaxmlp.num_params(params) == 13_002
    assert jaxmlp.layer_sizes(params) == (784, 16, 16, 10)
    configs()
    assert issubclass(jaxmlp.InputError, ValueError)
    with pytest.raises(jaxmlp.InputError):
        rejected_calls(params, jax.numpy.asarray(x))
