"""jaxmlp.neurons: weight images, activations, gradient ascent on the input, noise, confusion, mistakes."""

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import neurons as ji
from jaxmlp.checkpoint import save_params

SIGMOID = {"activation": "sigmoid", "output": "sigmoid"}


@pytest.fixture(scope="module")
def random_params():
    return jaxmlp.init_params(jax.random.key(0))


@pytest.fixture(scope="module")
def trained(mnist):
    """A quickly trained 784-16-16-10 (ReLU, softmax): ``(params, forward kwargs, config, history)``."""
    config = jaxmlp.PRESETS["best"]
    params, history = jaxmlp.fit(mnist, config, epochs=3)
    return params, {"activation": config.activation, "output": config.output}, config, history


def test_first_layer_images_are_the_reshaped_weight_columns(random_params):
    images = ji.first_layer_images(random_params)
    w = np.asarray(random_params[0]["w"])
    assert images.shape == (16, 28, 28)
    for j in range(16):
        np.testing.assert_array_equal(images[j], w[:, j].reshape(28, 28))
    assert images[3, 5, 7] == w[5 * 28 + 7, 3]  # row-major: pixel (r, c) is input 28 r + c


def test_second_layer_images_combine_the_first_layer_images(random_params):
    images = ji.second_layer_images(random_params)
    first, w2 = np.asarray(ji.first_layer_images(random_params)), np.asarray(random_params[1]["w"])
    assert images.shape == (16, 28, 28)
    np.testing.assert_allclose(images, np.einsum("jrc,jk->krc", first, w2), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kind", ["seed", "best"])
def test_layer_activations_end_with_forward(random_params, kind):
    kw = {"activation": jaxmlp.PRESETS[kind].activation, "output": jaxmlp.PRESETS[kind].output}
    x = jax.random.uniform(jax.random.key(1), (5, 784))
    acts = jaxmlp.layer_activations(random_params, x, **kw)
    assert [a.shape for a in acts] == [(5, 784), (5, 16), (5, 16), (5, 10)]
    np.testing.assert_allclose(acts[-1], jaxmlp.forward(random_params, x, **kw), rtol=1e-6)
    single = jaxmlp.layer_activations(random_params, x[2], **kw)
    assert [a.shape for a in single] == [(784,), (16,), (16,), (10,)]
    np.testing.assert_allclose(single[1], acts[1][2], rtol=1e-5, atol=1e-6)
    uint8 = jaxmlp.layer_activations(random_params, jaxmlp.to_float(np.full((784,), 255, np.uint8)), **kw)[
        -1
    ]  # uint8 means /255
    np.testing.assert_allclose(uint8, jaxmlp.forward(random_params, jnp.ones(784), **kw), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("layer", [1, 2, 3])
def test_gradient_ascent_excites_the_neuron_as_much_as_the_best_test_digit(trained, mnist, layer):
    params, kw, _, _ = trained
    digits = jaxmlp.to_float(mnist.x_test[:1000])
    start = jnp.full((784,), 0.5)
    before_all = jaxmlp.layer_activations(params, start, **kw)[layer]
    neuron = int(jnp.argmin(before_all))  # the hardest one: least active on the starting image
    x = ji.maximize_neuron(params, layer, neuron, **kw)
    after = float(ji.neuron_activation(params, x, layer, neuron, **kw))
    on_digits = np.asarray(ji.neuron_activation(params, digits, layer, neuron, **kw))
    assert x.shape == (784,) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert after > float(before_all[neuron]) + 0.5 * float(on_digits.max())
    assert after >= 0.9 * float(on_digits.max())


@pytest.mark.slow
def test_gradient_ascent_from_a_real_digit_turns_it_into_another(trained, mnist):
    params, kw, _, _ = trained
    x0 = mnist.x_test[0]  # a 7
    target = int(jnp.argmin(jaxmlp.forward(params, jaxmlp.to_float(x0), **kw)))  # the digit it looks least like
    before = float(ji.neuron_activation(params, x0, 3, target, **kw))
    x = ji.maximize_neuron(params, 3, target, x0=x0, steps=100, **kw)
    after = float(ji.neuron_activation(params, x, 3, target, **kw))
    assert before < 0.01 and after > 0.9
    assert int(jaxmlp.predict(params, x, **kw)) == target


def test_maximize_layer_matches_maximize_neuron_and_checks_its_arguments(random_params):
    batch = ji.maximize_layer(random_params, 2, steps=20, **SIGMOID)
    one = ji.maximize_neuron(random_params, 2, 5, steps=20, **SIGMOID)
    assert batch.shape == (16, 784)
    np.testing.assert_allclose(batch[5], one, atol=1e-5)
    with pytest.raises(ValueError, match=r"layer must be 1\.\.3"):
        ji.maximize_neuron(random_params, 0, 0)
    with pytest.raises(ValueError, match=r"neurons 0\.\.9"):
        ji.maximize_neuron(random_params, 3, 10)


def test_noise_confidence_is_reproducible_from_its_key(random_params):
    digits = jax.random.uniform(jax.random.key(2), (50, 784))
    a = ji.noise_confidence(random_params, jax.random.key(7), digits, **SIGMOID)
    b = ji.noise_confidence(random_params, jax.random.key(7), digits, **SIGMOID)
    c = ji.noise_confidence(random_params, jax.random.key(8), digits, **SIGMOID)
    assert a.noise.shape == (1000,) and a.noise_digit.shape == (1000,) and a.digits.shape == (50,)
    np.testing.assert_array_equal(a.noise, b.noise)
    assert not np.array_equal(a.noise, c.noise)
    assert np.all((a.noise > 0) & (a.noise < 1))
    noise = jax.random.uniform(jax.random.key(7), (1000, 784))
    np.testing.assert_allclose(a.noise, ji.top_output(random_params, noise, **SIGMOID), rtol=1e-6)


@pytest.mark.slow
def test_confusion_matrix_and_mistakes_agree_with_accuracy(trained, mnist):
    params, kw, _, _ = trained
    x, y = mnist.x_test, mnist.y_test
    matrix = ji.confusion_matrix(params, x, y, **kw)
    assert matrix.shape == (10, 10) and matrix.sum() == len(y)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(y, minlength=10))
    accuracy = float(jaxmlp.accuracy(params, jaxmlp.to_float(x), jnp.asarray(y), **kw))
    assert matrix.trace() / len(y) == pytest.approx(accuracy, abs=1e-6)

    wrong = ji.confident_mistakes(params, x, y, k=16, **kw)
    assert len(wrong.position) == 16
    assert np.all(wrong.predicted != wrong.label) and np.all(y[wrong.position] == wrong.label)
    assert np.all(np.diff(wrong.confidence) <= 0)
    np.testing.assert_allclose(wrong.confidence, ji.top_output(params, x[wrong.position], **kw), rtol=1e-5)
    all_wrong = np.flatnonzero(np.asarray(jaxmlp.predict(params, jaxmlp.to_float(x), **kw)) != y)
    others = np.setdiff1d(all_wrong, wrong.position)
    assert np.asarray(ji.top_output(params, x[others], **kw)).max() <= wrong.confidence.min() + 1e-6


@pytest.mark.slow
def test_cli_inspect_writes_every_picture_and_an_index(trained, tmp_path, capsys):
    from jaxmlp import cli

    params, _, config, history = trained
    run = tmp_path / "run"
    run.mkdir()
    save_params(
        run / "params.npz",
        params,
        {"config": {"activation": config.activation, "output": config.output, "cost": config.cost}},
    )
    (run / "metrics.json").write_text(json.dumps({"history": history.to_dict()}))
    out = tmp_path / "pictures"
    assert cli.main(["inspect", str(run / "params.npz"), "--out", str(out)]) == 0
    expected = {
        "weights_layer1.png",
        "weights_layer2.png",
        "max_input_layer2.png",
        "max_input_output.png",
        "activations.png",
        "noise_confidence.png",
        "confusion.png",
        "mistakes.png",
        "curves.png",
    }
    assert {p.name for p in out.glob("*.png")} == expected
    for name in expected:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    page = (out / "index.html").read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == expected
    assert len(re.findall(r"<figcaption>[^<]{20,}</figcaption>", page)) == len(expected)
    assert "uniform noise" in capsys.readouterr().out


def test_cli_inspect_rejects_a_missing_params_file(tmp_path, capsys):
    from jaxmlp import cli

    assert cli.main(["inspect", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o")]) == 2
    assert "nope.npz" in capsys.readouterr().err
