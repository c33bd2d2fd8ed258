"""What training needs from a model, for ``Module``s and plain objects alike.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. The seeds train plain objects as often as ``Module``s (``SimpleNN`` has
``forward(x)``, ``parameters()`` returning a list and a ``training`` attribute, and is neither a
``Module`` nor callable), so training asks a model for two things only, ``forward(x)`` and
``parameters()`` returning a list of Tensors, and uses more when it is there:

- mode: ``train()`` / ``eval()`` when the model has them, else its ``training`` attribute is set;
- state: a ``Module``'s named arrays (``layers.0.weight``, ...); a plain model's parameters by
  position (``parameters.0``, ...), restored with the same checks (count, shapes, dtypes) before
  anything changes;
- random generators (Dropout's): ``random_state()`` / ``set_random_state()`` when present.

A model lacking the two is a ``TypeError`` that says what a model needs.
"""
from copy import deepcopy

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, describe

__all__ = ["check_model", "model_parameters", "run_model", "is_training", "set_training",
           "model_state", "load_model_state", "model_random_state", "set_model_random_state"]

_NEEDS = "a model needs forward(x) and parameters() returning a list of Tensors"


def model_parameters(model) -> list:
    """``model.parameters()`` as a list, after checking that it is a list (or tuple) of Tensors."""
    getter = getattr(model, "parameters", None)
    if not callable(getter):
        raise TypeError(f"{type(model).__name__} has no parameters() method: {_NEEDS}")
    params = getter()
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"{type(model).__name__}.parameters() returned {describe(params)}: {_NEEDS}")
    for index, param in enumerate(params):
        if not isinstance(param, Tensor):
            raise TypeError(f"{type(model).__name__}.parameters()[{index}] is {describe(param)}: {_NEEDS}")
    return list(params)


def check_model(model) -> None:
    """TypeError unless ``model`` has forward(x) and parameters() giving Tensors."""
    if not callable(getattr(model, "forward", None)):
        raise TypeError(f"{describe(model)} has no forward(x) method: {_NEEDS}")
    model_parameters(model)


def run_model(model, inputs):
    """``model.forward(inputs)``, after checking that the model has a forward method."""
    forward = getattr(model, "forward", None)
    if not callable(forward):
        raise TypeError(f"run_model model {describe(model)} has no forward(x) method: {_NEEDS}")
    return forward(inputs)


def is_training(model) -> bool:
    return bool(getattr(model, "training", True))


def set_training(model, mode: bool) -> None:
    """Training mode on or off: ``train()`` / ``eval()`` when the model has them, else ``model.training``."""
    mode = check_bool("set_training mode", mode)
    method = getattr(model, "train" if mode else "eval", None)
    if callable(method):
        method()
        return
    try:
        model.training = mode
    except AttributeError:
        raise TypeError(f"set_training model {describe(model)} has no train()/eval() and no settable "
                        f"training attribute") from None


def model_state(model, copy: bool = True) -> dict:
    """A Module's ``state_dict(copy)``; a plain model's own ``state_dict()`` if it has both it and
    ``load_state_dict``; otherwise its parameters by position, ``{"parameters.0": array, ...}``
    (copies, or the live arrays with ``copy=False``)."""
    copy = check_bool("model_state copy", copy)
    if isinstance(model, Module):
        return model.state_dict(copy=copy)
    if callable(getattr(model, "state_dict", None)) and callable(getattr(model, "load_state_dict", None)):
        return model.state_dict()
    return {f"parameters.{i}": (p.data.copy() if copy else p.data) for i, p in enumerate(model_parameters(model))}


def load_model_state(model, state) -> None:
    """Put ``model_state`` back: everything is checked before any parameter changes."""
    if isinstance(model, Module) or (callable(getattr(model, "state_dict", None))
                                     and callable(getattr(model, "load_state_dict", None))):
        model.load_state_dict(state)
        return
    params = model_parameters(model)
    if not isinstance(state, dict):
        raise TypeError(f"model state must be a dict of arrays, got {describe(state)}")
    expected = [f"parameters.{i}" for i in range(len(params))]
    if set(state) != set(expected):
        given = sorted(map(str, state))
        raise ValueError(f"model state has {len(given)} entries ({', '.join(given[:3])}"
                         f"{', ...' if len(given) > 3 else ''}); this {type(model).__name__} has "
                         f"{len(expected)} parameters, saved as parameters.0 ... parameters.{len(expected) - 1}")
    for name, param in zip(expected, params):
        value = state[name]
        if not isinstance(value, np.ndarray):
            raise TypeError(f"model state {name!r} must be an ndarray, got {describe(value)}")
        if value.shape != param.data.shape or value.dtype != param.data.dtype:
            raise ValueError(f"model state {name!r} has shape {value.shape} and dtype {value.dtype}, "
                             f"expected shape {param.data.shape} and dtype {param.data.dtype}")
    for name, param in zip(expected, params):
        np.copyto(param.data, state[name])


def model_random_state(model):
    """A copy of the model's ``random_state()`` (its generators' states) when it has one, else None."""
    getter = getattr(model, "random_state", None)
    return deepcopy(getter()) if callable(getter) else None


def set_model_random_state(model, states) -> None:
    """Restore ``model_random_state``; the model's ``set_random_state`` checks before changing anything."""
    if (states is None) != (model_random_state(model) is None):
        raise ValueError(f"random state: the saved state has {'none' if states is None else 'one'}, "
                         f"this model ({type(model).__name__}) has {'none' if states is not None else 'one'}")
    if states is not None:
        if not isinstance(states, dict):
            raise TypeError(f"random state must be a dict of generator states, got {describe(states)}")
        model.set_random_state(states)
