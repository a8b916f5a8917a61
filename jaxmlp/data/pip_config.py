"""Where and how pip would fetch a wheel: its settings, the locations they name, and ``pip download`` as a fallback.

- ``pip_settings``: the indexes (``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL`` / ``PIP_FIND_LINKS`` /
  ``PIP_NO_INDEX``, else ``index-url``, ``extra-index-url``, ``find-links``, ``no-index`` from pip's config files
  (``[global]``, ``[install]``, ``[download]``; the files pip reads, ``PIP_CONFIG_FILE`` last), else
  https://pypi.org/simple), pip's ``proxy``, and the certificates from ``PIP_CERT`` / pip's ``cert``,
  ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE``.
- ``local_path``, ``split_auth``, ``redact``: a location as pip reads it (a ``file://`` URL or a plain path is
  local; ``user:password@`` in a URL is Basic auth, never shown in messages).
- ``pip_available`` / ``pip_download``: run ``python -m pip download`` for one requirement, where pip is installed.

Standard library only; nothing here knows which wheel is wanted.
"""

from __future__ import annotations

import base64
import configparser
import importlib.util
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_INDEX = "https://pypi.org/simple"
TOTAL_TIMEOUT_S = 300  # a whole download, a backstop against a trickling server
PIP_TIMEOUT_S = 5  # pip's own per-operation timeout, so an unreachable index fails fast
PIP_OPTIONS = ("--no-deps", "--only-binary=:all:", "--timeout", str(PIP_TIMEOUT_S), "--retries", "1", "--no-input")
PIP_OPTIONS += ("--disable-pip-version-check", "--progress-bar", "off")
CONFIG_SECTIONS = ("global", "install", "download")  # later ones win, as pip's command sections beat [global]


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


# --- the locations those settings name -----------------------------------------------------------------------------


def redact(url: str) -> str:
    """``url`` with ``***@`` for its ``user:password@``, for messages."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def split_auth(url: str) -> tuple[str, str | None]:
    """``(url without user:password@, Basic auth header or None)``."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), f"Basic {token}"


def local_path(location: str) -> Path | None:
    """The path a ``file://`` URL or a plain path names; None for a network URL."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if len(parts.scheme) <= 1:  # a path, or one starting with a Windows drive letter
        return Path(location).expanduser()
    return None


# --- pip itself ---------------------------------------------------------------------------------------------------


def pip_available() -> bool:
    """Whether this interpreter can run ``python -m pip`` (a uv-made venv often cannot)."""
    return importlib.util.find_spec("pip") is not None


def pip_download(dest: Path, requirement: str) -> Path:
    """Run ``pip download requirement`` (one ``name==version`` wheel) into ``dest``; the wheel's path.

    ConnectionError with pip's last error line (and the network cause it names) on failure.
    """
    cmd = [sys.executable, "-m", "pip", "download", *PIP_OPTIONS, "-d", str(dest), requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOTAL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ConnectionError(f"took over {TOTAL_TIMEOUT_S} s") from None
    name = re.sub(r"[-_.]+", "_", requirement.partition("==")[0])  # a wheel file name's form of the project name
    wheels = sorted(dest.glob(f"{name}-*.whl"))
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
