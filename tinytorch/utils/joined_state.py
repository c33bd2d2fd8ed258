"""The bookkeeping behind module 11's one-call update (provided: no learner writes it).

Module 11's `update_all_at_once` runs the learner's `optimizer.update` once, on all parameters'
numbers laid end to end. Before it can, something must check that the arrays are still the ones
laid out last time, join each parameter's state into one buffer (copying in what the learner's rule
replaced), and afterwards hand each parameter's state entry a view of its piece. That is this file:
`joined_state(optimizer, max_bytes)` finds or makes an optimizer's `JoinedState`, or says the
one-call update does not apply; `zero_joined(optimizer)` sets its gradients to zero with one call.

Imports module 11's layout functions (`tinytorch.core.flat`); only module 11 uses this file.
"""
import operator
import weakref

import numpy as np

from tinytorch.core.flat import end_to_end, lay_end_to_end, memory_order, split_into
from tinytorch.core.optimizers import Adam, AdamW, Optimizer, SGD

__all__ = ["JoinedState", "joined_state", "zero_joined", "joined_of"]

ELEMENTWISE = (SGD, Adam, AdamW)         # the optimizers whose rule updates each number on its own
_joined = weakref.WeakKeyDictionary()    # optimizer -> its JoinedState (kept here, not on the optimizer)


def _all_same(arrays, handed_out) -> bool:
    """True when each array is the very object handed out (identity: no value is read)."""
    return all(map(operator.is_, arrays, handed_out))


class JoinedState:
    """An optimizer's parameters seen as one: 1-D views of their values and gradients, and their
    state joined into one dict of 1-D buffers (and counters), each parameter's own state entry
    holding views of its pieces."""

    def __init__(self, optimizer: Optimizer, values: np.ndarray):
        self.params = list(optimizer.params)
        self.datas = [p.data for p in self.params]
        self.shapes = [d.shape for d in self.datas]
        self.orders = [memory_order(d) for d in self.datas]   # the gradients and state are laid alike
        self.values = values
        self.grads = lay_end_to_end([p.grad for p in self.params], self.orders)
        for param, grad in zip(self.params, self.grads):
            param.grad = grad
        self.grad = end_to_end(self.grads)
        self.state = {}                  # key -> joined 1-D buffer, or a counter: what the rule sees
        self.buffers = {}                # key -> the joined buffer as handed to the rule
        self.views = {}                  # key -> the views of it handed to the entries

    def current(self) -> bool:
        """True while every parameter still holds the values it had when this was made."""
        return _all_same([p.data for p in self.params], self.datas)

    def gradients_joined(self) -> bool:
        """True while every `.grad` is still the view of the joined gradient buffer handed out."""
        return _all_same([p.grad for p in self.params], self.grads)

    def unchanged(self, entries: list) -> bool:
        """True when every value, gradient and state entry is still the array this handed out and
        every counter the joined one: nothing to check or gather, the rule can run at once (one
        identity test per array: this runs on every step)."""
        if not (self.current() and self.gradients_joined()):
            return False
        size = len(self.state)
        if any(len(entry) != size for entry in entries):
            return False
        for key, value in self.state.items():
            views = self.views.get(key)
            found = [entry.get(key) for entry in entries]
            if views is None:                          # a counter
                if any(v != value for v in found):
                    return False
            elif not _all_same(found, views):
                return False
        return True

    def zero_gradients(self) -> bool:
        """All gradients set to zero with one call, when they are still the joined views."""
        if not self.gradients_joined():
            return False
        self.grad.fill(0)
        return True

    def gather_gradients(self) -> None:
        """Each `.grad` a view of the joined gradient buffer (a replaced `.grad` is copied in)."""
        for param, view in zip(self.params, self.grads):
            if param.grad is not view:
                view[...] = param.grad
                param.grad = view

    def gather_state(self, entries: list) -> bool:
        """The joined state from the per-parameter entries (copied in where an entry is not the
        view handed out); False, having changed nothing, when the entries differ in kind."""
        if not any(entries):
            self.state, self.buffers, self.views = {}, {}, {}
            return True
        keys = set(entries[0])
        if any(set(entry) != keys for entry in entries):
            return False
        for key in keys:
            values = [entry[key] for entry in entries]
            if isinstance(values[0], np.ndarray):
                if any(type(v) is not np.ndarray or v.shape != shape for v, shape in zip(values, self.shapes)):
                    return False
            elif any(v != values[0] for v in values):
                return False
        for key in keys:
            values = [entry[key] for entry in entries]
            if not isinstance(values[0], np.ndarray):
                self.state[key] = values[0]
                continue
            views = self.views.get(key)
            if views is not None and _all_same(values, views):
                continue
            buffer = np.empty_like(self.values)
            self.adopt(entries, key, buffer)
            for view, value in zip(self.views[key], values):
                view[...] = value
        for key in set(self.state) - keys:
            del self.state[key]
            self.buffers.pop(key, None)
            self.views.pop(key, None)
        return True

    def adopt(self, entries: list, key: str, buffer: np.ndarray) -> None:
        """`buffer` (1-D, all parameters' numbers) becomes the joined state[key]; each entry a view."""
        views = split_into(buffer, self.shapes, self.orders)
        for entry, view in zip(entries, views):
            entry[key] = view
        self.state[key] = self.buffers[key] = buffer
        self.views[key] = views

    def share_state(self, entries: list) -> None:
        """After the rule: an array it created or replaced becomes the joined buffer (each entry a
        view of it), and counters are copied into every entry."""
        for key, value in list(self.state.items()):
            if not isinstance(value, np.ndarray):
                for entry in entries:
                    entry[key] = value
                continue
            if value is self.buffers.get(key):
                continue                              # updated in place: the views are current
            if value.shape != self.values.shape:
                raise ValueError(f"the update rule left state[{key!r}] with shape {value.shape}, "
                                 f"expected {self.values.shape} (all parameters' numbers, end to end)")
            self.adopt(entries, key, np.ascontiguousarray(value))


def joined_state(optimizer: Optimizer, max_bytes: int):
    """The optimizer's `JoinedState`, its gradients and state gathered and ready for one call of its
    rule; None, having changed nothing, when the one-call update does not apply (a parameter without
    a gradient, values that do not lie end to end or exceed `max_bytes`, an optimizer other than
    SGD, Adam or AdamW themselves, state entries that differ in kind). Checks the gradients as `step` does, unless
    every array is still the one handed out at the previous step."""
    entries = optimizer.state
    joined = _joined.get(optimizer)
    if joined is not None and joined.unchanged(entries):
        return joined
    optimizer.check_gradients()
    params = optimizer.params
    # the course's own classes only, whatever rule the learner wrote in them (an elementwise one):
    # a subclass may bring a rule that is not elementwise (one dividing by the gradient's norm), and
    # one call on all parameters would then change the numbers
    if any(p.grad is None for p in params) or type(optimizer) not in ELEMENTWISE:
        return None
    if joined is None or not joined.current():
        values = end_to_end([p.data for p in params])
        if values is None or values.nbytes > max_bytes:
            _joined.pop(optimizer, None)
            return None
        joined = _joined[optimizer] = JoinedState(optimizer, values)
    if not joined.gather_state(entries):      # all entries empty (a fresh or reloaded state): reset
        return None
    joined.gather_gradients()
    return joined


def zero_joined(optimizer: Optimizer) -> bool:
    """The optimizer's gradients set to zero with one call, when they lie end to end (the one-call
    update laid them out); False, having changed nothing, otherwise."""
    joined = _joined.get(optimizer)
    return joined is not None and joined.zero_gradients()


def joined_of(optimizer: Optimizer):
    """The optimizer's JoinedState, or None (for tests: which path ran)."""
    return _joined.get(optimizer)
