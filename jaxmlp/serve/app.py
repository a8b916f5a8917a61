"""The page's server: a Starlette app that answers with jaxmlp's own numbers, and the loopback-only listener.

Why Starlette + uvicorn: the page needs a handful of routes and a JSON body read with a hard size bound;
Starlette gives exactly that (routing, streamed bodies, a TestClient) in a small pure-Python package, and uvicorn
serves it on a socket we bind ourselves (so a free port is known before it is printed). No framework extras,
no templating: the page is three static files shipped in the package and held in memory.

JSON API (every error is ``{"error": "one line"}`` with a 4xx status):

* ``GET /api/network`` → sizes, activation/output names, a run summary, ``first_layer_images`` ``(n1, 784)``
  (``w1[:, j]``), ``second_layer_images`` ``(n2, 784)`` (``(w1 @ w2)[:, k]``) and ``weights``: ``w^l`` for
  l ≥ 2, ``(n_{l-1}, n_l)``, as nested lists.
* ``POST /api/activations`` with ``{"canvas": [CANVAS² integers 0..255]}`` (the drawing, row-major, ink bright;
  it goes through ``jaxmlp.image.preprocess_digit`` like ``jaxmlp predict``'s image) or ``{"x": [784 numbers in
  [0, 1]]}`` (the network's input itself). Answers ``{"digit", "input" (784,), "activations": [a^1, ..., a^L],
  "contributions": [c^2, ..., c^L]}`` with ``c^l[j][k] = w^l[j, k] · a^{l-1}[j]``, the term neuron ``j`` adds to
  neuron ``k``'s weighted input. Activations are ``jaxmlp.model.layer_activations`` (jitted, warmed at start).
* ``GET /api/test-digit[?index=N]`` → a (random) MNIST test image, its ``label`` and ``index``, and the above.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import json
import socket
from importlib import resources
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jaxmlp.errors import InputError
from jaxmlp.image import preprocess_digit
from jaxmlp.model import ActivationName, OutputName, layer_activations
from jaxmlp.neurons import first_layer_images, second_layer_images
from jaxmlp.validate import NUM_PIXELS

CANVAS = 140  #: the drawing arrives as CANVAS × CANVAS grey levels (5 × 28: a test digit fills it exactly)
MAX_BODY = 256 * 1024  #: bytes; a full canvas of "255," is 80 kB
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Network:
    """A trained network ready to answer: params on the device and one jitted ``layer_activations``.

    ``answer(x)`` for ``x`` ``(784,)`` float32 in [0, 1] returns the API's JSON-ready dict (see the module).
    """

    def __init__(self, params: Any, activation: ActivationName, output: OutputName):
        self.params = [{k: jnp.asarray(v, jnp.float32) for k, v in layer.items()} for layer in params]
        self.weights = [np.asarray(layer["w"], np.float32) for layer in params]
        self.activation, self.output = activation, output
        self._run = jax.jit(functools.partial(layer_activations, activation=activation, output=output))
        self.answer(np.zeros(NUM_PIXELS, np.float32))  # compile now, not on the first stroke

    def answer(self, x: np.ndarray) -> dict[str, Any]:
        acts = [np.asarray(a, np.float32) for a in self._run(self.params, jnp.asarray(x, jnp.float32))]
        contributions = [w * a[:, None] for w, a in zip(self.weights[1:], acts[1:-1], strict=True)]
        return {
            "digit": int(np.argmax(acts[-1])),
            "input": acts[0].tolist(),
            "activations": [a.tolist() for a in acts[1:]],
            "contributions": [c.tolist() for c in contributions],
        }

    def description(self) -> dict[str, Any]:
        sizes = [int(self.weights[0].shape[0]), *(int(w.shape[1]) for w in self.weights)]
        images = {"first_layer_images": np.asarray(first_layer_images(self.params)).reshape(sizes[1], -1)}
        if len(self.weights) > 2:
            images["second_layer_images"] = np.asarray(second_layer_images(self.params)).reshape(sizes[2], -1)
        return {
            "sizes": sizes,
            "activation": self.activation,
            "output": self.output,
            **{name: np.round(a, 5).tolist() for name, a in images.items()},
            "weights": [np.round(w, 5).tolist() for w in self.weights[1:]],
        }


def create_app(
    params: Any,
    activation: ActivationName = "sigmoid",
    output: OutputName = "sigmoid",
    *,
    summary: dict[str, Any] | None = None,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
    allowed_hosts: list[str] | None = None,
    seed: int | None = None,
) -> Starlette:
    """The page and its API for ``params`` (a checked MNIST network; see ``checkpoint.load_network``).

    ``test_set``: ``(x_test (n, 784) uint8, y_test (n,))`` for the "random test digit" button (None: disabled).
    ``allowed_hosts``: ``Host`` headers accepted (default the loopback names, which stops DNS-rebinding pages
    from reading the API); ``["*"]`` when the user chose to listen on another address.
    """
    network = Network(params, activation, output)
    described = {**network.description(), "summary": summary or {}, "has_test_set": test_set is not None}
    page = {
        route: (resources.files("jaxmlp.serve").joinpath("static", name).read_bytes(), kind)
        for route, (name, kind) in STATIC.items()
    }
    rng = np.random.default_rng(seed)

    async def static(request: Request) -> Response:
        body, kind = page[request.url.path]
        return Response(body, media_type=kind)

    async def describe(request: Request) -> Response:
        return JSONResponse(described)

    async def activations(request: Request) -> Response:
        x = parse_input(await read_json(request))
        return JSONResponse(network.answer(x))

    async def test_digit(request: Request) -> Response:
        if test_set is None:
            raise ApiError(404, "no MNIST test set was loaded; start jaxmlp serve where MNIST is available")
        images, labels = test_set
        text = request.query_params.get("index")
        if text is None:
            index = int(rng.integers(len(labels)))
        elif text.isascii() and text.isdigit() and int(text) < len(labels):
            index = int(text)
        else:
            raise ApiError(422, f"index must be an integer 0..{len(labels) - 1}; got {text[:20]!r}")
        x = images[index].astype(np.float32) / np.float32(255)
        return JSONResponse({"index": index, "label": int(labels[index]), **network.answer(x)})

    routes = [Route(path, static) for path in STATIC]
    routes += [
        Route("/api/network", describe),
        Route("/api/activations", activations, methods=["POST"]),
        Route("/api/test-digit", test_digit),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or [*LOOPBACK_NAMES, "testserver"])]
    handlers = {ApiError: _api_error, HTTPException: _http_error}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)  # type: ignore[arg-type]
    return _SecurityHeaders(app)  # type: ignore[return-value]


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": error.reason}, status_code=error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)


class _SecurityHeaders:
    """ASGI wrapper adding ``HEADERS`` to every response (no framing, no sniffing, no caching, same-origin only)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in HEADERS.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_json(request: Request) -> Any:
    """The request's JSON body: ``application/json``, at most ``MAX_BODY`` bytes, standard JSON (no NaN)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, f"send the body as application/json; got {kind or 'no content type'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"body is {int(declared):,} bytes; at most {MAX_BODY:,} are accepted")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ApiError(413, f"body is over {MAX_BODY:,} bytes; at most {MAX_BODY:,} are accepted")
    except ClientDisconnect:  # the page went away mid-request: nobody to answer, nothing to log
        raise ApiError(400, "the client disconnected before sending the whole body") from None

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a number JSON allows")

    try:
        return json.loads(bytes(body), parse_constant=refuse)
    except RecursionError:
        raise ApiError(400, "body is nested too deeply to be a drawing") from None
    except ValueError as error:
        raise ApiError(400, f"body is not valid JSON ({' '.join(str(error).split())[:80]})") from None


def parse_input(payload: Any) -> np.ndarray:
    """``{"canvas": [...]}`` or ``{"x": [...]}`` → the network's input ``(784,)`` float32 in [0, 1]."""
    usage = f'send {{"canvas": [{CANVAS * CANVAS} integers 0..255]}} or {{"x": [{NUM_PIXELS} numbers in [0, 1]]}}'
    if not isinstance(payload, dict) or len(payload) != 1 or not {"canvas", "x"} >= set(payload):
        got = sorted(payload)[:3] if isinstance(payload, dict) else type(payload).__name__
        raise ApiError(422, f"{usage}; got {got}")
    if "x" in payload:
        return numbers(payload["x"], "x", NUM_PIXELS, 1.0, integers=False).astype(np.float32)
    canvas = numbers(payload["canvas"], "canvas", CANVAS * CANVAS, 255, integers=True).astype(np.uint8)
    try:
        pixels = preprocess_digit(canvas.reshape(CANVAS, CANVAS), ink_is_bright=True)
    except InputError as error:
        raise ApiError(422, f"canvas: {error}") from None
    return pixels.astype(np.float32) / np.float32(255)


def numbers(values: Any, name: str, length: int, high: float, *, integers: bool) -> np.ndarray:
    """A flat JSON list of exactly ``length`` finite numbers in ``[0, high]`` (integers only if asked)."""
    kind = "integers" if integers else "numbers"
    if not isinstance(values, list) or len(values) != length:
        got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
        raise ApiError(422, f"{name} must be a list of {length} {kind} 0..{high:g}; got {got}")
    allowed = (int,) if integers else (int, float)  # exact types: JSON true/false are bools, not numbers
    array = np.asarray(values) if all(type(v) in allowed for v in values) else np.asarray([], object)
    if array.shape != (length,) or array.dtype.kind not in ("iu" if integers else "iuf"):
        raise ApiError(422, f"{name} must be a flat list of {length} {kind} 0..{high:g}; it holds other values")
    if not (np.all(np.isfinite(array)) and array.min() >= 0 and array.max() <= high):
        raise ApiError(422, f"{name} has values in [{array.min():g}, {array.max():g}]; expected {kind} 0..{high:g}")
    return array


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is this machine's loopback (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise InputError(f"--host {host!r} is not an address or a name this machine can resolve") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def bind(host: str, port: int, *, allow_remote: bool) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one). Non-loopback needs ``allow_remote``."""
    if not allow_remote and not is_loopback(host):
        raise InputError(f"refusing to listen on {host}, which other machines can reach; give --host {host} to mean it")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise InputError(f"--host {host!r} is not an address or a name this machine can resolve") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        fix = "choose another --port" if error.errno == errno.EADDRINUSE else f"is {host} an address of this machine?"
        raise InputError(f"cannot listen on {host}:{port} ({error.strerror}); {fix}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock
