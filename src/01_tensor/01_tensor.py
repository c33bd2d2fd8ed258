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
# ## The Tensor class
#
# A tensor holds four things: `data` (the ndarray), `requires_grad` (does anybody want the gradient
# with respect to it?), `grad` (that gradient, once backward has run), and, for a tensor that an
# operation produced, how it was made: `parents` (the operation's inputs) and `grad_fn` (the rule
# that turns the gradient of the result into one gradient per parent). A tensor you create yourself
# is a *leaf*: it has no parents and its `grad_fn` is `None`.
#
# Construction converts the input once. Results of operations skip that: `Tensor.record(data,
# parents, grad_fn)` wraps the array and, only when recording is on and some parent requires grad,
# keeps the parents and the rule. Module 06's `no_grad()` switches recording off (through
# `set_grad_enabled`, below): evaluation then builds no graph, which is what makes it cheap.
#
# The operators (`+`, `@`, `**`, indexing...) are one-line methods calling the functions defined
# after the class, so each operation's forward and backward stay together. `__array_ufunc__ = None`
# makes NumPy hand `ndarray + Tensor` to our `__radd__` instead of producing an array of Tensors.

# %%
#| export
import numpy as np

from tinytorch.utils.tensor_data import numeric_array
from tinytorch.utils.validation import check_bool, check_int, describe

_grad_enabled = True     # process-wide, like PyTorch's: is the graph being recorded?


def is_grad_enabled() -> bool:
    """True when operations record the graph for `backward()`."""
    return _grad_enabled


def set_grad_enabled(mode: bool) -> None:
    """Switch recording of the graph on or off (module 06's `no_grad` uses this)."""
    global _grad_enabled
    _grad_enabled = check_bool("set_grad_enabled mode", mode)


class Tensor:
    """An n-dimensional float32 array that can record how it was computed.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "parents", "grad_fn", "__weakref__")
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        requires_grad = check_bool("Tensor requires_grad", requires_grad)
        # provided (tinytorch/utils/tensor_data.py): an ndarray of numbers; text, objects, ragged lists refused
        array = numeric_array(data.data if isinstance(data, Tensor) else data, dtype)
        # Hint: without an explicit dtype, floating data of any other precision becomes float32; integer
        # and bool data keep their dtype (chapter 01, "01. Tensor": the first of its three choices).
        ### BEGIN SOLUTION
        if dtype is None and array.dtype.kind == "f" and array.dtype != np.float32:
            array = array.astype(np.float32)
        ### END SOLUTION
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor(requires_grad=True) needs floating data, got dtype {array.dtype}")
        self.data = array
        self.grad = None
        self.requires_grad = requires_grad
        self.parents = ()
        self.grad_fn = None

    @staticmethod
    def record(data: np.ndarray, parents: tuple, grad_fn) -> "Tensor":
        """The result of an operation: wraps `data` (no copy) and, when recording is on and some
        parent requires grad, keeps `parents` and `grad_fn`, the rule that maps the result's gradient
        to one gradient per parent (an ndarray of that parent's shape, or None to send none)."""
        out = Tensor.__new__(Tensor)
        # NumPy returns a scalar, not a 0-d array, from ufuncs on 0-d input: .data is always an ndarray
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        out.requires_grad, out.parents, out.grad_fn = False, (), None
        if _grad_enabled:
            for parent in parents:          # a loop, not any(...): this runs for every operation
                if parent.requires_grad:
                    out.requires_grad, out.parents, out.grad_fn = True, parents, grad_fn
                    break
        return out

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
        """Accumulate the gradient of this tensor into every leaf's `.grad`.

        The engine that does it is module 06's `tinytorch.core.autograd.backward`; this method hands
        the work to it, imported when called, so module 01 does not depend on a later module (as
        PyTorch's `Tensor.backward` hands its work to `torch.autograd.backward`)."""
        from tinytorch.core.autograd import backward
        backward(self, grad)

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
# ## Undoing broadcasting
#
# NumPy broadcasting lets `x + b` add a bias of shape `(3,)` to a batch of shape `(64, 3)`. In the
# forward pass `b` was silently repeated 64 times, so in the backward pass the 64 gradient rows that
# reached those copies must be summed back into one. `unbroadcast` does that for any shape pair:
# sum away the leading axes broadcasting added, then sum (keeping the axis) every axis where the
# original had size 1.

# %%
#| export
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
    assert np.array_equal(unbroadcast(g, (2, 3, 4)), g), "nothing was broadcast: nothing to sum"
    assert np.array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    assert np.array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    assert np.array_equal(unbroadcast(g, ()), g.sum())
    print("unbroadcast: ok")


if __name__ == "__main__":
    test_unit_unbroadcast()

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
    """Both operands of a binary operation as Tensors of a common kind, or an error naming `name`.
    The usual case (two tensors of one dtype) passes one test: this runs for every operation."""
    if type(a) is Tensor and type(b) is Tensor and a.data.dtype == b.data.dtype:
        return a, b
    check_tensor(name, a)
    return _promote(a, _lift_operand(name, b, a))


def _broadcastable(shape_a: tuple, shape_b: tuple) -> bool:
    """NumPy's rule: aligned from the right, each pair of sizes is equal or contains a 1."""
    for m, n in zip(reversed(shape_a), reversed(shape_b)):
        if m != n and m != 1 and n != 1:
            return False
    return True


def _elementwise_operands(name: str, a, b) -> tuple:
    """`_operands`, and shapes that broadcast together, so the NumPy expression that follows cannot
    fail with NumPy's own message."""
    a, b = _operands(name, a, b)
    if a.data.shape != b.data.shape and not _broadcastable(a.data.shape, b.data.shape):
        raise _broadcast_error(name, a, b)
    return a, b


def _refuse_bool(name: str, *tensors) -> None:
    """Subtraction, negation and matrix products of bool tensors are refused, as in PyTorch."""
    for t in tensors:
        if t.data.dtype.kind == "b":
            raise TypeError(f"{name}: not defined for bool tensors (PyTorch refuses it too); "
                        "convert with Tensor(x.data, dtype=...) first")


def add(a: Tensor, b) -> Tensor:
    """`a + b` with NumPy broadcasting; `b` may be a Tensor, an array or a number."""
    a, b = _elementwise_operands("add", a, b)
    # Hint: out = a.data + b.data; each input gets g back, summed over the axes broadcasting added,
    # or None when it needs no gradient (chapter 01, "Worked examples": the bias gradient is the batch sum).
    ### BEGIN SOLUTION
    out = a.data + b.data

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(g, b.shape) if b.requires_grad else None)
    ### END SOLUTION
    return Tensor.record(out, (a, b), backward)


def sub(a: Tensor, b) -> Tensor:
    a, b = _elementwise_operands("sub", a, b)
    _refuse_bool("sub", a, b)
    out = a.data - b.data

    def backward(g):
        return (unbroadcast(g, a.shape) if a.requires_grad else None,
                unbroadcast(-g, b.shape) if b.requires_grad else None)
    return Tensor.record(out, (a, b), backward)


def mul(a: Tensor, b) -> Tensor:
    """`a * b` with NumPy broadcasting; `b` may be a Tensor, an array or a number."""
    a, b = _elementwise_operands("mul", a, b)
    # Hint: out = a.data * b.data; product rule, grad_a = g * b and grad_b = g * a, each unbroadcast
    # to its input's shape (chapter 01, "Worked examples").
    ### BEGIN SOLUTION
    out = a.data * b.data

    def backward(g):
        return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
    ### END SOLUTION
    return Tensor.record(out, (a, b), backward)


def div(a: Tensor, b) -> Tensor:
    """True division: integer / integer is float32, as in PyTorch (`Tensor([4, 5]) / 2` is [2., 2.5])."""
    a, b = _elementwise_operands("div", a, b)
    if a.data.dtype.kind != "f":          # both integer (a mixed pair was already promoted)
        a, b = as_float(a), as_float(b)
    out = a.data / b.data

    def backward(g):
        return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None)
    return Tensor.record(out, (a, b), backward)


def neg(a: Tensor) -> Tensor:
    check_tensor("neg", a)
    _refuse_bool("neg", a)
    return Tensor.record(-a.data, (a,), lambda g: (-g,))


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
        a, e = _elementwise_operands("power", a, exponent)
        if e.data.dtype.kind in "iu" and a.data.dtype.kind in "biu" and (e.data < 0).any():
            raise ValueError(f"power: an integer tensor to a negative integer power is not an integer; "
                             "write Tensor(x.data, dtype=np.float32) ** exponent")
        out = np.power(a.data, e.data)

        def backward(g):
            return (unbroadcast(g * e.data * a.data ** (e.data - 1), a.shape) if a.requires_grad else None,
                    # 0 ** e is 0 for every e > 0: its slope in e is 0, not 0 * log(0) = nan
                    unbroadcast(g * out * np.log(np.where(a.data == 0, 1, a.data)), e.shape)
                    if e.requires_grad else None)
        return Tensor.record(out, (a, e), backward)
    if a.data.dtype.kind == "b":
        a = Tensor(a.data, dtype=np.int64)    # bool ** 2 counts in int64, as in PyTorch (NumPy: int8)
    if exponent < 0 and a.data.dtype.kind != "f":
        raise ValueError(f"power: an integer tensor to a negative integer power ({exponent}) is not "
                         "an integer; write Tensor(x.data, dtype=np.float32) ** exponent")
    # Hint: out = a.data ** exponent; d(a**p)/da = p * a**(p - 1), times the incoming gradient
    # (chapter 01, "API": `a ** p`).
    ### BEGIN SOLUTION
    out = a.data ** exponent

    def backward(g):
        return (g * exponent * a.data ** (exponent - 1),)
    ### END SOLUTION
    return Tensor.record(out, (a,), backward)


# %%
def test_unit_arithmetic():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([10.0, 20.0], requires_grad=True)
    # reductions come later in this file, so seed backward with an explicit output gradient
    y = (a * b + a / b - b) ** 2 + b         # every operator broadcasts b over a's rows
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert a.grad.shape == (2, 2) and b.grad.shape == (2,), "each gradient has its input's shape"
    expected_b = (2 * (a.data * b.data + a.data / b.data - b.data) * (a.data - a.data / b.data ** 2 - 1) + 1).sum(0)
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
        assert "add" in str(e), "the message names the operation"
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
#
# **Memory layout.** A layer computes `x @ W.T`. `W.T` costs nothing: it is a view of `W` that reads
# it column by column (NumPy calls that order "F", for Fortran; the usual row-by-row order is "C").
# Its gradient, `x.T @ g`, comes out of the product in C order for `W.T`, which is F order for
# `W`, so adding it into `W.grad` (C order) walks one of the two arrays across its rows, which
# takes several times as long as adding two arrays of one order (chapter 12 measures it).
# The same numbers in `W`'s own order come from the transposed product, `(g.T @ x).T`. So each
# gradient is computed in the memory order of its operand, which is what PyTorch's matrix-product
# backward does too. This is provided code: the rule `grad_b = a.T @ g` is the lesson, the order
# only changes how fast it runs.

# %%
#| export
def matmul(a: Tensor, b) -> Tensor:
    """Matrix product. Two integer tensors give an integer product; two bool ones are refused (as in PyTorch)."""
    a, b = _operands("matmul", a, b)
    if a.data.dtype.kind == "b":
        _refuse_bool("matmul", a, b)
    shape_a, shape_b = a.data.shape, b.data.shape
    if not shape_a or not shape_b:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {shape_a} @ {shape_b}")
    inner = shape_b[-2 if len(shape_b) > 1 else 0]
    if shape_a[-1] != inner:
        raise ValueError(f"matmul: {shape_a} @ {shape_b}: inner dimensions {shape_a[-1]} and {inner} must match")
    try:
        out = a.data @ b.data
    except ValueError:
        raise _broadcast_error("matmul (batch dimensions)", a, b) from None

    def backward(g):
        A = a.data if a.data.ndim > 1 else a.data[None, :]     # a 1-D operand as a row ...
        B = b.data if b.data.ndim > 1 else b.data[:, None]     # ... or as a column
        if b.data.ndim == 1:                              # the column axis first: for vector @ vector, g is 0-d
            g = np.expand_dims(g, -1)
        if a.data.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = grad_b = None
        if a.requires_grad:                               # g @ b.T
            grad_a = _product_in_order_of(A, g, B.swapaxes(-1, -2))
            if grad_a.shape != a.data.shape:              # batch axes to sum, or a 1-D operand
                grad_a = unbroadcast(grad_a, A.shape).reshape(a.data.shape)
        if b.requires_grad:                               # a.T @ g
            grad_b = _product_in_order_of(B, A.swapaxes(-1, -2), g)
            if grad_b.shape != b.data.shape:
                grad_b = unbroadcast(grad_b, B.shape).reshape(b.data.shape)
        return grad_a, grad_b
    return Tensor.record(out, (a, b), backward)


def _product_in_order_of(like: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`left @ right`, in the memory order of `like` (the operand whose gradient it is): for a
    matrix stored column by column (F order, as `W.T` is), computed as `(right.T @ left.T).T`,
    the same numbers laid out the way `like` is; otherwise the plain product."""
    if like.ndim == 2 and left.ndim == 2 and right.ndim == 2 and like.flags.f_contiguous \
            and not like.flags.c_contiguous:
        return (right.T @ left.T).T
    return left @ right


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
        assert "matmul" in str(e), "the message names the operation"
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
    return Tensor.record(out, (a,), lambda g: (g * out,))


def log(a: Tensor) -> Tensor:
    check_tensor("log", a)
    a = as_float(a)
    return Tensor.record(np.log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a: Tensor) -> Tensor:
    check_tensor("sqrt", a)
    a = as_float(a)
    out = np.sqrt(a.data)
    return Tensor.record(out, (a,), lambda g: (g * 0.5 / out,))


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
    """`axis` (None, an int or a sequence of ints) as a tuple of axes in 0..ndim-1."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for ax in axes:
        if type(ax) is not int:                  # NumPy integers, and anything else: the full check
            axes = tuple(check_int(name, ax) for ax in axes)
            break
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
    # Hint: out = a.data.sum(axis=axes, keepdims=keepdims); backward puts the summed axes back
    # (np.expand_dims, unless keepdims) and broadcasts g to a's shape (chapter 01, "API"; here, "Reductions").
    ### BEGIN SOLUTION
    out = a.data.sum(axis=axes, keepdims=keepdims)

    def backward(g):
        if not keepdims:
            g = np.expand_dims(g, axes)        # the summed axes back, with size 1
        return (np.broadcast_to(g, a.shape),)  # every summed element receives g
    ### END SOLUTION
    return Tensor.record(out, (a,), backward)


def reduce_mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over `axis`. Integer and bool input is promoted to float32 (PyTorch refuses it)."""
    check_tensor("mean", a)
    axes = _axes(axis, a.ndim)
    keepdims = check_bool("mean keepdims", keepdims)
    a = as_float(a)
    count = int(np.prod([a.shape[ax] for ax in axes])) if axes else 1
    out = a.data.mean(axis=axes, keepdims=keepdims)
    return Tensor.record(np.asarray(out), (a,),
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
    return Tensor.record(np.asarray(out), (a,), backward)


# %%
def test_unit_reductions():
    x = Tensor([[1.0, 5.0, 5.0], [2.0, 0.0, -1.0]], requires_grad=True)
    (x.sum(axis=0) * Tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.allclose(x.grad, [[1, 2, 3], [1, 2, 3]]) and x.grad.dtype == np.float32, "sum's gradient, in float32"
    x.grad = None
    x.max(axis=1).sum().backward()
    assert np.allclose(x.grad, [[0, 0.5, 0.5], [1, 0, 0]]), "tied maxima share the gradient"
    assert x.grad.dtype == np.float32
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
    return Tensor.record(out, (a,), lambda g: (g.reshape(a.shape),))


def permute(a: Tensor, axes: tuple) -> Tensor:
    check_tensor("permute", a)
    if type(axes) is tuple and axes == (1, 0) and a.data.ndim == 2:    # a transposed matrix: its own inverse
        inverse = axes
    else:
        axes = _axes(axes, a.data.ndim, "permute axes")
        if sorted(axes) != list(range(a.data.ndim)):
            raise ValueError(f"permute: axes must order all {a.ndim} axes of shape {a.shape}, got {axes}")
        inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
    return Tensor.record(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),))


def transpose(a: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes, like `torch.transpose(a, dim0, dim1)`."""
    check_tensor("transpose", a)
    dim0, dim1 = _axes((dim0, dim1), a.ndim, "transpose dim")
    return Tensor.record(np.swapaxes(a.data, dim0, dim1), (a,), lambda g: (np.swapaxes(g, dim0, dim1),))


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
    return Tensor.record(np.asarray(out), (a,), backward)


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
    return Tensor.record(out, tuple(tensors), lambda g: tuple(np.split(g, seams, axis=axis)))


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis, like `torch.stack`."""
    tensors = _lift_many("stack", tensors)
    axis = _axes(check_int("stack axis", axis), tensors[0].ndim + 1, "stack axis")[0]
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}")
    out = np.stack([t.data for t in tensors], axis=axis)
    n = len(tensors)
    return Tensor.record(out, tuple(tensors),
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
