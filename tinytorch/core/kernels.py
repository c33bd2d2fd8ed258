# GENERATED FILE: DO NOT EDIT. Source: src/01_tensor/01_tensor.py
# Edit the source, then run `make export` to regenerate this file.

"""Faster routes to six array computations every training step makes (exported from module 01).

At the shapes of a training step (a batch of 64 to 256 rows; 10 classes; layers of 64 to 1,024)
these run several times faster than the plain NumPy expressions with a single-threaded OpenBLAS;
chapter 12 ("How fast is it?") measures each pair on the machine that builds the book. Below
`_FEW_ROWS` rows NumPy's own reductions are as fast, and they are used. Each function returns what
the plain NumPy expression returns (sums up to float rounding). The checks are one expression each:
these run several times per training step.
"""
import functools

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["column_sums", "row_sums", "row_max", "affine", "matrix_product", "input_gradient"]

_FEW_ROWS = 32      # below this many rows, NumPy's reductions beat the BLAS routes (measured)


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of n ones (cached: the same batch size comes back every step)."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _matrix(name: str, a) -> np.ndarray:
    if type(a) is np.ndarray and a.ndim == 2 and a.dtype.kind == "f":
        return a
    raise TypeError(f"{name} must be a 2-D float ndarray, got {describe(a)}")


def _check_flag(name: str, check) -> None:
    """`check=False` skips checking the arguments, for a caller that has checked them already (a
    layer or a loss that calls these on every training step: chapter 12 measures what the checks
    cost there). Anything else than True or False is refused."""
    if check is not True and check is not False:
        raise TypeError(f"{name} check must be True or False, got {describe(check)}")


def column_sums(a: np.ndarray, out: np.ndarray = None, *, check: bool = True) -> np.ndarray:
    """`a.sum(axis=0)` of a 2-D float array, as the product `ones @ a`; written into `out` (an
    array of shape `(a.shape[1],)`) if given. `check=False`: see `_check_flag`.

    >>> column_sums(np.arange(6, dtype=np.float32).reshape(3, 2))
    array([6., 9.], dtype=float32)
    """
    if check is not False:
        _check_flag("column_sums", check)
        _matrix("column_sums a", a)
        if out is not None and (type(out) is not np.ndarray or out.shape != a.shape[1:]):
            raise ValueError(f"column_sums out must be an ndarray of shape {a.shape[1:]}, got {describe(out)}")
    if a.shape[0] < _FEW_ROWS:
        return np.add.reduce(a, axis=0, out=out)     # a.sum(axis=0), without ndarray.sum's Python wrapper
    if out is None:
        return np.dot(_ones(a.shape[0], a.dtype), a)
    if out.dtype == a.dtype and out.flags.c_contiguous:    # what np.dot can write into directly
        return np.dot(_ones(a.shape[0], a.dtype), a, out=out)
    np.copyto(out, np.dot(_ones(a.shape[0], a.dtype), a), casting="same_kind")
    return out


def row_sums(a: np.ndarray, *, check: bool = True) -> np.ndarray:
    """`a.sum(axis=1)` of a 2-D float array, as the product `a @ ones`. `check=False`: see `_check_flag`.

    >>> row_sums(np.arange(6, dtype=np.float32).reshape(3, 2))
    array([1., 5., 9.], dtype=float32)
    """
    if check is not False:
        _check_flag("row_sums", check)
        _matrix("row_sums a", a)
    if a.shape[0] < _FEW_ROWS:
        return np.add.reduce(a, axis=1)
    return np.dot(a, _ones(a.shape[1], a.dtype))


def row_max(a: np.ndarray, *, check: bool = True) -> np.ndarray:
    """`a.max(axis=1)` of a 2-D float array with at least one column, as an argmax and a gather
    (a row holding NaN gives NaN, as `max` does). `check=False`: see `_check_flag`.

    >>> row_max(np.array([[1.0, 3.0], [4.0, 2.0]], dtype=np.float32))
    array([3., 4.], dtype=float32)
    """
    if check is not False:
        _check_flag("row_max", check)
        _matrix("row_max a", a)
        if a.shape[1] == 0:
            raise ValueError(f"row_max needs at least one column, got shape {a.shape}")
    if a.shape[0] < _FEW_ROWS:
        return np.maximum.reduce(a, axis=1)
    return a[np.arange(a.shape[0]), a.argmax(axis=1)]


def affine(x: np.ndarray, w: np.ndarray, b: np.ndarray = None, *, check: bool = True) -> np.ndarray:
    """`x @ w.T + b` (b optional) for `x` of shape (..., K), `w` (M, K), `b` (M,): a new array of the
    product's dtype (`b` is added in place, as `out += b` would, so any numeric `b` works).
    `check=False`: see `_check_flag`.

    When a batch of rows is smaller than M, the product is taken as `(w @ x.T).T`, which OpenBLAS
    runs faster for such shapes, and that transposed (F-ordered) view is returned as it is, the bias
    added down its columns: copying it into C order is a strided pass over every output, and the
    next layer's product runs as fast or faster on F-ordered activations (`input_gradient` keeps
    their gradients in the same order). Every other result is C-ordered.

    >>> affine(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), np.arange(4, dtype=np.float32))
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]], dtype=float32)
    """
    if check is not False and (_check_flag("affine", check) or not (
            type(x) is np.ndarray and type(w) is np.ndarray and x.ndim and w.ndim == 2
            and x.shape[-1] == w.shape[1] and x.dtype.kind == "f" and w.dtype.kind == "f"
            and (b is None or (type(b) is np.ndarray and b.shape == w.shape[:1] and b.dtype.kind in "fiub")))):
        arrays = (all(type(v) is np.ndarray and v.dtype.kind == "f" for v in (x, w))
                  and (b is None or (type(b) is np.ndarray and b.dtype.kind in "fiub")))
        raise (ValueError if arrays else TypeError)(
            f"affine needs float ndarrays x (..., K), w (M, K) and optionally b (M,), got "
            f"x={describe(x)}, w={describe(w)}, b={describe(b)}")
    if x.ndim == 2 and x.shape[0] < w.shape[0]:
        product = np.dot(w, x.T)                    # (M, N), C-ordered: the result's transpose
        if b is not None:
            product += b[:, None]
        return product.T
    out = np.dot(x, w.T)            # x @ w.T: np.dot skips the ufunc machinery @ goes through
    if b is not None:
        out += b
    return out


def matrix_product(a: np.ndarray, b: np.ndarray, out: np.ndarray = None, *, check: bool = True) -> np.ndarray:
    """`a @ b` of 2-D float arrays, written into `out` (shape `(a.shape[0], b.shape[1])`) if given.
    `check=False`: see `_check_flag`.

    Computed by `np.dot`, which skips the ufunc machinery that `@` and `np.matmul` go through: about
    half a microsecond a call, which counts at the sizes of a small network's layers. `np.dot` writes
    only into a C-ordered `out` of the product's dtype; any other `out` gets `np.matmul`'s casting.

    >>> matrix_product(np.eye(2, dtype=np.float32), np.arange(4, dtype=np.float32).reshape(2, 2))
    array([[0., 1.],
           [2., 3.]], dtype=float32)
    """
    if check is not False:
        _check_flag("matrix_product", check)
        _matrix("matrix_product a", a)
        _matrix("matrix_product b", b)
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matrix_product a of shape {a.shape} and b of shape {b.shape} do not chain: "
                             f"a's columns must equal b's rows")
        if out is not None and (type(out) is not np.ndarray or out.shape != (a.shape[0], b.shape[1])):
            raise ValueError(f"matrix_product out must be an ndarray of shape {(a.shape[0], b.shape[1])}, "
                             f"got {describe(out)}")
    if out is None:
        return np.dot(a, b)
    if out.dtype == a.dtype == b.dtype and out.flags.c_contiguous:
        return np.dot(a, b, out=out)
    return np.matmul(a, b, out=out)


def input_gradient(g: np.ndarray, w: np.ndarray, x: np.ndarray, *, check: bool = True) -> np.ndarray:
    """`g @ w`, the gradient of `affine`'s input `x` (..., K) from its output's gradient `g` (..., M)
    and `w` (M, K), in `x`'s memory order: F-ordered when `x` is a 2-D F-ordered array (as `affine`
    hands out a batch smaller than its width), C-ordered otherwise. `check=False`: see `_check_flag`.

    An elementwise backward rule that meets `x` and this gradient (ReLU's `g * (x > 0)`) then reads
    both in one order; an F-ordered array times a C-ordered one took 2.6 times as long (64 x 128).

    >>> g, w = np.ones((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> input_gradient(g, w, np.zeros((4, 2), np.float32).T).flags.f_contiguous
    True
    """
    if check is not False and (_check_flag("input_gradient", check) or not (
            type(g) is np.ndarray and type(w) is np.ndarray and type(x) is np.ndarray and g.ndim
            and w.ndim == 2 and g.dtype.kind == "f" and w.dtype.kind == "f"
            and g.shape[-1] == w.shape[0] and x.shape == g.shape[:-1] + w.shape[1:])):
        arrays = all(type(v) is np.ndarray for v in (g, w, x)) and g.dtype.kind == w.dtype.kind == "f"
        raise (ValueError if arrays else TypeError)(
            f"input_gradient needs float ndarrays g (..., M) and w (M, K) and an ndarray x (..., K), got "
            f"g={describe(g)}, w={describe(w)}, x={describe(x)}")
    if x.ndim == 2 and x.flags.f_contiguous and not x.flags.c_contiguous:
        return np.dot(w.T, g.T).T
    return np.dot(g, w)
