"""Shared fixtures. Data: ``mnist``, the real MNIST loaded once per session through ``load_mnist()``."""

import os

import pytest

# One cache for the whole session (data and compiled programs), shared with the CLI and subprocesses.
os.environ.setdefault("JAXMLP_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".cache", "jaxmlp"))


@pytest.fixture(scope="session")
def mnist(tmp_path_factory):
    """Real MNIST (uint8 ``Dataset``), cached in $JAXMLP_CACHE_DIR if set (CI) else in a session temp dir."""
    from jaxmlp.data import load_mnist

    cache_dir = os.environ.get("JAXMLP_CACHE_DIR") or tmp_path_factory.mktemp("jaxmlp-cache")
    return load_mnist(cache_dir=cache_dir)
