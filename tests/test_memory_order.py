"""The reference's memory order on the fast path: `linear` computes the gradient of its input in that
input's order (core.kernels.input_gradient), so that ReLU's backward multiplies two arrays of one
order.

Not graded by `tito`: a learner who writes the plain `g @ W` in module 03 computes the same numbers,
only more slowly, so no module's tests may demand the order. This file checks the reference package.
"""
import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, linear, manual_seed
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(0)


def matrix(shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_linear_gives_the_gradient_of_its_input_in_the_inputs_order():
    w, b = Tensor(matrix((5, 3)), requires_grad=True), Tensor(matrix((5,)), requires_grad=True)
    for data in (matrix((4, 3)), np.asfortranarray(matrix((4, 3)))):
        x = Tensor(data, requires_grad=True)
        assert x.data.flags.f_contiguous == data.flags.f_contiguous
        g = matrix((4, 5))
        linear(x, w, b).backward(g)
        np.testing.assert_allclose(x.grad, g @ w.data, rtol=1e-5, atol=1e-5)
        assert x.grad.flags.c_contiguous == data.flags.c_contiguous


def test_a_hidden_layer_wider_than_the_batch_stays_in_one_order_forward_and_backward():
    manual_seed(0)
    first, second = Linear(6, 16), Linear(16, 3)
    x = Tensor(matrix((4, 6)))
    hidden = ReLU()(first(x))                        # batch 4 < width 16: affine's transposed route
    assert hidden.data.flags.f_contiguous and not hidden.data.flags.c_contiguous
    hidden = Tensor(hidden.data, requires_grad=True)
    out = second(hidden)
    g = matrix(out.shape)
    out.backward(g)
    assert hidden.grad.flags.f_contiguous             # the same order as the activation it belongs to
    np.testing.assert_allclose(hidden.grad, g @ second.weight.data, rtol=1e-5, atol=1e-5)
