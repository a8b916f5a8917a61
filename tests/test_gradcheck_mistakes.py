"""Each classic backprop mistake, planted in a derivation written here (not jaxmlp's), is caught and named; a factor
that depends on the batch size never passes, at any batch size."""

import itertools

import numpy as np
import pytest

from jaxmlp.gradcheck import check_gradients

SEED_SIZES = (784, 16, 16, 10)
LAYER = {n: {f"layer {n} 'w'", f"layer {n} 'b'"} for n in (1, 2, 3)}
ALL = LAYER[1] | LAYER[2] | LAYER[3]
BIASES = {"layer 1 'b'", "layer 2 'b'", "layer 3 'b'"}


def make_params(sizes=SEED_SIZES, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [
        {"w": rng.standard_normal((m, n)).astype(dtype), "b": rng.standard_normal(n).astype(dtype)}
        for m, n in itertools.pairwise(sizes)
    ]


def make_batch(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784))
    return np.where(x > 0.8, x, 0.0), rng.integers(0, 10, n)


def learner_backprop(params, x, y, bugs=()):
    """A learner's batch-major sigmoid network with cost mean ‖a − t‖², from the four equations, with planted bugs."""

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def sigmoid_prime(z):
        return sigmoid(z) * (1 - sigmoid(z))

    zs, activations = [], [x]
    for layer in params:
        zs.append(activations[-1] @ layer["w"] + layer["b"])
        activations.append(sigmoid(zs[-1]))
    n, t = len(x), np.eye(10)[y]
    grad_a = (1 if "half" in bugs else 2) * (activations[-1] - t) * (-1 if "sign" in bugs else 1)
    if "no sp in BP1" in bugs:
        delta = grad_a
    elif "sp(a) in BP1" in bugs:
        delta = grad_a * sigmoid_prime(activations[-1])
    else:
        delta = grad_a * sigmoid_prime(zs[-1])
    mean = 1 if "sum" in bugs else 1 / n
    grads = []
    for i in range(len(params), 0, -1):  # layer i; params[i - 1] is w^i
        grad_w = activations[i - 1].T @ delta * mean
        square = grad_w.shape[0] == grad_w.shape[1]
        if "transposed w" in bugs and square:
            grad_w = delta.T @ activations[i - 1] * mean
        if "a^l in BP4" in bugs and square:
            grad_w = activations[i].T @ delta * mean
        grad_b = delta[-1] if "last example" in bugs else delta.sum(axis=0) * mean
        grads.insert(0, {"w": grad_w, "b": grad_b})
        if i > 1:
            w = params[i - 1]["w"]
            back = delta @ (w if "W for W.T" in bugs and w.shape[0] == w.shape[1] else w.T)
            if "no sp in BP2" in bugs:
                delta = back
            elif "sp(a) in BP2" in bugs:
                delta = back * sigmoid_prime(activations[i - 1])
            else:
                delta = back * sigmoid_prime(zs[i - 2])
            if "unknown" in bugs and i == 3:
                delta = delta * 1.1  # not in any catalogue: δ^2 off by 10 %
    return grads


def check(bugs, n=8, **kwargs):
    params, (x, y) = make_params(), make_batch(n)
    return check_gradients(lambda p, x, y: learner_backprop(p, x, y, bugs), params, x, y, **kwargs)


def test_the_learner_derivation_without_bugs_passes():
    assert check(()).passed


@pytest.mark.parametrize(
    ("bugs", "failing", "named", "equation"),
    [
        (("no sp in BP1",), ALL, "σ'(z) missing in BP1", "(BP1)"),
        (("sp(a) in BP1",), ALL, "σ'(a) instead of σ'(z) in BP1", "(BP1)"),
        (("no sp in BP2",), LAYER[1] | LAYER[2], "σ'(z) missing in BP2", "(BP2)"),
        (("sp(a) in BP2",), LAYER[1] | LAYER[2], "σ'(a) instead of σ'(z) in BP2", "(BP2)"),
        (("sp(a) in BP1", "sp(a) in BP2"), ALL, "σ'(a) instead of σ'(z) in BP1 and BP2", "(BP1, BP2)"),
        (("W for W.T",), LAYER[1], "w for wᵀ in BP2", "(BP2)"),  # only w² is square: δ¹ goes wrong
        (("a^l in BP4",), {"layer 2 'w'"}, "a^l for a^(l−1) in BP4", "(BP4)"),
        (("transposed w",), {"layer 2 'w'"}, "transposed weight gradient", "(BP4)"),
        (("last example",), BIASES, "bias gradient of one example (the last)", "(BP3)"),
    ],
)
def test_each_catalogued_mistake_is_named_with_its_equation(bugs, failing, named, equation):
    report = check(bugs)
    assert set(report.failures) == failing
    for leaf in failing:
        layer, name = int(leaf.split()[1]), leaf.split("'")[1]
        assert f'matches "{named}" {equation}' in report.leaf(layer, name).hint
    assert any(f'matches "{named}"' in line for line in report.diagnosis)
    assert f'matches "{named}"' in str(report)


@pytest.mark.parametrize(
    ("bugs", "factor", "why"),
    [
        (("half",), "0.5 × the correct gradient", "a ½ too many"),
        (("sign",), "-1 × the correct gradient", "the sign"),
        (("sum",), "8 × the correct gradient at batch 8 (8 = batch 8)", "a sum over the batch where the mean belongs"),
        (("half", "sum"), "4 × the correct gradient at batch 8 (4 = batch 8 × ½)", "a ½ too many"),
    ],
)
def test_constant_factors_are_explained_as_products(bugs, factor, why):
    report = check(bugs)
    assert set(report.failures) == ALL
    assert all(factor in leaf.hint and why in leaf.hint for leaf in report.leaves)
    assert report.diagnosis[0].startswith("layer 1, layer 2, layer 3: is ")


def test_a_mistake_and_a_factor_together_are_both_named():
    report = check(("no sp in BP1", "sum"))
    hint = report.leaf(3, "w").hint
    assert 'matches "σ\'(z) missing in BP1"' in hint
    assert "times a factor: 8 × the correct gradient at batch 8" in hint


def test_an_uncatalogued_mistake_names_the_layer_where_the_error_starts():
    report = check(("unknown",))
    assert set(report.failures) == LAYER[1] | LAYER[2]
    assert all(leaf.hint is None for leaf in report.leaves)
    assert "no mistake in the catalogue matches; the error starts in layer 2" in str(report)
    assert "BP2 (δ^2 from δ^3)" in str(report)


@pytest.mark.parametrize("n", range(1, 9))
def test_half_plus_sum_fails_at_every_batch_size(n):
    """∂C/∂θ × n/2 equals the gradient at n = 2 and sum alone at n = 1; two batch sizes catch both."""
    report = check(("half", "sum"), n=n)
    assert not report.passed
    assert set(report.failures) == ALL
    assert "a sum over the batch where the mean belongs" in report.leaf(1, "w").hint
    assert not check(("sum",), n=n).passed


@pytest.mark.parametrize(("bugs", "n"), [(("half", "sum"), 2), (("sum",), 1)])
def test_float32_factors_fail_at_the_batch_size_where_one_check_would_pass(bugs, n):
    params, (x, y) = make_params(dtype=np.float32), make_batch(n)
    report = check_gradients(lambda p, x, y: learner_backprop(p, x, y, bugs), params, x, y)
    assert not report.passed
    assert report.leaf(3, "b").relative_error <= report.tolerance  # at batch n alone the factor is 1 ...
    assert report.leaf(3, "b").other_relative_errors[0] > 0.1  # ... but not at the second batch


@pytest.mark.parametrize("reference", ["finite-differences"])
def test_hints_also_come_with_finite_difference_directions(reference):
    report = check(("no sp in BP1",), n=3, reference=reference, fd_mode="directions")
    assert set(report.failures) == ALL
    assert 'matches "σ\'(z) missing in BP1"' in report.leaf(1, "w").hint


@pytest.mark.parametrize("n", [1, 2])
def test_the_bias_of_one_example_is_caught_even_when_the_batch_has_one_example(n):
    """At n = 1 the last example's δ is the mean; the second batch's rows all differ, so it is not there."""
    report = check(("last example",), n=n)
    assert set(report.failures) == BIASES
    assert "bias gradient of one example (the last)" in report.leaf(3, "b").hint
