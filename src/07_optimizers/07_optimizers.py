# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 07: Optimizers
#
# Backpropagation (module 06) leaves a gradient in every parameter's `.grad`. An optimizer turns
# those gradients into a change of the parameters. That is the whole job, yet it is where a training
# loop spends its memory (an optimizer may hold two extra copies of the model) and where small
# details (the first momentum step, where `eps` goes, how weight decay is applied) decide whether
# a run reproduces one published elsewhere.
#
# We build:
# - `Optimizer`, the base every rule shares: it owns the parameter list, the learning rate, the
#   per-parameter state, `zero_grad()`, `step()` and checkpointing (`state_dict()` /
#   `load_state_dict()`).
# - `SGD` with momentum, dampening, Nesterov momentum and weight decay.
# - `Adam` and `AdamW`.
#
# Every rule computes what `torch.optim` computes, up to float32 rounding (the tests replay 30 steps
# against PyTorch), and every update happens in place, in float32, in buffers allocated once.

# %%
#| default_exp core.optimizers

# %% [markdown]
# ## What an optimizer sees
#
# An optimizer never sees the graph or the loss. It sees a list of parameters, each a `Tensor` whose
# `.data` is a float32 ndarray and whose `.grad` is either `None` (no gradient reached it) or an
# ndarray of the same shape and dtype. One step reads `.grad` and writes `.data`, **in place**: the
# model, the optimizer and anything else that holds a reference to `param.data` keep seeing the same
# array, and no memory is allocated for the parameters themselves.
#
# Rules differ only in what they do with one parameter and its gradient, and in what they remember
# between steps (the *state*: momentum buffers, moment estimates, step counts). So the base class
# does the bookkeeping once:
#
# - it checks its inputs before it stores anything: an empty parameter list, something that is not
#   a `Tensor`, or a hyperparameter out of range raises an error naming the argument and the value;
# - `step()` checks every gradient first, then visits each parameter that has one and calls the
#   subclass's `update(param, grad, state, lr)`, where `state` is that parameter's own dict
#   (position `i` in `self.state` belongs to `self.params[i]`);
# - `zero_grad()` sets every gradient buffer to zero *in place*. PyTorch's default drops the buffers
#   instead (`set_to_none=True`); we keep them, so a training loop allocates its gradients once and
#   the memory it uses stays flat and countable.
#
# The learning rate is a plain attribute, `optimizer.lr`. A schedule changes it between steps and
# the next `step()` uses the new value.
#
# %%
#| export
"""Optimizers: turn the gradients in `param.grad` into in-place updates of `param.data`."""
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


def _nonnegative(owner: str, name: str, value) -> float:
    """`value` as a Python float >= 0 (the rule for lr, momentum, weight_decay and eps)."""
    return check_number(f"{owner} {name}", value, minimum=0.0)


def _fraction(owner: str, name: str, value, *, closed: bool) -> float:
    """`value` as a Python float in [0, 1] (closed) or [0, 1) (not closed)."""
    value = check_number(f"{owner} {name}", value, minimum=0.0, maximum=1.0)
    if value == 1.0 and not closed:
        raise ValueError(f"{owner} {name} must be < 1, got {describe(value)}")
    return value


def _betas(owner: str, value) -> tuple:
    """A pair of Python floats, each in [0, 1)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{owner} betas must be a pair (beta1, beta2), got {describe(value)}")
    pair = tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{owner} betas must be a pair (beta1, beta2), got {describe(value)}")
    try:
        return tuple(_fraction(owner, "betas", b, closed=False) for b in pair)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner} got betas={value!r}: each beta must be a number in [0, 1)") from None


def _flag(owner: str, name: str, value) -> bool:
    return check_bool(f"{owner} {name}", value)


def _one_learning_rate(owner: str, lr, learning_rate, default):
    """The learning rate given as `lr` or as the older spelling `learning_rate` (not both)."""
    if learning_rate is not None:
        if lr is not None:
            raise TypeError(f"{owner} got lr={lr!r} and learning_rate={learning_rate!r}: "
                            f"pass only one (learning_rate is the older spelling of lr)")
        return learning_rate
    if lr is None:
        if default is None:
            raise TypeError(f"{owner} needs a learning rate: pass lr=... (or learning_rate=...)")
        return default
    return lr


# How each hyperparameter is checked (and turned into a plain Python value), by name.
_RULES = {
    "lr": _nonnegative,
    "momentum": _nonnegative,
    "weight_decay": _nonnegative,
    "eps": _nonnegative,
    "dampening": lambda owner, name, value: _fraction(owner, name, value, closed=True),
    "betas": lambda owner, name, value: _betas(owner, value),
    "nesterov": _flag,
}


# %%
#| export
class Optimizer:
    """Base class: parameters, learning rate, per-parameter state, `step`, `zero_grad`, checkpoints.

    A subclass passes its hyperparameters to `__init__`, names the arrays (`_state_arrays`) and
    counters (`_state_counts`) its state holds, and writes `update(param, grad, state, lr)`: the
    rule for one parameter, which changes the ndarray `param` in place. `step` checks and loops;
    the rule is only the math.

    >>> import numpy as np
    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> w.grad = np.array([5.0, 5.0], dtype=np.float32)
    >>> optimizer = SGD([w], lr=0.1)
    >>> optimizer.zero_grad()
    >>> w.grad
    array([0., 0.], dtype=float32)
    >>> Optimizer([], lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: Optimizer got params=[]: params is empty, expected at least one Tensor
    """

    _state_arrays: tuple = ()
    _state_counts: tuple = ()

    def __init__(self, params, lr, *, foreach: bool = False, **hyperparameters):
        owner = type(self).__name__
        params = self._collect(owner, params)
        checked = self._checked({"lr": lr, **hyperparameters})
        foreach = check_bool(f"{owner} foreach", foreach)
        # Nothing is stored before every argument has been checked.
        self.foreach = foreach     # opt-in (module 11): the rule runs once on all parameters at once
        self.params = params
        self._hyperparameter_names = tuple(checked)
        for name, value in checked.items():
            setattr(self, name, value)
        self.state = [{} for _ in params]

    @staticmethod
    def _collect(owner: str, params) -> list:
        """The parameters as a list of distinct float Tensors, or an error saying what is wrong."""
        if isinstance(params, (Tensor, np.ndarray, str, bytes, Mapping)) or not isinstance(params, Iterable):
            raise TypeError(f"{owner} got params of type {type(params).__name__}: params must be an "
                            f"iterable of Tensors, e.g. model.parameters() or [w, b]")
        params = list(params)
        if not params:
            raise ValueError(f"{owner} got params=[]: params is empty, expected at least one Tensor")
        seen = set()
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{owner} got params[{index}] of type {type(param).__name__}: "
                                f"every parameter must be a Tensor")
            if param.data.dtype.kind != "f":
                raise TypeError(f"{owner} got params[{index}] with dtype {param.data.dtype}: "
                                f"only floating Tensors can be optimized")
            if id(param) in seen:
                raise ValueError(f"{owner} got params[{index}] twice: each Tensor may appear once, "
                                 f"else its update would be applied twice")
            seen.add(id(param))
        return params

    def _checked(self, hyperparameters: dict) -> dict:
        """Plain Python copies of the hyperparameters, after checking each one and their combination."""
        owner = type(self).__name__
        checked = {name: _RULES[name](owner, name, value) for name, value in hyperparameters.items()}
        self._check_combination(checked)
        return checked

    def _check_combination(self, hyperparameters: dict) -> None:
        """Override to reject combinations of valid values (e.g. Nesterov without momentum)."""

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        """The rule for one parameter: change `param` in place using `grad`; `state` is this
        parameter's own dict (empty before its first update)."""
        raise NotImplementedError(f"{type(self).__name__} must define update(param, grad, state, lr)")

    def zero_grad(self) -> None:
        """Set every existing gradient to zero in place (the arrays stay allocated; a gradient that
        is None stays None)."""
        if self.foreach:           # asked for: hand the work to module 11 (False: it does not apply)
            from tinytorch.core.acceleration import zero_all_at_once
            if zero_all_at_once(self):
                return
        # Hint: for each parameter whose .grad is not None, fill it with 0 in place (chapter 07, "API").
        ### BEGIN SOLUTION
        for param in self.params:
            if param.grad is not None:
                param.grad.fill(0)
        ### END SOLUTION

    def learning_rate(self) -> float:
        """`self.lr` as a Python float >= 0, checked (a schedule may have set it to anything): a NumPy
        float64 scalar would turn float32 updates into float64."""
        lr = self.lr
        if type(lr) is not float or not 0.0 <= lr < math.inf:      # the usual value passes one test
            lr = _nonnegative(type(self).__name__, "lr", lr)
        return lr

    def check_gradients(self) -> None:
        """Every gradient is None or an ndarray of its parameter's shape and dtype: checked for all of
        them before `step` changes any parameter, so an error leaves nothing half-updated."""
        owner = type(self).__name__
        for index, param in enumerate(self.params):
            grad = param.grad
            if grad is None or (type(grad) is np.ndarray and grad.shape == param.data.shape
                                and grad.dtype == param.data.dtype):
                continue
            if not isinstance(grad, np.ndarray):
                raise TypeError(f"{owner}.step(): params[{index}].grad is a {type(grad).__name__}, "
                                f"expected an ndarray (or None)")
            raise ValueError(f"{owner}.step(): params[{index}].grad has shape {grad.shape} and dtype "
                             f"{grad.dtype}, expected shape {param.data.shape} and dtype {param.data.dtype}")

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters whose `.grad` is None are skipped."""
        lr = self.learning_rate()
        if self.foreach:           # asked for: hand the work to module 11 (False: it does not apply)
            from tinytorch.core.acceleration import update_all_at_once
            if update_all_at_once(self, lr):
                return
        self.check_gradients()
        # Hint: for each parameter (and its own state dict, self.state[i]) whose .grad is not None,
        # call self.update(param.data, param.grad, state, lr) (chapter 07, "The update rules").
        ### BEGIN SOLUTION
        for param, state in zip(self.params, self.state):
            if param.grad is not None:
                self.update(param.data, param.grad, state, lr)
        ### END SOLUTION
        # provided: on a 0-d parameter NumPy's arithmetic gives scalars, not arrays (`d.copy()` of
        # one is a scalar too), and an in-place operator cannot change a scalar (`buf *= m` makes a
        # new one): such state is kept as 0-d arrays of the parameter's dtype, so that the next
        # step's in-place update reaches it and a checkpoint (which stores that dtype) resumes exactly
        for param, state in zip(self.params, self.state):
            if param.data.ndim == 0:
                for key, value in state.items():
                    if isinstance(value, np.floating):
                        state[key] = np.array(value, dtype=param.data.dtype)

    def state_dict(self, copy: bool = True) -> dict:
        """Everything needed to resume: type, hyperparameters, and each parameter's state.

        `hyperparameters` holds plain Python floats, bools and tuples; `state[i]` is the state of
        `params[i]`: its buffers and int step counts (an empty dict before its first update). The
        buffers are copies, or with `copy=False` the live arrays themselves (a no-copy view for
        writing a checkpoint or counting bytes; do not modify it).
        """
        copy = check_bool(f"{type(self).__name__}.state_dict copy", copy)
        hyperparameters = self._checked({name: getattr(self, name) for name in self._hyperparameter_names})
        state = []
        for entry, param in zip(self.state, self.params):
            copied = {}
            for key, value in entry.items():
                if key in self._state_counts:
                    copied[key] = int(value)
                elif isinstance(value, np.ndarray):
                    copied[key] = value.copy() if copy else value
                else:           # a rule's arithmetic on a 0-d parameter gives NumPy scalars
                    copied[key] = np.array(value, dtype=param.data.dtype)
            state.append(copied)
        return {"type": type(self).__name__, "hyperparameters": hyperparameters, "state": state}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Check `state_dict` completely, then copy it in (into existing buffers where there are some)."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{owner} got a {type(state_dict).__name__}: expected the dict that "
                            f"state_dict() returns")
        expected = {"type", "hyperparameters", "state"}
        if set(state_dict) != expected:
            raise ValueError(f"{owner} got keys {sorted(map(str, state_dict))}: expected {sorted(expected)}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"{owner} got the state of a {state_dict['type']!r} optimizer: "
                             f"expected type {type(self).__name__!r}")
        hyperparameters = state_dict["hyperparameters"]
        names = set(self._hyperparameter_names)
        if not isinstance(hyperparameters, Mapping) or set(hyperparameters) != names:
            given = sorted(map(str, hyperparameters)) if isinstance(hyperparameters, Mapping) else hyperparameters
            raise ValueError(f"{owner} got hyperparameters {given}: expected {sorted(names)}")
        hyperparameters = self._checked(dict(hyperparameters))
        entries = state_dict["state"]
        if not isinstance(entries, (list, tuple)) or len(entries) != len(self.params):
            given = len(entries) if isinstance(entries, (list, tuple)) else type(entries).__name__
            raise ValueError(f"{owner} got state for {given} parameters: this optimizer has "
                             f"{len(self.params)}")
        keys = set(self._state_arrays) | set(self._state_counts)
        for index, (entry, param) in enumerate(zip(entries, self.params)):
            if not isinstance(entry, Mapping) or (entry and set(entry) != keys):
                given = sorted(map(str, entry)) if isinstance(entry, Mapping) else type(entry).__name__
                raise ValueError(f"{owner} got state[{index}] with keys {given}: expected "
                                 f"{sorted(keys)} (or an empty dict before the first update)")
            if not entry:
                continue
            for key in self._state_arrays:
                value = entry[key]
                if not isinstance(value, np.ndarray) or value.shape != param.data.shape \
                        or value.dtype != param.data.dtype:
                    given = (f"shape {value.shape} and dtype {value.dtype}" if isinstance(value, np.ndarray)
                             else f"{describe(value)}, which is not an ndarray")
                    raise ValueError(f"{owner} got state[{index}][{key!r}] with {given}: params[{index}] "
                                     f"needs shape {param.data.shape} and dtype {param.data.dtype}")
            for key in self._state_counts:
                value = entry[key]
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                    raise ValueError(f"{owner} got state[{index}][{key!r}]={value!r}: expected an int >= 0")
        # Everything is valid: only now is anything changed.
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        for entry, target in zip(entries, self.state):
            if not entry:
                target.clear()
                continue
            for key in self._state_arrays:
                buffer = target.get(key)
                if isinstance(buffer, np.ndarray) and buffer.shape == entry[key].shape \
                        and buffer.dtype == entry[key].dtype:
                    np.copyto(buffer, entry[key])
                else:
                    target[key] = entry[key].copy()
            for key in self._state_counts:
                target[key] = int(entry[key])

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameter_names)
        return f"{type(self).__name__}({len(self.params)} params, {settings})"


# %%
if __name__ == "__main__":
    def test_unit_optimizer_base():
        w = Tensor(np.ones((2, 3)), requires_grad=True)
        b = Tensor(np.zeros(3), requires_grad=True)
        grad = np.full((2, 3), 7.0, dtype=np.float32)
        w.grad = grad
        opt = Optimizer([w, b], lr=0.1)
        opt.zero_grad()
        assert w.grad.shape == (2, 3) and not w.grad.any(), "zero_grad must zero the gradient"
        assert b.grad is None, "zero_grad must not create buffers"
        for bad, error in [([], ValueError), ([w, "b"], TypeError), (w, TypeError), ([w, w], ValueError)]:
            try:
                Optimizer(bad, lr=0.1)
            except error:
                pass
            else:
                raise AssertionError(f"Optimizer({bad!r}) should raise {error.__name__}")
        try:
            Optimizer([w], lr=-1.0)
        except ValueError as e:
            assert "lr" in str(e), "the message must name the argument"
        else:
            raise AssertionError("a negative lr must be refused")
        print("Optimizer base: zero_grad and input checks work")

    test_unit_optimizer_base()

# %% [markdown]
# ## SGD: momentum, dampening, Nesterov, weight decay
#
# Plain gradient descent moves each parameter against its gradient: $p \leftarrow p - \eta\, g$.
# Everything else is an option, applied in this order (PyTorch's; the order matters):
#
# 1. **Weight decay** (L2 regularisation) adds $\lambda p$ to the gradient: $g \leftarrow g + \lambda p$.
# 2. **Momentum** keeps a running direction $b$ (one buffer the size of the parameter). On the first
#    step the buffer *is* the gradient, $b_1 = g_1$ (no dampening then); afterwards
#    $b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t$, with dampening $\tau$ (usually 0).
# 3. The step direction is $d = b_t$, or with **Nesterov** momentum $d = g_t + \mu\, b_t$ (a look
#    ahead along the momentum; needs $\mu > 0$ and $\tau = 0$).
# 4. $p \leftarrow p - \eta\, d$.
#
# Other textbooks write momentum as $v \leftarrow \mu v - \eta g$, $p \leftarrow p + v$. That is the
# same method only while $\eta$ is constant: PyTorch's form keeps $\eta$ out of the buffer, so
# changing the learning rate takes effect at once. We follow PyTorch so the two agree step by step.
#
# **Cost.** Plain SGD keeps no state. Momentum keeps one buffer per parameter: one extra copy of the
# model, 4 bytes per float32 parameter. The update is written with in-place NumPy operations
# (`buf *= momentum`, `buf += g`, `param -= lr * buf`), so a step allocates no new state and at most
# one scratch array per parameter. The user's `.grad` is never modified.

# %%
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    Computes what `torch.optim.SGD` computes, up to float32 rounding. State per parameter: `momentum_buffer`,
    created on the first step that parameter gets a gradient (only when `momentum > 0`).
    Unlike PyTorch, `dampening` must lie in [0, 1], and there is no default rate: pass `lr`
    (or `learning_rate=`, the older spelling, as for Adam; not both).

    >>> import numpy as np
    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> optimizer = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = np.array([1.0, -1.0], dtype=np.float32)
    ...     optimizer.step()
    >>> print(w.data)          # steps of 0.1 * 1 and then 0.1 * (0.9 + 1)
    [0.71 2.29]
    >>> SGD([w], lr=0.1, nesterov=True)
    Traceback (most recent call last):
    ...
    ValueError: SGD got nesterov=True with momentum=0.0 and dampening=0.0: Nesterov momentum needs momentum > 0 and dampening = 0
    """

    _state_arrays = ("momentum_buffer",)

    def __init__(self, params, lr=None, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, *,
                 learning_rate=None, foreach=False):
        lr = _one_learning_rate(type(self).__name__, lr, learning_rate, default=None)
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay, foreach=foreach)

    def _check_combination(self, h: dict) -> None:
        if h["nesterov"] and (h["momentum"] <= 0.0 or h["dampening"] != 0.0):
            raise ValueError(f"SGD got nesterov=True with momentum={h['momentum']!r} and "
                             f"dampening={h['dampening']!r}: Nesterov momentum needs momentum > 0 "
                             f"and dampening = 0")

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        # Hint: d = grad + weight_decay * param; with momentum buf = a copy of d (first step: d may be the
        # gradient array, which zero_grad() refills), then momentum * buf + (1 - dampening) * d, kept in
        # state["momentum_buffer"]; d = buf (Nesterov: d + momentum * buf); param -= lr * d in place (chapter 07, "The update rules").
        ### BEGIN SOLUTION
        d = grad if self.weight_decay == 0.0 else grad + self.weight_decay * param
        if self.momentum != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:                        # the first step: the buffer is the gradient
                buf = state["momentum_buffer"] = np.array(d)      # a copy, an array even for a 0-d d
            else:
                buf *= self.momentum
                buf += d if self.dampening == 0.0 else (1.0 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        param -= lr * d
        ### END SOLUTION


# %%
if __name__ == "__main__":
    def test_unit_sgd():
        w = Tensor([1.0, -2.0], requires_grad=True)
        opt = SGD([w], lr=0.5, momentum=0.9)
        steps = [np.array([1.0, 2.0], dtype=np.float32), np.array([3.0, -1.0], dtype=np.float32)]
        buf, expected = None, np.array([1.0, -2.0])
        for g in steps:
            w.grad = g.copy()
            opt.step()
            buf = g.astype(np.float64) if buf is None else 0.9 * buf + g
            expected = expected - 0.5 * buf
        assert w.data.dtype == np.float32, "SGD must update .data in float32"
        np.testing.assert_allclose(w.data, expected, rtol=1e-6)
        np.testing.assert_allclose(opt.state[0]["momentum_buffer"], buf, rtol=1e-6)
        # Nesterov direction: g + momentum * buf
        v = Tensor([0.0], requires_grad=True)
        opt = SGD([v], lr=1.0, momentum=0.5, nesterov=True)
        v.grad = np.array([2.0], dtype=np.float32)
        opt.step()                                   # buf = 2, step = 2 + 0.5 * 2 = 3
        assert v.data[0] == -3.0
        print("SGD: momentum and Nesterov follow the PyTorch rule")

    test_unit_sgd()

# %% [markdown]
# ## Adam: a step size per coordinate
#
# SGD uses one learning rate for every coordinate, although gradients of different parameters can
# differ by orders of magnitude. Adam keeps two running averages per parameter, the mean of the
# gradient $m$ and the mean of its square $v$, and divides one by the square root of the other, so
# each coordinate moves by roughly $\eta$ whatever the scale of its gradient. With step count $t$
# (kept per parameter):
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2$$
#
# Both start at zero, so early averages are biased towards zero; dividing by $1-\beta^t$ corrects
# that. PyTorch arranges the arithmetic like this, and the placement of $\epsilon$ changes results
# when $v$ is tiny, so we do the same:
#
# $$p \leftarrow p - \frac{\eta}{1-\beta_1^t}\cdot \frac{m_t}{\sqrt{v_t}\,/\sqrt{1-\beta_2^t} + \epsilon}$$
#
# `Adam(weight_decay=λ)` is L2 regularisation: $\lambda p$ is added to the gradient before the
# averages see it, exactly as `torch.optim.Adam` does. Because Adam then divides by $\sqrt{v}$, the
# decay of a parameter with large gradients is weakened. **AdamW** decouples the two: it shrinks the
# parameter directly, $p \leftarrow p\,(1 - \eta\lambda)$, before the Adam update, and leaves the
# gradient alone. That is the only difference, so `AdamW` overrides only that method.
#
# **Cost.** Two buffers per parameter ($m$ and $v$): 8 extra bytes per float32 parameter, twice
# SGD-momentum. The step allocates one scratch array per parameter, which holds $g-m$, then
# $(1-\beta_2) g^2$, then the final update.

# %%
#| export
class Adam(Optimizer):
    """Adam, computing what `torch.optim.Adam` computes up to float32 rounding (weight decay = L2 added to grad).

    `learning_rate=` is accepted as an older spelling of `lr` (not both). State per parameter:
    `step` (int), `exp_avg` and `exp_avg_sq` (ndarrays), created at its first update.

    >>> import numpy as np
    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor([1.0, 1.0], requires_grad=True)
    >>> optimizer = Adam([w], lr=0.1)
    >>> w.grad = np.array([1e-3, 1e3], dtype=np.float32)
    >>> optimizer.step()       # the first step moves every coordinate by about lr
    >>> print(w.data.round(5))
    [0.9 0.9]
    >>> Adam([w], betas=(0.9, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: Adam got betas=(0.9, 1.0): each beta must be a number in [0, 1)
    """

    _state_arrays = ("exp_avg", "exp_avg_sq")
    _state_counts = ("step",)

    def __init__(self, params, lr=None, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 learning_rate=None, foreach=False):
        lr = _one_learning_rate(type(self).__name__, lr, learning_rate, default=1e-3)
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay, foreach=foreach)

    def apply_weight_decay(self, param: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
        """L2 weight decay: the gradient the averages see, `grad + weight_decay * param`."""
        # Hint: return grad + weight_decay * param (grad itself when weight_decay is 0)
        # (chapter 07, "The update rules").
        ### BEGIN SOLUTION
        if self.weight_decay == 0.0:
            return grad
        return grad + self.weight_decay * param
        ### END SOLUTION

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        # Hint: state: step, exp_avg (m), exp_avg_sq (v), zeros at first; step += 1; g = apply_weight_decay;
        # m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2; param -= lr / (1 - b1^t) * m /
        # (sqrt(v) / sqrt(1 - b2^t) + eps), in place (chapter 07, "The update rules").
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        grad = self.apply_weight_decay(param, grad, lr)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        denominator = np.sqrt(v) / math.sqrt(1.0 - beta2 ** t) + self.eps
        param -= (lr / (1.0 - beta1 ** t)) * m / denominator
        ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay, computing what `torch.optim.AdamW` computes up to float32 rounding.

    Before the Adam update, each parameter shrinks: p <- p * (1 - lr * weight_decay); the gradient
    is left alone. Default `weight_decay=1e-2`, as in PyTorch.

    >>> import numpy as np
    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor([10.0], requires_grad=True)
    >>> optimizer = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = np.zeros(1, dtype=np.float32)
    >>> optimizer.step()       # zero gradient: only the decay acts, 10 * (1 - 0.1 * 0.5)
    >>> print(w.data)
    [9.5]
    """

    def __init__(self, params, lr=None, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *,
                 learning_rate=None, foreach=False):
        super().__init__(params, lr, betas, eps, weight_decay, learning_rate=learning_rate, foreach=foreach)

    def apply_weight_decay(self, param: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
        """Decoupled weight decay: shrink the parameter in place, return the gradient unchanged."""
        # Hint: shrink param in place by (1 - lr * weight_decay) and return grad unchanged
        # (chapter 07, "The update rules").
        ### BEGIN SOLUTION
        if self.weight_decay != 0.0:
            param *= 1.0 - lr * self.weight_decay
        return grad
        ### END SOLUTION


# %%
if __name__ == "__main__":
    def test_unit_adam():
        rng = np.random.default_rng(0)
        start = rng.normal(size=(3, 2)).astype(np.float32)
        grads = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(3)]
        for cls, decay in [(Adam, 0.0), (Adam, 0.1), (AdamW, 0.1)]:
            w = Tensor(start.copy(), requires_grad=True)
            opt = cls([w], lr=0.01, weight_decay=decay)
            p, m, v = start.astype(np.float64), 0.0, 0.0
            for t, g in enumerate(grads, start=1):
                w.grad = g.copy()
                opt.step()
                g = g.astype(np.float64)
                if cls is AdamW:
                    p = p * (1 - 0.01 * decay)
                else:
                    g = g + decay * p
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                denom = np.sqrt(v) / math.sqrt(1 - 0.999 ** t) + 1e-8
                p = p - 0.01 / (1 - 0.9 ** t) * m / denom
            assert w.data.dtype == np.float32
            np.testing.assert_allclose(w.data, p, rtol=1e-5, atol=1e-6)
            assert opt.state[0]["step"] == 3
        assert Adam([w], learning_rate=0.5).lr == 0.5
        print("Adam and AdamW: moments, bias correction and decay match the formulas")

    test_unit_adam()

# %% [markdown]
# ## Checkpoints: `state_dict` and `load_state_dict`
#
# Stopping a run and resuming it must give the same numbers as never stopping. The model's weights
# are not enough: Adam's next step depends on $m$, $v$ and $t$, SGD-momentum's on its buffer. So
# `state_dict()` returns the optimizer's type, its hyperparameters (plain Python values, including
# the current `lr`), and for each parameter, by position, copies of its buffers and its step count.
#
# `load_state_dict()` refuses state that does not fit (another optimizer type, another number of
# parameters, a buffer whose shape or dtype differs from its parameter, a missing key) and checks
# *all* of it before it changes anything: a failed load leaves the optimizer exactly as it was.
# Then it copies into the existing buffers, so nothing that holds a reference to them goes stale.

# %%
if __name__ == "__main__":
    def test_unit_state_dict():
        rng = np.random.default_rng(1)
        start = rng.normal(size=(4,)).astype(np.float32)
        grads = [rng.normal(size=(4,)).astype(np.float32) for _ in range(6)]

        def run(steps, opt, w):
            for g in steps:
                w.grad = g.copy()
                opt.step()

        straight = Tensor(start.copy(), requires_grad=True)
        run(grads, Adam([straight], lr=0.1), straight)
        first = Tensor(start.copy(), requires_grad=True)
        opt = Adam([first], lr=0.1)
        run(grads[:3], opt, first)
        saved = opt.state_dict()
        resumed = Tensor(first.data.copy(), requires_grad=True)
        opt2 = Adam([resumed], lr=0.1)
        opt2.load_state_dict(saved)
        run(grads[3:], opt2, resumed)
        assert np.array_equal(straight.data, resumed.data), "resuming must reproduce the trajectory"
        before = opt2.state_dict()
        try:
            SGD([resumed], lr=0.1).load_state_dict(before)
        except ValueError:
            pass
        else:
            raise AssertionError("an Adam state must not load into SGD")
        print("state_dict: a resumed run continues bit for bit")

    test_unit_state_dict()

# %% [markdown]
# ## Memory: what the state costs
#
# For a model with $N$ float32 parameters, training holds $4N$ bytes of parameters and $4N$ of
# gradients, plus the optimizer state: nothing for SGD, $4N$ for SGD-momentum, $8N$ for Adam and
# AdamW. The check below counts the bytes actually held in `optimizer.state` after a few steps and
# confirms that further steps allocate no new state.

# %%
if __name__ == "__main__":
    def test_unit_memory():
        shapes = [(784, 128), (128,), (128, 10), (10,)]
        params = [Tensor(np.zeros(s), requires_grad=True) for s in shapes]
        param_bytes = sum(p.data.nbytes for p in params)
        for make, factor in [(lambda ps: SGD(ps, lr=0.1), 0), (lambda ps: SGD(ps, lr=0.1, momentum=0.9), 1),
                             (lambda ps: Adam(ps), 2), (lambda ps: AdamW(ps), 2)]:
            opt = make(params)
            for p in params:
                p.grad = np.ones_like(p.data)
            opt.step()
            buffers = [a for s in opt.state for a in s.values() if isinstance(a, np.ndarray)]
            assert sum(a.nbytes for a in buffers) == factor * param_bytes
            opt.step()
            again = [a for s in opt.state for a in s.values() if isinstance(a, np.ndarray)]
            assert sum(a.nbytes for a in again) == factor * param_bytes, "a second step keeps the same state"
        print(f"memory: {param_bytes} bytes of parameters -> state of 0x, 1x, 2x that size")

    test_unit_memory()
