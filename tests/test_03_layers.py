"""Module 03: the Module tree, Linear, Dropout, Flatten, Sequential.

Graded: behaviour only. The reference's identity and in-place guarantees (Dropout's identity in
evaluation mode returns the same tensor, loads and zero_grad write into the existing arrays, the
input's gradient is never computed when it needs none) and its exact messages are checked in
internals/test_core_layers.py."""
import numpy as np
import pytest

from tinytorch.core.layers import Dense, Dropout, Flatten, Linear, Module, Sequential, manual_seed
from tinytorch.core.tensor import Tensor


def test_linear_matches_x_at_w_transposed_plus_b_in_value_and_gradient():
    manual_seed(1)
    layer = Linear(5, 3)
    x_data = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    x = Tensor(x_data, requires_grad=True)
    g = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    layer(x).backward(g)
    fused = (x.grad.copy(), layer.weight.grad.copy(), layer.bias.grad.copy())

    w = Tensor(layer.weight.data.copy(), requires_grad=True)
    b = Tensor(layer.bias.data.copy(), requires_grad=True)
    x2 = Tensor(x_data, requires_grad=True)
    (x2 @ w.T + b).backward(g)
    for ours, composed in zip(fused, (x2.grad, w.grad, b.grad)):
        np.testing.assert_allclose(ours, composed, rtol=1e-5, atol=1e-6)


def test_linear_gives_no_gradient_to_an_input_that_needs_none():
    layer = Linear(4, 2)
    x = Tensor(np.ones((3, 4)))
    y = layer(x)
    assert y.requires_grad, "the parameters need gradients, so the result is recorded"
    y.backward(np.ones((3, 2), np.float32))
    assert x.grad is None, "the input needs no gradient"
    np.testing.assert_allclose(layer.weight.grad, np.full((2, 4), 3.0))
    np.testing.assert_allclose(layer.bias.grad, [3.0, 3.0])


def test_linear_handles_batched_leading_axes():
    layer = Linear(4, 2)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 3, 2)
    y.sum().backward()
    assert layer.weight.grad.shape == (2, 4) and x.grad.shape == (2, 3, 4)
    np.testing.assert_allclose(layer.bias.grad, [6, 6])


def test_linear_initialisation_is_uniform_within_pytorch_bound_and_seeded():
    manual_seed(7)
    a = Linear(100, 50)
    manual_seed(7)
    b = Linear(100, 50)
    assert np.array_equal(a.weight.data, b.weight.data)
    bound = 1 / np.sqrt(100)
    assert a.weight.dtype == np.float32 and a.bias.dtype == np.float32
    assert np.abs(a.weight.data).max() <= bound and np.abs(a.weight.data).max() > 0.9 * bound
    assert abs(a.weight.data.std() - bound / np.sqrt(3)) < 0.01 * 3


def test_linear_errors_name_the_argument_and_shape():
    with pytest.raises(ValueError, match="in_features"):
        Linear(4, 2)(Tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 2)
    with pytest.raises(ValueError, match="out_features"):
        Linear(3, -1)


def test_linear_without_bias_has_only_a_weight():
    layer = Linear(3, 2, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer(Tensor(np.ones((1, 3)))).shape == (1, 2)


def test_dense_is_linear():
    assert Dense is Linear


def test_parameter_names_are_stable_dotted_paths():
    class Block(Module):
        def __init__(self):
            self.fc = Linear(2, 2)
            self.drop = Dropout(0.1, seed=0)

    class Net(Module):
        def __init__(self):
            self.blocks = [Block(), Block()]
            self.head = Sequential(Linear(2, 1))

    names = [n for n, _ in Net().named_parameters()]
    assert names == ["blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.1.fc.weight", "blocks.1.fc.bias",
                     "head.layers.0.weight", "head.layers.0.bias"]


def test_shared_parameter_is_listed_once():
    class Tied(Module):
        def __init__(self):
            self.a = Linear(2, 2)
            self.b = self.a

    assert len(Tied().parameters()) == 2


def test_training_flag_reaches_every_child_through_the_property():
    model = Sequential(Linear(2, 2), Sequential(Dropout(0.5), Linear(2, 2)))
    model.training = False
    assert all(not m.training for _, m in model.named_modules())
    model.train()
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model


def test_load_state_dict_loads_and_refuses_bad_state_without_change():
    model = Sequential(Linear(3, 2), Linear(2, 1))
    state = {k: v + 1 for k, v in model.state_dict().items()}
    before = model.state_dict()
    model.load_state_dict(state)
    np.testing.assert_array_equal(model[0].weight.data, before["layers.0.weight"] + 1)
    assert model[0].weight.dtype == np.float32

    snapshot = model.state_dict()
    bad_shape = dict(snapshot, **{"layers.1.weight": np.zeros((5, 5), np.float32)})
    bad_dtype = dict(snapshot, **{"layers.0.bias": snapshot["layers.0.bias"].astype(np.float64)})
    missing = {k: v for k, v in snapshot.items() if k != "layers.1.bias"}
    for bad in (bad_shape, bad_dtype, missing, dict(snapshot, extra=np.zeros(1))):
        with pytest.raises(ValueError, match="load_state_dict"):
            model.load_state_dict(bad)
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v, snapshot[k])


def test_state_dict_returns_copies():
    layer = Linear(2, 2)
    state = layer.state_dict()
    state["weight"][:] = 99
    assert not np.any(layer.weight.data == 99)


def test_dropout_is_inverted_and_identity_in_eval():
    drop = Dropout(0.3, seed=0)
    x = Tensor(np.ones((1000, 100)))
    y = drop(x).data
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.01, "expected value is preserved"
    assert y.dtype == np.float32
    drop.eval()
    out = drop(x)
    assert out.dtype == x.dtype and np.array_equal(out.data, x.data), "the identity in evaluation mode"


def test_dropout_edge_probabilities():
    x = Tensor(np.ones((4, 4)))
    assert np.array_equal(Dropout(0.0)(x).data, x.data)
    assert np.all(Dropout(1.0, seed=0)(x).data == 0)
    with pytest.raises(ValueError, match=r"\bp\b"):
        Dropout(1.5)


def test_dropout_random_state_round_trip_replays_the_same_masks():
    model = Sequential(Linear(4, 4), Dropout(0.5, seed=3))
    x = Tensor(np.ones((8, 4)))
    state = model.random_state()
    assert list(state) == ["layers.1.rng"]
    first = model(x).data.copy()
    model.set_random_state(state)
    np.testing.assert_array_equal(model(x).data, first)
    with pytest.raises(ValueError, match="set_random_state"):
        model.set_random_state({"other.rng": state["layers.1.rng"]})


def test_dropout_seeds_follow_manual_seed():
    manual_seed(5)
    a = Dropout(0.5)(Tensor(np.ones(64))).data
    manual_seed(5)
    b = Dropout(0.5)(Tensor(np.ones(64))).data
    np.testing.assert_array_equal(a, b)


def test_flatten_keeps_the_batch_axis():
    x = Tensor(np.zeros((2, 3, 4, 5)), requires_grad=True)
    y = Flatten()(x)
    assert y.shape == (2, 60)
    y.sum().backward()
    assert x.grad.shape == (2, 3, 4, 5)


def test_sequential_accepts_varargs_or_list_and_rejects_non_callables():
    a, b = Linear(2, 3), Linear(3, 1)
    assert Sequential(a, b).layers == Sequential([a, b]).layers
    assert len(Sequential(a, b)) == 2 and Sequential(a, b)[1] is b
    with pytest.raises(TypeError, match="Sequential"):
        Sequential(a, 42)


def test_module_zero_grad_zeros_every_gradient():
    layer = Linear(2, 2)
    layer(Tensor(np.ones((1, 2)))).sum().backward()
    layer.zero_grad()
    for p in layer.parameters():
        assert p.grad.shape == p.shape and p.grad.dtype == np.float32 and not p.grad.any()
    layer(Tensor(np.ones((1, 2)))).sum().backward()
    np.testing.assert_allclose(layer.bias.grad, [1.0, 1.0])     # a pass after zero_grad starts from zero
    fresh = Linear(2, 2)
    fresh.zero_grad()
    assert all(p.grad is None for p in fresh.parameters()), "a gradient that is None stays None"
