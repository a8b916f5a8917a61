"""Nielsen's textbook layout: (nabla_b, nabla_w) with (out, in) weights and column biases, per example or a batch."""

import itertools

import numpy as np
import pytest

from jaxmlp.errors import InputError
from jaxmlp.gradcheck import check_gradients

SIZES = (784, 16, 16, 10)


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [{"w": rng.standard_normal((m, n)), "b": rng.standard_normal(n)} for m, n in itertools.pairwise(SIZES)]


def make_batch(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784))
    return np.where(x > 0.8, x, 0.0), rng.integers(0, 10, n)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def nielsen_backprop(net, x, y, half=True):
    """network.py's backprop, one example: x (784, 1), one-hot y (10, 1), cost ½‖a − y‖²."""
    nabla_b = [np.zeros(b.shape) for b in net.biases]
    nabla_w = [np.zeros(w.shape) for w in net.weights]
    activation, activations, zs = x, [x], []
    for b, w in zip(net.biases, net.weights, strict=True):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * (1 if half else 2) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for layer in range(2, net.num_layers):
        delta = np.dot(net.weights[-layer + 1].transpose(), delta) * sigmoid_prime(zs[-layer])
        nabla_b[-layer] = delta
        nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
    return (nabla_b, nabla_w)


def nielsen_matrix_backprop(net, xs, ys, bug=None):
    """The chapter 2 exercise: the whole mini-batch at once, examples as columns, gradient of the mean cost."""
    biases, weights = net
    activations, zs = [xs], []
    for b, w in zip(biases, weights, strict=True):
        zs.append(w @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    n = xs.shape[1]
    delta = (activations[-1] - ys) * sigmoid_prime(zs[-1])
    nabla_b, nabla_w = [None] * len(weights), [None] * len(weights)
    for layer in range(1, len(weights) + 1):
        if layer > 1:
            delta = (weights[-layer + 1].T @ delta) * sigmoid_prime(zs[-layer])
        nabla_b[-layer] = delta.sum(axis=1, keepdims=True) / (1 if bug == "sum" else n)
        nabla_w[-layer] = delta @ activations[-layer - 1].T / (1 if bug == "sum" else n)
    return nabla_b, nabla_w


def test_a_correct_per_example_nielsen_derivation_passes_with_layout_nielsen():
    params, (x, y) = make_params(), make_batch(5)
    report = check_gradients(nielsen_backprop, params, x, y, layout="nielsen")
    assert report.passed, str(report)
    assert report.batch_sizes == (5,)
    assert "called once per example" in str(report) and "× 2, since Nielsen's quadratic cost" in str(report)


def test_a_correct_matrix_nielsen_derivation_passes_with_layout_nielsen_batch():
    params, (x, y) = make_params(), make_batch(6)
    report = check_gradients(nielsen_matrix_backprop, params, x, y, layout="nielsen-batch")
    assert report.passed, str(report)
    assert report.batch_sizes == (6, 3)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_nielsen_batch_summed_fails_even_where_the_sum_equals_the_mean(n):
    params, (x, y) = make_params(), make_batch(n)
    report = check_gradients(lambda *a: nielsen_matrix_backprop(*a, bug="sum"), params, x, y, layout="nielsen-batch")
    assert not report.passed
    assert "a sum over the batch where the mean belongs" in report.leaf(1, "w").hint


def test_nielsen_without_the_half_is_named_a_factor_2():
    params, (x, y) = make_params(), make_batch(3)
    report = check_gradients(lambda *a: nielsen_backprop(*a, half=False), params, x, y, layout="nielsen")
    assert set(report.failures) == {f"layer {i} {k!r}" for i in (1, 2, 3) for k in "wb"}
    assert "2 × the correct gradient" in report.leaf(2, "b").hint
    assert "a factor 2 too many: Nielsen's C_x = ½‖a − y‖²" in report.leaf(2, "b").hint


def test_nielsen_code_without_the_flag_names_the_flag():
    params, (x, y) = make_params(), make_batch(3)
    with pytest.raises(Exception) as caught:  # the learner's own exception, unchanged, with notes added
        check_gradients(nielsen_backprop, params, x, y)
    assert "layout='nielsen'" in " ".join(getattr(caught.value, "__notes__", []))


def test_a_nielsen_shaped_result_without_the_flag_names_the_flag():
    params, (x, y) = make_params(), make_batch(3)

    def returns_nielsen(p, x, y):  # takes jaxmlp's inputs, hands back the textbook layout
        return [layer["b"][:, None] * 0 for layer in p], [layer["w"].T * 0 for layer in p]

    with pytest.raises(InputError, match="pass layout='nielsen-batch'"):
        check_gradients(returns_nielsen, params, x, y)


def test_a_jaxmlp_shaped_result_with_the_nielsen_flag_names_the_flag():
    params, (x, y) = make_params(), make_batch(3)
    jaxmlp_layout = lambda net, x, y: [{"w": w.T, "b": b[:, 0]} for b, w in zip(*net, strict=True)]  # noqa: E731
    with pytest.raises(InputError, match="pass layout='jaxmlp'"):
        check_gradients(jaxmlp_layout, params, x, y, layout="nielsen")


def test_per_example_inputs_are_nielsens_columns():
    params, (x, y) = make_params(), make_batch(2)
    seen = []

    def spy(net, x, y):
        seen.append((x.shape, y.shape, float(y.sum()), [w.shape for w in net.weights], [b.shape for b in net.biases]))
        return nielsen_backprop(net, x, y)

    check_gradients(spy, params, x, y, layout="nielsen")
    assert seen == [((784, 1), (10, 1), 1.0, [(16, 784), (16, 16), (10, 16)], [(16, 1), (16, 1), (10, 1)])] * 2
