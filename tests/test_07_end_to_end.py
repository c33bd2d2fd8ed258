"""Parameters laid end to end (core.flat, modules 03, 07 and 08): Sequential copies its parameters
into one buffer; SGD, Adam and AdamW then update them with one call of their rule on the whole buffer.
That must compute bit for bit what one call per parameter computes, whatever happens between steps
(a missing gradient, a replaced array, a loaded checkpoint), and fall back to one call per parameter
where one call on everything would be wrong (a rule that is not elementwise) or slow (above 1 MB).

White-box: these tests read the optimizer's private `_layout` (an `_EndToEnd`, or None before the
first step that looked at the parameters) to tell which path a step took: `_layout.data` is the
1-D view of all values on the fused path and None on the per-parameter path.
"""
import numpy as np
import pytest

from tinytorch.core import optimizers
from tinytorch.core.activations import ReLU
from tinytorch.core.clipping import grad_norm
from tinytorch.core.flat import end_to_end, lay_end_to_end
from tinytorch.core.layers import Linear, Sequential, manual_seed
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor

IN, HIDDEN, CLASSES, BATCH, STEPS = 6, 8, 5, 16, 5

CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    (SGD, dict(lr=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, dict()),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (AdamW, dict(lr=0.01)),
]
STATEFUL = [case for case in CASES if case[0] is not SGD or case[1].get("momentum")]
ADAMS = [case for case in CASES if case[0] is not SGD]


def case_id(value):
    if isinstance(value, type):
        return value.__name__
    return ",".join(f"{k}={v}" for k, v in value.items()) or "default"


def build(seed=0, fused=True):
    """Sequential 6-8-5; fused=False: the same values, each parameter an array of its own."""
    manual_seed(seed)
    model = Sequential(Linear(IN, HIDDEN), ReLU(), Linear(HIDDEN, CLASSES))
    if not fused:
        for p in model.parameters():
            p.data = p.data.copy()
        assert end_to_end([p.data for p in model.parameters()]) is None
    return model


def batches(seed=1, steps=STEPS, rows=BATCH, width=IN, classes=CLASSES):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((rows, width)).astype(np.float32), rng.integers(0, classes, rows))
            for _ in range(steps)]


def train_step(model, optimizer, x, y, drop=()):
    """zero_grad, forward, backward, then step; the parameters at indices `drop` get no gradient."""
    optimizer.zero_grad()
    cross_entropy(model(Tensor(x)), y).backward()
    params = model.parameters()
    for index in drop:
        params[index].grad = None
    optimizer.step()


def fused(optimizer) -> bool:
    return optimizer._layout is not None and optimizer._layout.data is not None


def assert_identical(model_a, opt_a, model_b, opt_b, where=""):
    """Values, gradients and every optimizer state entry equal bit for bit."""
    for i, (pa, pb) in enumerate(zip(model_a.parameters(), model_b.parameters(), strict=True)):
        assert pa.data.dtype == pb.data.dtype == np.float32
        assert np.array_equal(pa.data, pb.data), f"params[{i}].data differs {where}"
        if pb.grad is None:
            assert pa.grad is None, f"params[{i}].grad {where}"
        else:
            assert np.array_equal(pa.grad, pb.grad), f"params[{i}].grad differs {where}"
    state_a, state_b = opt_a.state_dict(), opt_b.state_dict()
    assert state_a["hyperparameters"] == state_b["hyperparameters"]
    for i, (entry_a, entry_b) in enumerate(zip(state_a["state"], state_b["state"], strict=True)):
        assert set(entry_a) == set(entry_b), f"state[{i}] keys {where}"
        for key, value in entry_b.items():
            if isinstance(value, np.ndarray):
                assert entry_a[key].shape == value.shape and entry_a[key].dtype == value.dtype
                assert np.array_equal(entry_a[key], value), f"state[{i}][{key!r}] differs {where}"
            else:
                assert type(entry_a[key]) is int and entry_a[key] == value, f"state[{i}][{key!r}] {where}"


def pair(cls, kwargs, seed=0):
    """(model, optimizer) laid end to end and a reference with the same values, one array each."""
    model_a, model_b = build(seed), build(seed, fused=False)
    return model_a, cls(model_a.parameters(), **kwargs), model_b, cls(model_b.parameters(), **kwargs)


# -------------------------------------------------------------------------- Sequential's layout

def test_sequential_lays_its_parameters_end_to_end_with_their_values():
    manual_seed(3)
    layers = [Linear(IN, HIDDEN), ReLU(), Linear(HIDDEN, CLASSES)]
    params = [layers[0].weight, layers[0].bias, layers[2].weight, layers[2].bias]
    before = [p.data for p in params]
    values = [p.data.copy() for p in params]
    model = Sequential(layers)
    assert model.parameters() == params                  # the same Tensors, in the same order
    flat = end_to_end([p.data for p in params])
    assert flat is not None and flat.dtype == np.float32
    assert flat.size == sum(v.size for v in values)
    for p, old, value in zip(params, before, values):
        assert p.data is not old                         # a view of the new buffer ...
        assert np.array_equal(p.data, value) and p.data.dtype == value.dtype   # ... with the same values
        assert not np.shares_memory(p.data, old)
    x = np.random.default_rng(0).standard_normal((4, IN)).astype(np.float32)
    hidden = np.maximum(x @ values[0].T + values[1], 0)
    np.testing.assert_allclose(model(Tensor(x)).data, hidden @ values[2].T + values[3], rtol=1e-5, atol=1e-6)


def test_nested_sequential_is_laid_end_to_end_as_a_whole():
    manual_seed(4)
    inner = Sequential(Linear(IN, HIDDEN), ReLU())
    inner_values = [p.data.copy() for p in inner.parameters()]
    assert end_to_end([p.data for p in inner.parameters()]) is not None
    last = Linear(HIDDEN, CLASSES)
    last_values = [p.data.copy() for p in last.parameters()]
    outer = Sequential(inner, Linear(HIDDEN, HIDDEN), last)
    params = outer.parameters()
    assert len(params) == 6
    assert end_to_end([p.data for p in params]) is not None
    assert end_to_end([p.data for p in inner.parameters()]) is not None     # a consecutive part of it
    for p, value in zip(inner.parameters() + last.parameters(), inner_values + last_values):
        assert np.array_equal(p.data, value)


def test_sequential_with_a_shared_layer_lays_each_parameter_once():
    manual_seed(5)
    shared = Linear(4, 4)
    values = [p.data.copy() for p in shared.parameters()]
    model = Sequential(shared, ReLU(), shared)
    assert len(model.parameters()) == 2
    assert end_to_end([p.data for p in model.parameters()]) is not None
    assert all(np.array_equal(p.data, v) for p, v in zip(shared.parameters(), values))


def test_sequential_leaves_a_single_parameter_alone():
    manual_seed(6)
    layer = Linear(3, 2, bias=False)
    weight = layer.weight.data
    model = Sequential(layer, ReLU())
    assert layer.weight.data is weight
    assert model(Tensor(np.ones((2, 3), np.float32))).shape == (2, 2)


def test_sequential_leaves_mixed_dtypes_alone():
    manual_seed(7)
    first, second = Linear(3, 4), Linear(4, 2)
    first.bias.data = first.bias.data.astype(np.float64)
    arrays = [p.data for p in first.parameters() + second.parameters()]
    model = Sequential(first, second)
    assert [p.data for p in model.parameters()] == arrays and all(
        p.data is a for p, a in zip(model.parameters(), arrays))
    assert end_to_end([p.data for p in second.parameters()]) is None


def test_sequential_without_parameters():
    model = Sequential(ReLU(), ReLU())
    assert model.parameters() == []
    np.testing.assert_array_equal(model(Tensor([-1.0, 2.0])).data, [0.0, 2.0])


def test_module_load_state_dict_keeps_the_layout():
    model, other = build(0), build(1)
    arrays = [p.data for p in model.parameters()]
    model.load_state_dict(other.state_dict())
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))
    assert end_to_end(arrays) is not None
    for p, q in zip(model.parameters(), other.parameters()):
        assert np.array_equal(p.data, q.data)


# ---------------------------------------------------------------------- fused == per parameter

@pytest.mark.parametrize("cls,kwargs", CASES, ids=case_id)
def test_fused_steps_equal_per_parameter_steps_bit_for_bit(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    arrays = [p.data for p in model_a.parameters()]
    for t, (x, y) in enumerate(batches()):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a), f"step {t + 1} of the model laid end to end took the per-parameter path"
        assert opt_b._layout is not None and opt_b._layout.data is None
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")
    # updated in place: still the arrays Sequential laid out
    assert all(p.data is a for p, a in zip(model_a.parameters(), arrays))
    assert not np.array_equal(arrays[0], build(0).parameters()[0].data)   # and they did change


@pytest.mark.parametrize("cls,kwargs", STATEFUL, ids=case_id)
def test_fused_state_arrays_are_views_of_one_buffer_per_key(cls, kwargs):
    model_a, opt_a, _, _ = pair(cls, kwargs)
    for x, y in batches(steps=2):
        train_step(model_a, opt_a, x, y)
    for key in opt_a._state_arrays:
        views = [entry[key] for entry in opt_a.state]
        assert end_to_end(views) is not None, key
        assert [v.shape for v in views] == [p.shape for p in model_a.parameters()]
    for key in opt_a._state_counts:
        assert {entry[key] for entry in opt_a.state} == {2}


@pytest.mark.parametrize("cls,kwargs", [CASES[1], CASES[6]], ids=case_id)
def test_gradients_lie_end_to_end_after_the_first_step_and_backward_writes_into_them(cls, kwargs):
    model, optimizer, _, _ = pair(cls, kwargs)
    params = model.parameters()
    data = batches()
    x, y = data[0]
    optimizer.zero_grad()
    cross_entropy(model(Tensor(x)), y).backward()
    computed = [p.grad.copy() for p in params]
    assert end_to_end([p.grad for p in params]) is None          # backward made one array each
    optimizer.step()
    grads = [p.grad for p in params]
    assert end_to_end(grads) is not None                         # the optimizer laid them end to end
    assert all(np.array_equal(g, c) for g, c in zip(grads, computed))    # with the same values
    for t, (x, y) in enumerate(data[1:]):
        optimizer.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        assert all(p.grad is g for p, g in zip(params, grads)), f"step {t + 2}: a new gradient array"
        optimizer.step()
        assert all(p.grad is g for p, g in zip(params, grads))
        assert fused(optimizer)
    # the values backward wrote are the gradients: the same as a model with separate arrays gets
    reference = build(0, fused=False)
    ref_opt = cls(reference.parameters(), **kwargs)
    for x, y in data:
        train_step(reference, ref_opt, x, y)
    assert all(np.array_equal(p.grad, q.grad) for p, q in zip(params, reference.parameters()))


# ------------------------------------------------------------------- missing or replaced arrays

@pytest.mark.parametrize("cls,kwargs", CASES, ids=case_id)
def test_a_missing_gradient_takes_the_per_parameter_path(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    for t, (x, y) in enumerate(batches(steps=6)):
        drop = (3,) if t in (2, 3) else ()            # the last bias gets no gradient on steps 3 and 4
        before = model_a.parameters()[3].data.copy()
        train_step(model_a, opt_a, x, y, drop)
        train_step(model_b, opt_b, x, y, drop)
        if drop:
            assert np.array_equal(model_a.parameters()[3].data, before), f"step {t + 1} moved it"
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")


@pytest.mark.parametrize("cls,kwargs", CASES, ids=case_id)
def test_a_parameter_that_never_gets_a_gradient_never_changes(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    frozen = model_a.parameters()[1].data.copy()
    for t, (x, y) in enumerate(batches()):
        train_step(model_a, opt_a, x, y, drop=(1,))
        train_step(model_b, opt_b, x, y, drop=(1,))
        assert not fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")
    assert np.array_equal(model_a.parameters()[1].data, frozen)
    assert opt_a.state[1] == {}
    assert not np.array_equal(model_a.parameters()[0].data, build(0).parameters()[0].data)


@pytest.mark.parametrize("cls,kwargs", [CASES[0], CASES[5], CASES[6], CASES[8]], ids=case_id)
def test_a_missing_gradient_on_the_first_step_only(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    for t, (x, y) in enumerate(batches(steps=6)):
        drop = (2,) if t == 0 else ()
        train_step(model_a, opt_a, x, y, drop)
        train_step(model_b, opt_b, x, y, drop)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")
    if cls is SGD:            # the states agree again once every parameter has been updated
        assert fused(opt_a)


@pytest.mark.parametrize("cls,kwargs", CASES, ids=case_id)
def test_replacing_a_parameters_data_falls_back_to_the_per_parameter_path(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    data = batches(steps=7)
    for x, y in data[:2]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    assert fused(opt_a)
    weight = model_a.parameters()[2]
    weight.data = weight.data.copy()                  # the same values, an array of its own
    for t, (x, y) in enumerate(data[2:5]):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert not fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 3}")
    # laid end to end again (as a new Sequential would): the fused path comes back, still exact
    for p, view in zip(model_a.parameters(), lay_end_to_end([p.data for p in model_a.parameters()])):
        p.data = view
    for t, (x, y) in enumerate(data[5:]):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 6}")


@pytest.mark.parametrize("cls,kwargs", [CASES[1], CASES[7]], ids=case_id)
def test_replacing_a_gradient_or_a_state_array_between_steps(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    data = batches(steps=4)
    for x, y in data[:2]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    key = opt_a._state_arrays[0]
    for opt in (opt_a, opt_b):                        # a state array replaced by a scaled copy
        opt.state[1][key] = opt.state[1][key] * np.float32(0.5)
    for model, opt in ((model_a, opt_a), (model_b, opt_b)):
        x, y = data[2]
        opt.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        p = model.parameters()[0]
        p.grad = p.grad * np.float32(2.0)             # a gradient replaced by a new array
        opt.step()
    assert fused(opt_a)
    assert_identical(model_a, opt_a, model_b, opt_b, "after step 3")
    assert end_to_end([entry[key] for entry in opt_a.state]) is not None
    x, y = data[3]
    train_step(model_a, opt_a, x, y)
    train_step(model_b, opt_b, x, y)
    assert_identical(model_a, opt_a, model_b, opt_b, "after step 4")


@pytest.mark.parametrize("cls,kwargs", [CASES[1], CASES[6]], ids=case_id)
def test_a_gradient_reshaped_in_place_is_still_refused_and_changes_nothing(cls, kwargs):
    # Once laid out, step() skips its per-gradient checks only for the very arrays it checked, with
    # their shapes and dtypes unchanged: a view of the buffer reshaped in place is checked again.
    model, optimizer, _, _ = pair(cls, kwargs)
    data = batches(steps=3)
    for x, y in data[:2]:
        train_step(model, optimizer, x, y)
    assert fused(optimizer)
    optimizer.zero_grad()
    cross_entropy(model(Tensor(x)), y).backward()
    weight = model.parameters()[0]
    weight.grad.shape = (weight.grad.size,)           # the same array object, now 1-D
    values = [p.data.copy() for p in model.parameters()]
    state = optimizer.state_dict()
    with pytest.raises(ValueError, match=r"params\[0\]\.grad has shape \(48,\)"):
        optimizer.step()
    assert all(np.array_equal(p.data, v) for p, v in zip(model.parameters(), values))
    for entry, saved in zip(optimizer.state_dict()["state"], state["state"]):
        for key, value in saved.items():
            assert np.array_equal(entry[key], value), key


@pytest.mark.parametrize("cls,kwargs", STATEFUL, ids=case_id)
def test_a_step_after_zero_grad_without_backward_uses_zero_gradients(cls, kwargs):
    # zero_grad only marks the gradients zero (module 06); the fused path must fill them in, as
    # reading .grad does, and not update with the gradients of the step before.
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    data = batches(steps=3)
    for model, opt in ((model_a, opt_a), (model_b, opt_b)):
        for x, y in data[:2]:
            train_step(model, opt, x, y)
        opt.zero_grad()
        opt.step()
    assert fused(opt_a)
    assert all(not p.grad.any() for p in model_a.parameters())
    assert_identical(model_a, opt_a, model_b, opt_b, "after a step with zero gradients")
    x, y = data[2]
    train_step(model_a, opt_a, x, y)
    train_step(model_b, opt_b, x, y)
    assert_identical(model_a, opt_a, model_b, opt_b, "after the next step")


def test_an_optimizer_over_part_of_a_sequential_changes_only_that_part():
    model_a, model_b = build(0), build(0, fused=False)
    opt_a = Adam(model_a.layers[2].parameters(), lr=0.01)
    opt_b = Adam(model_b.layers[2].parameters(), lr=0.01)
    first = [p.data.copy() for p in model_a.layers[0].parameters()]
    for t, (x, y) in enumerate(batches()):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a)
        assert opt_a._layout.data.size == HIDDEN * CLASSES + CLASSES
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")
    assert all(np.array_equal(p.data, v) for p, v in zip(model_a.layers[0].parameters(), first))


def test_parameters_given_out_of_order_take_the_per_parameter_path():
    model_a, model_b = build(0), build(0, fused=False)
    opt_a = SGD(model_a.parameters()[::-1], lr=0.05, momentum=0.9)
    opt_b = SGD(model_b.parameters()[::-1], lr=0.05, momentum=0.9)
    for t, (x, y) in enumerate(batches()):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert not fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")


# ------------------------------------------------------------------------------------ checkpoints

@pytest.mark.parametrize("cls,kwargs", STATEFUL, ids=case_id)
def test_a_restored_optimizer_continues_bit_for_bit(cls, kwargs):
    model, optimizer, _, _ = pair(cls, kwargs)
    data = batches(steps=6)
    for x, y in data[:3]:
        train_step(model, optimizer, x, y)
    restored = build(seed=9)                          # other values, then the saved ones loaded
    restored.load_state_dict(model.state_dict())
    restored_opt = cls(restored.parameters(), **kwargs)
    restored_opt.load_state_dict(optimizer.state_dict())
    for t, (x, y) in enumerate(data[3:]):
        train_step(model, optimizer, x, y)
        train_step(restored, restored_opt, x, y)
        assert fused(optimizer) and fused(restored_opt)
        assert_identical(restored, restored_opt, model, optimizer, f"after step {t + 4}")


@pytest.mark.parametrize("cls,kwargs", STATEFUL, ids=case_id)
def test_load_state_dict_into_the_same_optimizer_mid_training(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    data = batches(steps=8)
    for x, y in data[:3]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    saved = opt_a.state_dict()
    for x, y in data[3:5]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    views = {key: [entry[key] for entry in opt_a.state] for key in opt_a._state_arrays}
    opt_a.load_state_dict(saved)                      # back to the state after step 3 (Adam: step 3)
    opt_b.load_state_dict(saved)
    for key, arrays in views.items():                 # loaded into the same arrays: still end to end
        assert all(entry[key] is a for entry, a in zip(opt_a.state, arrays))
        assert end_to_end(arrays) is not None
    for t, (x, y) in enumerate(data[5:]):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 6}")
    for key in opt_a._state_counts:
        assert [entry[key] for entry in opt_a.state] == [6] * 4


@pytest.mark.parametrize("cls,kwargs", ADAMS, ids=case_id)
@pytest.mark.parametrize("counts", [[100] * 4, [100, 3, 3, 3], [1, 1, 1, 1]], ids=str)
def test_a_loaded_step_count_is_honoured(cls, kwargs, counts):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    data = batches(steps=6)
    for x, y in data[:3]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    saved = opt_a.state_dict()
    for entry, count in zip(saved["state"], counts):
        entry["step"] = count
    opt_a.load_state_dict(saved)
    opt_b.load_state_dict(saved)
    for t, (x, y) in enumerate(data[3:]):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a) == (len(set(counts)) == 1)
        assert [entry["step"] for entry in opt_a.state] == [c + t + 1 for c in counts]
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 4}")


@pytest.mark.parametrize("cls,kwargs", STATEFUL, ids=case_id)
def test_loading_a_fresh_state_starts_over(cls, kwargs):
    model_a, opt_a, model_b, opt_b = pair(cls, kwargs)
    fresh = cls(build(0).parameters(), **kwargs).state_dict()       # no step taken: empty entries
    data = batches(steps=5)
    for x, y in data[:2]:
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
    opt_a.load_state_dict(fresh)
    opt_b.load_state_dict(fresh)
    assert opt_a.state == [{}] * 4
    for t, (x, y) in enumerate(data[2:]):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a)
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 3}")
    for key in opt_a._state_counts:
        assert [entry[key] for entry in opt_a.state] == [3] * 4


# ------------------------------------------------------------------ where one call would be wrong

class NormScaledSGD(Optimizer):
    """A rule that looks at each parameter's gradient as a whole: not elementwise."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)

    def _update(self, param, grad, state, lr):
        param -= lr * grad / (np.linalg.norm(grad) + 1)


def test_optimizer_default_is_not_elementwise():
    assert Optimizer._elementwise is False and NormScaledSGD._elementwise is False
    assert SGD._elementwise and Adam._elementwise and AdamW._elementwise


def test_a_rule_that_is_not_elementwise_runs_once_per_parameter():
    model = build(0)
    optimizer = NormScaledSGD(model.parameters(), lr=0.5)
    params = model.parameters()
    for t, (x, y) in enumerate(batches()):
        optimizer.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        grads = [p.grad for p in params]
        expected = []
        for p in params:
            value = p.data.copy()
            value -= 0.5 * p.grad / (np.linalg.norm(p.grad) + 1)
            expected.append(value)
        optimizer.step()
        assert optimizer._layout is None, "the layout is only for elementwise rules"
        assert all(p.grad is g for p, g in zip(params, grads))       # gradients left where they were
        for i, (p, value) in enumerate(zip(params, expected)):
            assert np.array_equal(p.data, value), f"params[{i}] after step {t + 1}"
    assert end_to_end([p.data for p in params]) is not None


# ------------------------------------------------------------------ where one call would be slow

def test_a_model_above_the_size_limit_takes_the_per_parameter_path():
    manual_seed(0)
    model_a = Sequential(Linear(600, 500), ReLU(), Linear(500, 10))
    manual_seed(0)
    model_b = Sequential(Linear(600, 500), ReLU(), Linear(500, 10))
    for p in model_b.parameters():
        p.data = p.data.copy()
    flat = end_to_end([p.data for p in model_a.parameters()])
    assert flat is not None and flat.nbytes > optimizers._END_TO_END_MAX_BYTES == 1 << 20
    opt_a, opt_b = Adam(model_a.parameters(), lr=0.01), Adam(model_b.parameters(), lr=0.01)
    for t, (x, y) in enumerate(batches(steps=2, rows=8, width=600, classes=10)):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert opt_a._layout is not None and opt_a._layout.data is None
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")
    assert end_to_end([p.grad for p in model_a.parameters()]) is None   # gradients not moved


@pytest.mark.parametrize("margin, expect_fused", [(0, True), (-4, False)])
def test_the_size_limit_is_inclusive(monkeypatch, margin, expect_fused):
    model_a, opt_a, model_b, opt_b = pair(SGD, dict(lr=0.05, momentum=0.9))
    nbytes = sum(p.data.nbytes for p in model_a.parameters())
    monkeypatch.setattr(optimizers, "_END_TO_END_MAX_BYTES", nbytes + margin)
    for t, (x, y) in enumerate(batches(steps=3)):
        train_step(model_a, opt_a, x, y)
        train_step(model_b, opt_b, x, y)
        assert fused(opt_a) == expect_fused
        assert_identical(model_a, opt_a, model_b, opt_b, f"after step {t + 1}")


# ---------------------------------------------------------------------------------- grad_norm

def float64_norm(arrays):
    return float(np.sqrt(sum(np.sum(a.astype(np.float64) ** 2) for a in arrays)))


def test_grad_norm_of_gradients_laid_end_to_end():
    model, optimizer, reference, ref_opt = pair(SGD, dict(lr=0.05))
    x, y = batches(steps=1)[0]
    train_step(model, optimizer, x, y)
    train_step(reference, ref_opt, x, y)
    params = model.parameters()
    assert end_to_end([p.grad for p in params]) is not None
    assert end_to_end([p.grad for p in reference.parameters()]) is None
    norm = grad_norm(params)
    assert isinstance(norm, float) and norm > 0
    np.testing.assert_allclose(norm, float64_norm([p.grad for p in params]), rtol=1e-5)
    np.testing.assert_allclose(grad_norm(reference.parameters()), norm, rtol=1e-5)
    # changed in place: the same arrays, new values
    params[0].grad *= 3.0
    np.testing.assert_allclose(grad_norm(params), float64_norm([p.grad for p in params]), rtol=1e-5)
    # one gradient replaced by another array: the norm sees the new values, not the old buffer
    old = params[2].grad
    params[2].grad = np.full_like(old, 10.0)
    expected = float64_norm([p.grad for p in params])
    assert abs(expected - float64_norm([p.grad for p in params[:2]] + [old, params[3].grad])) > 1.0
    np.testing.assert_allclose(grad_norm(params), expected, rtol=1e-5)
    # and back to arrays that lie end to end, with other values than the first time
    params[2].grad = old
    old.fill(-2.0)
    np.testing.assert_allclose(grad_norm(params), float64_norm([p.grad for p in params]), rtol=1e-5)
    # part of the parameters, and a None gradient among them
    np.testing.assert_allclose(grad_norm(params[1:3]), float64_norm([p.grad for p in params[1:3]]), rtol=1e-5)
    params[1].grad = None
    remaining = [params[i].grad for i in (0, 2, 3)]
    np.testing.assert_allclose(grad_norm(params), float64_norm(remaining), rtol=1e-5)


def test_grad_norm_alternating_between_two_models():
    model, optimizer, reference, ref_opt = pair(Adam, dict(lr=0.01))
    for x, y in batches(steps=2):
        train_step(model, optimizer, x, y)
        train_step(reference, ref_opt, x, y)
    other = build(1)
    other_opt = SGD(other.parameters(), lr=0.1)
    x, y = batches(seed=5, steps=1)[0]
    train_step(other, other_opt, x, y)
    for params in (model.parameters(), other.parameters(), reference.parameters(), model.parameters(),
                   other.parameters()):
        np.testing.assert_allclose(grad_norm(params), float64_norm([p.grad for p in params]), rtol=1e-5)
    assert abs(grad_norm(model.parameters()) - grad_norm(other.parameters())) > 1e-3
