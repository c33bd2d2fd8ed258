# GENERATED FILE: DO NOT EDIT. Source: src/11_acceleration/11_acceleration.py
# Edit the source, then run `make export` to regenerate this file.

"""Arrays laid end to end in one buffer, so elementwise work on all of them is one NumPy call
(module 11, Acceleration)."""
import math

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["lay_end_to_end", "end_to_end", "split_into", "memory_order"]


def _arrays(name: str, arrays) -> list:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name} arrays must be a list of ndarrays, got {describe(arrays)}")
    for index, a in enumerate(arrays):
        if type(a) is not np.ndarray:
            raise TypeError(f"{name} arrays[{index}] must be an ndarray, got {describe(a)}")
    return list(arrays)


def memory_order(a: np.ndarray) -> str:
    """"F" for an array laid out column by column (and not also by rows), else "C"."""
    if type(a) is not np.ndarray:
        raise TypeError(f"memory_order a must be an ndarray, got {describe(a)}")
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def _orders(name: str, orders, pieces: str, count: int) -> list:
    """`orders` (argument `name`) checked as one "C" or "F" per entry of the argument `pieces`, which
    has `count` entries (None: all "C"); an error names both."""
    if orders is None:
        return ["C"] * count
    if not isinstance(orders, (list, tuple)) or len(orders) != count or any(o not in ("C", "F") for o in orders):
        raise ValueError(f"{name} must be a list of one \"C\" or \"F\" per entry of {pieces} ({count}), "
                         f"got {describe(orders)}")
    return list(orders)


def split_into(buffer: np.ndarray, shapes, orders=None) -> list:
    """Views of consecutive pieces of the 1-D array `buffer`, one of each shape, in order; together
    they must cover it exactly. `orders`: each piece's memory order, "C" (rows, the default) or "F".

    >>> [v.tolist() for v in split_into(np.arange(5), [(2, 1), (3,)])]
    [[[0], [1]], [2, 3, 4]]
    >>> split_into(np.arange(4), [(2, 2)], orders=["F"])[0].tolist()
    [[0, 2], [1, 3]]
    """
    if type(buffer) is not np.ndarray or buffer.ndim != 1:
        raise TypeError(f"split_into buffer must be a 1-D ndarray, got {describe(buffer)}")
    try:
        shapes = [tuple(int(n) for n in shape) for shape in shapes]
        sizes = [math.prod(shape) for shape in shapes]
    except (TypeError, ValueError):
        raise TypeError(f"split_into shapes must be a list of shapes (tuples of ints), got {describe(shapes)}") from None
    if any(n < 0 for shape in shapes for n in shape) or sum(sizes) != buffer.size:
        raise ValueError(f"split_into shapes {shapes} must hold exactly the buffer's {buffer.size} elements")
    orders = _orders("split_into orders", orders, "split_into shapes", len(shapes))
    # Hint: walk the buffer, slicing size elements at a time and reshaping each slice in its order
    # (chapter 12, "Arrays laid end to end").
    views, start = [], 0
    for shape, size, order in zip(shapes, sizes, orders):
        views.append(buffer[start:start + size].reshape(shape, order=order))
        start += size
    return views


def lay_end_to_end(arrays, orders=None) -> list:
    """Copies of `arrays` (same shapes and values) that are consecutive views of one new 1-D buffer,
    in order, each in the memory order given in `orders` (by default its array's own). All arrays
    must share one dtype.

    >>> a, b = lay_end_to_end([np.ones((2, 2), np.float32), np.zeros(3, np.float32)])
    >>> a.shape, b.shape, end_to_end([a, b]).shape
    ((2, 2), (3,), (7,))
    """
    arrays = _arrays("lay_end_to_end", arrays)
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise ValueError(f"lay_end_to_end arrays must share one dtype, got {sorted(map(str, dtypes))}")
    orders = [memory_order(a) for a in arrays] if orders is None else \
        _orders("lay_end_to_end orders", orders, "lay_end_to_end arrays", len(arrays))
    buffer = np.empty(sum(a.size for a in arrays), arrays[0].dtype if arrays else np.float32)
    views = split_into(buffer, [a.shape for a in arrays], orders)
    for view, a in zip(views, arrays):
        view[...] = a
    return views


def end_to_end(arrays):
    """The 1-D view that `arrays` cover when they are consecutive pieces of one buffer, each
    contiguous (by rows or by columns), in order and of one dtype (writing into it writes into
    them); otherwise None.

    >>> end_to_end([np.ones(2), np.ones(2)]) is None      # two separate buffers
    True
    """
    arrays = _arrays("end_to_end", arrays)
    if not arrays:
        return None
    base = arrays[0].base
    if type(base) is not np.ndarray or not base.flags.c_contiguous:
        return None
    origin = base.__array_interface__["data"][0]
    start = address = None
    for a in arrays:
        if a.base is not base or a.dtype != base.dtype or not (a.flags.c_contiguous or a.flags.f_contiguous):
            return None
        if a.size == 0:                   # occupies nothing (NumPy may point it anywhere)
            continue
        here = a.__array_interface__["data"][0]
        if address is None:
            start = address = here
        elif here != address:
            return None
        address += a.nbytes
    if start is None:
        return None
    flat = base.reshape(-1)               # a view: base is C-ordered
    return flat[(start - origin) // base.itemsize:(address - origin) // base.itemsize]
