"""White-box checks of the reference tinytorch.core.layers (ungraded: tito never runs them).

Identity and in-place guarantees of the reference (Dropout's identity returns the very tensor, loads
and zero_grad write into the existing arrays), the work Linear skips (no gradient is computed for an
input that needs none), the memory order of the weight's gradient, and the exact messages."""
import numpy as np
import pytest

from tinytorch.core.layers import Dropout, Linear, Sequential, linear, manual_seed
from tinytorch.core.tensor import Tensor


def test_dropout_identity_returns_the_same_tensor():
    x = Tensor(np.ones((4, 4)))
    assert Dropout(0.0)(x) is x
    drop = Dropout(0.3, seed=0)
    drop.eval()
    assert drop(x) is x
    ints = Tensor(np.full((3, 2), 3, dtype=np.int64))
    assert Dropout(0.25, seed=1).eval()(ints) is ints, "the identity, dtype included (as in PyTorch)"


def test_load_state_dict_copies_into_the_existing_arrays():
    model = Sequential(Linear(3, 2), Linear(2, 1))
    weight_array = model[0].weight.data
    model.load_state_dict({k: v + 1 for k, v in model.state_dict().items()})
    assert model[0].weight.data is weight_array, "references held elsewhere stay valid"


def test_module_zero_grad_zeros_in_place():
    layer = Linear(2, 2)
    layer(Tensor(np.ones((1, 2)))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad()
    assert layer.weight.grad is grad and not grad.any()


def test_linear_computes_no_gradient_for_an_input_that_needs_none():
    layer = Linear(4, 2)
    y = layer(Tensor(np.ones((3, 4))))
    product = y.parents[0]                     # x @ weight.T, before the bias is added
    assert product.grad_fn(np.ones((3, 2), np.float32))[0] is None


def test_the_weight_gradient_comes_in_the_weights_memory_order():
    """x @ W.T: W.T is an F-ordered view, and its gradient is computed in W's own (C) order, so adding
    it into W.grad walks both arrays the same way (module 01, "Matrix multiplication")."""
    manual_seed(0)
    layer = Linear(5, 3)
    layer(Tensor(np.random.default_rng(0).standard_normal((4, 5)))).sum().backward()
    assert layer.weight.grad.flags.c_contiguous


def test_exact_messages():
    manual_seed(0)
    layer = Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=4\) got input of shape \(2, 5\): "
                                         r"last dimension must be 4"):
        Linear(4, 2)(Tensor(np.ones((2, 5))))
    with pytest.raises(TypeError, match=r"Linear\(in_features=3, out_features=2\) got float64 input "
                                        r"but its weight is float32"):
        layer(Tensor(np.ones((1, 3)), dtype=np.float64))
    with pytest.raises(TypeError, match="linear got float64 input but its weight is float32"):
        linear(Tensor(np.ones((1, 3)), dtype=np.float64), layer.weight, layer.bias)
    with pytest.raises(ValueError, match=r"Dropout p must be <= 1.0, got 1.5"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="Sequential: layer 1 is a int"):
        Sequential(layer, 42)
    model = Sequential(Linear(4, 4), Dropout(0.5, seed=3))
    with pytest.raises(ValueError, match=r"expected generators \['layers.1.rng'\]"):
        model.set_random_state({"other.rng": model.random_state()["layers.1.rng"]})
