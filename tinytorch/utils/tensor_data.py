"""What a Tensor may hold: an ndarray of numbers (bool, integers, floating point).

Hand-written provided code (module 01's `Tensor.__init__` calls it; not a learner's exercise): every
way a value can fail to be numbers is refused here with a message naming `Tensor data` or `Tensor
dtype` and what was given, so no operation ever meets text, objects, complex numbers or ragged lists.

>>> numeric_array([1, 2]).dtype
dtype('int64')
>>> numeric_array("a")
Traceback (most recent call last):
...
TypeError: Tensor data must be numbers, got text 'a'
"""
import warnings

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["numeric_array"]

_NUMERIC_KINDS = "biuf"    # bool, signed and unsigned integers, floating point


def numeric_array(data, dtype=None) -> np.ndarray:
    """`data` as an ndarray of numbers (bool, integer or floating), or a TypeError / ValueError naming
    `Tensor data` or `Tensor dtype` and what was given. Strings, bytes, objects, complex numbers and
    ragged nested lists are refused here, so no operation ever meets them."""
    if dtype is not None:
        try:
            if isinstance(dtype, (np.dtype, type)):
                dtype = np.dtype(dtype)
            else:
                # Some spellings NumPy still accepts (such as "a" for bytes, alone or inside a tuple)
                # warn as deprecated before the check below refuses them: the learner gets our error,
                # not NumPy's warning as well.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Tensor dtype must be a NumPy numeric dtype, got {describe(dtype)}") from None
        if dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor dtype must be bool, an integer or a floating dtype, got {dtype}")
    if isinstance(data, (str, bytes, bytearray)):
        raise TypeError(f"Tensor data must be numbers, got text {describe(data)}")
    if data is None:   # NumPy would make it NaN when a dtype is given
        raise TypeError("Tensor data must be numbers, got None")
    if isinstance(data, np.ndarray) and data.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"Tensor data must be numbers (bool, integer or floating), got an array of "
                        f"dtype {data.dtype}: {describe(data)}")
    try:
        array = np.asarray(data, dtype=dtype)
    except OverflowError as error:           # Tensor(2**70), Tensor(inf, dtype=np.int64), Tensor(-1, dtype=np.uint8)
        raise ValueError(f"Tensor data {describe(data)} does not fit in dtype "
                         f"{np.dtype(dtype) if dtype is not None else 'int64'} ({error})") from None
    except (ValueError, TypeError) as error:
        raise ValueError(f"Tensor data must be a number, an array, or a nested list of numbers with "
                         f"one rectangular shape; got {describe(data)} ({error})") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"Tensor data must be numbers (bool, integer or floating), got {describe(data)} "
                        f"of dtype {array.dtype}")
    return array
