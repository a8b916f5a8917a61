"""jaxmlp serve's JSON API (Starlette TestClient): jaxmlp's own numbers, and one-line 4xx refusals."""

import json

import jax
import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("PIL")
from starlette.testclient import TestClient

import jaxmlp
from jaxmlp import cli
from jaxmlp.checkpoint import save_params
from jaxmlp.image import preprocess_digit
from jaxmlp.serve.app import CANVAS, MAX_BODY, bind, create_app, is_loopback

KW = {"activation": "relu", "output": "softmax"}  # not the defaults: the app must use the network's own names


@pytest.fixture(scope="module")
def params():
    return jaxmlp.init_params(jax.random.key(0), init="he")


@pytest.fixture(scope="module")
def client(params):
    rng = np.random.default_rng(0)
    test_set = (rng.integers(0, 256, (5, 784), dtype=np.uint8), np.arange(5))
    with TestClient(create_app(params, **KW, test_set=test_set), base_url="http://127.0.0.1") as c:
        yield c


def _canvas():
    """A drawn 1 on the page's canvas: a bright slanted bar on black, ``(CANVAS, CANVAS)`` uint8."""
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    for r in range(20, 120):
        canvas[r, 60 + r // 10 : 72 + r // 10] = 255
    return canvas


def _check_against_forward(params, result, x):
    """Every layer of the answer equals jaxmlp.model.layer_activations on ``x``, to float32 precision."""
    expected = jaxmlp.layer_activations(params, jax.numpy.asarray(x, jax.numpy.float32), **KW)
    np.testing.assert_array_equal(np.asarray(result["input"], np.float32), np.asarray(x, np.float32))
    for got, want in zip(result["activations"], expected[1:], strict=True):
        np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result["activations"][-1], jaxmlp.forward(params, jax.numpy.asarray(x), **KW), rtol=1e-6)
    assert result["digit"] == int(np.argmax(expected[-1]))
    for layer, c in enumerate(result["contributions"], start=2):  # w^l[j, k] · a^{l-1}[j]
        want = np.asarray(params[layer - 1]["w"]) * np.asarray(expected[layer - 1])[:, None]
        np.testing.assert_allclose(np.asarray(c, np.float32), want, rtol=1e-6, atol=1e-7)


def test_the_page_and_its_files_are_served_offline_with_strict_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="draw"' in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # no CDN: everything comes from this server
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/style.css").status_code == 200


def test_network_description(client, params):
    net = client.get("/api/network").json()
    assert net["sizes"] == [784, 16, 16, 10] and net["activation"] == "relu" and net["has_test_set"]
    w1 = np.asarray(params[0]["w"])
    np.testing.assert_allclose(net["first_layer_images"], w1.T, atol=1e-5)
    np.testing.assert_allclose(net["second_layer_images"], (w1 @ np.asarray(params[1]["w"])).T, atol=1e-4)
    np.testing.assert_allclose(net["weights"][1], params[2]["w"], atol=1e-5)


def test_x_answers_with_jaxmlp_forward(client, params):
    x = np.random.default_rng(1).random(784).astype(np.float32)
    response = client.post("/api/activations", json={"x": x.tolist()})
    assert response.status_code == 200
    _check_against_forward(params, response.json(), x)


def test_a_drawing_goes_through_predicts_preprocessing(client, params):
    canvas = _canvas()
    result = client.post("/api/activations", json={"canvas": canvas.reshape(-1).tolist()}).json()
    seen = preprocess_digit(canvas, ink_is_bright=True).astype(np.float32) / np.float32(255)
    _check_against_forward(params, result, seen)


def test_test_digits(client, params):
    result = client.get("/api/test-digit?index=3").json()
    assert result["index"] == 3 and result["label"] == 3
    x = np.asarray(result["input"], np.float32)
    assert np.all(np.round(x * 255) == np.round(x * 255).astype(np.uint8))
    _check_against_forward(params, result, x)
    assert 0 <= client.get("/api/test-digit").json()["index"] < 5


BAD = [
    ("not json at all", 400, "not valid JSON"),
    ('{"x": [NaN' + ", 0" * 783 + "]}", 400, "NaN is not a number JSON allows"),
    ('{"x": [Infinity' + ", 0" * 783 + "]}", 400, "Infinity"),
    ("[" * 50_000 + "]" * 50_000, 400, "nested too deeply"),
    ("[1, 2, 3]", 422, "send {"),
    ('{"x": [0.5], "canvas": [1]}', 422, "send {"),
    ('{"y": 1}', 422, "send {"),
    ('{"x": "a picture"}', 422, "got str"),
    (json.dumps({"x": [0.5] * 783}), 422, "got 783 values"),
    (json.dumps({"x": [[0.5] * 28] * 28}), 422, "got 28 values"),
    (json.dumps({"x": [0.5] * 783 + [1.5]}), 422, "values in [0.5, 1.5]"),
    (json.dumps({"x": [0.5] * 783 + [-0.1]}), 422, "values in [-0.1, 0.5]"),
    (json.dumps({"x": [0.5] * 783 + ["0.5"]}), 422, "holds other values"),
    (json.dumps({"x": [0.5] * 783 + [True]}), 422, "holds other values"),
    (json.dumps({"x": [0.5] * 783 + [None]}), 422, "holds other values"),
    (json.dumps({"x": [0] * 783 + [10**40]}), 422, "holds other values"),
    (json.dumps({"canvas": [0] * (CANVAS * CANVAS)}), 422, "blank"),
    (json.dumps({"canvas": [0.5] * (CANVAS * CANVAS)}), 422, "holds other values"),
    (json.dumps({"canvas": [256] * (CANVAS * CANVAS)}), 422, "values in [256, 256]"),
    (json.dumps({"canvas": [0] * 784}), 422, f"list of {CANVAS * CANVAS} integers"),
]


@pytest.mark.parametrize("body, status, reason", BAD, ids=[f"{s}-{r[:24]}" for _, s, r in BAD])
def test_bad_bodies_are_refused_in_one_line(client, body, status, reason):
    response = client.post("/api/activations", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert reason in error and "\n" not in error and len(error) < 200


def test_huge_bodies_wrong_types_methods_and_paths(client):
    huge = b'{"x": [' + b"0," * MAX_BODY + b"0]}"
    response = client.post("/api/activations", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "at most" in response.json()["error"]

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(100):
            yield b" " * 10_000

    response = client.post("/api/activations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    response = client.post("/api/activations", content=b"x=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    assert client.get("/api/activations").status_code == 405
    for path in ("/../pyproject.toml", "/static/../app.py", "/etc/passwd", "/api/file?path=/etc/passwd"):
        response = client.get(path)
        assert response.status_code == 404 and "root:" not in response.text
    for query in ("index=5", "index=-1", "index=abc", "index=" + "9" * 500, "index=%D9%A3"):
        response = client.get(f"/api/test-digit?{query}")
        assert response.status_code == 422 and "index must be" in response.json()["error"]


def test_dns_rebinding_hosts_are_refused(client):
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_without_a_test_set_the_button_has_a_reason(params):
    with TestClient(create_app(params, **KW), base_url="http://localhost") as c:
        assert not c.get("/api/network").json()["has_test_set"]
        response = c.get("/api/test-digit")
        assert response.status_code == 404 and "no MNIST test set" in response.json()["error"]


def test_loopback_only_unless_asked():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    with pytest.raises(jaxmlp.InputError, match=r"refusing to listen on 0\.0\.0\.0.*--host 0\.0\.0\.0"):
        bind("0.0.0.0", 0, allow_remote=False)
    sock = bind("127.0.0.1", 0, allow_remote=False)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(jaxmlp.InputError, match=r"cannot listen on 127\.0\.0\.1"):
            bind("127.0.0.1", port, allow_remote=False)
    finally:
        sock.close()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "missing.npz"], "no checkpoint file at missing.npz"),
        (["serve", "PARAMS", "--port", "70000"], "expected a port number"),
        (["serve", "PARAMS", "--port", "-1"], "expected a port number"),
        (["serve", "PARAMS", "--host", "no-such-host.invalid"], "a name this machine can resolve"),
    ],
)
def test_cli_serve_refuses_in_one_line(params, tmp_path, capsys, argv, message):
    save_params(tmp_path / "params.npz", params, {"config": KW})
    argv = [str(tmp_path / "params.npz") if a == "PARAMS" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
