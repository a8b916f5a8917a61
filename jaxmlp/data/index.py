"""A client for a package index's simple API that finds one wanted wheel and downloads it (standard library only).

``find_wheel`` reads a PEP 691 JSON or PEP 503 HTML project page at an index, a find-links page or folder, or a
``file://`` index (``index.html`` in a folder, as pip does); ``Client`` sends the requests with pip's certificate
and proxy settings (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` through urllib), the index URL's
``user:password@`` as Basic auth (to that host only) and short timeouts (``SOCKET_TIMEOUT_S`` per network
operation), so an offline machine fails in seconds. ``fetch`` downloads with a progress bar (``Progress``) and
checks the sha256 the index gave; ``SourceFailed`` says why a location did not give the wheel.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from jaxmlp.data.pip_config import TOTAL_TIMEOUT_S, PipSettings, local_path, split_auth

SOCKET_TIMEOUT_S = 5.0  # per connect / read, so an unreachable index fails fast; tests may patch it
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True)
class Wanted:
    """The wheel to look for: a project, its version, and a pattern its file name must match in full."""

    project: str
    version: str
    filename: re.Pattern[str]


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


def _why(error: BaseException, project: str) -> SourceFailed:
    """A short reason for a failed request (for ``project``), and whether pip would fail the same way."""
    if isinstance(error, SourceFailed):
        return error
    if isinstance(error, urllib.error.HTTPError):
        if error.code == 404:
            return SourceFailed(f"HTTP 404, no {project} there", absent=True)
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


class Client:
    """urllib with pip's certificate and proxy settings, a user agent and a hard deadline on opening."""

    def __init__(self, settings: PipSettings, project: str) -> None:
        self.project = project  # named in the reason for a 404
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

    def open(self, url: str, auth: str | None, accept: str = "*/*") -> Any:
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
            raise _why(box["error"], self.project) from box["error"]  # type: ignore[arg-type]
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


def _pick(links: list[Link], wanted: Wanted) -> Link:
    wheels = [link for link in links if wanted.filename.fullmatch(link.filename)]
    if not wheels:
        raise SourceFailed(f"no {wanted.project} {wanted.version} wheel listed", absent=True)
    return sorted(wheels, key=lambda link: link.sha256 is None)[0]


def find_wheel(location: str, client: Client, wanted: Wanted, *, index: bool) -> tuple[Link, str | None]:
    """The link to ``wanted`` at an index (``index=True``) or a find-links location, and the auth to fetch it."""
    url, auth = split_auth(location)
    path = local_path(url)
    if path is not None:  # file:// or a plain path: read it here, as pip does (index.html in a folder)
        page = path / wanted.project if index else path
        if page.is_dir() and not index:
            return _pick([Link(p.name, p.as_uri()) for p in sorted(page.iterdir())], wanted), None
        if page.is_dir():
            page = page / "index.html"
        if not page.is_file():
            absent = path.exists()  # the folder is there, the project is not
            raise SourceFailed(f"no {wanted.project} there" if absent else "no such folder", absent=absent)
        try:
            body = page.read_bytes()
        except OSError as e:
            raise _why(e, wanted.project) from e
        return _pick(parse_page(body, "text/html", page.as_uri()), wanted), None
    page_url = url.rstrip("/") + f"/{wanted.project}/" if index else url
    with client.open(page_url, auth, ACCEPT if index else "text/html") as response:
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            raise _why(e, wanted.project) from e
        found = _pick(parse_page(body, response.headers.get("Content-Type", "text/html"), response.geturl()), wanted)
    same_host = urlsplit(found.url).netloc == urlsplit(url).netloc
    return found, auth if same_host else None


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Progress:
    """A tqdm byte bar on a terminal; elsewhere at most a line per quarter, and only for a slow download."""

    def __init__(self, total: int, desc: str) -> None:
        self.total = total
        self.done = 0
        self.last = time.monotonic()
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
            say(f"  {self.done / 1e6:.0f} of {self.total / 1e6:.0f} MB")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fetch(link: Link, auth: str | None, client: Client, dest: Path, label: str) -> Path:
    """Download ``link`` into ``dest`` with a progress bar named ``label``, checking the sha256 the index gave."""
    path = dest / Path(link.filename).name
    local = local_path(link.url)
    if local is not None:
        try:
            source: Any = local.open("rb")
        except OSError as e:
            raise SourceFailed(f"{e.strerror or e}: {local}") from e
        total = local.stat().st_size
    else:
        source = client.open(link.url, auth)
        total = int(source.headers.get("Content-Length") or link.size or 0)
    digest = hashlib.sha256()
    progress = Progress(total, label)
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
        raise _why(e, client.project) from e
    except http.client.HTTPException as e:
        raise SourceFailed(f"connection dropped ({type(e).__name__})") from e
    finally:
        progress.close()
    if total and progress.done != total:
        raise SourceFailed(f"download cut short at {progress.done} of {total} bytes")
    if link.sha256 and digest.hexdigest() != link.sha256.lower():
        raise SourceFailed(f"wheel SHA-256 {digest.hexdigest()} does not match the index's {link.sha256}")
    return path
