"""White-box checks of the reference tinytorch.core.activations (ungraded: tito never runs them).

The reference records each activation as one graph node, computes GELU in the sigmoid(2u) form so
its float32 slopes stay within 3e-7 of float64 (the plain 1 + tanh u form loses about 1e-6 near
x = -4; the graded tests accept that), and has exact reprs and messages."""
import numpy as np
import pytest

from tinytorch.core.activations import (GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, gelu, log_softmax,
                                        relu, sigmoid, softmax, tanh)
from tinytorch.core.tensor import Tensor


@pytest.mark.parametrize("fn", [relu, sigmoid, tanh, gelu, softmax, log_softmax])
def test_each_activation_is_one_graph_node(fn):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = fn(x)
    assert y.parents == (x,) and y.grad_fn is not None


@pytest.mark.parametrize("fn", [sigmoid, tanh, gelu])
def test_float32_gradients_are_within_a_few_ulps(fn):
    v = np.linspace(-8, 8, 4001)
    slopes = []
    for dtype in (np.float32, np.float64):
        x = Tensor(v, dtype=dtype, requires_grad=True)
        fn(x).backward(np.ones(v.shape, dtype))
        slopes.append(x.grad.astype(np.float64))
    assert np.abs(slopes[0] - slopes[1]).max() < 3e-7


def test_reprs_read_like_constructor_calls():
    layers = [ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax]
    assert [repr(c()) for c in layers] == ["ReLU()", "Sigmoid()", "Tanh()", "GELU(approximate='tanh')",
                                           "Softmax(axis=-1)", "LogSoftmax(axis=-1)"]
    assert repr(Softmax(axis=0)) == "Softmax(axis=0)"


@pytest.mark.parametrize("fn", [softmax, log_softmax])
@pytest.mark.parametrize("axis", [2, -3])
def test_axis_out_of_range_names_the_axis_and_the_shape(fn, axis):
    with pytest.raises(ValueError, match=rf"{fn.__name__}\(axis={axis}\) is out of range for a tensor of "
                                         r"shape \(2, 3\)"):
        fn(Tensor(np.ones((2, 3))), axis)


def test_non_tensor_input_names_the_function_and_the_expectation():
    with pytest.raises(TypeError, match="relu: expected a Tensor"):
        relu(np.ones(3))
    with pytest.raises(TypeError, match="Softmax axis must be an integer"):
        Softmax(axis=1.5)
