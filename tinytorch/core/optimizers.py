# GENERATED FILE: DO NOT EDIT. Source: src/07_optimizers/07_optimizers.py
# Edit the source, then run `make export` to regenerate this file.

"""Optimizers: turn the gradients in `param.grad` into in-place updates of `param.data`."""
import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from tinytorch.core.autograd import zero_grads
from tinytorch.core.flat import end_to_end, lay_end_to_end, split_into
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


class Optimizer:
    """Base class: parameters, learning rate, per-parameter state, `step`, `zero_grad`, checkpoints.

    A subclass passes its hyperparameters to `__init__`, names the arrays (`_state_arrays`) and
    counters (`_state_counts`) its state holds, and writes `_update(param, grad, state, lr)`: the
    rule for one parameter, which changes the ndarray `param` in place. A rule that is elementwise
    sets `_elementwise = True`: `step` may then run it once on parameters laid end to end (core.flat).

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
    # True when _update is elementwise, so that one call on parameters laid end to end (core.flat)
    # computes exactly what one call per parameter computes. A rule that looks at a parameter as a
    # whole (its norm, say) must leave it False.
    _elementwise: bool = False

    def __init__(self, params, lr, **hyperparameters):
        owner = type(self).__name__
        params = self._collect(owner, params)
        checked = self._checked({"lr": lr, **hyperparameters})
        # Nothing is stored before every argument has been checked.
        self.params = params
        self._hyperparameter_names = tuple(checked)
        for name, value in checked.items():
            setattr(self, name, value)
        self.state = [{} for _ in params]
        self._layout = None        # an _EndToEnd, once step() has looked at the parameters

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

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        """Change `param` in place using `grad`; `state` is this parameter's own dict."""
        raise NotImplementedError(f"{type(self).__name__} must define _update(param, grad, state, lr)")

    def zero_grad(self) -> None:
        """Set every existing gradient buffer to zero in place (buffers stay allocated)."""
        # Hint: zero_grads(self.params) from module 06 zeroes the buffers without replacing them
        # (chapter 07, "API"); filling each param.grad with 0 is also correct, only slower.
        zero_grads(self.params)

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters whose `.grad` is None are skipped.

        Parameters laid end to end (a Sequential's) are updated by one call of the rule; their
        gradients are then kept end to end too: a `.grad` found elsewhere is copied into that buffer
        once and set to its view (same values; unlike PyTorch, the `.grad` object changes then)."""
        owner = type(self).__name__
        # A Python float: a NumPy float64 scalar (e.g. set by a schedule) would upcast float32 arrays.
        # The usual value (a float in [0, inf)) passes one comparison; anything else gets the full check.
        lr = self.lr
        if type(lr) is not float or not 0.0 <= lr < math.inf:
            lr = _nonnegative(owner, "lr", lr)
        # Provided: the parameters lie end to end and every value and gradient is the very array that
        # passed the checks below when that was found (same object, shape and dtype): one call of the
        # rule on the whole buffer computes what the loop at the end computes, in fewer calls.
        layout = self._layout
        if layout is not None and layout.data is not None and layout.current(self.params, self.state):
            self._update_laid_out(layout, lr)
            return
        # Check every gradient before changing any parameter, so an error leaves nothing half-updated.
        work = []
        for index, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            data = param.data
            if not isinstance(grad, np.ndarray):
                raise TypeError(f"{owner}.step(): params[{index}].grad is a {type(grad).__name__}, "
                                f"expected an ndarray (or None)")
            if grad.shape != data.shape or grad.dtype != data.dtype:
                raise ValueError(f"{owner}.step(): params[{index}].grad has shape {grad.shape} and dtype "
                                 f"{grad.dtype}, expected shape {data.shape} and dtype {data.dtype}")
            work.append((index, data, grad))
        # Provided: find out whether the values lie end to end in one buffer (Sequential lays them out
        # so, core.flat); if they do, the gradients and state are laid out to match, and updated at once.
        if self._elementwise and len(work) == len(self.params) > 1 and self._update_end_to_end(work, lr):
            return
        # Hint: for each checked (index, data, grad), let the rule update the array in place:
        # self._update(data, grad, self.state[index], lr) (chapter 07, "The update rules").
        for index, data, grad in work:
            self._update(data, grad, self.state[index], lr)

    def _update_end_to_end(self, work: list, lr: float) -> bool:
        """One call of `_update` on every parameter at once, if their values lie end to end; False
        (and nothing changed) if they do not. Reached only when step()'s quick test failed, so a
        layout that found them end to end is out of date and is made again."""
        layout = self._layout
        if layout is None or layout.data is not None or not layout.current(self.params, self.state):
            layout = self._layout = _EndToEnd(self.params, work, self.state, self._state_arrays,
                                              self._state_counts)
        if layout.data is None:
            return False
        self._update_laid_out(layout, lr)
        return True

    def _update_laid_out(self, layout: "_EndToEnd", lr: float) -> None:
        """The rule once on the whole buffers, then each parameter's state entry shares the result."""
        self._update(layout.data, layout.grad, layout.state, lr)
        layout.share_state(self.state)

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
        for entry in self.state:
            copied = {}
            for key, value in entry.items():
                if isinstance(value, np.ndarray):
                    copied[key] = value.copy() if copy else value
                else:
                    copied[key] = int(value)
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
                    given = f"shape {getattr(value, 'shape', '?')} and dtype {getattr(value, 'dtype', '?')}"
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


# Above this size one call per parameter is as fast: NumPy's fixed cost per call is then negligible,
# and working through one parameter at a time keeps its arrays in the CPU's cache (measured by
# `make bench`: 784-512-512-512-10 ran 5% slower end to end).
_END_TO_END_MAX_BYTES = 1 << 20


def _kept_end_to_end(arrays: list, put) -> tuple:
    """(arrays, their 1-D run): the arrays themselves if they lie end to end, else copies laid end to
    end, each handed to `put(position, copy)` to replace the original."""
    run = end_to_end(arrays)
    if run is None:
        arrays = lay_end_to_end(arrays)
        for position, array in enumerate(arrays):
            put(position, array)
        run = end_to_end(arrays)
    return arrays, run


class _EndToEnd:
    """An optimizer's parameters seen as one: 1-D views of their values, of their gradients and of
    each state array, when the values lie end to end in one buffer (core.flat). `data` is None when
    they do not. Gradients that do not lie end to end are copied into one buffer and each `.grad`
    becomes a view of it (the values are unchanged), and so are state arrays. `current` tells
    whether anything was replaced since (a new `.data`, `.grad` or state array, a loaded count)."""

    def __init__(self, params: list, work: list, entries: list, array_keys: tuple, count_keys: tuple):
        self.datas = [data for _, data, _ in work]
        self.data = end_to_end(self.datas)
        if self.data is not None and self.data.nbytes > _END_TO_END_MAX_BYTES:
            self.data = None
        self.retry = False            # True: try again next step (the state could not be joined yet)
        self.shared = []              # (state entry, key, view) for each state array handed out
        if self.data is None:
            return
        self.array_keys, self.count_keys = array_keys, count_keys
        def put_grad(position, grad):
            params[work[position][0]].grad = grad
        self.grads, self.grad = _kept_end_to_end([grad for _, _, grad in work], put_grad)
        self.state = self._joined_state(entries)
        if self.state is None:
            self.data, self.retry = None, True

    def _joined_state(self, entries: list):
        """The state of all parameters as one dict of 1-D arrays and counts, or None if the entries
        differ in kind (some updated, some not) or in their counts."""
        if not any(entries):
            return {}
        first = entries[0]
        if any(set(entry) != set(first) for entry in entries) \
                or any(entry[key] != first[key] for entry in entries for key in self.count_keys):
            return None
        joined = {key: first[key] for key in self.count_keys}
        for key in self.array_keys:
            if key not in first:
                continue
            arrays = [entry[key] for entry in entries]
            if any(a.shape != d.shape or a.dtype != d.dtype for a, d in zip(arrays, self.datas)):
                return None

            def put_state(position, array, key=key):
                entries[position][key] = array
            arrays, joined[key] = _kept_end_to_end(arrays, put_state)
            self.shared += [(entry, key, array) for entry, array in zip(entries, arrays)]
        return joined

    def current(self, params: list, entries: list) -> bool:
        """True when nothing was replaced since this layout was made; with `data`, also that every
        gradient is the array seen then, with its shape and dtype unchanged (so still checked)."""
        if self.retry or len(params) != len(self.datas):
            return False
        if self.data is None:         # still the same values, known not to lie end to end?
            for param, known in zip(params, self.datas):
                if param.data is not known:
                    return False
            return True
        for param, data, grad in zip(params, self.datas, self.grads):
            # .grad, not ._grad: reading it fills a zero that zero_grad left pending (module 06)
            if param.data is not data or param.grad is not grad \
                    or grad.shape != data.shape or grad.dtype != data.dtype:
                return False
        for entry, key, view in self.shared:
            if entry.get(key) is not view:
                return False
        for key in self.count_keys:
            count = self.state.get(key)
            for entry in entries:
                if entry.get(key) != count:
                    return False
        return True

    def share_state(self, entries: list) -> None:
        """After an update: each parameter's state entry holds views of the joined arrays (made once)
        and the joined counts."""
        if not self.shared and any(key in self.state for key in self.array_keys):
            for key in self.array_keys:
                views = split_into(self.state[key], [data.shape for data in self.datas])
                for entry, view in zip(entries, views):
                    entry[key] = view
                    self.shared.append((entry, key, view))
        for key in self.count_keys:
            count = self.state[key]
            for entry in entries:
                entry[key] = count


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    Computes exactly what `torch.optim.SGD` computes. State per parameter: `momentum_buffer`,
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
    _elementwise = True

    def __init__(self, params, lr=None, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, *,
                 learning_rate=None):
        lr = _one_learning_rate(type(self).__name__, lr, learning_rate, default=None)
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)

    def _check_combination(self, h: dict) -> None:
        if h["nesterov"] and (h["momentum"] <= 0.0 or h["dampening"] != 0.0):
            raise ValueError(f"SGD got nesterov=True with momentum={h['momentum']!r} and "
                             f"dampening={h['dampening']!r}: Nesterov momentum needs momentum > 0 "
                             f"and dampening = 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        # Hint: d = grad + weight_decay * param; with momentum, buf = momentum * buf + (1 - dampening) * d
        # (buf = d on the first step) and d = buf, or d + momentum * buf with Nesterov; then
        # param -= lr * d, in place (chapter 07, "The update rules").
        momentum, dampening, decay = self.momentum, self.dampening, self.weight_decay
        if decay != 0.0:
            direction = np.multiply(param, decay)      # new array: the user's grad stays untouched
            direction += grad
        else:
            direction = grad
        if momentum != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:                            # first step: the buffer is the gradient
                buf = state["momentum_buffer"] = np.array(direction, copy=True)
            else:
                buf *= momentum
                if dampening != 0.0:
                    buf += (1.0 - dampening) * direction
                else:
                    buf += direction
            if self.nesterov:
                ahead = np.multiply(buf, momentum)
                ahead += direction
                direction = ahead
            else:
                direction = buf
        param -= lr * direction


class Adam(Optimizer):
    """Adam, computing exactly what `torch.optim.Adam` computes (weight decay = L2 added to grad).

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
    _elementwise = True

    def __init__(self, params, lr=None, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 learning_rate=None):
        lr = _one_learning_rate(type(self).__name__, lr, learning_rate, default=1e-3)
        super().__init__(params, lr=lr, betas=betas, eps=eps,
                         weight_decay=weight_decay)

    def _decay(self, param: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
        """L2 weight decay: the gradient the averages see is g + weight_decay * p (a new array)."""
        # Hint: return grad + weight_decay * param as a new array (grad itself when weight_decay is 0)
        # (chapter 07, "The update rules").
        if self.weight_decay == 0.0:
            return grad
        decayed = np.multiply(param, self.weight_decay)
        decayed += grad
        return decayed

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, lr: float) -> None:
        # Hint: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, then
        # param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), in place (chapter 07,
        # "The update rules"; state holds step, exp_avg and exp_avg_sq).
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        grad = self._decay(param, grad, lr)
        scratch = np.empty_like(param)
        np.subtract(grad, exp_avg, out=scratch)      # m += (1 - b1) (g - m)  ==  b1 m + (1 - b1) g
        scratch *= 1.0 - beta1
        exp_avg += scratch
        np.multiply(grad, grad, out=scratch)         # v = b2 v + (1 - b2) g^2
        scratch *= 1.0 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch
        # Python floats (not NumPy float64 scalars) keep the arithmetic below in float32.
        step_size = lr / (1.0 - beta1 ** t)
        np.sqrt(exp_avg_sq, out=scratch)             # denominator: sqrt(v) / sqrt(1 - b2^t) + eps
        scratch /= math.sqrt(1.0 - beta2 ** t)
        scratch += self.eps
        np.divide(exp_avg, scratch, out=scratch)
        scratch *= step_size
        param -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay, computing exactly what `torch.optim.AdamW` computes.

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
                 learning_rate=None):
        super().__init__(params, lr, betas, eps, weight_decay, learning_rate=learning_rate)

    def _decay(self, param: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
        """Decoupled weight decay: shrink the parameter in place, return the gradient unchanged."""
        # Hint: shrink param in place by (1 - lr * weight_decay) and return grad unchanged
        # (chapter 07, "The update rules").
        if self.weight_decay != 0.0:
            param *= 1.0 - lr * self.weight_decay
        return grad
