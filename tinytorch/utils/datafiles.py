"""Reading data files into NumPy arrays: the shipped digits, MNIST (IDX, gzip), CIFAR-10 (binary).

Hand-written provided infrastructure (no notebook exports it, no learner writes it; DESIGN.md,
"Provided infrastructure"). It knows nothing of `Dataset` or `Tensor`: it returns arrays (images as
uint8, labels as int64), checks what each file format promises, and downloads the official files
only when asked. Module 05 (`tinytorch.core.dataloader`) wraps the arrays in data sets;
`tinytorch.datasets` is the public home of both. Tested in tests/internals/test_datafiles.py.
"""
import functools
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from tinytorch.utils.validation import check_bool, check_int, check_number, check_path, describe

__all__ = [
    "DIGITS_PATH", "DIGITS_SHA256", "DIGITS_SOURCE", "DIGITS_LICENCE", "MNIST_FILES", "MNIST_URLS",
    "CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_FOLDER", "CIFAR10_CLASSES",
    "read_idx", "read_cifar10_batch", "digits_arrays", "digits_split", "mnist_arrays",
    "cifar10_arrays", "download_url", "file_md5",
]

DIGITS_PATH = Path(__file__).resolve().parent.parent / "data" / "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_SOURCE = ("E. Alpaydin and C. Kaynak (1998), Optical Recognition of Handwritten Digits, "
                 "UCI Machine Learning Repository, https://doi.org/10.24432/C50P49")
DIGITS_LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"

# The official MNIST files and their published MD5s; the mirror first (the original site often
# refuses scripted downloads), the original second.
MNIST_FILES = {
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"      # the folder the archive unpacks to
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_RECORD = 1 + 3 * 32 * 32             # label byte + three 32x32 colour planes

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _check_root(name: str, root) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or os.PathLike), got {describe(root)}")
    return check_path(name, root)


def _split(name: str, train) -> str:
    return "train" if check_bool(name, train) else "test"


def file_md5(path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks (the official archives publish MD5s)."""
    path = check_path("file_md5 path", path, exists=True, file=True)
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, destination, md5: str) -> Path:
    """Download ``url`` to ``destination``, keeping it only if its MD5 is ``md5``.

    The bytes go to a temporary file in the destination's folder and are renamed into place after
    the check, so an interrupted or damaged download never leaves a file that looks complete.
    """
    if not isinstance(url, str) or not url:
        raise TypeError(f"download_url url must be a non-empty str, got {describe(url)}")
    destination = check_path("download_url destination", destination, file=True)
    if not isinstance(md5, str) or len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5.lower()):
        raise (ValueError if isinstance(md5, str) else TypeError)(
            f"download_url md5 must be 32 hexadecimal digits, got {describe(md5)}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".",
                                         suffix=".part")
    digest = hashlib.md5()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as error:
                raise ConnectionError(f"could not download {url}: {error}. Without internet, copy "
                                      f"the file by hand to {destination}") from error
        if digest.hexdigest() != md5:
            raise ValueError(f"the download of {url} is damaged: MD5 {digest.hexdigest()}, expected "
                             f"{md5}; nothing was kept, try again")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return destination


def _read_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it ends in .gz; damage becomes a ValueError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is damaged: it is not a complete gzip file ({error}); "
                         f"delete it and fetch it again") from error


def read_idx(path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as an array in native byte order.

    IDX: two zero bytes, a type code, the number of dimensions ``d``, ``d`` big-endian uint32
    sizes, then the values row-major and big-endian.
    """
    path = check_path("read_idx path", path, exists=True, file=True)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file: it must start with two zero bytes and a type "
                         f"code in {sorted(_IDX_TYPES)}, got {data[:4]!r}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is damaged: its header promises {ndim} dimensions, but the file "
                         f"has only {len(data)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path} is damaged: its header says shape {shape} ({expected} bytes of "
                         f"values), but {len(data) - header} bytes follow the header")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))      # native order, and a writable copy


def _check_labels(path, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{path} is damaged: labels must be 0..{classes - 1}, found values "
                         f"{int(labels.min())}..{int(labels.max())}")
    return labels.astype(np.int64)


def read_cifar10_batch(path) -> tuple:
    """``(images, labels)`` of one CIFAR-10 binary file: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``."""
    path = check_path("read_cifar10_batch path", path, exists=True, file=True)
    data = path.read_bytes()
    if not data or len(data) % CIFAR10_RECORD:
        raise ValueError(f"{path} is damaged: {len(data)} bytes is not a whole, non-zero number of "
                         f"{CIFAR10_RECORD}-byte CIFAR-10 records (1 label byte + 3x32x32 pixels)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, _check_labels(path, records[:, 0])


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    data = DIGITS_PATH.read_bytes() if DIGITS_PATH.exists() else None
    if data is None:
        raise FileNotFoundError(f"the digits file {DIGITS_PATH} is missing from the package: "
                                f"reinstall tinytorch (pip install -e .)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(f"{DIGITS_PATH} is damaged: SHA-256 {digest}, expected {DIGITS_SHA256}; "
                         f"restore it from the repository (git checkout -- {DIGITS_PATH.name})")
    table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.int64)
    table.setflags(write=False)
    return table


def digits_arrays() -> tuple:
    """The 1,797 shipped digits: uint8 images ``(1797, 8, 8)`` with values 0..16, int64 labels."""
    table = _digits_table()
    return table[:, :64].astype(np.uint8).reshape(-1, 8, 8), table[:, 64].copy()


def digits_split(labels, test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """``(train_indices, test_indices)``: a stratified split, the same for the same arguments.

    For each class ``c`` in order 0, 1, ..., its indices are permuted by one generator
    ``np.random.default_rng(seed)`` and the first ``round(test_fraction * count_c)`` go to the
    test set, so every class keeps its share in both sets. Both index arrays are sorted.
    """
    test_fraction = check_number("digits_split test_fraction", test_fraction, minimum=0.0, maximum=1.0)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"digits_split test_fraction must be strictly between 0 and 1, got {test_fraction}")
    seed = check_int("digits_split seed", seed, 0)
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray(None)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu":
        raise (ValueError if labels.dtype.kind in "iu" else TypeError)(
            f"digits_split labels must be a non-empty 1-D array of integer class labels, got {describe(labels)}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[:int(round(test_fraction * members.size))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(labels.size), test)
    return train, test


def _how_to_get(what: str, where: Path, url: str) -> str:
    return (f"put the {what} in {where}, or pass download=True to fetch them from {url} "
            f"(needs internet; the MD5 is checked)")


def mnist_arrays(root, train: bool = True, download: bool = False) -> tuple:
    """MNIST from the IDX files in ``root``: uint8 images ``(N, 28, 28)``, int64 labels.

    Reads ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz`` (or ``t10k-...`` with
    ``train=False``); an uncompressed copy (same name without ``.gz``) is read when the ``.gz`` is
    absent. A missing file is downloaded only with ``download=True``, and kept only if its MD5 is
    the published one.
    """
    root = _check_root("MNIST root", root)
    split = _split("MNIST train", train)
    download = check_bool("MNIST download", download)
    paths = []
    for name, md5 in MNIST_FILES[split]:
        path = root / name
        if not path.exists() and (root / name[:-3]).exists():
            path = root / name[:-3]
        if not path.exists():
            if not download:
                raise FileNotFoundError(f"MNIST file {path} not found: " + _how_to_get(
                    f"four MNIST files ({', '.join(n for s in MNIST_FILES.values() for n, _ in s)})",
                    root, MNIST_URLS[0]))
            _download_from_mirrors(name, path, md5)
        paths.append(path)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{paths[0]} is not an MNIST image file: expected unsigned bytes of shape "
                         f"(N, rows, columns), got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{paths[1]} does not match {paths[0]}: {labels.shape} labels for "
                         f"{images.shape[0]} images")
    return images, _check_labels(paths[1], labels)


def _download_from_mirrors(name: str, path: Path, md5: str) -> None:
    errors = []
    for base in MNIST_URLS:
        try:
            download_url(base + name, path, md5)
            return
        except ConnectionError as error:
            errors.append(str(error))
    raise ConnectionError(f"could not download {name} from any mirror: " + "; ".join(errors))


def _extract_cifar10(archive: Path, root: Path) -> None:
    """Unpack only the known CIFAR-10 files (no path from the archive is trusted)."""
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = [n for split in CIFAR10_FILES.values() for n in split] + ["batches.meta.txt"]
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in names:
                source = tar.extractfile(f"{CIFAR10_FOLDER}/{name}")
                target = folder / name
                with open(target.with_suffix(".part"), "wb") as out:
                    out.write(source.read())
                os.replace(target.with_suffix(".part"), target)
    except (tarfile.TarError, KeyError, EOFError, zlib.error) as error:
        raise ValueError(f"{archive} is damaged or is not the CIFAR-10 binary archive ({error}); "
                         f"delete it and fetch it again from {CIFAR10_URL}") from error


def cifar10_arrays(root, train: bool = True, download: bool = False) -> tuple:
    """CIFAR-10 (binary version) from ``root``: uint8 images ``(N, 3, 32, 32)``, int64 labels.

    The ``.bin`` files are looked for in ``root/cifar-10-batches-bin/`` (where the official
    archive unpacks) and else in ``root`` itself. When they are missing, the archive
    ``root/cifar-10-binary.tar.gz`` is unpacked if present, or, with ``download=True``, fetched
    first (162 MB); its MD5 is checked before it is unpacked.
    """
    root = _check_root("CIFAR10 root", root)
    split = _split("CIFAR10 train", train)
    download = check_bool("CIFAR10 download", download)
    names = CIFAR10_FILES[split]

    def folder_with_files():
        for folder in (root / CIFAR10_FOLDER, root):
            if all((folder / name).exists() for name in names):
                return folder
        return None

    folder = folder_with_files()
    if folder is None:
        archive = root / CIFAR10_ARCHIVE
        if not archive.exists() and download:
            download_url(CIFAR10_URL, archive, CIFAR10_MD5)
        elif archive.exists() and file_md5(archive) != CIFAR10_MD5:
            raise ValueError(f"{archive} is damaged: its MD5 is not the published {CIFAR10_MD5}; "
                             f"delete it and fetch it again from {CIFAR10_URL}")
        if archive.exists():
            _extract_cifar10(archive, root)
        folder = folder_with_files()
    if folder is None:
        missing = next(root / CIFAR10_FOLDER / name for name in names
                       if not (root / CIFAR10_FOLDER / name).exists())
        raise FileNotFoundError(f"CIFAR-10 file {missing} not found: " + _how_to_get(
            f"CIFAR-10 binary files ({', '.join(names)})", root / CIFAR10_FOLDER, CIFAR10_URL))
    parts = [read_cifar10_batch(folder / name) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
