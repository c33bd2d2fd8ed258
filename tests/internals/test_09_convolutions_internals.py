"""White-box checks of module 09's reference (tinytorch.core.spatial), never graded: each layer is one
graph node, a backward rule does no work for a parent that needs no gradient, the exact messages of
the provided checks, and the hints above the solution blocks in src/. The graded behaviour is in
tests/test_09_convolutions.py."""
import numpy as np
import pytest

from tinytorch.core.layers import manual_seed
from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d, avg_pool2d, conv2d, max_pool2d
from tinytorch.core.tensor import Tensor


def test_each_layer_is_one_graph_node():
    manual_seed(0)
    conv = Conv2d(1, 2, 3)
    x = Tensor(np.ones((1, 1, 5, 5)), requires_grad=True)
    out = conv(x)
    assert out.parents == (x, conv.weight, conv.bias)
    assert max_pool2d(out, 2).parents == (out,) and avg_pool2d(out, 2).parents == (out,)


def test_no_gradient_work_for_an_input_that_needs_none():
    manual_seed(0)
    conv = Conv2d(1, 2, 3)
    grads = conv(Tensor(np.ones((2, 1, 5, 5)))).grad_fn(np.ones((2, 2, 3, 3), np.float32))
    assert grads[0] is None and grads[1] is not None


@pytest.mark.parametrize("call, kind, words", [
    (lambda: Conv2d(0, 4, 3), ValueError, ["Conv2d in_channels", "0"]),
    (lambda: Conv2d(3, 4.0, 3), TypeError, ["Conv2d out_channels", "4.0"]),
    (lambda: Conv2d(3, 4, 0), ValueError, ["Conv2d kernel_size", ">= 1"]),
    (lambda: Conv2d(3, 4, (3, 3, 3)), ValueError, ["Conv2d kernel_size", "pair"]),
    (lambda: Conv2d(3, 4, "3"), TypeError, ["Conv2d kernel_size", "'3'"]),
    (lambda: Conv2d(3, 4, 3, padding=-1), ValueError, ["Conv2d padding", ">= 0"]),
    (lambda: Conv2d(3, 4, 3, bias=1), TypeError, ["Conv2d bias", "True or False"]),
])
def test_constructor_messages_say_what_was_given_and_expected(call, kind, words):
    with pytest.raises(kind) as error:
        call()
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize("layer", [lambda: Conv2d(3, 4, 3), lambda: MaxPool2d(2), lambda: AvgPool2d(2)])
@pytest.mark.parametrize("shape", [(3, 8, 8), (8, 8), (1, 1, 3, 8, 8)])
def test_wrong_input_rank_message_names_the_expected_layout(layer, shape):
    module = layer()
    with pytest.raises(ValueError) as error:
        module(Tensor(np.zeros(shape)))
    message = str(error.value)
    assert type(module).__name__ in message and "(N, C, H, W)" in message and str(shape) in message
    if len(shape) == 3:
        assert "reshape(1, *x.shape)" in message, "a missing batch axis is named"


def test_input_messages():
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*expects 3 input channel\(s\).*\(2, 1, 8, 8\)"):
        conv(Tensor(np.zeros((2, 1, 8, 8))))
    with pytest.raises(ValueError, match="conv2d expects 3 input channel"):
        conv2d(Tensor(np.zeros((2, 1, 8, 8))), conv.weight)
    with pytest.raises(ValueError, match=r"kernel_size \(3, 3\) is larger than the padded input"):
        MaxPool2d(3)(Tensor(np.zeros((1, 1, 2, 5))))
    x = Tensor(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="conv2d weight must have shape"):
        conv2d(x, Tensor(np.zeros((2, 3, 3))))
    with pytest.raises(ValueError, match=r"conv2d bias must have shape \(2,\)"):
        conv2d(x, Tensor(np.zeros((2, 1, 3, 3))), Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="conv2d: expected a Tensor"):
        conv2d(np.zeros((1, 1, 4, 4)), Tensor(np.zeros((2, 1, 3, 3))))
    with pytest.raises(TypeError, match="conv2d got float64 input but its weight is float32"):
        Conv2d(1, 2, 3)(Tensor(np.zeros((1, 1, 4, 4)), dtype=np.float64))


@pytest.mark.parametrize("args, kind, words", [
    ((4,), ValueError, ["start_dim", "[-4, 3]", "4"]),
    ((0, -5), ValueError, ["end_dim", "-5"]),
    ((2, 1), ValueError, ["start_dim (2)", "end_dim (1)"]),
    ((1.0,), TypeError, ["start_dim", "1.0"]),
])
def test_tensor_flatten_messages_say_what_was_given(args, kind, words):
    with pytest.raises(kind) as error:
        Tensor(np.zeros((2, 3, 4, 5))).flatten(*args)
    for word in words:
        assert word in str(error.value), str(error.value)
