"""jaxmlp serve in a real browser: headless Chromium, driven by Playwright, draws a digit with the mouse.

Starts ``jaxmlp serve`` as a subprocess on a free loopback port, draws a 7, and checks that the prediction and
all 42 neuron elements show exactly the numbers the API returned (which equal ``jaxmlp.forward``). Also reports
the time from a stroke to the updated diagram, as measured by the page itself (no timed assertion).

Needs the system Chromium (``/usr/bin/chromium``, or ``$JAXMLP_CHROMIUM``) and ``pip install playwright``; never
``playwright install``. Missing either: skipped with the reason, or a failure when ``$CI`` is set.
``JAXMLP_SCREENSHOT=PATH`` saves the screenshot there (default: the test's tmp folder);
``JAXMLP_SERVE_PARAMS=PATH`` serves that trained network instead of a random one (for a meaningful picture).
"""

import json
import os
import queue
import subprocess
import sys
import threading

import jax
import numpy as np
import pytest

import jaxmlp
from jaxmlp.checkpoint import load_network, save_params

CHROMIUM = os.environ.get("JAXMLP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: pip install playwright (the browser is the system Chromium)")
    if not os.path.exists(CHROMIUM):
        _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set JAXMLP_CHROMIUM)")
    return sync_playwright


@pytest.fixture(scope="module")
def params_path(tmp_path_factory):
    given = os.environ.get("JAXMLP_SERVE_PARAMS")
    if given:
        return given
    path = tmp_path_factory.mktemp("serve") / "params.npz"
    save_params(path, jaxmlp.init_params(jax.random.key(0)), {"config": {"activation": "sigmoid"}})
    return str(path)


@pytest.fixture(scope="module")
def server(params_path):
    """``jaxmlp serve`` on a free loopback port; yields its URL, stops it afterwards."""
    command = [sys.executable, "-m", "jaxmlp.cli", "serve", params_path, "--source", "cache"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=180)
            seen.append(line)
            if "http://" in line:
                url = line.split()[2]
                break
    except queue.Empty:
        process.kill()
        pytest.fail(f"jaxmlp serve printed no address in 180 s: {''.join(seen)[-500:]}")
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    process.terminate()
    process.wait(timeout=30)


def _draw_seven(page) -> None:
    box = page.locator("#draw").bounding_box()

    def at(fx, fy):
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    page.mouse.move(*at(0.25, 0.22))
    page.mouse.down()
    for point in ((0.72, 0.22), (0.45, 0.85)):
        page.mouse.move(*at(*point), steps=12)
    page.mouse.up()


def _idle(page) -> None:
    page.wait_for_function("() => window.jaxmlp.updates > 0 && !window.jaxmlp.busy", timeout=30_000)


def test_drawing_updates_every_neuron_to_the_api_values(sync_playwright, server, params_path, tmp_path):
    params, config, _ = load_network(params_path)
    answers = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on(
                "response",
                lambda r: answers.append(r) if r.url.endswith("/api/activations") and r.status == 200 else None,
            )
            page.goto(server)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert page.locator("circle.neuron").count() == 42
            _draw_seven(page)
            _idle(page)
            result = answers[-1].json()  # requests are sequential: the last answer is what the page shows

            shown = page.eval_on_selector_all(
                "circle.neuron", "cs => cs.map(c => [+c.dataset.layer, +c.dataset.index, c.dataset.activation])"
            )
            assert len(shown) == 42
            for layer, j, value in shown:
                assert float(value) == result["activations"][layer - 1][j], (layer, j)
            assert page.locator("#prediction").inner_text() == str(result["digit"])
            expected = jaxmlp.model.layer_activations(
                params, np.asarray(result["input"], np.float32), activation=config.activation, output=config.output
            )
            for got, want in zip(result["activations"], expected[1:], strict=True):
                np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want), rtol=1e-6, atol=1e-7)
            seen = np.asarray(result["input"]).reshape(28, 28)
            assert seen.max() == 1.0 and seen[:4].sum() == 0  # cropped, scaled and centred, not the raw canvas

            page.locator("circle.neuron[data-layer='2'][data-index='3']").hover()
            assert page.locator("#detail-title").inner_text().startswith("hidden layer 2, neuron 3")
            assert page.locator("#detail-combo-figure").is_visible()

            latencies = page.evaluate("window.jaxmlp.latencies")
            stats = f"median {np.median(latencies):.1f} ms, max {np.max(latencies):.1f} ms over {len(latencies)}"
            print(f"stroke → updated diagram: {stats} updates")
            screenshot = os.environ.get("JAXMLP_SCREENSHOT") or str(tmp_path / "serve.png")
            page.screenshot(path=screenshot)

            before = page.evaluate("window.jaxmlp.updates")
            page.locator("#noise").click()
            page.wait_for_function(f"() => window.jaxmlp.updates > {before}")
            assert "noise" in page.locator("#status").inner_text()
            if page.locator("#random").is_enabled():  # the MNIST cache is there (always in CI)
                before = page.evaluate("window.jaxmlp.updates")
                page.locator("#random").click()
                page.wait_for_function(f"() => window.jaxmlp.updates > {before}")
                assert page.locator("#status").inner_text().startswith("MNIST test image #")
            page.locator("#clear").click()
            assert page.locator("#prediction").inner_text() == "–"
            assert not errors, errors
        finally:
            browser.close()
    with open(str(tmp_path / "latency.json"), "w") as f:
        json.dump(latencies, f)


def test_a_finger_draws_too_and_a_tap_shows_a_neuron(sync_playwright, server):
    """Touch input (a phone or tablet): touch events become pointer events; a tap on a neuron shows its weights."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 900, "height": 1400}, has_touch=True, is_mobile=True)
            page = context.new_page()
            page.goto(server)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            box = page.locator("#draw").bounding_box()
            cdp = context.new_cdp_session(page)

            def touch(kind, fx=None, fy=None):
                points = [] if fx is None else [{"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]}]
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

            touch("touchStart", 0.5, 0.15)
            for i in range(1, 15):
                touch("touchMove", 0.5 + 0.01 * i, 0.15 + 0.05 * i)
            touch("touchEnd")
            _idle(page)
            assert page.locator("#prediction").inner_text() in "0123456789"
            page.locator("circle.neuron[data-layer='1'][data-index='5']").tap()
            assert page.locator("#detail-title").inner_text().startswith("hidden layer 1, neuron 5")
            assert not page.locator("#detail-combo-figure").is_visible()  # a first-layer neuron: its weights only
        finally:
            browser.close()
