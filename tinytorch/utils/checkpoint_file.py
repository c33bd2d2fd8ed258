"""The checkpoint file: write, read and verify a state dict (``write_checkpoint``, ``read_checkpoint``,
``checkpoint_metadata``).

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. It knows no trainer: a *state dict* (nested dicts, lists and tuples of
numbers, strings, None and ndarrays) goes in and comes back out, verified.

The file is one safetensors file: an 8-byte little-endian header length, a JSON header (each
array's dtype, shape and byte offsets, plus a ``__metadata__`` map of str to str), then the raw array
bytes. The metadata holds ``format`` (``tinytorch.checkpoint``), ``format_version``, ``state`` (the
rest of the state as canonical JSON, a placeholder where each array goes) and ``crc32c``, one
CRC-32C over every array's name, dtype, shape and bytes in sorted name order, then the state JSON.
Nothing is ever unpickled. Reading is bounded before any JSON is parsed (``MAX_HEADER_BYTES``,
``MAX_ARRAYS``, ``MAX_DIMS``), reads the file into memory instead of mapping it (a file truncated
under a map kills the reader with SIGBUS; a short read is a ``ValueError``), and verifies the
checksum before anything is returned. Files are written through ``write_atomically``.
"""
import json
import math
import os
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import safetensors.numpy

from tinytorch.utils.atomic_write import write_atomically
from tinytorch.utils.validation import check_path, describe

__all__ = ["write_checkpoint", "read_checkpoint", "checkpoint_metadata",
           "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "MAX_HEADER_BYTES", "MAX_ARRAYS", "MAX_DIMS"]

CHECKPOINT_FORMAT = "tinytorch.checkpoint"
CHECKPOINT_VERSION = 2          # 2: each owner stores its own state_dict (module 08, second pass)
MAX_HEADER_BYTES = 16 * 2**20        # the JSON header of a checkpoint (our own use a few KB)
MAX_ARRAYS = 100_000                 # arrays in one checkpoint
MAX_DIMS = 32                        # dimensions of one array
_MARKERS = ("__array__", "__tuple__", "__items__")
_FORMAT_KEYS = ("format", "format_version", "state", "crc32c")


def _few(names, limit: int = 3) -> str:
    """A few names and how many more: error messages stay one short line."""
    names = sorted(map(str, names))
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


def _flatten_state(obj, path: str, arrays: dict):
    """A JSON-able skeleton of ``obj`` with each ndarray moved into ``arrays`` under a unique name."""
    if isinstance(obj, (np.ndarray, np.generic)):
        name = path
        while name in arrays:
            name += "_"
        array = np.asarray(obj)                # a NumPy scalar becomes a 0-d array
        if array.dtype.kind not in "biuf":
            raise TypeError(f"checkpoint state at {path!r} holds an array of dtype {array.dtype}: only bool, "
                            f"integer and floating arrays can be saved")
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__array__": name}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(m in obj for m in _MARKERS):
            return {k: _flatten_state(v, _join(path, k), arrays) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint state at {path!r} has a key of type {type(k).__name__}; "
                                f"only str and int keys can be saved")
            items.append([k, _flatten_state(v, _join(path, k), arrays)])
        return {"__items__": items}
    if isinstance(obj, list):
        return [_flatten_state(v, _join(path, i), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten_state(v, _join(path, i), arrays) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint state at {path!r} holds a {type(obj).__name__}, which cannot be saved "
                    f"as data (only dicts, lists, tuples, numbers, strings, None and ndarrays)")


def _unflatten_state(skeleton, arrays: dict, used: set):
    """Inverse of ``_flatten_state``; records which arrays were referenced in ``used``."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__array__"}:
            name = skeleton["__array__"]
            if not isinstance(name, str) or name not in arrays:
                raise ValueError(f"the state refers to array {name!r}, which is not in the file")
            used.add(name)
            return arrays[name]
        if set(skeleton) == {"__tuple__"}:
            return tuple(_unflatten_state(v, arrays, used) for v in skeleton["__tuple__"])
        if set(skeleton) == {"__items__"}:
            return {k: _unflatten_state(v, arrays, used) for k, v in skeleton["__items__"]}
        return {k: _unflatten_state(v, arrays, used) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten_state(v, arrays, used) for v in skeleton]
    return skeleton


def _checksum(arrays: dict, state_json: str) -> str:
    """CRC-32C (8 hex digits) over (name, dtype, shape, bytes) of each array in sorted order, then the JSON."""
    crc = 0
    for name in sorted(arrays):
        a = arrays[name]
        crc = google_crc32c.extend(crc, f"{name}\0{a.dtype.str}\0{list(a.shape)}\n".encode())
        crc = google_crc32c.extend(crc, np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return f"{google_crc32c.extend(crc, state_json.encode()):08x}"



def write_checkpoint(path, state: dict, extra_metadata=None) -> Path:
    """Save ``state`` to ``path`` as one checksummed safetensors file, atomically; return the path.

    ``extra_metadata`` (str -> str) is stored beside the format's own entries, outside the checksum
    (the ``CheckpointManager`` keeps each file's monitored value there)."""
    path = check_path("write_checkpoint path", path, file=True)
    if extra_metadata is not None and not isinstance(extra_metadata, dict):
        raise TypeError(f"write_checkpoint extra_metadata must be a dict of str to str, got {describe(extra_metadata)}")
    extra = dict(extra_metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) and k not in _FORMAT_KEYS for k, v in extra.items()):
        raise TypeError(f"write_checkpoint extra_metadata must map new str keys to str values, got {describe(extra)}")
    arrays = {}
    skeleton = _flatten_state(state, "", arrays)        # arrays may be views of live buffers: no copy
    state_json = json.dumps(skeleton, sort_keys=True, separators=(",", ":"), allow_nan=True)
    metadata = {**extra, "format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_VERSION),
                "state": state_json, "crc32c": _checksum(arrays, state_json)}
    return write_atomically(path, lambda tmp: safetensors.numpy.save_file(arrays, tmp, metadata=metadata))


def _bad(path, reason: str) -> ValueError:
    return ValueError(f"{path} is not a valid TinyTorch checkpoint: {reason}; nothing was loaded")


_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def _looks_like(data: bytes) -> str:
    """A sentence about what a file that is not a safetensors file might be."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "; it looks like a pickle, and pickles are never loaded"
    if data[:4] == b"PK\x03\x04":
        return "; it looks like a zip archive (a torch.save file?), which is never unpickled"
    return ""


def _read_exactly(f, size: int, path, what: str) -> np.ndarray:
    """``size`` bytes from ``f`` into a new buffer; a short read (the file shrank) is a ValueError."""
    buffer = np.empty(size, dtype=np.uint8)
    view, filled = memoryview(buffer), 0
    while filled < size:
        count = f.readinto(view[filled:])
        if not count:
            raise _bad(path, f"the file ended after {filled} of the {size} bytes of its {what} "
                             f"(truncated while being read?)")
        filled += count
    return buffer


def _open_header(f, path):
    """(header dict, size of the whole file) after bounding, parsing and checking the header."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    size = os.fstat(f.fileno()).st_size
    prefix = f.read(8)
    if len(prefix) < 8:
        raise _bad(path, f"the file is only {len(prefix)} bytes long (truncated?){_looks_like(prefix)}")
    (length,) = struct.unpack("<Q", prefix)
    if length > size - 8:
        raise _bad(path, f"the length prefix says {length} header bytes but only {size - 8} follow, "
                         f"so it is truncated or in another format{_looks_like(prefix)}")
    if length > MAX_HEADER_BYTES:
        raise _bad(path, f"its header is {length} bytes, more than the {MAX_HEADER_BYTES} a checkpoint "
                         f"may have (MAX_HEADER_BYTES)")
    raw = bytes(_read_exactly(f, length, path, "header"))
    if raw[:1] != b"{":
        raise _bad(path, f"it does not start with a safetensors header{_looks_like(prefix + raw[:8])}")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _bad(path, f"the header is not valid JSON ({str(error)[:80]})") from None
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise _bad(path, f"its metadata does not name the format {CHECKPOINT_FORMAT!r} "
                         f"(a safetensors file from somewhere else?)")
    if meta.get("format_version") != str(CHECKPOINT_VERSION):
        raise _bad(path, f"format version {describe(meta.get('format_version'))} is not supported "
                         f"(this TinyTorch reads version {CHECKPOINT_VERSION})")
    if not all(isinstance(meta.get(k), str) for k in ("state", "crc32c")):
        raise _bad(path, "its metadata lacks the state or the checksum")
    if len(header) - 1 > MAX_ARRAYS:
        raise _bad(path, f"it lists {len(header) - 1} arrays, more than the {MAX_ARRAYS} a checkpoint "
                         f"may have (MAX_ARRAYS): {_few(k for k in header if k != '__metadata__')}")
    return header, size, 8 + length


def _array_table(header: dict, length: int, path) -> list:
    """(begin, end, name, dtype, shape) per array, checked as strictly as safetensors does: known
    dtypes, bounded whole shapes, offsets that tile the data section exactly, in order."""
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in (*shape, begin, end)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise _bad(path, f"the entry for array {name!r:.60} is malformed") from None
        if len(shape) > MAX_DIMS or any(d > length for d in shape if d):
            raise _bad(path, f"array {name!r:.60} has shape {str(list(shape))[:80]}: at most {MAX_DIMS} "
                             f"dimensions, each no longer than the data section")
        if any(d > 2**40 for d in shape):
            raise _bad(path, f"array {name!r:.60} has a dimension of {max(shape)}, beyond any real array")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise _bad(path, f"array {name!r:.60} claims {end - begin} bytes for shape {list(shape)}")
        entries.append((begin, end, name, dtype, shape))
    entries.sort(key=lambda e: e[:2])
    position = 0
    for begin, end, name, *_ in entries:
        if begin != position:
            raise _bad(path, f"array {name!r:.60} does not start where the previous one ends")
        position = end
    if position != length:
        raise _bad(path, f"the arrays cover {position} bytes but the data section holds {length} "
                         f"(truncated or padded)")
    return entries


def _existing_checkpoint(path, who: str) -> Path:
    """`path` as a Path to an existing regular file: TypeError, FileNotFoundError or ValueError otherwise."""
    path = check_path(f"{who} path", path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    if not path.is_file():
        raise _bad(path, "it is not a regular file")
    return path


def checkpoint_metadata(path) -> dict:
    """The ``__metadata__`` of a checkpoint (format checked, arrays not read or verified)."""
    path = _existing_checkpoint(path, "checkpoint_metadata")
    with open(path, "rb") as f:
        header, _, _ = _open_header(f, path)
    return dict(header["__metadata__"])


def read_checkpoint(path) -> dict:
    """Read, bound-check and verify the checkpoint at ``path``; return its state dict.

    The arrays are writable views of one buffer read from the file (no memory map), owned by the
    returned state alone."""
    path = _existing_checkpoint(path, "read_checkpoint")
    with open(path, "rb") as f:
        header, size, start = _open_header(f, path)
        entries = _array_table(header, size - start, path)
        data = _read_exactly(f, size - start, path, "arrays")
    arrays = {name: np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=begin).reshape(shape)
              for begin, end, name, dtype, shape in entries}
    meta = header["__metadata__"]
    if _checksum(arrays, meta["state"]) != meta["crc32c"]:
        raise _bad(path, "the checksum does not match (the file was changed or damaged)")
    try:
        skeleton = json.loads(meta["state"])
    except (ValueError, RecursionError) as error:
        raise _bad(path, f"the state is not valid JSON ({str(error)[:80]})") from None
    used = set()
    try:
        state = _unflatten_state(skeleton, arrays, used)
    except (ValueError, TypeError, AttributeError, RecursionError) as error:
        raise _bad(path, f"the state is malformed ({str(error)[:120]})") from None
    if used != set(arrays):
        raise _bad(path, f"arrays {_few(set(arrays) - used)} are not referenced by the state")
    return state
