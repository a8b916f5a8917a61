"""The one error class jaxmlp raises for bad input.

Every check of user input (images, labels, params, configs, files, command-line values) raises ``InputError``
with a one-line message that names what is wrong and what to do. The command line turns exactly this class
into ``jaxmlp CMD: error: MESSAGE`` and exit code 2; any other exception is a bug and keeps its traceback.

``InputError`` subclasses both ``ValueError`` and ``TypeError``, so code that caught either before keeps working.
"""

from __future__ import annotations


class InputError(ValueError, TypeError):
    """Bad user input: a one-line message saying what is wrong and what to do instead."""
