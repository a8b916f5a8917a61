"""``jaxmlp serve``: a local page where you draw a digit and watch all 42 neurons answer (see ``app``)."""

from jaxmlp.serve.app import CANVAS, MAX_BODY, create_app

__all__ = ["CANVAS", "MAX_BODY", "create_app"]
