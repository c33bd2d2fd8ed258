# GENERATED FILE: DO NOT EDIT. Source: src/11_acceleration/11_acceleration.py
# Edit the source, then run `make export` to regenerate this file.

"""Faster routes to six array computations every training step makes (module 11, Acceleration).

Each returns what the plain NumPy expression in its docstring returns, up to float rounding of
sums. The fused layers of `tinytorch.core.acceleration` use them; chapter 12 times each route.
"""
import functools

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["column_sums", "row_sums", "row_max", "affine", "input_gradient", "weight_gradient"]

FEW_ROWS = 32       # below this many rows, NumPy's own reductions are as fast (measured)


@functools.lru_cache(maxsize=64)
def ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of n ones (cached: the same batch size comes back every step)."""
    vector = np.ones(n, dtype)
    vector.flags.writeable = False
    return vector


def _check_matrix(name: str, a) -> None:
    if not (type(a) is np.ndarray and a.ndim == 2 and a.dtype.kind == "f"):
        raise TypeError(f"{name} must be a 2-D float ndarray, got {describe(a)}")


def column_sums(a: np.ndarray) -> np.ndarray:
    """`a.sum(axis=0)` of a 2-D float array, as `ones @ a`.

    >>> column_sums(np.arange(6, dtype=np.float32).reshape(3, 2))
    array([6., 9.], dtype=float32)
    """
    _check_matrix("column_sums a", a)
    if a.shape[0] < FEW_ROWS:
        return a.sum(axis=0)
    # Hint: one matrix-vector product with ones(a.shape[0], a.dtype) (chapter 12, "Kernels").
    return ones(a.shape[0], a.dtype) @ a


def row_sums(a: np.ndarray) -> np.ndarray:
    """`a.sum(axis=1)` of a 2-D float array, as `a @ ones`.

    >>> row_sums(np.arange(6, dtype=np.float32).reshape(3, 2))
    array([1., 5., 9.], dtype=float32)
    """
    _check_matrix("row_sums a", a)
    if a.shape[0] < FEW_ROWS:
        return a.sum(axis=1)
    return a @ ones(a.shape[1], a.dtype)


def row_max(a: np.ndarray) -> np.ndarray:
    """`a.max(axis=1)` of a 2-D float array with at least one column (NaN rows give NaN).

    >>> row_max(np.array([[1.0, 3.0], [4.0, 2.0]], dtype=np.float32))
    array([3., 4.], dtype=float32)
    """
    _check_matrix("row_max a", a)
    if a.shape[1] == 0:
        raise ValueError(f"row_max a needs at least one column, got shape {a.shape}")
    if a.shape[0] < FEW_ROWS:
        return a.max(axis=1)
    # Hint: the position of each row's maximum (argmax), then pick those entries (chapter 12, "Kernels").
    return a[np.arange(a.shape[0]), a.argmax(axis=1)]


def affine(x: np.ndarray, w: np.ndarray, b: np.ndarray = None) -> np.ndarray:
    """`x @ w.T + b` (b optional) for `x` (N, K), `w` (M, K), `b` (M,). For an F-ordered `w`, or
    N >= M, exactly that (C-ordered); for a C-ordered `w` and N < M computed as `(w @ x.T).T` and
    returned as that F-ordered view, the bias added down its columns.

    >>> affine(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), np.arange(4, dtype=np.float32))
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]], dtype=float32)
    """
    _check_matrix("affine x", x)
    _check_matrix("affine w", w)
    if x.shape[1] != w.shape[1] or (b is not None and (type(b) is not np.ndarray or b.shape != w.shape[:1])):
        raise ValueError(f"affine needs x (N, K), w (M, K) and b (M,), got x={describe(x)}, "
                         f"w={describe(w)}, b={describe(b)}")
    if x.shape[0] >= w.shape[0] or not w.flags.c_contiguous:
        out = x @ w.T
        if b is not None:
            out += b
        return out
    # Hint: the transposed product w @ x.T (shape (M, N)), the bias added down its columns
    # (b[:, None]), returned transposed (chapter 12, "Kernels").
    product = w @ x.T
    if b is not None:
        product += b[:, None]
    return product.T


def input_gradient(g: np.ndarray, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`g @ w`, the gradient of `affine`'s input `x` (N, K) from its output's gradient `g` (N, M),
    in `x`'s memory order: F-ordered when `x` is F-ordered, C-ordered otherwise.

    >>> g, w = np.ones((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> input_gradient(g, w, np.zeros((4, 2), np.float32).T).flags.f_contiguous
    True
    """
    _check_matrix("input_gradient g", g)
    _check_matrix("input_gradient w", w)
    if g.shape[1] != w.shape[0] or type(x) is not np.ndarray or x.shape != (g.shape[0], w.shape[1]):
        raise ValueError(f"input_gradient needs g (N, M), w (M, K) and x (N, K), got g={describe(g)}, "
                         f"w={describe(w)}, x={describe(x)}")
    # Hint: when x is F-ordered (and not C-ordered), compute (w.T @ g.T).T; otherwise g @ w
    # (chapter 12, "Kernels").
    if x.flags.f_contiguous and not x.flags.c_contiguous:
        return (w.T @ g.T).T
    return g @ w


def weight_gradient(g: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`g.T @ x`, the gradient of `affine`'s weight `w` (M, K) from its output's gradient `g` (N, M)
    and its input `x` (N, K), in `w`'s memory order: F-ordered when `w` is F-ordered.

    >>> g, x = np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)
    >>> weight_gradient(g, x, np.zeros((4, 3), np.float32).T).flags.f_contiguous
    True
    """
    _check_matrix("weight_gradient g", g)
    _check_matrix("weight_gradient x", x)
    if g.shape[0] != x.shape[0] or type(w) is not np.ndarray or w.shape != (g.shape[1], x.shape[1]):
        raise ValueError(f"weight_gradient needs g (N, M), x (N, K) and w (M, K), got g={describe(g)}, "
                         f"x={describe(x)}, w={describe(w)}")
    # Hint: when w is F-ordered (and not C-ordered), compute (x.T @ g).T; otherwise g.T @ x
    # (chapter 12, "Kernels").
    if w.flags.f_contiguous and not w.flags.c_contiguous:
        return (x.T @ g).T
    return g.T @ x
