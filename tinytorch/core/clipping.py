# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""Gradient clipping by global norm (exported from module 08, src/08_training)."""
import math
from collections.abc import Iterable

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["clip_grad_norm", "grad_norm"]


def _gradients(parameters, who: str) -> tuple:
    """(indices, gradients): the gradient ndarrays of ``parameters`` (a Tensor or an iterable of
    Tensors) and the parameters' positions; None gradients skipped.

    Everything is checked before anything is returned: the caller may then change them all."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    if type(parameters) is not list and (isinstance(parameters, (str, bytes, dict, np.ndarray))
                                         or not isinstance(parameters, Iterable)):
        raise TypeError(f"{who} parameters must be a Tensor or an iterable of Tensors "
                        f"(e.g. model.parameters()), got {describe(parameters)}")
    indices, grads = [], []
    for index, param in enumerate(parameters):
        if not isinstance(param, Tensor):
            raise TypeError(f"{who} parameters[{index}] must be a Tensor (whose .grad is clipped), "
                            f"got {describe(param)}")
        grad = param.grad
        if type(grad) is np.ndarray and grad.dtype.kind == "f":    # the usual case, in one test
            indices.append(index)
            grads.append(grad)
            continue
        if grad is None:
            continue
        if isinstance(grad, Tensor):
            grad = grad.data
        if not isinstance(grad, np.ndarray) or grad.dtype.kind != "f":
            raise TypeError(f"{who} parameters[{index}].grad must be a float ndarray or Tensor, "
                            f"got {describe(grad)}")
        indices.append(index)
        grads.append(grad)
    return indices, grads


def _norm(grads: list, exact: bool = True) -> float:
    """sqrt(sum of squares) of the arrays; inf or nan when a gradient is.

    ``exact``: summed in float64 (a copy of each array). Otherwise BLAS dot products in the arrays'
    own dtype, fast and as precise as PyTorch's norm, recounted in float64 only when that sum is not
    finite (so float32 overflow is never mistaken for an infinite gradient)."""
    squares = 0.0
    if not exact:
        for g in grads:
            squares += float(np.vdot(g, g))
        if math.isfinite(squares):
            return math.sqrt(squares)
        squares = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for g in grads:
            flat = g.reshape(-1).astype(np.float64, copy=False)
            squares += float(np.dot(flat, flat))
    return math.sqrt(squares) if math.isfinite(squares) else squares


def grad_norm(parameters) -> float:
    """The global L2 norm of the gradients of ``parameters`` (None grads skipped), as a float.

    Summed in the gradients' dtype (float32 BLAS, as PyTorch does) and recounted in float64 when
    that overflows: cheap enough for the Trainer to check every update for non-finite gradients."""
    return _norm(_gradients(parameters, "grad_norm")[1], exact=False)


def clip_grad_norm(parameters, max_norm: float = 1.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the global norm *before* clipping, as a Python float. When it exceeds ``max_norm``
    every gradient is multiplied by ``max_norm / total_norm`` (no epsilon: see the chapter);
    otherwise nothing changes. A non-finite norm raises ``RuntimeError`` when
    ``error_if_nonfinite`` is true, and is otherwise returned with the gradients untouched.

    >>> p = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> p.grad = np.array([100.0, 200.0, 50.0], dtype=np.float32)
    >>> clip_grad_norm([p], max_norm=1.0)
    229.128784747792
    >>> [round(float(g), 3) for g in p.grad]
    [0.436, 0.873, 0.218]
    """
    max_norm = check_number("clip_grad_norm max_norm", max_norm, positive=True)
    error_if_nonfinite = check_bool("clip_grad_norm error_if_nonfinite", error_if_nonfinite)
    indices, grads = _gradients(parameters, "clip_grad_norm")
    for index, g in zip(indices, grads):
        if not g.flags.writeable:
            raise ValueError(f"clip_grad_norm parameters[{index}].grad is read-only, so it cannot be "
                             f"scaled in place; no gradient was changed")
    # Hint: total_norm = sqrt(sum of every gradient's squared entries) (use _norm(grads)); if it is
    # above max_norm, multiply every gradient in place by max_norm / total_norm (chapter 08,
    # "Gradient clipping"). A non-finite norm changes nothing: raise or return it.
    total_norm = _norm(grads)
    if not math.isfinite(total_norm):
        if error_if_nonfinite:
            raise RuntimeError(f"clip_grad_norm: the total norm of the gradients is {total_norm}; "
                               f"the gradients were left unchanged")
        return total_norm
    if total_norm > max_norm:
        scale = max_norm / total_norm
        for g in grads:
            g *= scale
    return total_norm
