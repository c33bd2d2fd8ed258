# GENERATED FILE: DO NOT EDIT. Source: src/02_activations/02_activations.py
# Edit the source, then run `make export` to regenerate this file.

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
    data = x.data
    out = np.maximum(data, 0)

    def backward(g):
        return (g * (data > 0),)
    return Tensor.record(out, (x,), backward)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid `1 / (1 + exp(-x))`, computed without overflow for any input.

    >>> sigmoid(Tensor([-1000.0, 0.0, 1000.0]))
    Tensor([0. , 0.5, 1. ])
    """
    check_tensor("sigmoid", x)
    x = as_float(x)                          # integer and bool input becomes float32 (PyTorch too)
    # Hint: exponentiate only -|x|, take 1/(1+z) or z/(1+z) by sign; the slope is out * (1 - out)
    # (chapter 02, "Stability").
    data = x.data
    z = np.exp(-np.abs(data))               # in (0, 1]: never overflows
    numerator = np.where(data >= 0, 1, z).astype(data.dtype, copy=False)
    out = np.divide(numerator, 1 + z, out=numerator)

    def backward(g):
        return (g * out * (1 - out),)
    return Tensor.record(out, (x,), backward)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise.

    >>> tanh(Tensor([0.0, 1000.0]))
    Tensor([0., 1.])
    """
    check_tensor("tanh", x)
    x = as_float(x)
    # Hint: np.tanh is already stable; the slope is 1 - out**2 (chapter 02, "The curves, and the
    # slopes backward computes").
    out = np.tanh(x.data)

    def backward(g):
        return (g * (1 - out * out),)
    return Tensor.record(out, (x,), backward)


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
    return Tensor.record(out, (x,), backward)


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
    data = x.data
    e = np.exp(data - data.max(axis=axis, keepdims=True))
    out = np.divide(e, e.sum(axis=axis, keepdims=True), out=e)

    def backward(g):
        gs = g * out
        gs -= out * gs.sum(axis=axis, keepdims=True)
        return (gs,)
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
    data = x.data
    out = data - data.max(axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    return Tensor.record(out, (x,), backward)


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
