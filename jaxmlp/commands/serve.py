"""jaxmlp serve PARAMS.npz: a local page where you draw a digit and watch every neuron of the network answer.

Listens on 127.0.0.1 (this machine only) at a free port unless --port is given, and prints the address;
--open also opens it in your browser. Another address (such as 0.0.0.0) is used only when you name it with
--host, because then other machines can reach the page. The page works offline: HTML, JS and CSS ship with jaxmlp.
Ctrl-C (or SIGTERM) stops the server; that is its normal end, exit code 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from jaxmlp.commands.common import SOURCES


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535 (0: a free port); got {text!r}")
    return int(text)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="draw a digit in a browser page and watch the network", description=__doc__)
    p.add_argument("params", help="a params.npz written by 'jaxmlp train --out'")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; others are reachable from other machines)")
    p.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in your web browser")
    p.add_argument("--source", default="auto", choices=SOURCES, help="where the MNIST test digits come from")
    p.add_argument("--data-dir", help="folder of IDX files (for --source idx)")
    p.add_argument("--no-test-set", action="store_true", help="do not load MNIST (no 'random test digit')")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from jaxmlp.checkpoint import load_network
    from jaxmlp.serve.app import bind, create_app, is_loopback

    host = args.host if args.host is not None else "127.0.0.1"
    params, config, meta = load_network(args.params)
    if args.host is not None and not is_loopback(host):
        print(f"jaxmlp serve: listening on {host} as asked: other machines can reach this page", file=sys.stderr)
    sock = bind(host, args.port, allow_remote=args.host is not None)  # before the slow parts: a busy port fails fast
    app = create_app(
        params,
        config.activation,
        config.output,
        summary=_summary(args.params, meta),
        test_set=None if args.no_test_set else _test_set(args),
        allowed_hosts=None if args.host is None else ["*"],
    )
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))

    # Ctrl-C and SIGTERM are how a server ends (exit 0). From before the address is shown until uvicorn takes the
    # signals over, and after it hands them back (re-raising the one it caught), they only ask the server to stop:
    # no KeyboardInterrupt can land between two statements and turn a normal stop into "interrupted".
    def request_stop(signum: int, frame: Any) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    everywhere = host in ("0.0.0.0", "::")  # every address of this machine: this machine itself is one of them
    name = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host if ":" not in host else f"[{host}]")
    url = f"http://{name}:{sock.getsockname()[1]}/"
    print(
        f"jaxmlp serve: {url}{' (and every address of this machine)' if everywhere else ''}  (Ctrl-C to stop)",
        flush=True,
    )

    try:
        if args.open:
            _open_when_started(server, url)
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    print("jaxmlp serve: stopped", file=sys.stderr)
    return 0


def _open_when_started(server: Any, url: str) -> None:
    import threading
    import time
    import webbrowser

    def wait_then_open() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started and not webbrowser.open(url):
            print(f"jaxmlp serve: could not open a browser; open {url} yourself", file=sys.stderr)

    threading.Thread(target=wait_then_open, daemon=True).start()


def _test_set(args: argparse.Namespace) -> Any:
    """MNIST's test images and labels, or None (with a one-line note) when they cannot be loaded."""
    import jaxmlp
    from jaxmlp.data.load import MNISTUnavailableError
    from jaxmlp.errors import InputError

    print("jaxmlp serve: loading the MNIST test digits …", file=sys.stderr, flush=True)
    try:
        data = jaxmlp.load_mnist(args.source, data_dir=args.data_dir)
    except (MNISTUnavailableError, InputError, OSError) as error:
        reason = " ".join(str(error).split())[:160]
        print(f"jaxmlp serve: no MNIST test digits ({reason}); the 'random test digit' button is off", file=sys.stderr)
        return None
    return data.x_test, data.y_test


def _summary(params_path: str, meta: dict[str, Any]) -> dict[str, Any]:
    """What the page says about the network: file, preset and (from metrics.json beside it) accuracy, epochs."""
    summary: dict[str, Any] = {"file": os.path.basename(params_path), "preset": meta.get("preset")}
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(params_path)), "metrics.json")) as f:
            metrics = json.load(f)
        summary.update(test_accuracy=float(metrics["test_accuracy"]), epochs=int(metrics["epochs"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return summary
