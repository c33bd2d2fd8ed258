"""Module 11's fast paths are taken when they apply, and left when they do not (white-box: reads the
layout of arrays in memory and which optimizers the provided bookkeeping has joined)."""
import numpy as np
import pytest

from tinytorch.core import acceleration
from tinytorch.core.acceleration import MAX_END_TO_END_BYTES, FusedLinear, accelerate
from tinytorch.core.activations import ReLU
from tinytorch.core.flat import end_to_end
from tinytorch.core.kernels import affine, input_gradient
from tinytorch.core.layers import Linear, Sequential, manual_seed
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.utils.joined_state import joined_of


def trained(optimizer_class, sizes=(6, 8, 5), steps=2, **kwargs):
    manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [Linear(n_in, n_out)] + ([ReLU()] if i < len(sizes) - 2 else [])
    model = Sequential(layers)
    optimizer = optimizer_class(model.parameters(), **kwargs)
    model, optimizer, _ = accelerate(model, optimizer)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        optimizer.zero_grad()
        cross_entropy(model(Tensor(rng.standard_normal((16, sizes[0])))), rng.integers(0, sizes[-1], 16)).backward()
        optimizer.step()
    return model, optimizer


def test_accelerate_fuses_every_linear_and_lays_the_values_end_to_end():
    model, _ = trained(SGD, lr=0.1)
    assert all(type(layer) is FusedLinear for layer in model.layers[::2])
    assert end_to_end([p.data for p in model.parameters()]) is not None


def test_fused_weights_are_stored_by_columns_and_their_gradients_and_state_likewise():
    model, optimizer = trained(SGD, lr=0.1, momentum=0.9)
    for layer in model.layers[::2]:
        state = optimizer.state[next(i for i, p in enumerate(optimizer.params) if p is layer.weight)]
        for array in (layer.weight.data, layer.weight.grad, state["momentum_buffer"]):
            assert array.flags.f_contiguous and not array.flags.c_contiguous
        assert layer.bias.data.flags.c_contiguous
    x = Tensor(np.ones((4, model.layers[0].in_features), np.float32))
    assert model.layers[0](x).data.flags.c_contiguous, "a weight by columns gives a row-ordered output"


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_weights_stay_by_rows_where_the_one_call_update_will_not_hold_their_gradients(with_optimizer):
    sizes = (512, 512, 10)                       # more than MAX_END_TO_END_BYTES: the loop runs
    model, optimizer = trained(SGD, sizes=sizes, lr=0.1, momentum=0.9) if with_optimizer else (None, None)
    if not with_optimizer:                       # a model accelerated alone: no one-call update
        manual_seed(0)
        model, _, _ = accelerate(Sequential([Linear(6, 8), ReLU(), Linear(8, 5)]))
    for layer in model.layers[::2]:
        assert layer.weight.data.flags.c_contiguous
        if layer.weight.grad is not None:
            assert layer.weight.grad.flags.c_contiguous


@pytest.mark.parametrize("optimizer_class, kwargs, key", [(SGD, dict(lr=0.1, momentum=0.9), "momentum_buffer"),
                                                          (Adam, dict(lr=0.01), "exp_avg")])
def test_the_one_call_path_joins_gradients_and_state(optimizer_class, kwargs, key):
    model, optimizer = trained(optimizer_class, **kwargs)
    assert joined_of(optimizer) is not None
    assert end_to_end([p.grad for p in model.parameters()]) is not None
    assert end_to_end([entry[key] for entry in optimizer.state]) is not None


def test_a_large_network_keeps_the_loop():
    sizes = (512, 512, 10)
    assert 4 * (512 * 512 + 512) > MAX_END_TO_END_BYTES
    model, optimizer = trained(SGD, sizes=sizes, lr=0.1, momentum=0.9)
    assert joined_of(optimizer) is None


def test_a_missing_gradient_takes_the_loop_for_that_step():
    model, optimizer = trained(SGD, lr=0.1, momentum=0.9)
    joined = joined_of(optimizer)
    model.parameters()[0].grad = None
    assert acceleration.update_all_at_once(optimizer, 0.1) is False
    assert joined_of(optimizer) is joined


def test_affine_hands_out_the_transposed_product_and_input_gradient_follows_its_order():
    x, w = np.ones((4, 3), np.float32), np.ones((8, 3), np.float32)
    out = affine(x, w)
    assert out.flags.f_contiguous and not out.flags.c_contiguous
    g = np.ones((4, 8), np.float32)
    assert input_gradient(g, w, out[:, :3].copy(order="F")).flags.f_contiguous
    assert affine(np.ones((16, 3), np.float32), w).flags.c_contiguous


def test_zero_grad_of_the_joined_gradients_sets_every_one_to_positive_zero():
    """The one-call zero_grad writes zero bytes into the joined buffer: every gradient, and all of
    each, becomes +0.0 (no -0.0 either), in the views the update reads."""
    model, optimizer = trained(SGD, lr=0.1, momentum=0.9)
    grads = [p.grad for p in model.parameters()]
    assert all(g.any() for g in grads)
    assert acceleration.zero_all_at_once(optimizer)
    for param, grad in zip(model.parameters(), grads):
        assert param.grad is grad
        assert not grad.any() and not np.signbit(grad).any()
