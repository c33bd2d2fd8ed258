# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 01: Tensor
#
# A `Tensor` is an n-dimensional array (a NumPy `ndarray` of float32, usually) plus the one thing
# NumPy does not give us: the ability to answer "how does the final loss change if this number
# changes?". Each operation in this module computes its result with NumPy and, right beside that, the
# rule that sends a gradient back to its inputs. The engine that runs those rules in the right order
# is module 06; here we write the rules, one operation at a time, so that forward and backward can
# be read together.
#
# Design choices, each visible in the code below:
# - **float32 by default.** Numbers, lists and floating arrays become float32 unless you ask for
#   another dtype; integer data (class labels) keeps its integer dtype. float32 halves memory and
#   doubles BLAS throughput compared with float64, and it is what PyTorch uses.
# - **Integers that meet floating math become float32.** `Tensor([4, 5, 6]) / 2`, `exp`, `mean`
#   (and, in later modules, activations, layers and losses) promote integer and bool input to
#   float32 once, at their entry (`as_float`); `+`, `*` and indexing of integers stay integer, as in
#   PyTorch. The full table is in DESIGN.md, "Integer inputs".
# - **`.grad` is a plain ndarray**, the same shape and dtype as `.data`, or `None` before the first
#   backward pass. Optimizers update arrays, not graphs.
# - **No copies we do not need.** Results of operations wrap the array NumPy returned.

# %%
#| default_exp core.tensor

# %% [markdown]
# ## Undoing broadcasting
#
# NumPy broadcasting lets `x + b` add a bias of shape `(3,)` to a batch of shape `(64, 3)`. In the
# forward pass `b` was silently repeated 64 times, so in the backward pass the 64 gradient rows that
# reached those copies must be summed back into one. `unbroadcast` does that for any shape pair:
# sum away the leading axes broadcasting added, then sum (keeping the axis) every axis where the
# original had size 1.

# %%
#| export
import warnings

import numpy as np

from tinytorch.core.autograd import backward as _run_backward
from tinytorch.core.autograd import is_grad_enabled
from tinytorch.utils.validation import check_bool, check_int, describe


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    >>> unbroadcast(np.ones((4, 3)), (3,))
    array([4., 4., 4.])
    >>> unbroadcast(np.ones((4, 3)), (4, 1)).shape
    (4, 1)
    """
    if grad.shape == shape:
        return grad
    # Hint: sum away the leading axes broadcasting added, then (keepdims) every axis where `shape` has 1
    # (chapter 01, "Worked examples": the bias gradient summed over the batch).
    ### BEGIN SOLUTION
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    ### END SOLUTION
    return grad


# %%
def test_unit_unbroadcast():
    g = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert unbroadcast(g, (2, 3, 4)) is g
    assert np.array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    assert np.array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    assert np.array_equal(unbroadcast(g, ()), g.sum())
    print("unbroadcast: ok")


if __name__ == "__main__":
    test_unit_unbroadcast()

# %% [markdown]
# ## Provided: six kernels at BLAS speed
#
# A training step reduces some arrays along one axis: the bias gradient sums the batch's rows, and
# softmax cross-entropy takes each row's maximum and sum. NumPy's `a.sum(axis=0)` and
# `a.max(axis=1)` pay a bookkeeping cost per row that dominates when rows are short, and a linear
# layer's `x @ w.T` runs markedly slower in OpenBLAS than the same product taken the other way
# round when the batch is smaller than the layer's width. The functions below compute exactly those
# results by the faster route (a matrix-vector product with a vector of ones; an argmax and a
# gather; `(w @ x.T).T`), and take their matrix products with `np.dot`, which skips the ufunc
# machinery that `@` goes through: a fixed cost per product that counts on a small layer. The result
# of `(w @ x.T).T` is handed out in the transposed (F) memory order that product leaves it in, and
# the gradient of a layer's input is computed in that input's order, because NumPy multiplies two
# arrays of one order much faster than an F-ordered array by a C-ordered one. They are provided,
# not exercises: a learner who writes `g.sum(axis=0)` or `x @ w.T` gets the same numbers.
# `make bench` shows what they save (chapter 12, "How fast is it?").

# %%
#| export core.kernels
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


# %%
def test_unit_kernels():
    rng = np.random.default_rng(0)
    for shape in [(5, 3), (1, 7), (64, 10), (40, 3), (0, 4)]:     # below and above _FEW_ROWS
        a = rng.standard_normal(shape).astype(np.float32)
        assert np.allclose(column_sums(a), a.sum(axis=0), atol=1e-5)
        for out in (np.empty(shape[1], np.float32), np.empty(shape[1], np.float64),
                    np.empty((shape[1], 2), np.float32)[:, 0]):    # direct, cast, strided
            assert column_sums(a, out=out) is out and np.allclose(out, a.sum(axis=0), atol=1e-5)
        assert np.allclose(row_sums(a), a.sum(axis=1), atol=1e-5)
        if shape[1]:
            assert np.array_equal(row_max(a), a.max(axis=1))
    for n in (2, 5, 9):                      # both routes of affine: batch below and above the width
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, 4), (5, 4), (5,)))
        out = affine(x, w, b)
        assert (out.flags.f_contiguous if n < 5 else out.flags.c_contiguous)   # n < 5: the transpose
        assert np.allclose(out, x @ w.T + b, atol=1e-5)
        assert np.allclose(affine(x, w), x @ w.T, atol=1e-5)
        assert affine(x, w, np.arange(5)).dtype == np.float32      # an integer bias is added in place
    assert affine(np.ones((2, 3, 4), np.float32), np.ones((5, 4), np.float32)).shape == (2, 3, 5)
    a, b = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    assert np.allclose(matrix_product(a, b), a @ b, atol=1e-5)
    for x in (np.empty((6, 3), np.float32), np.empty((3, 6), np.float32).T):     # C, then F
        grad = input_gradient(a, b, x)
        assert grad.flags.c_contiguous == x.flags.c_contiguous and np.allclose(grad, a @ b, atol=1e-5)
    for out in (np.empty((6, 3), np.float32), np.empty((6, 3), np.float64),     # np.dot, cast
                np.empty((3, 6), np.float32).T):                               # not C-ordered
        assert matrix_product(a, b, out=out) is out and np.allclose(out, a @ b, atol=1e-5)
    print("kernels: ok")


if __name__ == "__main__":
    test_unit_kernels()

# %% [markdown]
# ## Provided: arrays laid end to end
#
# An optimizer applies the same elementwise arithmetic to every parameter. Done one parameter at a
# time, a small network pays NumPy's fixed cost per call once per parameter, four or five calls
# each: on the milestone MLP that bookkeeping takes longer than the arithmetic itself. When the
# parameters' arrays are consecutive pieces of one buffer, the same arithmetic on the whole buffer
# gives every element exactly the value it would get piece by piece (elementwise operations do not
# depend on where an array starts or ends), in one call per operation. `lay_end_to_end` copies
# arrays into one new buffer and returns views of it (cut by `split_into`), and `end_to_end`
# recognises arrays that lie that way. `Sequential` lays out its layers' parameters with the first (chapter 03), and the
# optimizer updates such parameters in one pass (chapter 07). Provided, not exercises.

# %%
#| export core.flat
"""Arrays laid end to end in one buffer, so elementwise work on all of them is one NumPy call
(exported from module 01)."""
import math

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["lay_end_to_end", "end_to_end", "split_into"]


def _arrays(name: str, arrays) -> list:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name} arrays must be a list of ndarrays, got {describe(arrays)}")
    for index, a in enumerate(arrays):
        if type(a) is not np.ndarray:
            raise TypeError(f"{name} arrays[{index}] must be an ndarray, got {describe(a)}")
    return list(arrays)


def lay_end_to_end(arrays) -> list:
    """Copies of `arrays` (same shapes and values) that are consecutive views of one new 1-D
    buffer, in order. All arrays must share one dtype.

    >>> a, b = lay_end_to_end([np.ones((2, 2), np.float32), np.zeros(3, np.float32)])
    >>> a.shape, b.shape, end_to_end([a, b]).shape
    ((2, 2), (3,), (7,))
    """
    arrays = _arrays("lay_end_to_end", arrays)
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise ValueError(f"lay_end_to_end arrays must share one dtype, got {sorted(map(str, dtypes))}")
    buffer = np.empty(sum(a.size for a in arrays), arrays[0].dtype if arrays else np.float32)
    views = split_into(buffer, [a.shape for a in arrays])
    for view, a in zip(views, arrays):
        np.copyto(view, a)
    return views


def split_into(buffer: np.ndarray, shapes) -> list:
    """Views of consecutive pieces of the 1-D array `buffer`, one of each shape in `shapes`, in
    order; together they must cover it exactly.

    >>> [v.tolist() for v in split_into(np.arange(5), [(2, 1), (3,)])]
    [[[0], [1]], [2, 3, 4]]
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
    views, start = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(buffer[start:start + size].reshape(shape))
        start += size
    return views


def end_to_end(arrays):
    """The 1-D view that `arrays` cover when they are consecutive, C-ordered pieces of one buffer,
    in order and of one dtype; otherwise None. Writing into it writes into the arrays.

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
        if a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous:
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


# %%
def test_unit_flat():
    a, b = np.arange(4, dtype=np.float32).reshape(2, 2), np.arange(3, dtype=np.float32)
    va, vb = lay_end_to_end([a, b])
    assert np.array_equal(va, a) and np.array_equal(vb, b) and not np.shares_memory(va, a)
    run = end_to_end([va, vb])
    run *= 2                                   # one call changes both arrays
    assert np.array_equal(va, 2 * a) and np.array_equal(vb, 2 * b)
    assert end_to_end([vb, va]) is None        # out of order
    assert end_to_end([va]).shape == (4,) and end_to_end([vb]).shape == (3,)
    assert end_to_end([a, b]) is None          # separate buffers
    print("flat: ok")


if __name__ == "__main__":
    test_unit_flat()

# %% [markdown]
# ## The Tensor class
#
# Construction converts the input once. Results of operations skip that: they are built by
# `Tensor._op(data, parents, backward)`, which wraps the array and, only when grad mode is on and
# some parent requires grad, records the parents and the backward rule. Recording nothing in
# `no_grad()` blocks is what makes evaluation cheap.
#
# The operators (`+`, `@`, `**`, indexing...) are one-line methods that call the functions defined
# after the class, so each operation's forward and backward stay together in one place.
# `__array_ufunc__ = None` tells NumPy to hand `ndarray + Tensor` to our `__radd__` instead of
# producing an array of Tensors.

# %%
#| export
class Tensor:
    """An n-dimensional float32 array that can record how it was computed.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    # `grad` is a property over `_grad` (below); `_grad_zero_pending` is set by zero_grad (module 06)
    __slots__ = ("data", "_grad", "_grad_zero_pending", "requires_grad", "_parents", "_backward",
                 "__weakref__")
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        requires_grad = check_bool("Tensor requires_grad", requires_grad)
        array = _numeric_array(data, dtype)      # provided below: refuses text, objects, ragged lists
        # Hint: without an explicit dtype, floating data of any other precision becomes float32; integer
        # and bool data keep their dtype (chapter 01, "01. Tensor": the first of its three choices).
        ### BEGIN SOLUTION
        if dtype is None and array.dtype.kind == "f" and array.dtype != np.float32:
            array = array.astype(np.float32)
        ### END SOLUTION
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor(requires_grad=True) needs floating data, got dtype {array.dtype}")
        self.data = array
        self._grad, self._grad_zero_pending = None, False
        self.requires_grad = requires_grad
        self._parents = ()
        self._backward = None

    @staticmethod
    def _op(data: np.ndarray, parents: tuple, backward) -> "Tensor":
        """The result of an operation: wraps `data`, records the graph when gradients are needed."""
        out = Tensor.__new__(Tensor)
        # NumPy returns a scalar, not a 0-d array, from ufuncs on 0-d input: .data is always an ndarray
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out._grad, out._grad_zero_pending = None, False
        out.requires_grad, out._parents, out._backward = False, (), None
        if is_grad_enabled():
            for parent in parents:          # a loop, not any(...): this runs for every operation
                if parent.requires_grad:
                    out.requires_grad, out._parents, out._backward = True, parents, backward
                    break
        return out

    # Provided, not an exercise: zero_grad() only marks a gradient buffer as zero (module 06,
    # "Zeroing gradients lazily"), so that backward can write the next gradient straight into it
    # instead of filling zeros and adding. Whoever reads .grad first gets the zeros filled in.
    @property
    def grad(self):
        """None, or the accumulated gradient: an ndarray of the data's shape and dtype."""
        if self._grad_zero_pending:
            self._grad_zero_pending = False
            self._grad.fill(0)
        return self._grad

    @grad.setter
    def grad(self, value):
        # None, an ndarray of the data's shape, or a Tensor (some code, the specs' own clipping
        # example among it, stores gradients as Tensors).
        if value is not None and not isinstance(value, Tensor):
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
                raise TypeError(f"Tensor.grad must be None or an ndarray of numbers of shape {self.shape}, "
                                f"got {describe(value)}")
            if value.shape != self.shape:
                raise ValueError(f"Tensor.grad must have the data's shape {self.shape}, got shape {value.shape}")
        self._grad, self._grad_zero_pending = value, False

    # -- inspection -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.data.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing this data, cut from the graph."""
        return Tensor(self.data, dtype=self.data.dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        return f"Tensor({body}{extra})"

    def backward(self, grad=None) -> None:
        """Accumulate the gradient of this tensor into every leaf's `.grad` (module 06)."""
        _run_backward(self, grad)

    # -- operators: each calls the function that holds its forward and backward ---------------------
    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(_lift_operand("add", other, self), self)
    def __sub__(self, other): return sub(self, other)
    def __rsub__(self, other): return sub(_lift_operand("sub", other, self), self)
    def __mul__(self, other): return mul(self, other)
    def __rmul__(self, other): return mul(_lift_operand("mul", other, self), self)
    def __truediv__(self, other): return div(self, other)
    def __rtruediv__(self, other): return div(_lift_operand("div", other, self), self)
    def __neg__(self): return neg(self)
    def __pow__(self, exponent): return power(self, exponent)
    def __rpow__(self, base): return power(_lift_operand("power", base, self), self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(_lift_operand("matmul", other, self), self)
    def __getitem__(self, index): return getitem(self, index)

    def exp(self): return exp(self)
    def log(self): return log(self)
    def sqrt(self): return sqrt(self)
    def sum(self, axis=None, keepdims=False): return reduce_sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return reduce_mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return reduce_max(self, axis, keepdims)

    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge the axes `start_dim` to `end_dim` (inclusive) into one, like `torch.flatten`.

        >>> Tensor(np.zeros((2, 3, 4, 5))).flatten(1).shape
        (2, 60)
        >>> Tensor(np.zeros((2, 3, 4, 5))).flatten(1, 2).shape
        (2, 12, 5)
        """
        start, end = check_int("flatten start_dim", start_dim), check_int("flatten end_dim", end_dim)
        ndim = max(self.data.ndim, 1)   # a 0-d tensor flattens to shape (1,), as in PyTorch
        for name, dim in (("start_dim", start), ("end_dim", end)):
            if not -ndim <= dim < ndim:
                raise ValueError(f"flatten {name} must be in [{-ndim}, {ndim - 1}] for a tensor of "
                                 f"shape {self.shape}, got {dim}")
        start, end = start % ndim, end % ndim
        if start > end:
            raise ValueError(f"flatten start_dim ({start_dim}) must not come after end_dim ({end_dim}) "
                             f"for a tensor of shape {self.shape}")
        shape = self.shape or (1,)
        return reshape(self, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])

    def matmul(self, other): return matmul(self, other)

    def transpose(self, dim0: int = -2, dim1: int = -1): return transpose(self, dim0, dim1)

    @property
    def T(self):
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return permute(self, tuple(reversed(range(self.data.ndim))))


_NUMERIC_KINDS = "biuf"    # bool, signed and unsigned integers, floating point


def _numeric_array(data, dtype) -> np.ndarray:
    """`data` as an ndarray of numbers (bool, integer or floating), or a TypeError / ValueError naming
    `Tensor data` or `Tensor dtype` and what was given. Strings, bytes, objects, complex numbers and
    ragged nested lists are refused here, so no operation ever meets them."""
    if isinstance(data, Tensor):
        data = data.data
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


def as_float(x: Tensor) -> Tensor:
    """`x` itself when it is floating; integer or bool data as a new float32 tensor.

    The integer rule (DESIGN.md, "Integer inputs"): an operation whose result is a floating number
    (`/`, `exp`, `mean`, `sigmoid`, `Linear`, losses, ...) promotes integer and bool input to float32
    once, at its entry, as PyTorch does for `sigmoid` and true division. Integer tensors never
    require grad, so the new tensor is a constant. A floating input passes through untouched:
    the float32 hot path pays one dtype check.

    >>> as_float(Tensor([1, 2])).dtype
    dtype('float32')
    """
    check_tensor("as_float", x)
    if x.data.dtype.kind == "f":
        return x
    return Tensor(x.data, dtype=np.float32)


def check_tensor(name: str, x) -> None:
    """A TypeError naming the operation when its tensor argument is something else."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {describe(x)}")


def _lift(value, like: Tensor) -> Tensor:
    """Wrap a constant operand. A float tensor's constants take its dtype (no float64 creep); a Python
    int meeting an integer tensor takes that tensor's dtype when it fits, as in PyTorch (int32 + 1 is int32)."""
    if isinstance(value, Tensor):
        return value
    dtype = like.data.dtype
    if dtype.kind == "f":
        return Tensor(value, dtype=dtype)
    if dtype.kind in "iu" and type(value) in (int, bool):
        limits = np.iinfo(dtype)
        if limits.min <= value <= limits.max:
            return Tensor(value, dtype=dtype)
    return Tensor(value)


# %%
def test_unit_tensor_creation():
    assert Tensor([1, 2, 3]).dtype == np.int64
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.ones(3)).dtype == np.float32, "float64 arrays become float32 by default"
    assert Tensor(np.ones(3), dtype=np.float64).dtype == np.float64
    assert Tensor(3.5).item() == 3.5
    t = Tensor(np.zeros((2, 3)), requires_grad=True)
    assert t.shape == (2, 3) and t.grad is None and t.requires_grad
    try:
        Tensor([1, 2], requires_grad=True)
        raise AssertionError("integer tensors cannot require grad")
    except TypeError:
        pass
    print("Tensor creation: ok")


if __name__ == "__main__":
    test_unit_tensor_creation()

# %% [markdown]
# ## Arithmetic
#
# For `out = a + b` every input element moves the output one-for-one, so both inputs receive the
# output gradient unchanged (summed back over broadcast axes). For `out = a * b` the chain rule gives
# `grad_a = grad * b` and `grad_b = grad * a`; for division, `grad_a = grad / b` and
# `grad_b = -grad * a / b**2`. A rule returns `None` for an input that needs no gradient, which skips
# the work entirely: the input batch of a network never needs one.
#
# Errors are caught where NumPy raises them and re-raised with the operation and both shapes in the
# message, so they cost nothing when shapes are right.

# %%
#| export
def _broadcast_error(name: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together "
                      f"(trailing dimensions must be equal or 1)")


def _promote(a: Tensor, b: Tensor) -> tuple:
    """An integer or bool operand meeting a floating one becomes a constant of that floating dtype,
    as in PyTorch: NumPy would make int64 with float32 a float64 result (and float64 gradients)."""
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka == "f" and kb in "biu":
        b = Tensor(b.data, dtype=a.data.dtype)
    elif kb == "f" and ka in "biu":
        a = Tensor(a.data, dtype=b.data.dtype)
    return a, b


def _lift_operand(name: str, value, like: Tensor) -> Tensor:
    """`_lift` for the other operand of operation `name` (either side), or an error naming `name`."""
    try:
        return _lift(value, like)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: the other operand is not numeric: {error}") from None


def _operands(name: str, a, b) -> tuple:
    """Both operands of a binary operation as Tensors of a common kind, or an error naming `name`."""
    check_tensor(name, a)
    return _promote(a, _lift_operand(name, b, a))


def _binary(name, fn, a, b):
    a, b = _operands(name, a, b)
    return a, b, _apply(name, fn, a, b)


def _apply(name: str, fn, a: Tensor, b: Tensor) -> np.ndarray:
    """`fn(a.data, b.data)`, with NumPy's broadcasting error re-raised naming the op and both shapes."""
    try:
        return fn(a.data, b.data)
    except ValueError as error:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise _broadcast_error(name, a, b) from None
        raise ValueError(f"{name}: {error}") from None   # e.g. integers to negative integer powers


def _refuse_bool(name: str, *tensors) -> None:
    """Subtraction, negation and matrix products of bool tensors are refused, as in PyTorch."""
    if any(t.data.dtype.kind == "b" for t in tensors):
        raise TypeError(f"{name}: not defined for bool tensors (PyTorch refuses it too); "
                        "convert with Tensor(x.data, dtype=...) first")


def add(a: Tensor, b) -> Tensor:
    # Hint: the forward is np.add; each input gets g back, summed over the axes broadcasting added
    # (chapter 01, "Worked examples": the bias gradient is the batch sum).
    ### BEGIN SOLUTION
    a, b, out = _binary("add", np.add, a, b)

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(g, b.shape) if b.requires_grad else None)
    ### END SOLUTION
    return Tensor._op(out, (a, b), backward)


def sub(a: Tensor, b) -> Tensor:
    a, b = _operands("sub", a, b)
    _refuse_bool("sub", a, b)
    out = _apply("sub", np.subtract, a, b)

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(-g, b.shape) if b.requires_grad else None)
    return Tensor._op(out, (a, b), backward)


def mul(a: Tensor, b) -> Tensor:
    # Hint: product rule, grad_a = g * b and grad_b = g * a, each unbroadcast to its input's shape
    # (chapter 01, "Worked examples").
    ### BEGIN SOLUTION
    a, b, out = _binary("mul", np.multiply, a, b)

    def backward(g):
        return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
    ### END SOLUTION
    return Tensor._op(out, (a, b), backward)


def div(a: Tensor, b) -> Tensor:
    """True division: integer / integer is float32, as in PyTorch (`Tensor([4, 5]) / 2` is [2., 2.5])."""
    a, b = _operands("div", a, b)
    if a.data.dtype.kind != "f":          # both integer (a mixed pair was already promoted)
        a, b = as_float(a), as_float(b)
    out = _apply("div", np.divide, a, b)

    def backward(g):
        return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None)
    return Tensor._op(out, (a, b), backward)


def neg(a: Tensor) -> Tensor:
    check_tensor("neg", a)
    _refuse_bool("neg", a)
    return Tensor._op(-a.data, (a,), lambda g: (-g,))


def power(a: Tensor, exponent) -> Tensor:
    """`a ** exponent`; the exponent may be a number or a tensor (then d/dexponent = out * log a).

    Integers to a non-negative integer power stay integer (as in PyTorch); a float exponent makes
    an integer base float32; an integer to a negative integer power is a ValueError (PyTorch too).
    """
    check_tensor("power", a)
    if type(exponent) is float and a.data.dtype.kind != "f":
        a = as_float(a)                       # NumPy would give float64
    if type(exponent) not in (int, float):   # np.float64 subclasses float, but it would upcast
        exponent = _operands("power", a, exponent)[1]
    if isinstance(exponent, Tensor):
        a, e = _promote(a, exponent)
        out = _apply("power", np.power, a, e)

        def backward(g):
            return (unbroadcast(g * e.data * a.data ** (e.data - 1), a.shape) if a.requires_grad else None,
                    # 0 ** e is 0 for every e > 0: its slope in e is 0, not 0 * log(0) = nan
                    unbroadcast(g * out * np.log(np.where(a.data == 0, 1, a.data)), e.shape)
                    if e.requires_grad else None)
        return Tensor._op(out, (a, e), backward)
    if a.data.dtype.kind == "b":
        a = Tensor(a.data, dtype=np.int64)    # bool ** 2 counts in int64, as in PyTorch (NumPy: int8)
    if exponent < 0 and a.data.dtype.kind != "f":
        raise ValueError(f"power: an integer tensor to a negative integer power ({exponent}) is not "
                         "an integer; write Tensor(x.data, dtype=np.float32) ** exponent")
    # Hint: d(a**p)/da = p * a**(p - 1), times the incoming gradient (chapter 01, "API": `a ** p`).
    ### BEGIN SOLUTION
    out = a.data ** exponent
    return Tensor._op(out, (a,), lambda g: (g * exponent * a.data ** (exponent - 1),))
    ### END SOLUTION


# %%
def test_unit_arithmetic():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([10.0, 20.0], requires_grad=True)
    # reductions come later in this file, so seed backward with an explicit output gradient
    y = (a * b + a / b - b) ** 2
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert a.grad.shape == (2, 2) and b.grad.shape == (2,)
    expected_b = (2 * (a.data * b.data + a.data / b.data - b.data) * (a.data - a.data / b.data ** 2 - 1)).sum(0)
    assert np.allclose(b.grad, expected_b)
    x = Tensor([3.0], requires_grad=True)
    (2.0 / x).backward()
    assert np.isclose(x.grad[0], -2.0 / 9.0)
    assert type((Tensor(2.0) * 3.0).data) is np.ndarray, "0-d results hold a 0-d array, not a scalar"
    assert (Tensor([1, 2]) * x).dtype == np.float32, "int64 with float32 is float32, as in PyTorch"
    assert (Tensor([4, 5, 6]) / 2).data.tolist() == [2.0, 2.5, 3.0], "true division of integers is float32"
    assert (Tensor([4, 5, 6]) / 2).dtype == np.float32 and (Tensor([1, 2]) * 3).dtype == np.int64
    e = Tensor([2.0, 3.0], requires_grad=True)
    (Tensor([0.0, 2.0]) ** e).backward(np.ones(2, dtype=np.float32))
    assert np.allclose(e.grad, [0.0, 8 * np.log(2.0)]), "a zero base has slope 0 in the exponent"
    assert (x ** np.float64(2.0)).dtype == np.float32, "a NumPy float64 exponent must not upcast"
    x.grad = None
    (2.0 ** x).backward()
    assert np.isclose(x.grad[0], 8.0 * np.log(2.0)), "a number base: d(2**x)/dx = 2**x log 2"
    try:
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
        raise AssertionError("mismatched shapes must raise")
    except ValueError as e:
        assert "(2, 3)" in str(e) and "(4,)" in str(e)
    print("arithmetic: ok")


if __name__ == "__main__":
    test_unit_arithmetic()

# %% [markdown]
# ## Matrix multiplication
#
# `out = a @ b` with `a` of shape `(n, k)` and `b` of shape `(k, m)`: each `out[i, j]` is a dot
# product, so `grad_a = grad @ b.T` and `grad_b = a.T @ grad`. Both are matrix products of the same
# size as the forward one, which is why a backward pass costs about twice a forward pass. Batched
# inputs (`(..., n, k) @ (..., k, m)`) transpose only the last two axes and sum over broadcast batch
# axes; 1-D operands are treated as a row (left) or a column (right), as NumPy does.

# %%
#| export
def matmul(a: Tensor, b) -> Tensor:
    """Matrix product. Two integer tensors give an integer product; two bool ones are refused (as in PyTorch)."""
    a, b = _operands("matmul", a, b)
    _refuse_bool("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions "
                         f"{a.shape[-1]} and {b.shape[-2 if b.ndim > 1 else 0]} must match")
    try:
        out = a.data @ b.data
    except ValueError:
        raise _broadcast_error("matmul (batch dimensions)", a, b) from None

    def backward(g):
        # Hint: grad_a = g @ b.T and grad_b = a.T @ g on the last two axes, unbroadcast over batch axes
        # (chapter 01, "The cost": backward is two products the size of the forward one).
        ### BEGIN SOLUTION
        A = a.data if a.ndim > 1 else a.data[None, :]
        B = b.data if b.ndim > 1 else b.data[:, None]
        if b.ndim == 1:  # the column axis first: for vector @ vector, g is 0-d
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = unbroadcast(g @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape) if a.requires_grad else None
        gb = unbroadcast(np.swapaxes(A, -1, -2) @ g, B.shape).reshape(b.shape) if b.requires_grad else None
        ### END SOLUTION
        return ga, gb
    return Tensor._op(out, (a, b), backward)


# %%
def test_unit_matmul():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.full((3, 4), 2.0), requires_grad=True)
    (a @ b).backward(np.ones((2, 4), dtype=np.float32))
    assert np.allclose(a.grad, 8.0) and np.allclose(b.grad, 2.0)
    u, v = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (u @ v).backward()
    assert np.allclose(u.grad, [3, 4]) and np.allclose(v.grad, [1, 2]), "vector @ vector"
    try:
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
        raise AssertionError("inner dimension mismatch must raise")
    except ValueError as e:
        assert "3 and 4" in str(e)
    print("matmul: ok")


if __name__ == "__main__":
    test_unit_matmul()

# %% [markdown]
# ## Elementwise functions
#
# `exp`, `log` and `sqrt` each multiply the incoming gradient by their derivative: `exp(x)` (the
# output itself, so we reuse it), `1/x`, and `1/(2 sqrt(x))` (again from the output).

# %%
#| export
def exp(a: Tensor) -> Tensor:
    check_tensor("exp", a)
    a = as_float(a)
    out = np.exp(a.data)
    return Tensor._op(out, (a,), lambda g: (g * out,))


def log(a: Tensor) -> Tensor:
    check_tensor("log", a)
    a = as_float(a)
    return Tensor._op(np.log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a: Tensor) -> Tensor:
    check_tensor("sqrt", a)
    a = as_float(a)
    out = np.sqrt(a.data)
    return Tensor._op(out, (a,), lambda g: (g * 0.5 / out,))


# %% [markdown]
# ## Reductions
#
# `sum` sends the output gradient to every element it summed: the gradient is broadcast back over the
# reduced axes. `mean` is the same divided by the count. `max` sends it only to the elements that were
# the maximum; when several tie, they share it equally (as `torch.amax` does), so the total gradient
# is preserved.

# %%
#| export
def _axes(axis, ndim: int, name: str = "axis") -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(check_int(name, ax) for ax in axis)
    else:
        axes = (check_int(name, axis),)
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{name} {ax} is out of range for a tensor with {ndim} dimension(s)")
    return tuple(ax % ndim for ax in axes) if ndim else ()


def _expand_reduced(g, axes, keepdims, shape):
    """Put back the reduced axes of a gradient so it broadcasts against the input."""
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def reduce_sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over `axis`. Integer and bool tensors give an integer sum (int64, as in PyTorch)."""
    check_tensor("sum", a)
    axes = _axes(axis, a.ndim)
    keepdims = check_bool("sum keepdims", keepdims)
    # Hint: the forward is one NumPy sum; backward broadcasts g back over the summed axes
    # (chapter 01, "API": reductions over one axis, several, or all).
    ### BEGIN SOLUTION
    out = a.data.sum(axis=axes, keepdims=keepdims)
    return Tensor._op(np.asarray(out), (a,), lambda g: (_expand_reduced(g, axes, keepdims, a.shape),))
    ### END SOLUTION


def reduce_mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over `axis`. Integer and bool input is promoted to float32 (PyTorch refuses it)."""
    check_tensor("mean", a)
    axes = _axes(axis, a.ndim)
    keepdims = check_bool("mean keepdims", keepdims)
    a = as_float(a)
    count = int(np.prod([a.shape[ax] for ax in axes])) if axes else 1
    out = a.data.mean(axis=axes, keepdims=keepdims)
    return Tensor._op(np.asarray(out), (a,),
                      lambda g: (_expand_reduced(g / count, axes, keepdims, a.shape),))


def reduce_max(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over `axis`; keeps the input's dtype (integers stay integers, as in PyTorch)."""
    check_tensor("max", a)
    axes = _axes(axis, a.ndim)
    keepdims = check_bool("max keepdims", keepdims)
    if a.size == 0:
        raise ValueError("max() of an empty tensor is undefined")
    top = a.data.max(axis=axes, keepdims=True)

    def backward(g):
        winners = (a.data == top).astype(a.data.dtype)   # a bool / int count would be float64
        share = winners / winners.sum(axis=axes, keepdims=True)
        return (share * _expand_reduced(g, axes, keepdims, a.shape),)
    out = top if keepdims else np.squeeze(top, axis=axes)
    return Tensor._op(np.asarray(out), (a,), backward)


# %%
def test_unit_reductions():
    x = Tensor([[1.0, 5.0, 5.0], [2.0, 0.0, -1.0]], requires_grad=True)
    (x.sum(axis=0) * Tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.allclose(x.grad, [[1, 2, 3], [1, 2, 3]])
    x.grad = None
    x.max(axis=1).sum().backward()
    assert np.allclose(x.grad, [[0, 0.5, 0.5], [1, 0, 0]]), "tied maxima share the gradient"
    assert x.max(axis=1)._backward(np.ones(2, np.float32))[0].dtype == np.float32
    x.grad = None
    x.mean().backward()
    assert np.allclose(x.grad, 1 / 6)
    assert x.sum(axis=np.int64(1)).shape == (2,), "NumPy integers are axes too"
    print("reductions: ok")


if __name__ == "__main__":
    test_unit_reductions()

# %% [markdown]
# ## Shapes: reshape, transpose, indexing, concatenation
#
# These move numbers without changing them, so their backward rules move the gradient back:
# reshape it to the old shape, swap the same axes again, scatter it into the indexed positions
# (adding where an index repeats), or split it at the seams of the concatenation.

# %%
#| export
def reshape(a: Tensor, shape) -> Tensor:
    check_tensor("reshape", a)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"reshape: shape must be a tuple of integers, got {describe(shape)}")
    shape = tuple(check_int("reshape shape entry", n, -1) for n in shape)
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot view {a.size} elements of shape {a.shape} as {shape}") from None
    return Tensor._op(out, (a,), lambda g: (g.reshape(a.shape),))


def permute(a: Tensor, axes: tuple) -> Tensor:
    check_tensor("permute", a)
    axes = _axes(axes, a.ndim, "permute axes")
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"permute: axes must order all {a.ndim} axes of shape {a.shape}, got {axes}")
    inverse = tuple(np.argsort(axes))
    return Tensor._op(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),))


def transpose(a: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes, like `torch.transpose(a, dim0, dim1)`."""
    check_tensor("transpose", a)
    dim0, dim1 = _axes((dim0, dim1), a.ndim, "transpose dim")
    return Tensor._op(np.swapaxes(a.data, dim0, dim1), (a,), lambda g: (np.swapaxes(g, dim0, dim1),))


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    check_tensor("getitem", a)
    try:
        out = a.data[index]
    except IndexError as e:
        # out of range stays an IndexError (Python's sequence protocol, and PyTorch, need it);
        # an index of the wrong kind (a float, a string) is a TypeError
        in_range_problem = any(w in str(e) for w in ("out of bounds", "too many indices", "did not match"))
        kind = IndexError if in_range_problem else TypeError
        raise kind(f"index {describe(index)} into a tensor of shape {a.shape}: {e}") from None
    except OverflowError:                # an integer beyond int64 is beyond every axis
        raise IndexError(f"index {describe(index)} into a tensor of shape {a.shape} is out of bounds") from None
    except (TypeError, ValueError) as e:
        raise TypeError(f"index {describe(index)} into a tensor of shape {a.shape}: {e}") from None

    def backward(g):
        full = np.zeros_like(a.data)
        if _is_basic_index(index):
            full[index] = g      # basic indexing never repeats a position
        else:
            np.add.at(full, index, g)
        return (full,)
    return Tensor._op(np.asarray(out), (a,), backward)


def _lift_many(name: str, tensors) -> list:
    """Wrap the constants in a sequence of operands. With a floating tensor among them, everything
    takes its dtype: arrays do not bring float64 in, and integers join as in PyTorch."""
    if isinstance(tensors, (Tensor, np.ndarray)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{name}: tensors must be a list or tuple of tensors, got {describe(tensors)}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor, got an empty sequence")
    try:
        given = [t for t in tensors if isinstance(t, Tensor)] or [Tensor(tensors[0])]
        like = next((t for t in given if t.data.dtype.kind == "f"), given[0])
        tensors = [_lift(t, like) for t in tensors]
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    if like.data.dtype.kind == "f":
        tensors = [t if t.data.dtype.kind == "f" else Tensor(t.data, dtype=like.data.dtype) for t in tensors]
    return tensors


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, like `torch.cat`."""
    tensors = _lift_many("concat", tensors)
    if tensors[0].ndim == 0:
        raise ValueError("concat: 0-d tensors have no axis to join along; use stack")
    axis = _axes(check_int("concat axis", axis), tensors[0].ndim, "concat axis")[0]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:
        raise ValueError(f"concat(axis={axis}): shapes {[t.shape for t in tensors]} differ "
                         "outside the joined axis") from None
    seams = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor._op(out, tuple(tensors), lambda g: tuple(np.split(g, seams, axis=axis)))


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis, like `torch.stack`."""
    tensors = _lift_many("stack", tensors)
    axis = _axes(check_int("stack axis", axis), tensors[0].ndim + 1, "stack axis")[0]
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}")
    out = np.stack([t.data for t in tensors], axis=axis)
    n = len(tensors)
    return Tensor._op(out, tuple(tensors),
                      lambda g: tuple(np.squeeze(part, axis) for part in np.split(g, n, axis=axis)))


# %%
def test_unit_shapes():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.reshape(3, 2).transpose(0, 1)
    assert y.shape == (2, 3)
    (y * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    assert x.grad.shape == (2, 3)
    x.grad = None
    x[np.array([0, 0, 1])].sum().backward()
    assert np.allclose(x.grad, [[2, 2, 2], [1, 1, 1]]), "repeated indices add up"
    a, b = Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.ones((1, 2)), requires_grad=True)
    (concat([a, b], axis=0) * 3).sum().backward()
    assert np.allclose(a.grad, 3) and b.grad.shape == (1, 2)
    s = stack([a, a], axis=1)
    assert s.shape == (2, 2, 2)
    assert concat([np.zeros((1, 2)), a]).dtype == np.float32, "an array first is a float32 constant"
    print("shape operations: ok")


if __name__ == "__main__":
    test_unit_shapes()
