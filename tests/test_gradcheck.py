"""check_gradients passes correct gradients, names the leaf of a wrong one, refuses bad options, and reports JSON."""

import itertools
import json
import time

import jax
import numpy as np
import pytest

from jaxmlp import reference
from jaxmlp.errors import InputError
from jaxmlp.gradcheck import check_gradients
from jaxmlp.grads import grad

SEED_SIZES = (784, 16, 16, 10)
ALL_LEAVES = {f"layer {layer} {name!r}" for layer in (1, 2, 3) for name in ("w", "b")}


def make_params(sizes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.standard_normal((m, n)).astype(dtype), "b": rng.standard_normal(n).astype(dtype)}
        for m, n in itertools.pairwise(sizes)
    ]


def make_batch(n, n_in=784, n_out=10, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    return np.where(x > 0.8, x, 0.0), rng.integers(0, n_out, n)


def test_reference_passes_against_jax_at_two_batch_sizes():
    params, (x, y) = make_params(SEED_SIZES), make_batch(16)
    report = check_gradients(reference.backprop, params, x, y)
    assert report.passed and report.dtype == "float64" and report.tolerance == 1e-12
    assert report.batch_sizes == (16, 3)
    assert {leaf.name for leaf in report.leaves} == ALL_LEAVES
    assert all(leaf.relative_error <= 1e-12 and leaf.other_relative_errors[0] <= 1e-12 for leaf in report.leaves)
    assert "second batch of 3" in str(report) and "PASS" in str(report)


@pytest.mark.parametrize(("batch", "second"), [(1, 3), (2, 3), (3, 4), (5, 3)])
def test_the_second_batch_differs_from_the_first_and_has_at_least_three_examples(batch, second):
    params, (x, y) = make_params((6, 4, 3)), make_batch(batch, 6, 3)
    seen = []

    def spy(p, x, y):
        seen.append(len(x))
        return reference.backprop(p, x, y)

    assert check_gradients(spy, params, x, y).batch_sizes == (batch, second)
    assert seen == [batch, second]


def test_check_leaves_64_bit_jax_switched_off():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    check_gradients(reference.backprop, params, x, y)
    check_gradients(reference.backprop, params, x, y, reference="finite-differences")
    assert not jax.config.jax_enable_x64


def test_float32_gradient_from_jax_arrays_passes():
    params, (x, y) = make_params(SEED_SIZES, np.float32), make_batch(8)
    report = check_gradients(lambda p, x, y: grad(p, x, y, cost="cross-entropy"), params, x, y, cost="cross-entropy")
    assert report.passed and report.dtype == "float32" and report.tolerance == 1e-5


@pytest.mark.slow
def test_float32_tolerance_grows_like_sqrt_of_the_batch_and_the_reference_passes_on_all_of_mnist(mnist):
    """A float32 mean over B examples rounds like ε·sqrt(B): 1e-5 alone failed the reference at B = 60,000."""
    x = mnist.x_train.astype(np.float32) / 255
    y = mnist.y_train
    params = make_params(SEED_SIZES, np.float32)
    start = time.perf_counter()
    report = check_gradients(reference.backprop, params, x, y)
    assert report.passed, str(report)
    eps = float(np.finfo(np.float32).eps)
    assert report.tolerance == pytest.approx(10 * eps * np.sqrt(60_000))
    assert 1e-5 < report.tolerance < 5e-4  # still far below any real mistake (relative errors of 0.01 and more)
    assert time.perf_counter() - start < 60


@pytest.mark.parametrize(
    ("activation", "output", "cost"), [("tanh", "softmax", "quadratic"), ("relu", "sigmoid", "cross-entropy")]
)
def test_finite_differences_agree_on_a_small_network(activation, output, cost):
    params, (x, y) = make_params((12, 7, 5, 4), seed=2), make_batch(5, 12, 4)
    kwargs = {"activation": activation, "output": output, "cost": cost}
    fn = lambda p, x, y: reference.backprop(p, x, y, **kwargs)  # noqa: E731
    for mode in ("all", "directions"):
        report = check_gradients(fn, params, x, y, reference="finite-differences", fd_mode=mode, **kwargs)
        assert report.passed, str(report)
        assert all(leaf.relative_error <= 1e-6 for leaf in report.leaves)


def test_finite_differences_over_all_13002_parameters_take_seconds():
    params, (x, y) = make_params(SEED_SIZES), make_batch(4)
    start = time.perf_counter()
    report = check_gradients(reference.backprop, params, x, y, reference="finite-differences")
    assert time.perf_counter() - start < 60  # about 5-10 s on two shared CPU cores
    assert "13002" in report.method
    assert report.passed, str(report)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (
            lambda g: [{"w": g[0]["w"].T, "b": g[0]["b"]}, *g[1:]],
            "layer 1 'w': shape (16, 784) but expected (784, 16) — transposed?",
        ),
        (lambda g: g[:2], "grad_fn returned 2 layers; params has 3"),
        (lambda g: [(layer["w"], layer["b"]) for layer in g], "layer 1: got a tuple; expected a dict"),
        (
            lambda g: [g[0], {"W": g[1]["w"], "b": g[1]["b"]}, g[2]],
            "layer 2 'w': missing (the layer's keys are ['W', 'b'])",
        ),
        (lambda g: {"w": g[0]["w"]}, "grad_fn returned a dict; expected a list"),
        (lambda g: [{"w": g[0]["w"][None].repeat(3, 0), "b": g[0]["b"]}, *g[1:]], "one gradient per example?"),
        (lambda g: [{"w": g[0]["w"] + 0j, "b": g[0]["b"]}, *g[1:]], "layer 1 'w': has complex dtype complex128"),
    ],
)
def test_wrong_structure_gets_a_readable_message(returned, message):
    params, (x, y) = make_params(SEED_SIZES), make_batch(3)
    report = check_gradients(lambda p, x, y: returned(reference.backprop(p, x, y)), params, x, y)
    assert not report.passed
    assert message in str(report)
    json.dumps(report.to_dict())


def test_a_complex_gradient_fails_even_with_a_zero_imaginary_part():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    as_complex = lambda p, x, y: [{k: v.astype(complex) for k, v in g.items()} for g in reference.backprop(p, x, y)]  # noqa: E731
    report = check_gradients(as_complex, params, x, y)
    assert not report.passed and set(report.failures) == {f"layer {i} {k!r}" for i in (1, 2) for k in "wb"}


def test_a_float32_gradient_for_float64_params_is_pointed_out():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    in_float32 = lambda p, x, y: [{k: v.astype(np.float32) for k, v in g.items()} for g in reference.backprop(p, x, y)]  # noqa: E731
    report = check_gradients(in_float32, params, x, y)
    assert not report.passed
    assert "returned float32 arrays for float64 params" in str(report)


def test_a_right_but_rounded_gradient_is_called_a_precision_problem_not_a_mistake(mnist):
    """A correct derivation returned in float32 fails the float64 check, and no catalogue mistake is blamed."""
    params = make_params(SEED_SIZES)
    x, y = mnist.x_train[:4] / np.float64(255), mnist.y_train[:4].astype(np.int64)
    in_float32 = lambda p, x, y: [{k: v.astype(np.float32) for k, v in g.items()} for g in reference.backprop(p, x, y)]  # noqa: E731
    text = str(check_gradients(in_float32, params, x, y))
    assert "equals the correct gradient to within" in text and "the gap is rounding" in text
    assert "matches" not in text, text


def test_a_tolerance_of_1_or_more_would_pass_a_sign_error_and_is_refused():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    with pytest.raises(InputError, match="tolerance must be below 1"):
        check_gradients(
            lambda p, x, y: [{k: -v for k, v in g.items()} for g in reference.backprop(p, x, y)],
            params,
            x,
            y,
            tolerance=1e300,
        )


@pytest.mark.parametrize("bad", [0.0, -1e-6, float("nan"), float("inf"), "1e-6", True])
def test_tolerance_must_be_a_finite_positive_number(bad):
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)
    with pytest.raises(InputError, match="tolerance must be a positive number"):
        check_gradients(reference.backprop, params, x, y, tolerance=bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"reference": "finite-differences", "fd_mode": "directions", "directions": 0},
            "directions must be a positive integer; got 0",
        ),
        ({"directions": 2.5}, "directions must be a positive integer; got 2.5"),
        ({"seed": -1}, "seed must be an integer"),
        ({"layout": "textbook"}, "layout must be one of jaxmlp, nielsen, nielsen-batch"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"output": "tanh"}, "output must be one of"),
    ],
)
def test_bad_options_are_refused_before_grad_fn_runs(kwargs, message):
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)

    def must_not_run(p, x, y):
        raise AssertionError("grad_fn ran before the options were checked")

    with pytest.raises(InputError, match=message):
        check_gradients(must_not_run, params, x, y, **kwargs)


def test_report_converts_to_json():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)

    def wrong_sign_last_w(p, x, y):
        g = reference.backprop(p, x, y)
        g[1]["w"] = -g[1]["w"]
        return g

    data = json.loads(json.dumps(check_gradients(wrong_sign_last_w, params, x, y).to_dict()))
    assert data["passed"] is False and data["failures"] == ["layer 2 'w'"]
    assert [(leaf["layer"], leaf["leaf"]) for leaf in data["leaves"]] == [(1, "w"), (1, "b"), (2, "w"), (2, "b")]
    assert data["batch_sizes"] == [3, 4]
    assert data["diagnosis"] and "sign" in data["leaves"][2]["hint"]


def test_a_grad_fn_that_changes_its_inputs_in_place_cannot_change_the_check():
    params, (x, y) = make_params((6, 4, 3)), make_batch(3, 6, 3)

    def vandal(p, x, y):
        g = reference.backprop(p, x, y)
        x *= 0  # a learner's in-place "normalisation", and an update of the weights in place
        for layer, grads in zip(p, g, strict=True):
            layer["w"] -= 100 * grads["w"]
        return g

    assert check_gradients(vandal, params, x, y).passed
    assert np.any(x) and np.all(params[0]["w"] == make_params((6, 4, 3))[0]["w"])
