"""White-box checks of the reference tinytorch.core.optimizers (ungraded: tito never runs them).

The reference updates in place: a step never rebinds a parameter's `.data` or `.grad`, its rules
keep their state buffers as the same arrays from step to step, and zero_grad and load_state_dict
write into the existing arrays. Its messages name the argument and the value given."""
import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

SHAPES = [(5, 3), (3,), (2, 3, 4)]
CASES = [(SGD, dict(lr=0.1)), (SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
         (SGD, dict(lr=0.05, momentum=0.9, nesterov=True)), (Adam, dict(lr=0.01, weight_decay=0.1)),
         (AdamW, dict(lr=0.01, weight_decay=0.1))]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.normal(size=s).astype(np.float32), requires_grad=True) for s in SHAPES]


def set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = rng.normal(size=p.data.shape).astype(np.float32)


def buffers(optimizer):
    return [v for entry in optimizer.state for v in entry.values() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("cls,kwargs", CASES)
def test_a_step_updates_in_place_and_keeps_its_buffers(cls, kwargs):
    params = make_params()
    optimizer = cls(params, **kwargs)
    arrays, grads = [p.data for p in params], []
    set_grads(params, 1)
    optimizer.step()
    held = buffers(optimizer)
    for seed in (2, 3, 4):
        set_grads(params, seed)
        grads = [p.grad for p in params]
        optimizer.step()
        assert all(p.grad is g for p, g in zip(params, grads)), "step never rebinds .grad"
    assert all(p.data is a for p, a in zip(params, arrays)), "step never rebinds .data"
    again = buffers(optimizer)
    assert len(again) == len(held) and all(a is b for a, b in zip(held, again)), "buffers allocated once"


def test_zero_grad_zeros_the_buffers_in_place():
    params = make_params()
    set_grads(params, 1)
    grads = [p.grad for p in params]
    SGD(params, lr=0.1).zero_grad()
    assert all(p.grad is g and not g.any() for p, g in zip(params, grads))


def test_load_state_dict_copies_into_existing_buffers():
    params = make_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, 1)
    optimizer.step()
    held = buffers(optimizer)
    saved = optimizer.state_dict()
    set_grads(params, 2)
    optimizer.step()
    optimizer.load_state_dict(saved)
    assert all(a is b for a, b in zip(held, buffers(optimizer)))


def test_state_dict_copies_share_no_memory():
    params = make_params()
    optimizer = Adam(params, lr=0.01)
    set_grads(params, 1)
    optimizer.step()
    entry = optimizer.state_dict()["state"][0]
    assert not np.shares_memory(entry["exp_avg"], optimizer.state[0]["exp_avg"])
    live = optimizer.state_dict(copy=False)["state"][0]
    assert live["exp_avg"] is optimizer.state[0]["exp_avg"], "copy=False hands out the live arrays"


@pytest.mark.parametrize("cls,kwargs,words", [
    (SGD, dict(lr=-0.1), ["lr", "-0.1"]),
    (SGD, dict(lr=float("nan")), ["lr", "nan"]),
    (SGD, dict(lr="fast"), ["lr", "fast"]),
    (SGD, dict(lr=0.1, momentum=-0.5), ["momentum", "-0.5"]),
    (SGD, dict(lr=0.1, dampening=1.5), ["dampening", "1.5"]),
    (SGD, dict(lr=0.1, nesterov=True), ["nesterov", "momentum=0.0"]),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ["nesterov", "dampening=0.1"]),
    (Adam, dict(eps=-1e-8), ["eps", "-1e-08"]),
    (Adam, dict(betas=(1.0, 0.999)), ["betas", "1.0"]),
    (Adam, dict(betas=(0.9,)), ["betas", "pair"]),
    (AdamW, dict(weight_decay=-0.01), ["weight_decay", "-0.01"]),
    (Adam, dict(lr=0.1, learning_rate=0.2), ["lr=0.1", "learning_rate=0.2"]),
])
def test_hyperparameter_messages_name_the_value_given(cls, kwargs, words):
    with pytest.raises((TypeError, ValueError)) as info:
        cls(make_params(), **kwargs)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_exact_messages():
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] of type ndarray"):
        SGD([w, np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        SGD(w, lr=0.1)
    with pytest.raises(ValueError, match=r"params\[1\] twice"):
        SGD([w, w], lr=0.1)
    with pytest.raises(TypeError, match="with dtype int64"):
        SGD([Tensor(np.arange(3))], lr=0.1)
    params = make_params()
    optimizer = SGD(params, lr=0.1)
    set_grads(params, 1)
    params[2].grad = np.ones((4, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"params\[2\]\.grad has shape \(4, 3, 2\)"):
        optimizer.step()
    params[2].grad = Tensor(np.ones(params[2].data.shape))
    with pytest.raises(TypeError, match=r"params\[2\]\.grad is a Tensor"):
        optimizer.step()
    optimizer.lr = -0.1
    with pytest.raises(ValueError, match="lr must be >= 0.0, got -0.1"):
        optimizer.step()
    with pytest.raises(ValueError, match="'SGD' optimizer: expected type 'Adam'"):
        Adam(params).load_state_dict(SGD(params, lr=0.1).state_dict())
    with pytest.raises(ValueError, match="state for 2 parameters: this optimizer has 3"):
        SGD(params, lr=0.1).load_state_dict(SGD(params[:2], lr=0.1).state_dict())


class Float64ScalarSGD(SGD):
    """A momentum rule whose arithmetic meets a NumPy float64 scalar: on a 0-d float32 parameter
    its buffer comes out as an np.float64 scalar."""

    def update(self, param, grad, state, lr):
        buf = state.get("momentum_buffer")
        d = grad * np.float64(1.0)
        state["momentum_buffer"] = buf = d if buf is None else self.momentum * buf + d
        param -= lr * buf


def test_scalar_state_of_a_0d_parameter_is_kept_in_its_dtype_and_resumes_exactly():
    gradients = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5]

    def run(optimizer, w, grads):
        for g in grads:
            w.grad = np.array(g, dtype=np.float32)
            optimizer.step()

    w = Tensor(1.0, requires_grad=True)
    straight = Float64ScalarSGD([w], lr=0.1, momentum=0.9)
    run(straight, w, gradients)
    first = Tensor(1.0, requires_grad=True)
    optimizer = Float64ScalarSGD([first], lr=0.1, momentum=0.9)
    run(optimizer, first, gradients[:3])
    kept = optimizer.state[0]["momentum_buffer"]
    assert type(kept) is np.ndarray and kept.shape == () and kept.dtype == np.float32
    saved = optimizer.state_dict()
    resumed = Tensor(first.data.copy(), requires_grad=True)
    fresh = Float64ScalarSGD([resumed], lr=0.1, momentum=0.9)
    fresh.load_state_dict(saved)
    run(fresh, resumed, gradients[3:])
    assert w.data.tobytes() == resumed.data.tobytes()      # bit for bit
