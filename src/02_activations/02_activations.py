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
# # Module 02: Activations
#
# A stack of linear layers is still one linear map: `W2 (W1 x) = (W2 W1) x`. What lets a network
# bend is the elementwise nonlinearity placed between the layers. This module builds the six that
# matter in practice: ReLU, Sigmoid, Tanh, GELU, and Softmax / LogSoftmax, which turn a row of
# scores into probabilities (or their logarithms).
#
# Each activation is **one operation**: a NumPy forward pass and, right beside it, the backward rule,
# recorded as a single graph node by `Tensor.record`. We could write `sigmoid` out of the `exp`, `+`
# and `/` of module 01, but that would record four nodes, allocate four intermediate arrays and, for
# large inputs, overflow. One fused node is faster and lets us choose a numerically stable formula.
#
# Design choices, each visible in the code below:
# - **float32 stays float32.** Every constant is a Python number, which NumPy casts to the array's
#   dtype. A NumPy float64 scalar (`np.sqrt(2 / np.pi)`, say) would silently promote whole arrays
#   to float64 and halve the speed.
# - **Stable formulas.** No activation overflows or warns for inputs of ±1000.
# - **Functions hold the math, classes wrap them.** `relu(x)` is the operation; `ReLU()` is a tiny
#   object with no parameters that calls it, so it can sit in a `Sequential` like any layer.

# %%
#| default_exp core.activations

# %% [markdown]
# ## ReLU
#
# $\mathrm{relu}(x) = \max(x, 0)$. Its derivative is 1 where $x > 0$ and 0 elsewhere (at exactly 0
# we take 0, as PyTorch does). So the backward rule lets the gradient through where the input was
# positive and blocks it elsewhere: `g * (x > 0)`. Multiplying a float32 array by a boolean mask
# gives float32; one pass over memory each way, which is as cheap as an operation can be.

# %%
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_float, check_tensor
from tinytorch.utils.validation import check_bool, check_int


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, `max(x, 0)`, elementwise.

    >>> relu(Tensor([-2.0, 0.0, 3.0]))
    Tensor([0., 0., 3.])
    """
    check_tensor("relu", x)
    if x.data.dtype.kind == "b":             # integers stay integers (PyTorch); bool has no order
        x = as_float(x)
    # Hint: forward np.maximum(x, 0); backward lets g through where x > 0 (chapter 02,
    # "The curves, and the slopes backward computes").
    ### BEGIN SOLUTION
    data = x.data
    out = np.maximum(data, 0)

    def backward(g):
        return (g * (data > 0),)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


# %%
def test_unit_relu():
    x = Tensor([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]], requires_grad=True)
    y = relu(x)
    assert np.array_equal(y.data, [[0, 0, 2], [3, 0, 0.5]]) and y.dtype == np.float32
    y.backward(np.full((2, 3), 2.0, dtype=np.float32))
    assert np.array_equal(x.grad, [[0, 0, 2], [2, 0, 2]]), "gradient flows only where x > 0"
    assert x.grad.dtype == np.float32
    print("relu: ok")


if __name__ == "__main__":
    test_unit_relu()

# %% [markdown]
# ## Sigmoid
#
# $\sigma(x) = 1 / (1 + e^{-x})$ squashes any number into $(0, 1)$. Written that way it overflows:
# for $x = -1000$, $e^{1000}$ is infinite and NumPy warns. The fix is to only ever exponentiate a
# non-positive number. With $z = e^{-|x|} \in (0, 1]$:
#
# $$\sigma(x) = \frac{1}{1 + z} \text{ if } x \ge 0, \qquad \sigma(x) = \frac{z}{1 + z} \text{ if } x < 0.$$
#
# Both branches share the same `exp`, so the stable version costs no more than the naive one.
# The derivative is expressed through the output, $\sigma'(x) = \sigma(x)(1 - \sigma(x))$, so the
# backward rule reuses the forward result instead of recomputing an exponential.

# %%
#| export
def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid `1 / (1 + exp(-x))`, computed without overflow for any input.

    >>> sigmoid(Tensor([-1000.0, 0.0, 1000.0]))
    Tensor([0. , 0.5, 1. ])
    """
    check_tensor("sigmoid", x)
    x = as_float(x)                          # integer and bool input becomes float32 (PyTorch too)
    # Hint: exponentiate only -|x|, take 1/(1+z) or z/(1+z) by sign; the slope is out * (1 - out)
    # (chapter 02, "Stability").
    ### BEGIN SOLUTION
    data = x.data
    z = np.exp(-np.abs(data))               # in (0, 1]: never overflows
    numerator = np.where(data >= 0, 1, z).astype(data.dtype, copy=False)
    out = np.divide(numerator, 1 + z, out=numerator)

    def backward(g):
        return (g * out * (1 - out),)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


# %% [markdown]
# ## Tanh
#
# $\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})$ is a sigmoid stretched to $(-1, 1)$ and centred on 0.
# `np.tanh` is already stable (it saturates to ±1 without overflow). Its derivative, again through
# the output: $\tanh'(x) = 1 - \tanh(x)^2$.

# %%
#| export
def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise.

    >>> tanh(Tensor([0.0, 1000.0]))
    Tensor([0., 1.])
    """
    check_tensor("tanh", x)
    x = as_float(x)
    # Hint: np.tanh is already stable; the slope is 1 - out**2 (chapter 02, "The curves, and the
    # slopes backward computes").
    ### BEGIN SOLUTION
    out = np.tanh(x.data)

    def backward(g):
        return (g * (1 - out * out),)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


# %%
def test_unit_sigmoid_tanh():
    x = Tensor([-1000.0, -2.0, 0.0, 2.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no NaN
        s = sigmoid(x)
    naive = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 2.0])))
    assert np.allclose(s.data[1:4], naive) and s.data[0] == 0 and s.data[4] == 1
    assert s.dtype == np.float32
    s.backward(np.ones(5, dtype=np.float32))
    assert np.allclose(x.grad, s.data * (1 - s.data))
    t = Tensor([-3.0, 0.5], requires_grad=True)
    y = tanh(t)
    y.backward(np.ones(2, dtype=np.float32))
    assert np.allclose(t.grad, 1 - np.tanh(t.data) ** 2)
    print("sigmoid, tanh: ok")


if __name__ == "__main__":
    test_unit_sigmoid_tanh()

# %% [markdown]
# ## GELU
#
# The Gaussian error linear unit weighs its input by the probability that a standard normal
# variable is below it: $\mathrm{gelu}(x) = x\,\Phi(x)$. It is a smooth ReLU (negative inputs are
# damped, not cut) and is the default in transformers.
#
# $\Phi$ needs the error function, which NumPy does not have. We use the **tanh approximation**
# from the GELU paper, which is what `torch.nn.functional.gelu(x, approximate="tanh")` computes:
#
# $$\mathrm{gelu}(x) \approx \tfrac12 x\,(1 + \tanh u), \qquad u = \sqrt{2/\pi}\,(x + 0.044715\,x^3).$$
#
# It differs from the exact $x\Phi(x)$ by less than about $10^{-3}$ everywhere.
#
# **Computing it accurately.** For $x$ around $-4$, $\tanh u$ is close to $-1$ and $1 + \tanh u$
# cancels: in float32 the derivative then loses about $10^{-6}$ to rounding. The identity
# $\tfrac12(1 + \tanh u) = \sigma(2u)$ avoids the subtraction, and with the stable sigmoid
# ($z = e^{-|2u|}$, as above) everything is a product of positive numbers:
#
# $$\mathrm{gelu}(x) = x\,s, \qquad
# \mathrm{gelu}'(x) = s + x \, \frac{z}{(1 + z)^2}\, 2\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2),
# \qquad s = \sigma(2u),$$
#
# using $\sigma(a)\,\sigma(-a) = z / (1 + z)^2$. The forward pass keeps $s$ and $z$ for the backward
# pass. `math.sqrt` gives a Python float; `np.sqrt` would give a NumPy float64 scalar and promote the
# whole computation to float64.

# %%
#| export
_GELU_C = math.sqrt(2.0 / math.pi)   # a Python float, so float32 arrays stay float32
_GELU_K = 0.044715


def gelu(x: Tensor) -> Tensor:
    """GELU, tanh approximation (PyTorch's `gelu(x, approximate="tanh")`).

    >>> gelu(Tensor([-1.0, 0.0, 1.0])).data.round(4)
    array([-0.1588,  0.    ,  0.8412], dtype=float32)
    """
    check_tensor("gelu", x)
    x = as_float(x)                          # PyTorch refuses integers here; we promote (DESIGN.md)
    # Hint: gelu(x) = x * s with s = sigmoid(2u) = (1 + tanh u) / 2, u = sqrt(2/pi) (x + 0.044715 x**3);
    # constants as Python floats (math.sqrt: np.sqrt would make float32 float64) (chapter 02, "GELU").
    ### BEGIN SOLUTION
    data = x.data
    x2 = data * data
    u2 = (2 * _GELU_C) * data * (1 + _GELU_K * x2)   # 2u
    z = np.exp(-np.abs(u2))
    denom = 1 + z
    s = np.where(u2 >= 0, 1, z).astype(data.dtype, copy=False)
    s /= denom                                        # sigma(2u) = (1 + tanh u) / 2
    out = data * s

    def backward(g):
        slope = data * (z / (denom * denom))          # x * sigma(2u) * sigma(-2u)
        slope *= (2 * _GELU_C) * (1 + (3 * _GELU_K) * x2)
        slope += s
        return (g * slope,)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


# %%
def test_unit_gelu():
    x = Tensor([-3.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    y = gelu(x)
    assert y.dtype == np.float32
    exact = np.array([math.erf(v / math.sqrt(2)) for v in x.data.tolist()])
    assert np.allclose(y.data, 0.5 * x.data * (1 + exact), atol=1e-3), "close to x * Phi(x)"
    y.backward(np.ones(5, dtype=np.float32))
    h = 1e-3                                  # central difference of the forward pass
    numeric = (gelu(Tensor(x.data + h)).data - gelu(Tensor(x.data - h)).data) / (2 * h)
    assert np.allclose(x.grad, numeric, atol=1e-3)
    print("gelu: ok")


if __name__ == "__main__":
    test_unit_gelu()

# %% [markdown]
# ## Softmax and LogSoftmax
#
# Softmax turns a vector of scores into probabilities along one axis:
# $\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$. A score of 1000 makes $e^{1000}$ overflow, so we
# use the fact that softmax does not change when the same number is subtracted from every score.
# Subtracting the maximum makes every exponent $\le 0$: no overflow, and the largest term is exactly
# $e^0 = 1$, so the sum is at least 1 and its logarithm is safe.
#
# LogSoftmax, $x_i - \log \sum_j e^{x_j}$, is computed the same way (the *log-sum-exp trick*) and
# never takes the logarithm of a probability that underflowed to 0: `log(softmax(x))` would return
# `-inf` where `log_softmax(x)` returns the correct large negative number.
#
# Backward rules, with $s$ the softmax output and $g$ the incoming gradient (sums along the axis):
#
# $$\frac{\partial L}{\partial x} = s \odot \Big(g - \sum_j g_j s_j\Big) \quad \text{(softmax)},
# \qquad \frac{\partial L}{\partial x} = g - s \sum_j g_j \quad \text{(log-softmax)}.$$
#
# Neither builds the $C \times C$ Jacobian: both are $O(C)$ per row. Cost of the forward pass: one
# `max`, one `exp` and one `sum` per row.

# %%
#| export
def _softmax_axis(name: str, x: Tensor, axis) -> int:
    """The axis as an int in range for `x`: TypeError when not an integer, ValueError when out of range."""
    axis = check_int(f"{name} axis", axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}(axis={axis!r}) is out of range for a tensor of shape {x.shape}")
    return axis


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Probabilities along `axis`: `exp(x) / exp(x).sum(axis)`, max-subtracted for stability.

    >>> softmax(Tensor([[1.0, 1.0], [0.0, 1000.0]]))
    Tensor([[0.5, 0.5],
            [0. , 1. ]])
    """
    check_tensor("softmax", x)
    axis = _softmax_axis("softmax", x, axis)
    x = as_float(x)
    # Hint: subtract the row maximum, exponentiate, divide by the sum; backward is
    # out * (g - sum(g * out)) along the axis, the sum with keepdims=True (chapter 02, "Stability").
    ### BEGIN SOLUTION
    data = x.data
    e = np.exp(data - data.max(axis=axis, keepdims=True))
    out = np.divide(e, e.sum(axis=axis, keepdims=True), out=e)

    def backward(g):
        gs = g * out
        gs -= out * gs.sum(axis=axis, keepdims=True)
        return (gs,)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Log-probabilities along `axis`: `x - log(exp(x).sum(axis))`, via the log-sum-exp trick.

    >>> log_softmax(Tensor([0.0, 0.0]))
    Tensor([-0.6931472, -0.6931472])
    """
    check_tensor("log_softmax", x)
    axis = _softmax_axis("log_softmax", x, axis)
    x = as_float(x)
    # Hint: x - max - log(sum(exp(x - max))), the log-sum-exp trick; backward is g - softmax * sum(g)
    # along the axis, the sum with keepdims=True (chapter 02, "Stability").
    ### BEGIN SOLUTION
    data = x.data
    out = data - data.max(axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    ### END SOLUTION
    return Tensor.record(out, (x,), backward)


# %%
def test_unit_softmax():
    x = Tensor([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(x)
        lp = log_softmax(x)
    assert np.allclose(p.data.sum(axis=1), 1) and p.dtype == np.float32
    assert np.allclose(p.data[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    assert np.isfinite(lp.data).all() and np.isclose(lp.data[1, 2], -2000.0), "no log(0) = -inf"
    # the probabilities always sum to 1, so the gradient of their sum is zero
    p.backward(np.ones((2, 3), dtype=np.float32))
    assert np.allclose(x.grad, 0, atol=1e-6)
    x.grad = None
    lp.backward(np.array([[1, 0, 0], [0, 0, 0]], dtype=np.float32))
    assert np.allclose(x.grad[0], [1, 0, 0] - p.data[0])
    try:
        softmax(x, axis=2)
        raise AssertionError("axis 2 of a 2-D tensor must raise")
    except ValueError as e:
        assert "axis" in str(e), "the message names the argument"
    print("softmax, log_softmax: ok")


if __name__ == "__main__":
    test_unit_softmax()

# %% [markdown]
# ## Activation objects
#
# Models are written as lists of layers, `Sequential([Linear(784, 128), ReLU(), ...])`, so each
# activation also exists as a small class. It has no parameters and no state beyond its axis; calling
# it calls the function above. It is deliberately *not* a subclass of `Module` (that base class comes
# in module 03), but it answers the questions a container asks of a layer: `parameters()` is an empty
# list, `train()` / `eval()` are accepted, and `repr()` reads like the constructor call.

# %%
#| export
class _Activation:
    """Shared behaviour of the parameter-free activation objects."""

    training = True

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def parameters(self) -> list:
        """An activation has no parameters: always `[]`."""
        return []

    def train(self, mode: bool = True):
        self.training = check_bool(f"{type(self).__name__}.train mode", mode)
        return self

    def eval(self):
        return self.train(False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    """`relu` as a layer.

    >>> ReLU()(Tensor([-1.0, 2.0]))
    Tensor([0., 2.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class Sigmoid(_Activation):
    """`sigmoid` as a layer.

    >>> Sigmoid()(Tensor([0.0]))
    Tensor([0.5])
    """

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class Tanh(_Activation):
    """`tanh` as a layer.

    >>> Tanh()(Tensor([0.0]))
    Tensor([0.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return tanh(x)


class GELU(_Activation):
    """`gelu` (tanh approximation) as a layer.

    >>> GELU()
    GELU(approximate='tanh')
    """

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x)

    def __repr__(self) -> str:
        return "GELU(approximate='tanh')"


class Softmax(_Activation):
    """`softmax` along `axis` as a layer.

    >>> Softmax(axis=0)
    Softmax(axis=0)
    >>> Softmax()(Tensor([0.0, 0.0]))
    Tensor([0.5, 0.5])
    """

    def __init__(self, axis: int = -1):
        self.axis = check_int(f"{type(self).__name__} axis", axis)

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.axis)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis})"


class LogSoftmax(Softmax):
    """`log_softmax` along `axis` as a layer.

    >>> LogSoftmax()
    LogSoftmax(axis=-1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return log_softmax(x, self.axis)


# %%
def test_unit_activation_objects():
    x = Tensor([[-1.0, 0.5], [2.0, -3.0]])
    pairs = [(ReLU(), relu), (Sigmoid(), sigmoid), (Tanh(), tanh), (GELU(), gelu),
             (Softmax(), softmax), (LogSoftmax(), log_softmax)]
    for layer, fn in pairs:
        assert np.array_equal(layer(x).data, fn(x).data)
        assert np.array_equal(layer.forward(x).data, fn(x).data)
        assert layer.parameters() == []
    assert np.allclose(Softmax(axis=0)(x).data.sum(axis=0), 1)
    assert "ReLU" in repr(ReLU()) and "LogSoftmax" in repr(LogSoftmax(axis=1))
    assert ReLU().eval().training is False
    print("activation objects: ok")


if __name__ == "__main__":
    test_unit_activation_objects()
