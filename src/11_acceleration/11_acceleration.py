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
# # Module 11: Acceleration
#
# Modules 01-10 built a framework that runs exactly the code the chapters teach: every layer is a
# few Tensor operations, every gradient goes through the engine you wrote, the optimizer loops over
# its parameters one at a time. That framework is correct, and chapter 12 times it against
# PyTorch on one CPU core and against the same arithmetic written out by hand in NumPy, which it
# does not match. This module finds out why and closes most of the gap.
#
# Profiling a training step of the plain framework (the chapter does it, with numbers from the
# machine that built it) shows three kinds of cost that the arithmetic itself does not need:
#
# 1. **Calls.** NumPy charges a fixed cost to start every call, however small (chapter 12 measures
#    it). An optimizer that updates six parameters one at a time makes four calls for each (SGD
#    with momentum). Arrays laid end to end in one buffer take one call per operation for all
#    of them.
# 2. **Routes through BLAS.** The same product or reduction can be computed several ways, and they
#    do not cost the same: `x @ w.T` for a batch smaller than the layer's width runs faster as
#    `(w @ x.T).T`; a sum over 64 short rows is faster as a matrix-vector product with a vector of
#    ones than as `a.sum(axis=0)`.
# 3. **Memory order.** NumPy multiplies two arrays laid out the same way much faster than one laid
#    out by rows by one laid out by columns. Keeping each gradient in its input's layout keeps every
#    elementwise rule on the fast path, and a weight stored column by column makes a layer's
#    product `x @ w.T` the plain row-by-row product BLAS runs fastest.
#
# Each fast path here is **opt-in** and has a plain twin that computes the same numbers:
#
# | fast path | plain twin | switched on by |
# |---|---|---|
# | kernels (`core/kernels.py`) | `a.sum(axis=0)`, `x @ w.T + b`, ... | the fused layers below |
# | `FusedLinear`: one graph node (with `relu=True`, the `ReLU` after it too) | `Linear`: `x @ W.T + b`, three nodes, then `ReLU` | `accelerate(model)` |
# | `FusedCrossEntropyLoss`: kernels for the row maximum and sums | `CrossEntropyLoss` | `accelerate(..., loss_fn)` |
# | parameters end to end (`core/flat.py`), the optimizer's rule called once | `Optimizer.step`'s loop | `accelerate(model, optimizer)`, or `SGD(..., foreach=True)` |
#
# `model, optimizer, loss_fn = accelerate(model, optimizer, loss_fn)` switches everything on. The
# optimizer's rule is still *your* `update` from module 07: it runs once on all parameters at once
# instead of once per parameter, and gives every number exactly what your loop gives it.

# %%
#| default_exp core.acceleration

# %% [markdown]
# ## Kernels: the faster route to the same numbers
#
# Six computations every training step makes, each by its faster route:
#
# - `column_sums(a)` is `a.sum(axis=0)`, the bias gradient, computed as `ones @ a`: one BLAS call
#   (`sgemv`) instead of NumPy's reduction loop, which pays a cost per row;
# - `row_max(a)` is `a.max(axis=1)`, computed as an argmax and a gather;
# - `affine(x, w, b)` is `x @ w.T + b`. For a weight stored column by column (F order: `w.T` is
#   then an ordinary row-by-row matrix, which is how `accelerate` stores a fused layer's weight
#   whose gradient the one-call update below holds) it is exactly that product, the quickest of
#   all. For a weight stored by rows and a batch smaller
#   than the layer's width it is computed as `(w @ x.T).T`, which OpenBLAS runs faster for such
#   shapes, and handed out as it comes: a transposed (F-ordered) view, the bias added down its
#   columns;
# - `weight_gradient(g, x, w)` is `g.T @ x`, the gradient of a layer's weight, computed in the
#   memory order of `w` (as `(x.T @ g).T` for an F-ordered weight), so that adding it into
#   `w.grad` and the optimizer's rule read arrays of one order;
# - `input_gradient(g, w, x)` is `g @ w`, the gradient of a layer's input, computed in the memory
#   order of `x`, so that the elementwise rule that produced `x` (ReLU's `g * (x > 0)`) multiplies
#   two arrays of one order;
# - `row_sums(a)` is `a.sum(axis=1)`, as `a @ ones`.
#
# Below 32 rows NumPy's own reductions are as fast, and are used. Sums by another route may differ
# from the plain ones in the last bit (the additions happen in another order); the products are the
# same BLAS arithmetic. Each kernel checks that it got float matrices (`_check_matrix`, one test each).

# %%
#| export core.kernels
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
    ### BEGIN SOLUTION
    return ones(a.shape[0], a.dtype) @ a
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    return a[np.arange(a.shape[0]), a.argmax(axis=1)]
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    product = w @ x.T
    if b is not None:
        product += b[:, None]
    return product.T
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if x.flags.f_contiguous and not x.flags.c_contiguous:
        return (w.T @ g.T).T
    return g @ w
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if w.flags.f_contiguous and not w.flags.c_contiguous:
        return (x.T @ g).T
    return g.T @ x
    ### END SOLUTION


# %%
def test_unit_kernels():
    rng = np.random.default_rng(0)
    for shape in [(5, 3), (64, 10), (40, 3)]:        # below and above FEW_ROWS
        a = rng.standard_normal(shape).astype(np.float32)
        assert np.allclose(column_sums(a), a.sum(axis=0), atol=1e-5)
        assert np.allclose(row_sums(a), a.sum(axis=1), atol=1e-5)
        assert np.array_equal(row_max(a), a.max(axis=1))
        for kernel in (column_sums, row_sums, row_max):       # float32 in, float32 out
            assert kernel(a).dtype == np.float32, f"{kernel.__name__} returned {kernel(a).dtype}"
    for n in (2, 5, 9):                              # the batch below and above the width
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, 4), (5, 4), (5,)))
        out = affine(x, w, b)
        assert np.allclose(out, x @ w.T + b, atol=1e-5) and out.dtype == np.float32
        assert np.allclose(affine(x, w), x @ w.T, atol=1e-5)
    g, w = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    for x in (np.empty((6, 3), np.float32), np.empty((3, 6), np.float32).T):     # C, then F
        grad = input_gradient(g, w, x)
        assert grad.flags.f_contiguous == x.flags.f_contiguous and np.allclose(grad, g @ w, atol=1e-5)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    for w in (w, np.asfortranarray(w)):                                          # C, then F
        grad = weight_gradient(g, x, w)
        assert grad.flags.f_contiguous == w.flags.f_contiguous and np.allclose(grad, g.T @ x, atol=1e-5)
        assert np.allclose(affine(x, w), x @ w.T, atol=1e-5)
    print("kernels: ok")


if __name__ == "__main__":
    test_unit_kernels()

# %% [markdown]
# ## One node for a layer: `FusedLinear`
#
# Module 03's `Linear` is three nodes (transpose, product, addition), and its backward runs three
# rules that each allocate. One node does the same with less: the forward is `affine`, and the
# backward rule, written beside it, is the three products of module 03's "The cost" section, each by
# its kernel:
#
# - `grad_x = input_gradient(g, W, x)` (only when the input needs a gradient),
# - `grad_W = weight_gradient(g, x, W)` (`g.T @ x` in the weight's memory order),
# - `grad_b = column_sums(g)`.
#
# `FusedLinear(layer)` shares the `weight` and `bias` tensors of the `Linear` it replaces: the
# parameters, their names, the optimizer's references to them and a checkpoint's keys do not
# change. Input checks are `Linear`'s own.
#
# A `Linear` followed by a `ReLU` can be one node too (`relu=True`): the forward takes the maximum
# with 0 in place, in the array `affine` just made, and the backward first keeps `g` where the
# output is positive, which is exactly what module 02's `relu` node would pass back. One node and
# two arrays fewer per layer, the same numbers bit for bit.

# %%
#| export
import math

import numpy as np

from tinytorch.core import activations
from tinytorch.core.activations import ReLU
from tinytorch.core.flat import end_to_end, lay_end_to_end, memory_order
from tinytorch.core.kernels import affine, column_sums, input_gradient, row_max, row_sums, weight_gradient
from tinytorch.core.layers import Linear, Module, Sequential, check_linear_arguments, linear
from tinytorch.core.losses import CrossEntropyLoss, checked_predictions, class_labels, cross_entropy, target_array
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor
from tinytorch.utils.joined_state import joined_state, zero_joined
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["FusedLinear", "fused_linear", "Identity", "FusedCrossEntropyLoss", "fused_cross_entropy",
           "update_all_at_once", "zero_all_at_once", "accelerate", "MAX_END_TO_END_BYTES"]


def fused_linear(x: Tensor, weight: Tensor, bias: Tensor = None, relu: bool = False) -> Tensor:
    """`x @ weight.T + bias` (with `relu=True`, its ReLU) for a 2-D `x` of the weight's dtype as one
    graph node, by the kernels' routes (other inputs, such as a batch of sequences or integers, go
    through module 03's `linear` and module 02's `relu`)."""
    check_linear_arguments(x, weight, bias)
    relu = check_bool("fused_linear relu", relu)
    if x.data.ndim != 2 or x.data.dtype != weight.data.dtype:
        out = linear(x, weight, bias)
        return activations.relu(out) if relu else out
    # Hint: out = affine(x.data, w, b), with relu np.maximum(out, 0, out=out); backward (with relu,
    # first g = g * (out > 0)) returns one per parent: input_gradient(g, w, x.data) (None when x needs
    # none), weight_gradient(g, x.data, w), and with a bias column_sums(g) (chapter 12, "FusedLinear").
    ### BEGIN SOLUTION
    w = weight.data
    out = affine(x.data, w, None if bias is None else bias.data)
    if relu:
        np.maximum(out, 0, out=out)

    def backward(g):
        if relu:
            g = g * (out > 0)
        grad_x = input_gradient(g, w, x.data) if x.requires_grad else None
        grad_w = weight_gradient(g, x.data, w) if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        return grad_x, grad_w, column_sums(g) if bias.requires_grad else None
    ### END SOLUTION
    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.record(out, parents, backward)


class FusedLinear(Linear):
    """A `Linear` (with `relu=True`, a `Linear` and the `ReLU` after it) computed as one graph node
    (`fused_linear`), sharing the replaced layer's parameters. `Linear`'s checks of the input stay."""

    def __init__(self, layer: Linear, relu: bool = False):
        if not isinstance(layer, Linear):
            raise TypeError(f"FusedLinear layer must be a Linear, got {describe(layer)}")
        relu = check_bool("FusedLinear relu", relu)
        Module.__init__(self)
        self.in_features, self.out_features = layer.in_features, layer.out_features
        self.weight, self.bias = layer.weight, layer.bias      # the same tensors: nothing else changes
        self.relu = relu
        self.training = layer.training

    def forward(self, x) -> Tensor:
        return fused_linear(self.checked_input(x), self.weight, self.bias, relu=self.relu)

    def __repr__(self) -> str:
        text = "Fused" + super().__repr__()
        return text[:-1] + ", relu=True)" if self.relu else text


class Identity(Module):
    """Returns its input: what `accelerate` leaves where a `ReLU` was applied by the `FusedLinear`
    before it, so that a list of layers keeps its positions and a checkpoint its keys (PyTorch's
    `fuse_modules` leaves an `nn.Identity` the same way)."""

    def forward(self, x):
        return x

    def __repr__(self) -> str:
        return "Identity()"


# %%
def test_unit_fused_linear():
    from tinytorch.core.layers import manual_seed
    manual_seed(0)
    plain = Linear(5, 7)
    fused = FusedLinear(plain)
    assert fused.weight is plain.weight and [n for n, _ in fused.named_parameters()] == ["weight", "bias"]
    for batch in (3, 9):                     # below and above the layer's width
        rng = np.random.default_rng(batch)
        x_data, g = rng.standard_normal((batch, 5)).astype(np.float32), rng.standard_normal((batch, 7)).astype(np.float32)
        grads = []
        for layer in (plain, fused):
            x = Tensor(x_data, requires_grad=True)
            layer.weight.grad = layer.bias.grad = None
            out = layer(x)
            out.backward(g)
            grads.append((out.data.copy(), x.grad, layer.weight.grad.copy(), layer.bias.grad.copy()))
        for expected, got in zip(*grads):      # what: output, x.grad, weight.grad, bias.grad
            assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
    # With relu=True: exactly the fused layer followed by module 02's ReLU, forward and backward.
    x_data, g = np.linspace(-1, 1, 15, dtype=np.float32).reshape(3, 5), np.ones((3, 7), np.float32)
    results = []
    for relu_inside in (False, True):
        x = Tensor(x_data, requires_grad=True)
        plain.weight.grad = plain.bias.grad = None
        out = FusedLinear(plain, relu=relu_inside)(x)
        out = out if relu_inside else ReLU()(out)
        out.backward(g)
        results.append((out.data.copy(), x.grad, plain.weight.grad.copy(), plain.bias.grad.copy()))
    for got, expected in zip(*results):
        assert np.array_equal(got, expected)
    # Without a bias the node has two parents: backward returns one gradient for each.
    out = fused_linear(Tensor(x_data, requires_grad=True), plain.weight)
    assert len(out.grad_fn(g)) == len(out.parents)
    print("FusedLinear: ok")


if __name__ == "__main__":
    test_unit_fused_linear()

# %% [markdown]
# ## Cross-entropy by the kernels' routes
#
# Module 04's cross-entropy turns class labels into one-hot rows and uses one formula for both kinds
# of target. For labels, picking each row's entry by index is cheaper than multiplying by a one-hot
# matrix, and the row maximum and the row sums of $e^x$ have kernels. The gradient is the same
# `(softmax - onehot) / N`.

# %%
#| export
def fused_cross_entropy(logits: Tensor, target) -> Tensor:
    """Module 04's `cross_entropy` (same checks, same numbers up to rounding), with class labels
    picked by index and the row maximum and sums by the kernels; probability targets use module 04's."""
    name = "cross_entropy"
    logits = checked_predictions(name, logits)
    t = target_array(name, target)
    if logits.ndim != 2 or t.ndim != 1:
        return cross_entropy(logits, target)
    labels = class_labels(name, t, logits)
    x = logits.data
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - row_max(x)[:, None]
    e = np.exp(shifted)
    sums = row_sums(e)
    loss = (np.log(sums) - shifted[rows, labels]).sum() / n

    def backward(g):
        grad_x = e / sums[:, None]
        grad_x[rows, labels] -= 1
        grad_x *= g / n
        return (grad_x,)
    return Tensor.record(np.asarray(loss, dtype=x.dtype), (logits,), backward)


class FusedCrossEntropyLoss(CrossEntropyLoss):
    """`CrossEntropyLoss` by `fused_cross_entropy`."""

    def forward(self, logits: Tensor, target) -> Tensor:
        return fused_cross_entropy(logits, target)


# %%
def test_unit_fused_cross_entropy():
    rng = np.random.default_rng(0)
    for n in (4, 64):
        data, labels = rng.standard_normal((n, 10)).astype(np.float32), rng.integers(0, 10, n)
        values = []
        for loss_fn in (cross_entropy, fused_cross_entropy):
            x = Tensor(data, requires_grad=True)
            loss = loss_fn(x, labels)
            loss.backward()
            values.append((loss.item(), x.grad))
        (loss, grad), (your_loss, your_grad) = values
        assert np.isclose(your_loss, loss, rtol=1e-6) and np.allclose(your_grad, grad, atol=1e-7)
    print("fused cross-entropy: ok")


if __name__ == "__main__":
    test_unit_fused_cross_entropy()

# %% [markdown]
# ## Arrays laid end to end
#
# The rules of `SGD`, `Adam` and `AdamW` are elementwise: every number of a parameter is updated from the same numbers
# of its gradient and its state, and nothing else. So when the parameters are consecutive pieces of
# one buffer, one call of the rule on the whole buffer gives every number exactly the value that one
# call per parameter gives it, in one NumPy call per operation instead of one per operation *and*
# parameter. `lay_end_to_end(arrays)` copies arrays into one new buffer and returns views of it
# (each of its array's shape and memory order), `end_to_end(arrays)` tells whether arrays already
# lie that way and returns the 1-D view they cover, and `split_into(buffer, shapes, orders)` cuts a
# buffer into views, each laid out by rows ("C") or by columns ("F"). A piece's order only decides
# which of its numbers sits where in the buffer; the rule is elementwise, so it does not care, as
# long as the values, the gradients and the state of one parameter are laid out alike.

# %%
#| export core.flat
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
    ### BEGIN SOLUTION
    views, start = [], 0
    for shape, size, order in zip(shapes, sizes, orders):
        views.append(buffer[start:start + size].reshape(shape, order=order))
        start += size
    return views
    ### END SOLUTION


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


# %%
def test_unit_flat():
    buffer = np.arange(7, dtype=np.float32)
    f, c = split_into(buffer, [(2, 2), (3,)], ["F", "C"])
    assert np.array_equal(f, [[0, 2], [1, 3]]) and f.flags.f_contiguous, "split_into: the F piece"
    assert np.array_equal(c, [4, 5, 6]) and np.shares_memory(c, buffer), "split_into: a view of the buffer"
    a, b = np.arange(4, dtype=np.float32).reshape(2, 2), np.arange(3, dtype=np.float32)
    va, vb = lay_end_to_end([a, b])
    assert np.array_equal(va, a) and np.array_equal(vb, b) and not np.shares_memory(va, a)
    run = end_to_end([va, vb])
    run *= 2                                   # one call changes both arrays
    assert np.array_equal(va, 2 * a) and np.array_equal(vb, 2 * b)
    assert end_to_end([vb, va]) is None        # out of order
    assert end_to_end([a, b]) is None          # separate buffers
    fa, fb = lay_end_to_end([a, b], orders=["F", "C"])
    assert np.array_equal(fa, a) and fa.flags.f_contiguous and end_to_end([fa, fb]) is not None
    print("flat: ok")


if __name__ == "__main__":
    test_unit_flat()

# %% [markdown]
# ## One update for all parameters
#
# `update_all_at_once(optimizer, lr)` is what `Optimizer.step` hands its work to when the optimizer
# was made with `foreach=True` (PyTorch's name for the same idea) or by `accelerate`. It applies
# when every parameter has a gradient and their values lie end to end (`accelerate` lays them out):
#
# 1. the gradients are made to lie end to end too: each `.grad` becomes a view of one buffer
#    (copied in once; after that your engine's `+=` and your `zero_grad`'s fill write into the
#    views, and nothing is copied again unless some code replaces a `.grad`: an engine that
#    accumulates with `p.grad = p.grad + g` is just as correct, but it replaces every `.grad` at
#    every step, so each step copies all the gradients back in);
# 2. the state is joined the same way: one dict whose arrays are 1-D buffers, each parameter's own
#    state entry a view of its piece, counters (Adam's `step`) equal for all;
# 3. your rule runs **once**, on `joined.values`, `joined.grad` and `joined.state` (all values, all
#    gradients and the joined state);
# 4. afterwards the state is shared back: an array your rule created or replaced
#    (`state["exp_avg"] = b1 * state["exp_avg"] + ...` is as good as `m *= b1`) is copied into the
#    joined buffer, so `optimizer.state` and `state_dict()` always show the current values.
#
# Otherwise (a parameter without a gradient, values that do not lie end to end, parameters whose
# state differs in kind, more than `MAX_END_TO_END_BYTES` of them, an optimizer other than `SGD`,
# `Adam` and `AdamW` themselves: a subclass may bring a rule that is not elementwise, such as one
# dividing by the gradient's norm, which one call on all parameters would change) it returns False
# and `step` runs its loop.
# Above about a megabyte one call per parameter is as fast (its arrays stay in the cache), so large
# networks keep the loop. Steps 1, 2 and 4 are bookkeeping, provided for you
# (`tinytorch/utils/joined_state.py`: `joined_state(optimizer, max_bytes)` hands back the joined
# arrays, or None when the one-call update does not apply, and `joined.share_state(entries)`, run
# after your call, is step 4); step 3 is yours.

# %%
#| export
MAX_END_TO_END_BYTES = 1 << 20


def update_all_at_once(optimizer: Optimizer, lr: float) -> bool:
    """One call of `optimizer.update` on all parameters at once (see above); False, having changed
    nothing, when that does not apply."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"update_all_at_once optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    if type(lr) is not float or not 0.0 <= lr < math.inf:      # a quick pass for the usual float
        lr = check_number("update_all_at_once lr", lr, minimum=0.0)
    entries = optimizer.state                  # each parameter's own state dict
    joined = joined_state(optimizer, MAX_END_TO_END_BYTES)     # provided: None when it does not apply
    if joined is None:
        return False
    # Hint: run optimizer.update once, on all values (joined.values), all gradients (joined.grad)
    # and the joined state (joined.state) (chapter 12, "One update for all parameters").
    ### BEGIN SOLUTION
    optimizer.update(joined.values, joined.grad, joined.state, lr)
    ### END SOLUTION
    joined.share_state(entries)                # provided: step 4, the state shared back
    return True


def zero_all_at_once(optimizer: Optimizer) -> bool:
    """`optimizer.zero_grad()` with one call when its gradients lie end to end (the one-call update
    laid them out); False, having changed nothing, otherwise."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"zero_all_at_once optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    return zero_joined(optimizer)


# %% [markdown]
# ## One call switches it on: `accelerate`
#
# `accelerate(model, optimizer=None, loss_fn=None)` returns the three, accelerated:
# - in the model (a `Module`, or any object holding layers as attributes or in lists), every
#   `Linear` is replaced by a `FusedLinear` sharing its parameters (in a `Sequential`, which runs
#   its layers in their order, a `Linear` followed by a `ReLU` by one `FusedLinear(layer,
#   relu=True)`, an `Identity` taking the `ReLU`'s place; layers in any other list or attribute may
#   run in any order, so they are not paired),
#   and the parameters' values are laid end to end (each `.data` becomes a view of one buffer, the
#   values unchanged: an array taken from a parameter before this call keeps the old copy); when
#   an optimizer is given and the parameters fit in `MAX_END_TO_END_BYTES`, each fused layer's
#   weight is stored column by column (F order), so that its product `x @ w.T` reads it as an
#   ordinary row-by-row matrix, and the one-call update lays its gradient and state out the same
#   way (without it, gradients are your engine's copies, laid out by rows, and a weight by rows
#   keeps every addition into them in one order);
# - the optimizer is switched to `foreach=True`;
# - a `CrossEntropyLoss` becomes a `FusedCrossEntropyLoss` (any other loss is returned as it is).
#
# Nothing else changes: parameter names, `state_dict` keys, the optimizer's hyperparameters and
# state, and your code that runs them. A run with acceleration gives the same numbers as without,
# up to the rounding of sums taken in another order (the optimizer's updates are bit for bit the
# same for the same gradients).

# %%
#| export
def _fusions(owner, seen: set) -> list:
    """What fusing changes below `owner` (its attributes, and lists of them), nothing changed yet:
    (holder, key, new layer) for every Linear, a FusedLinear sharing its parameters. Only in a
    Sequential's list, which runs its layers in that order, a Linear followed by a ReLU becomes one
    FusedLinear with relu=True and the ReLU an Identity; any other list or attribute may be run in
    any order (a residual block, a layer also named elsewhere): no pairs. Each object is visited
    once, so a model that refers back to itself is no endless walk."""
    if id(owner) in seen:
        return []
    seen.add(id(owner))
    in_order = isinstance(owner, Sequential) and type(owner).forward is Sequential.forward
    plan = []
    for name, value in list(vars(owner).items()):
        if type(value) is Linear:
            plan.append((owner, name, FusedLinear(value)))
        elif isinstance(value, list) and id(value) not in seen:
            seen.add(id(value))
            for index, item in enumerate(value):
                if type(item) is Linear:
                    then_relu = in_order and index + 1 < len(value) and type(value[index + 1]) is ReLU
                    plan.append((value, index, FusedLinear(item, relu=then_relu)))
                    if then_relu:
                        plan.append((value, index + 1, Identity()))
                elif hasattr(item, "__dict__") and not isinstance(item, (Tensor, np.ndarray, type)):
                    plan += _fusions(item, seen)
        elif isinstance(value, Module):
            plan += _fusions(value, seen)
    return plan


def accelerate(model, optimizer=None, loss_fn=None) -> tuple:
    """`(model, optimizer, loss_fn)` with the fast paths switched on (see the chapter); `optimizer`
    and `loss_fn` may be None and are then returned as None.

    >>> from tinytorch.core.layers import Sequential, manual_seed
    >>> manual_seed(0)
    >>> model, optimizer, loss_fn = accelerate(Sequential(Linear(4, 3)), None, CrossEntropyLoss())
    >>> model
    Sequential(
      (0): FusedLinear(in_features=4, out_features=3, bias=True)
    )
    """
    if isinstance(model, type) or not callable(getattr(model, "parameters", None)) or not hasattr(model, "__dict__"):
        raise TypeError(f"accelerate model must have a parameters() method (a Module or a model "
                        f"object), got {describe(model)}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"accelerate optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    if loss_fn is not None and (isinstance(loss_fn, type) or not callable(loss_fn)):
        raise TypeError(f"accelerate loss_fn must be a loss (a callable such as CrossEntropyLoss()) or "
                        f"None, got {describe(loss_fn)}")
    params = model.parameters()
    if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise TypeError(f"accelerate model.parameters() must return Tensors, got {describe(params)}")
    params = list(params)
    if not all(isinstance(p, Tensor) for p in params):
        raise TypeError("accelerate model.parameters() must return Tensors")
    plan = _fusions(model, set())            # all checks and the whole plan first: then the changes
    for holder, key, layer in plan:
        if isinstance(holder, list):
            holder[key] = layer
        else:
            setattr(holder, key, layer)
    fused = [layer for _, _, layer in plan if isinstance(layer, FusedLinear)]
    if params and len({p.data.dtype for p in params}) == 1 and end_to_end([p.data for p in params]) is None:
        # Weights by columns only where the one-call update will hold their gradients (laid out like
        # the values): a gradient your engine creates is a copy laid out by rows, and adding a
        # by-columns gradient into it every step would cost more than the product saves.
        joined = optimizer is not None and sum(p.data.nbytes for p in params) <= MAX_END_TO_END_BYTES
        by_columns = {id(layer.weight) for layer in fused} if joined else set()
        orders = ["F" if id(p) in by_columns else memory_order(p.data) for p in params]
        for param, view in zip(params, lay_end_to_end([p.data for p in params], orders)):
            param.data = view
    if optimizer is not None:
        optimizer.foreach = True
    if type(loss_fn) is CrossEntropyLoss:
        loss_fn = FusedCrossEntropyLoss()
    return model, optimizer, loss_fn


# %%
def test_unit_update_all_at_once():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Sequential, manual_seed
    from tinytorch.core.losses import cross_entropy
    from tinytorch.core.optimizers import SGD, AdamW

    def run(foreach, make):
        manual_seed(0)
        model = Sequential(Linear(6, 8), ReLU(), Linear(8, 5))
        if foreach:
            accelerate(model)
        optimizer = make(model.parameters(), foreach)
        rng = np.random.default_rng(1)
        for _ in range(4):
            optimizer.zero_grad()
            cross_entropy(model(Tensor(rng.standard_normal((16, 6)))), rng.integers(0, 5, 16)).backward()
            if foreach:       # your function above, called as step() calls it
                assert update_all_at_once(optimizer, optimizer.lr), "update_all_at_once applies here"
            else:
                optimizer.step()
        return model, optimizer

    for make in (lambda ps, f: SGD(ps, lr=0.1, momentum=0.9, foreach=f),
                 lambda ps, f: AdamW(ps, lr=0.01, foreach=f)):
        (plain, opt_p), (fast, opt_f) = run(False, make), run(True, make)
        key = "momentum_buffer" if isinstance(opt_f, SGD) else "exp_avg"
        assert end_to_end([entry[key] for entry in opt_f.state]) is not None, "one call: the state lies end to end"
        for a, b in zip(plain.parameters(), fast.parameters()):
            assert np.allclose(b.data, a.data, rtol=1e-5, atol=1e-6)
        for sa, sb in zip(opt_p.state_dict()["state"], opt_f.state_dict()["state"]):
            assert sa.keys() == sb.keys()
    print("update_all_at_once: ok")


if __name__ == "__main__":
    test_unit_update_all_at_once()
