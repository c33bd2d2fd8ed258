"""Real data: the shipped digits, MNIST (IDX, gzip) and CIFAR-10 (binary) readers, downloads
(tinytorch/utils/datafiles.py, provided infrastructure, never graded) and the data sets module 05
builds on them (provided code in its notebook: DigitsDataset, MNISTDataset, CIFAR10Dataset).

The MNIST and CIFAR-10 files are written here, byte by byte with `struct`, in the official formats
(independently of the readers under test). No test touches the network: `no_network` makes any
download attempt fail loudly, and the download tests serve their bytes from memory.
"""
from __future__ import annotations

import ast
import gzip
import hashlib
import io
import struct
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import tinytorch.utils.datafiles as datafiles
from tinytorch.core.dataloader import CIFAR10Dataset, DataLoader, DigitsDataset, MNISTDataset
from tinytorch.datasets import load_digits

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- writers of the official formats

def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: 0, 0, type code 0x08 (unsigned byte), ndim, big-endian uint32 sizes, then the bytes."""
    assert array.dtype == np.uint8
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.tobytes()


def write_mnist(folder: Path, split: str, images: np.ndarray, labels: np.ndarray, compress=True):
    prefix = "train" if split == "train" else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        data = idx_bytes(array)
        name = f"{prefix}-{kind}-ubyte"
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary: per record one label byte, then 1024 red, 1024 green, 1024 blue bytes."""
    out = bytearray()
    for image, label in zip(images, labels):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(bytes(image[channel, row].tolist()))
    return bytes(out)


def write_cifar(folder: Path, rng, per_file=2):
    """Five training files and one test file of `per_file` random records; returns the arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        images = rng.integers(0, 256, (per_file, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, per_file, dtype=np.uint8)
        (folder / name).write_bytes(cifar_bytes(images, labels))
        written[name] = (images, labels)
    return written


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails the test: both our download function and urllib itself."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a network call was attempted: {args}")
    monkeypatch.setattr(datafiles, "download_url", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ---------------------------------------------------------------- the shipped digits

def test_digits_file_is_the_uci_set():
    images, labels = datafiles.digits_arrays()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 16
    assert labels.dtype == np.int64 and sorted(set(labels.tolist())) == list(range(10))
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first record of the UCI test file, a zero
    assert labels[0] == 0 and images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    data = datafiles.DIGITS_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == datafiles.DIGITS_SHA256


def test_digits_source_and_licence_are_stated():
    readme = (datafiles.DIGITS_PATH.parent / "README.md").read_text()
    for fact in ("CC BY 4.0", "10.24432/C50P49", "Alpaydin", "1,797", datafiles.DIGITS_SHA256):
        assert fact in readme
    assert "CC BY 4.0" in datafiles.DIGITS_LICENCE and "10.24432/C50P49" in datafiles.DIGITS_SOURCE


def test_digits_file_is_packaged():
    text = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"data/*.csv.gz"' in text


def test_digits_split_is_stratified_disjoint_and_deterministic():
    _, labels = datafiles.digits_arrays()
    train, test = datafiles.digits_split(labels, 0.2, 0)
    assert len(train) == 1438 and len(test) == 359
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.union1d(train, test), np.arange(1797))
    expected = np.round(0.2 * np.bincount(labels)).astype(int)
    assert np.array_equal(np.bincount(labels[test]), expected)          # 20% of each class
    again = datafiles.digits_split(labels, 0.2, 0)
    assert np.array_equal(again[1], test)
    other = datafiles.digits_split(labels, 0.2, 1)
    assert not np.array_equal(other[1], test)


def test_digits_dataset():
    train, test = load_digits()
    assert isinstance(train, DigitsDataset) and (len(train), len(test)) == (1438, 359)
    assert train.images.shape == (1438, 1, 8, 8) and train.images.dtype == np.float32
    assert test.labels.dtype == np.int64
    images, labels = datafiles.digits_arrays()
    _, test_indices = datafiles.digits_split(labels)
    assert np.array_equal(test.images.data[:, 0] * 16, images[test_indices])
    assert np.array_equal(test.labels.data, labels[test_indices])
    x, y = next(iter(DataLoader(train, batch_size=10)))
    assert x.shape == (10, 1, 8, 8) and y.shape == (10,)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"train": "yes"}, TypeError, ["train", "'yes'"]),
    ({"test_fraction": 1.5}, ValueError, ["test_fraction", "1.5"]),
    ({"test_fraction": 0.0}, ValueError, ["test_fraction", "between 0 and 1"]),
    ({"seed": -1}, ValueError, ["seed", "-1"]),
    ({"seed": 1.5}, TypeError, ["seed", "1.5"]),
])
def test_digits_bad_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        DigitsDataset(**kwargs)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_damaged_or_missing_digits_file(tmp_path, monkeypatch):
    damaged = tmp_path / "digits.csv.gz"
    data = bytearray(datafiles.DIGITS_PATH.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(datafiles, "DIGITS_PATH", damaged)
    datafiles._digits_table.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"digits\.csv\.gz is damaged: SHA-256"):
            datafiles.digits_arrays()
        monkeypatch.setattr(datafiles, "DIGITS_PATH", tmp_path / "absent.csv.gz")
        with pytest.raises(FileNotFoundError, match="absent.csv.gz is missing"):
            datafiles.digits_arrays()
    finally:
        datafiles._digits_table.cache_clear()


# ---------------------------------------------------------------- MNIST (IDX)

@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_files(tmp_path, no_network, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1, 7], dtype=np.uint8)
    write_mnist(tmp_path, "test", images, labels, compress)
    data = MNISTDataset(tmp_path, train=False, download=True)   # files present: no download
    assert data.images.shape == (5, 1, 28, 28) and data.images.dtype == np.float32
    np.testing.assert_allclose(data.images.data[:, 0] * 255, images, atol=1e-4)
    assert data.labels.data.tolist() == [3, 0, 9, 1, 7] and data.labels.dtype == np.int64


def test_read_idx_other_types_and_byte_order(tmp_path):
    values = np.array([[1, -2, 300], [70000, 5, -6]], dtype=">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x0C, 2) + struct.pack(">2I", 2, 3) + values.tobytes())
    read = datafiles.read_idx(path)
    assert read.tolist() == values.tolist() and read.dtype == np.dtype("int32")


def test_mnist_missing_file_says_how_to_get_it(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as info:
        MNISTDataset(tmp_path, train=True)
    message = str(info.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "download=True" in message and "t10k-labels-idx1-ubyte.gz" in message


def damage(tmp_path, name, transform):
    path = tmp_path / name
    path.write_bytes(transform(path.read_bytes()))
    return path


@pytest.mark.parametrize("name, transform, words", [
    ("t10k-images-idx3-ubyte.gz", lambda b: b[: len(b) // 2], ["not a complete gzip file"]),
    ("t10k-images-idx3-ubyte.gz", lambda b: b[:-9] + bytes([b[-9] ^ 1]) + b[-8:], ["damaged"]),
    ("t10k-images-idx3-ubyte.gz", lambda b: gzip.compress(gzip.decompress(b)[:-10]),
     ["header says shape (3, 28, 28)", "2342 bytes follow"]),
    ("t10k-labels-idx1-ubyte.gz", lambda b: gzip.compress(b"\x01\x02" + gzip.decompress(b)[2:]),
     ["not an IDX file"]),
    ("t10k-labels-idx1-ubyte.gz", lambda b: gzip.compress(gzip.decompress(b)[:-1] + b"\x0c"),
     ["labels must be 0..9", "1..12"]),
])
def test_mnist_damaged_files_are_named(tmp_path, no_network, name, transform, words):
    rng = np.random.default_rng(1)
    write_mnist(tmp_path, "test", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
                np.array([1, 2, 3], dtype=np.uint8))
    path = damage(tmp_path, name, transform)
    with pytest.raises(ValueError) as info:
        MNISTDataset(tmp_path, train=False)
    assert str(path) in str(info.value) and all(w in str(info.value) for w in words), str(info.value)


def test_mnist_label_count_must_match(tmp_path, no_network):
    write_mnist(tmp_path, "train", np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"\(3,\) labels for 4 images"):
        MNISTDataset(tmp_path)


def test_mnist_download_fetches_only_missing_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    images, labels = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), np.array([4, 5], np.uint8)
    staging = tmp_path / "staging"
    write_mnist(staging, "train", images, labels)
    target = tmp_path / "mnist"
    target.mkdir()
    (target / "train-labels-idx1-ubyte.gz").write_bytes((staging / "train-labels-idx1-ubyte.gz").read_bytes())
    calls = []

    def fake_download(url, destination, md5):
        calls.append((url, Path(destination).name, md5))
        Path(destination).write_bytes((staging / Path(destination).name).read_bytes())
        return Path(destination)

    monkeypatch.setattr(datafiles, "download_url", fake_download)
    data = MNISTDataset(target, train=True, download=True)
    assert calls == [(datafiles.MNIST_URLS[0] + "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz",
                      "f68b3c2dcbeaaa9fbdd348bbdeb94873")]
    assert data.labels.data.tolist() == [4, 5]


def test_mnist_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="MNIST root must be a folder path"):
        MNISTDataset(5)
    with pytest.raises(TypeError, match="MNIST download must be True or False"):
        MNISTDataset(tmp_path, download="yes")


# ---------------------------------------------------------------- download_url

class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_keeps_a_file_only_when_its_md5_matches(tmp_path, monkeypatch):
    payload = b"official bytes" * 1000
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(payload))
    good = datafiles.download_url("https://example.invalid/a.gz", tmp_path / "a.gz", hashlib.md5(payload).hexdigest())
    assert good.read_bytes() == payload
    with pytest.raises(ValueError, match=r"download of https://example.invalid/b.gz is damaged: MD5"):
        datafiles.download_url("https://example.invalid/b.gz", tmp_path / "b.gz", "0" * 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz"]     # no partial file left


def test_download_network_error_is_clear_and_leaves_nothing(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("no route to host")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match=r"could not download .*copy the file by hand to .*c\.gz"):
        datafiles.download_url("https://example.invalid/c.gz", tmp_path / "c.gz", "0" * 32)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- CIFAR-10 (binary)

def test_cifar10_reads_binary_records(tmp_path, no_network):
    written = write_cifar(tmp_path / "cifar-10-batches-bin", np.random.default_rng(3))
    train = CIFAR10Dataset(tmp_path, train=True, download=True)
    test = CIFAR10Dataset(tmp_path, train=False)
    assert len(train) == 10 and len(test) == 2
    assert train.images.shape == (10, 3, 32, 32) and train.images.dtype == np.float32
    expected = np.concatenate([written[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    np.testing.assert_allclose(train.images.data * 255, expected, atol=1e-4)
    assert test.labels.data.tolist() == written["test_batch.bin"][1].tolist()
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"


def test_cifar10_pixel_layout_is_label_then_red_green_blue_planes(tmp_path):
    record = bytearray([7]) + bytes(3072)
    record[1 + 0 * 1024 + 2 * 32 + 5] = 11       # red, row 2, column 5
    record[1 + 2 * 1024 + 31 * 32 + 0] = 22      # blue, row 31, column 0
    path = tmp_path / "one.bin"
    path.write_bytes(bytes(record))
    images, labels = datafiles.read_cifar10_batch(path)
    assert labels.tolist() == [7]
    assert images[0, 0, 2, 5] == 11 and images[0, 2, 31, 0] == 22 and images.sum() == 33


def test_cifar10_files_directly_in_root(tmp_path, no_network):
    write_cifar(tmp_path, np.random.default_rng(4), per_file=1)
    assert len(CIFAR10Dataset(tmp_path, train=True)) == 5


def test_cifar10_missing_file_says_how_to_get_it(tmp_path, no_network):
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar(folder, np.random.default_rng(5), per_file=1)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10Dataset(tmp_path, train=True)
    message = str(info.value)
    assert str(folder / "data_batch_3.bin") in message and "download=True" in message
    assert datafiles.CIFAR10_URL in message
    assert len(CIFAR10Dataset(tmp_path, train=False)) == 1      # the test split is complete


@pytest.mark.parametrize("transform, words", [
    (lambda b: b[:-100], ["not a whole, non-zero number of 3073-byte"]),
    (lambda b: b"", ["0 bytes"]),
    (lambda b: bytes([10]) + b[1:], ["labels must be 0..9", "..10"]),
])
def test_cifar10_damaged_file_is_named(tmp_path, no_network, transform, words):
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar(folder, np.random.default_rng(6), per_file=2)
    path = damage(folder, "test_batch.bin", transform)
    with pytest.raises(ValueError) as info:
        CIFAR10Dataset(tmp_path, train=False)
    assert str(path) in str(info.value) and all(w in str(info.value) for w in words), str(info.value)


def make_archive(tmp_path, rng) -> Path:
    """A cifar-10-binary.tar.gz laid out like the official one (members under cifar-10-batches-bin/)."""
    staging = tmp_path / "staging"
    write_cifar(staging / "cifar-10-batches-bin", rng, per_file=1)
    (staging / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(datafiles.CIFAR10_CLASSES))
    archive = tmp_path / "archive.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    return archive


def test_cifar10_archive_present_is_checked_and_unpacked_offline(tmp_path, monkeypatch, no_network):
    archive = make_archive(tmp_path, np.random.default_rng(7))
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-binary.tar.gz").write_bytes(archive.read_bytes())
    monkeypatch.setattr(datafiles, "CIFAR10_MD5", datafiles.file_md5(archive))
    data = CIFAR10Dataset(root, train=True, download=True)
    assert len(data) == 5 and (root / "cifar-10-batches-bin" / "batches.meta.txt").exists()


def test_cifar10_damaged_archive_is_refused(tmp_path, no_network):
    archive = make_archive(tmp_path, np.random.default_rng(8))
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-binary.tar.gz").write_bytes(archive.read_bytes())   # its MD5 is not the official one
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz is damaged: its MD5"):
        CIFAR10Dataset(root, train=True)
    assert not (root / "cifar-10-batches-bin").exists()


def test_cifar10_download_when_missing(tmp_path, monkeypatch):
    archive = make_archive(tmp_path, np.random.default_rng(9))
    calls = []

    def fake_download(url, destination, md5):
        calls.append((url, md5))
        Path(destination).parent.mkdir(parents=True, exist_ok=True)   # as download_url does
        Path(destination).write_bytes(archive.read_bytes())
        return Path(destination)

    monkeypatch.setattr(datafiles, "download_url", fake_download)
    root = tmp_path / "fresh"
    data = CIFAR10Dataset(root, train=False, download=True)
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                      "c32a1d4ab5d03f1284b67883e8d87530")]
    assert len(data) == 1
    assert len(CIFAR10Dataset(root, train=True, download=True)) == 5 and len(calls) == 1   # no second download


# ---------------------------------------------------------------- structure

def test_datafiles_imports_point_down():
    tree = ast.parse((REPO_ROOT / "tinytorch" / "utils" / "datafiles.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m for m in imported if m and m.startswith("tinytorch")} == {"tinytorch.utils.validation"}


@pytest.mark.parametrize("module", ["tinytorch.datasets", "tinytorch.core.dataloader", "tinytorch.utils.datafiles",
                                    "tinytorch.utils.batching", "tinytorch.milestones"])
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_public_names():
    import tinytorch
    import tinytorch.datasets as datasets
    for name in ("DigitsDataset", "MNISTDataset", "CIFAR10Dataset", "load_digits"):
        assert hasattr(datasets, name) and name in datasets.__all__
    for name in ("DigitsDataset", "MNISTDataset", "CIFAR10Dataset"):
        assert getattr(tinytorch, name) is getattr(datasets, name)


def test_the_data_infrastructure_is_hand_written_and_no_notebook_exports_it():
    for name in ("datafiles.py", "batching.py"):
        assert not (REPO_ROOT / "tinytorch" / "utils" / name).read_text().startswith("# GENERATED FILE")
    assert not (REPO_ROOT / "tinytorch" / "datasets.py").read_text().startswith("# GENERATED FILE")
    assert not (REPO_ROOT / "tinytorch" / "core" / "datafiles.py").exists()
    source = (REPO_ROOT / "src" / "05_dataloader" / "05_dataloader.py").read_text()
    assert "#| export datasets" not in source and "#| export core.datafiles" not in source
