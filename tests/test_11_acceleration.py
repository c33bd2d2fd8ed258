"""Module 11, Acceleration: every fast path computes what its plain twin computes.

Graded (tito runs these against a learner's package): values and gradients of the kernels and the
fused layers against the plain expressions, and the optimizer's one-call update against the
per-parameter loop, bit for bit, for rules written in place and rules that rebind their state.
"""
import types

import numpy as np
import pytest

from tinytorch.core.acceleration import (FusedCrossEntropyLoss, FusedLinear, accelerate, fused_cross_entropy,
                                         fused_linear, update_all_at_once)
from tinytorch.core.activations import ReLU
from tinytorch.core.flat import end_to_end, lay_end_to_end, split_into
from tinytorch.core.kernels import affine, column_sums, input_gradient, row_max, row_sums, weight_gradient
from tinytorch.core.layers import Linear, Module, Sequential, linear, manual_seed
from tinytorch.core.losses import CrossEntropyLoss, cross_entropy
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(0)


def floats(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("rows", [3, 31, 32, 64, 200])
def test_reduction_kernels_equal_the_plain_expressions(rows):
    a = floats(rows, 10, seed=rows)
    np.testing.assert_allclose(column_sums(a), a.sum(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(row_sums(a), a.sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(row_max(a), a.max(axis=1))
    for result in (column_sums(a), row_sums(a), row_max(a)):
        assert result.dtype == np.float32


@pytest.mark.parametrize("batch", [1, 5, 16, 64])
def test_affine_and_input_gradient_equal_the_plain_products(batch):
    x, w, b, g = floats(batch, 12, seed=1), floats(16, 12, seed=2), floats(16, seed=3), floats(batch, 16, seed=4)
    np.testing.assert_allclose(affine(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(affine(x, w), x @ w.T, rtol=1e-5, atol=1e-5)
    for layout in (x, np.asfortranarray(x)):
        np.testing.assert_allclose(input_gradient(g, w, layout), g @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 5, 16, 64])
def test_weight_gradient_and_affine_with_a_weight_stored_by_columns(batch):
    x, w, b, g = floats(batch, 12, seed=1), floats(16, 12, seed=2), floats(16, seed=3), floats(batch, 16, seed=4)
    for layout in (w, np.asfortranarray(w)):
        np.testing.assert_allclose(affine(x, layout, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
        grad = weight_gradient(g, x, layout)
        np.testing.assert_allclose(grad, g.T @ x, rtol=1e-5, atol=1e-5)
        assert grad.shape == w.shape and grad.dtype == np.float32
    with pytest.raises(ValueError, match="weight_gradient"):
        weight_gradient(g, floats(batch + 1, 12), w)


def test_kernels_refuse_what_is_not_a_float_matrix():
    with pytest.raises(TypeError, match="column_sums"):
        column_sums(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="row_max"):
        row_max([[1.0]])
    with pytest.raises(ValueError, match="affine"):
        affine(floats(2, 3), floats(4, 5))


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("batch", [2, 8, 40])
def test_fused_linear_matches_linear_forward_and_backward(batch, with_bias):
    """The same values and gradients as `linear`; the node's backward gives one gradient per parent
    (chapter 06's contract: the engine pairs them up, so an extra or a missing one is no error there)."""
    manual_seed(0)
    layer = Linear(8, 6, bias=with_bias)
    x_data, g = floats(batch, 8, seed=batch), floats(batch, 6, seed=batch + 1)
    params = [layer.weight] + ([layer.bias] if with_bias else [])
    results = []
    for function in (linear, fused_linear):
        x = Tensor(x_data, requires_grad=True)
        for param in params:
            param.grad = None
        out = function(x, *params)
        assert len(out.grad_fn(g)) == len(out.parents), function.__name__
        out.backward(g)
        results.append((out.data, x.grad, *(param.grad for param in params)))
    for plain, fused in zip(*results):
        np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5)


def test_fused_linear_layer_shares_the_parameters_and_checks_input():
    manual_seed(0)
    plain = Linear(4, 3)
    fused = FusedLinear(plain)
    assert fused.weight is plain.weight and fused.bias is plain.bias
    assert [name for name, _ in fused.named_parameters()] == ["weight", "bias"]
    np.testing.assert_allclose(fused(Tensor(floats(5, 4))).data, plain(Tensor(floats(5, 4))).data, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="in_features"):
        fused(Tensor(floats(5, 3)))
    with pytest.raises(TypeError, match="layer"):
        FusedLinear("not a layer")


@pytest.mark.parametrize("rows", [3, 64])
def test_fused_linear_with_relu_is_bit_for_bit_the_fused_layer_then_relu(rows):
    """`relu=True` applies module 02's ReLU inside the node: the same bits forward and backward
    (the maximum with 0, and g kept where the output is positive), for inputs with negative and
    zero pre-activations, and for an input that needs no gradient."""
    manual_seed(1)
    layer = Linear(6, 9)
    x_data = floats(rows, 6, seed=rows)
    x_data[0] = 0.0                                  # a row whose pre-activations are the bias alone
    g = floats(rows, 9, seed=rows + 1)
    for input_needs_grad in (True, False):
        results = []
        for relu_inside in (False, True):
            x = Tensor(x_data, requires_grad=input_needs_grad)
            layer.weight.grad = layer.bias.grad = None
            out = fused_linear(x, layer.weight, layer.bias, relu=relu_inside)
            out = out if relu_inside else ReLU()(out)
            out.backward(g)
            results.append((out.data, x.grad, layer.weight.grad, layer.bias.grad))
        (plain_out, plain_x, plain_w, plain_b), (out, grad_x, grad_w, grad_b) = results
        assert (out < 0).sum() == 0 and (plain_out == 0).any()
        np.testing.assert_array_equal(out, plain_out)
        np.testing.assert_array_equal(grad_w, plain_w)
        np.testing.assert_array_equal(grad_b, plain_b)
        if input_needs_grad:
            np.testing.assert_array_equal(grad_x, plain_x)
        else:
            assert grad_x is None and plain_x is None
    # Inputs that are not a 2-D batch of the weight's dtype take module 03's linear and module 02's relu.
    sequence = Tensor(floats(2, 3, 6), requires_grad=True)
    np.testing.assert_allclose(fused_linear(sequence, layer.weight, layer.bias, relu=True).data,
                               np.maximum(linear(sequence, layer.weight, layer.bias).data, 0), rtol=1e-6)
    with pytest.raises(TypeError, match="relu"):
        fused_linear(Tensor(x_data), layer.weight, layer.bias, relu="yes")


def test_accelerate_fuses_a_linear_and_the_relu_after_it_keeping_positions_and_keys():
    manual_seed(0)
    model = Sequential(Linear(5, 8), ReLU(), Linear(8, 8), Linear(8, 3), ReLU())
    keys = list(model.state_dict())
    plain_out = model(Tensor(floats(4, 5))).data
    model, _, _ = accelerate(model)
    kinds = [(type(layer).__name__, getattr(layer, "relu", None)) for layer in model.layers]
    assert kinds == [("FusedLinear", True), ("Identity", None), ("FusedLinear", False),
                     ("FusedLinear", True), ("Identity", None)]
    assert list(model.state_dict()) == keys
    np.testing.assert_allclose(model(Tensor(floats(4, 5))).data, plain_out, rtol=1e-5, atol=1e-6)
    assert "relu=True" in repr(model)


@pytest.mark.parametrize("rows", [4, 64])
def test_fused_cross_entropy_matches_cross_entropy(rows):
    data, labels = floats(rows, 10, seed=rows), np.random.default_rng(rows).integers(0, 10, rows)
    results = []
    for function in (cross_entropy, fused_cross_entropy, FusedCrossEntropyLoss()):
        x = Tensor(data, requires_grad=True)
        loss = function(x, labels)
        loss.backward()
        results.append((loss.item(), x.grad))
    for value, grad in results[1:]:
        assert value == pytest.approx(results[0][0], rel=1e-6)
        np.testing.assert_allclose(grad, results[0][1], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        fused_cross_entropy(Tensor(data), np.full(rows, 10))


def test_arrays_laid_end_to_end():
    a, b = floats(2, 3), floats(4)
    va, vb = lay_end_to_end([a, b])
    np.testing.assert_array_equal(va, a)
    np.testing.assert_array_equal(vb, b)
    run = end_to_end([va, vb])
    assert run.shape == (10,)
    run[:] = 1.0
    assert (va == 1).all() and (vb == 1).all(), "the run covers both arrays"
    assert end_to_end([a, b]) is None and end_to_end([vb, va]) is None
    parts = split_into(np.arange(6.0), [(2, 2), (2,)])
    assert [p.shape for p in parts] == [(2, 2), (2,)]
    by_columns, rest = split_into(np.arange(6.0), [(2, 2), (2,)], orders=["F", "C"])
    np.testing.assert_array_equal(by_columns, [[0.0, 2.0], [1.0, 3.0]])
    np.testing.assert_array_equal(rest, [4.0, 5.0])
    fa, fb = lay_end_to_end([a, b], orders=["F", "C"])
    np.testing.assert_array_equal(fa, a)
    assert end_to_end([fa, fb]) is not None, "a piece laid by columns is still one run of the buffer"
    with pytest.raises(ValueError):
        split_into(np.arange(6.0), [(2, 2), (2,)], orders=["F"])
    with pytest.raises(ValueError):
        split_into(np.arange(6.0), [(2, 2)])


# ---- the optimizer's rule, once for all parameters ---------------------------------------------

def rebinding_sgd_update(self, param, grad, state, lr):
    """A learner's SGD rule that rebinds its state instead of updating it in place (textbook style)."""
    d = grad if self.weight_decay == 0.0 else grad + self.weight_decay * param
    if self.momentum:
        buf = state.get("momentum_buffer")
        buf = d.copy() if buf is None else self.momentum * buf + (1 - self.dampening) * d
        state["momentum_buffer"] = buf
        d = d + self.momentum * buf if self.nesterov else buf
    param -= lr * d


def rebinding_adam_update(self, param, grad, state, lr):
    b1, b2 = self.betas
    if not state:
        state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, np.zeros_like(param), np.zeros_like(param)
    state["step"] += 1
    grad = self.apply_weight_decay(param, grad, lr)
    state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * grad
    state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * grad * grad
    m_hat = state["exp_avg"] / (1 - b1 ** state["step"])
    v_hat = state["exp_avg_sq"] / (1 - b2 ** state["step"])
    param -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


def with_rule(cls, update):
    """`cls` running another `update`, as the learner's own module 07 would: the class is still the
    course's `SGD` or `Adam` (a subclass takes the loop, see below), only its rule differs."""
    def make(params, **kwargs):
        optimizer = cls(params, **kwargs)
        optimizer.update = types.MethodType(update, optimizer)
        return optimizer
    make.__name__ = f"{cls.__name__}[{update.__name__}]"
    return make


OPTIMIZERS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (AdamW, dict(lr=0.01)),
    (with_rule(SGD, rebinding_sgd_update), dict(lr=0.05, momentum=0.9)),
    (with_rule(Adam, rebinding_adam_update), dict(lr=0.01, weight_decay=0.1)),
]


def ids(case):
    cls, kwargs = case
    return cls.__name__ + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items())


def model_and_optimizer(cls, kwargs, foreach):
    manual_seed(0)
    model = Sequential(Linear(6, 8), ReLU(), Linear(8, 5))
    optimizer = cls(model.parameters(), **kwargs)
    if foreach:
        model, optimizer, _ = accelerate(model, optimizer)
    return model, optimizer


def gradients(step, shapes):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


def run_steps(model, optimizer, steps, start=0):
    shapes = [p.shape for p in model.parameters()]
    for step in range(start, start + steps):
        optimizer.zero_grad()
        for param, grad in zip(model.parameters(), gradients(step, shapes)):
            if param.grad is None:
                param.grad = grad.copy()
            else:
                param.grad += grad
        optimizer.step()


def assert_same(model_a, opt_a, model_b, opt_b):
    for pa, pb in zip(model_a.parameters(), model_b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    for sa, sb in zip(opt_a.state_dict()["state"], opt_b.state_dict()["state"], strict=True):
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])


@pytest.mark.parametrize("case", OPTIMIZERS, ids=ids)
def test_one_call_update_is_bit_for_bit_the_loop(case):
    plain = model_and_optimizer(*case, foreach=False)
    fast = model_and_optimizer(*case, foreach=True)
    for start in range(0, 6, 2):
        run_steps(*plain, 2, start)
        run_steps(*fast, 2, start)
        assert_same(*plain, *fast)
    assert end_to_end([p.grad for p in fast[0].parameters()]) is not None, "the one call ran (step 1)"


class NormSGD(SGD):
    """A subclass whose rule is not elementwise: each step has length lr, whatever the gradient."""

    def update(self, param, grad, state, lr):
        param -= lr * grad / np.linalg.norm(grad)


def test_a_subclass_of_the_course_optimizers_keeps_its_loop_and_its_numbers():
    plain = model_and_optimizer(NormSGD, dict(lr=0.05), foreach=False)
    fast = model_and_optimizer(NormSGD, dict(lr=0.05), foreach=True)
    run_steps(*plain, 3)
    run_steps(*fast, 3)
    assert_same(*plain, *fast)
    assert update_all_at_once(fast[1], 0.05) is False


@pytest.mark.parametrize("case", [OPTIMIZERS[1], OPTIMIZERS[4], OPTIMIZERS[8]], ids=ids)
def test_resuming_an_accelerated_run_from_a_state_dict_is_exact(case):
    straight = model_and_optimizer(*case, foreach=True)
    run_steps(*straight, 6)
    first = model_and_optimizer(*case, foreach=True)
    run_steps(*first, 3)
    saved_model, saved_optimizer = first[0].state_dict(), first[1].state_dict()
    resumed = model_and_optimizer(*case, foreach=True)
    resumed[0].load_state_dict(saved_model)
    resumed[1].load_state_dict(saved_optimizer)
    run_steps(*resumed, 3, start=3)
    assert_same(*straight, *resumed)


def test_a_parameter_without_a_gradient_takes_the_loop_and_gives_the_same_numbers():
    plain = model_and_optimizer(SGD, dict(lr=0.05, momentum=0.9), foreach=False)
    fast = model_and_optimizer(SGD, dict(lr=0.05, momentum=0.9), foreach=True)
    for model, optimizer in (plain, fast):
        run_steps(model, optimizer, 2)
        optimizer.zero_grad()
        for index, param in enumerate(model.parameters()):
            param.grad = None if index == 1 else np.ones(param.shape, np.float32)
        optimizer.step()
        run_steps(model, optimizer, 2, start=5)
    assert_same(*plain, *fast)


def test_replacing_a_gradient_array_between_steps_keeps_the_numbers():
    plain = model_and_optimizer(Adam, dict(lr=0.01), foreach=False)
    fast = model_and_optimizer(Adam, dict(lr=0.01), foreach=True)
    for model, optimizer in (plain, fast):
        run_steps(model, optimizer, 2)
        for param in model.parameters():
            param.grad = param.grad * 0.5                # a new array, as a rebinding engine makes
        optimizer.step()
    assert_same(*plain, *fast)


def test_accelerated_training_matches_plain_training():
    def train(accelerated):
        manual_seed(0)
        model = Sequential(Linear(10, 32), ReLU(), Linear(32, 4))
        optimizer, loss_fn = SGD(model.parameters(), lr=0.1, momentum=0.9), CrossEntropyLoss()
        if accelerated:
            model, optimizer, loss_fn = accelerate(model, optimizer, loss_fn)
        rng = np.random.default_rng(3)
        losses = []
        for _ in range(5):
            loss = loss_fn(model(Tensor(rng.standard_normal((48, 10)))), rng.integers(0, 4, 48))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return model, losses

    (plain, plain_losses), (fast, fast_losses) = train(False), train(True)
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=1e-5)
    assert list(plain.state_dict()) == list(fast.state_dict())
    for a, b in zip(plain.parameters(), fast.parameters()):
        np.testing.assert_allclose(b.data, a.data, rtol=1e-4, atol=1e-6)


def test_accelerate_keeps_names_and_state_and_refuses_what_it_cannot_use():
    manual_seed(0)
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    names = [name for name, _ in model.named_parameters()]
    before = model.state_dict()
    model, optimizer, loss_fn = accelerate(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    assert [name for name, _ in model.named_parameters()] == names
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert optimizer.foreach is True and isinstance(loss_fn, CrossEntropyLoss)
    assert accelerate(model) == (model, None, None)
    with pytest.raises(TypeError, match="model"):
        accelerate("a model")
    with pytest.raises(TypeError, match="optimizer"):
        accelerate(model, "an optimizer")
    with pytest.raises(TypeError, match="foreach"):
        SGD(model.parameters(), lr=0.1, foreach="yes")


@pytest.mark.parametrize("case", [OPTIMIZERS[1], OPTIMIZERS[4], OPTIMIZERS[8]], ids=ids)
def test_loading_a_fresh_optimizer_state_mid_run_restarts_the_state_as_in_the_loop(case):
    """A state_dict with every entry empty (saved before the first step) loaded after some steps:
    the one-call update starts its state again, as the loop does, and state_dict shows it."""
    fresh = model_and_optimizer(*case, foreach=False)[1].state_dict()
    plain = model_and_optimizer(*case, foreach=False)
    fast = model_and_optimizer(*case, foreach=True)
    for model, optimizer in (plain, fast):
        run_steps(model, optimizer, 3)
        optimizer.load_state_dict(fresh)
        run_steps(model, optimizer, 3, start=3)
    assert_same(*plain, *fast)
    assert all(entry for entry in fast[1].state_dict()["state"])


class Residual(Module):
    """Layers kept in a list but not run as a chain: h = h + layer(h) for each."""

    def __init__(self):
        self.first = Linear(6, 8)
        self.blocks = [Linear(8, 8), ReLU()]
        self.encoder = self.blocks[0]               # the same Linear, also used on its own
        self.last = Linear(8, 3)

    def forward(self, x):
        h = self.first(x)
        for block in self.blocks:
            h = h + block(h)
        return self.last(h) + self.last(self.encoder(h))


def test_a_linear_and_relu_are_fused_only_where_a_sequential_runs_them_in_order():
    x = Tensor(floats(5, 6))
    manual_seed(0)
    plain = Residual()
    manual_seed(0)
    fast = Residual()
    accelerate(fast, SGD(fast.parameters(), lr=0.1))
    assert isinstance(fast.blocks[1], ReLU) and not fast.blocks[0].relu
    np.testing.assert_allclose(fast(x).data, plain(x).data, rtol=1e-5, atol=1e-6)


def test_accelerate_walks_a_model_that_refers_back_to_itself():
    class Logger:
        def __init__(self, model):
            self.model = model

    manual_seed(0)
    model = Sequential(Linear(4, 6), ReLU(), Linear(6, 2))
    model.loggers = [Logger(model)]
    plain_out = model(Tensor(floats(3, 4))).data
    accelerate(model)
    np.testing.assert_allclose(model(Tensor(floats(3, 4))).data, plain_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arguments, named", [
    (lambda model, opt: (model, opt, 5), "loss_fn"),
    (lambda model, opt: (model, opt, "cross_entropy"), "loss_fn"),
    (lambda model, opt: (model, opt, CrossEntropyLoss), "loss_fn"),
    (lambda model, opt: (Linear, opt, None), "model"),
], ids=["loss-int", "loss-str", "loss-class", "model-class"])
def test_accelerate_refuses_bad_arguments_before_changing_anything(arguments, named):
    manual_seed(0)
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    optimizer = SGD(model.parameters(), lr=0.1)
    datas = [p.data for p in model.parameters()]
    with pytest.raises(TypeError, match=named):
        accelerate(*arguments(model, optimizer))
    assert [type(layer) for layer in model.layers] == [Linear, ReLU, Linear]
    assert all(p.data is d for p, d in zip(model.parameters(), datas)) and optimizer.foreach is False


def test_accelerate_refuses_a_model_whose_parameters_are_not_tensors():
    class NoParameters:
        def parameters(self):
            return None

    with pytest.raises(TypeError, match="parameters"):
        accelerate(NoParameters())


@pytest.mark.parametrize("lr", [-1.0, float("nan"), float("inf")])
def test_update_all_at_once_refuses_a_bad_float_learning_rate_and_changes_nothing(lr):
    model, optimizer = model_and_optimizer(SGD, dict(lr=0.1), foreach=True)
    run_steps(model, optimizer, 1)
    for param in model.parameters():
        param.grad = np.ones(param.shape, np.float32)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="lr"):
        update_all_at_once(optimizer, lr)
    for param, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(param.data, old)
