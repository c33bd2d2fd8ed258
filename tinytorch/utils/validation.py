"""Argument checks shared by every module: TypeError for a wrong type, ValueError for a bad value.

Hand-written provided code (not exported from a notebook, not a learner's exercise): every public
function in TinyTorch checks its arguments before it changes anything, and every error names the
argument, what it was given and what it expects. This file is the one home of that rule.
"""
import math
import numbers
import os
from pathlib import Path

import numpy as np

__all__ = ["describe", "check_int", "check_number", "check_bool", "check_choice", "check_path"]


def describe(value, limit: int = 60) -> str:
    """A short repr of `value` for an error message: long reprs are cut, so a message stays a line."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})" if not isinstance(value, (int, float, str)) else text


def check_int(name: str, value, minimum=None) -> int:
    """`value` as a Python int. Not an integer (bools included): TypeError; below `minimum`: ValueError.

    >>> check_int("batch_size", 8, 1)
    8
    >>> check_int("batch_size", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be an integer >= 1, got 0
    """
    expected = "an integer" if minimum is None else f"an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {describe(value)}")
    return int(value)


def check_number(name: str, value, *, minimum=None, maximum=None, positive: bool = False) -> float:
    """`value` as a finite Python float. Not a real number (bools included): TypeError;
    not finite, <= 0 when `positive`, or outside [minimum, maximum]: ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {describe(value)}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be > 0, got {describe(value)}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {describe(value)}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {describe(value)}")
    return number


def check_bool(name: str, value) -> bool:
    """`value` as a Python bool; anything but True/False (or a NumPy bool) is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(name: str, value, choices) -> str:
    """`value` when it is one of `choices` (strings); otherwise an error listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {describe(value)}")
    return value


def check_path(name: str, value, *, exists: bool = False, file: bool = False) -> Path:
    """`value` as a Path. Not a str or os.PathLike (bytes and ints too: `open(0)` would read stdin):
    TypeError; empty: ValueError; with `exists`, nothing there: FileNotFoundError; with `file`, a
    folder: ValueError."""
    if not isinstance(value, (str, os.PathLike)) or not isinstance(os.fspath(value), str):
        raise TypeError(f"{name} must be a path (a str or pathlib.Path), got {describe(value)}")
    text = os.fspath(value)
    if not text:
        raise ValueError(f"{name} is empty: give a path")
    path = Path(text)
    if exists and not path.exists():
        raise FileNotFoundError(f"{name}: nothing at {text!r}")
    if file and path.is_dir():
        raise ValueError(f"{name} {text!r} is a folder, not a file")
    return path
