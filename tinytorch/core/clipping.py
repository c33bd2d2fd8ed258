# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""Gradient clipping by global norm (exported from module 08, src/08_training)."""
import math

import numpy as np

from tinytorch.utils.gradient_arrays import gradient_arrays
from tinytorch.utils.validation import check_bool, check_number

__all__ = ["clip_grad_norm", "grad_norm"]


def grad_norm(parameters) -> float:
    """The global L2 norm of the gradients of ``parameters`` (None gradients skipped), as a float."""
    grads = gradient_arrays(parameters, "grad_norm")
    squares = 0.0
    for g in grads:
        squares += float(np.vdot(g, g))
    if not math.isfinite(squares):                # float32 overflow, or a non-finite gradient
        with np.errstate(over="ignore", invalid="ignore"):
            squares = sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)
    return math.sqrt(squares)


def clip_grad_norm(parameters, max_norm: float = 1.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the global norm *before* clipping, as a Python float. When it is finite and exceeds
    ``max_norm``, every gradient is multiplied by ``max_norm / total_norm``; otherwise nothing
    changes. A non-finite norm raises ``RuntimeError`` when ``error_if_nonfinite`` is true.

    >>> from tinytorch.core.tensor import Tensor
    >>> p = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> p.grad = np.array([100.0, 200.0, 50.0], dtype=np.float32)
    >>> clip_grad_norm([p], max_norm=1.0)
    229.128784747792
    >>> [round(float(g), 3) for g in p.grad]
    [0.436, 0.873, 0.218]
    """
    max_norm = check_number("clip_grad_norm max_norm", max_norm, positive=True)
    error_if_nonfinite = check_bool("clip_grad_norm error_if_nonfinite", error_if_nonfinite)
    grads = gradient_arrays(parameters, "clip_grad_norm", writable=True)
    # Hint: total_norm = sqrt(sum of every gradient entry squared, in float64); if it is finite and
    # above max_norm, multiply every g in grads in place by max_norm / total_norm (chapter 08, "Gradient clipping").
    total_norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    if math.isfinite(total_norm) and total_norm > max_norm:
        scale = max_norm / total_norm
        for g in grads:
            g *= scale
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(f"clip_grad_norm: the total norm of the gradients is {total_norm} (non-finite); "
                           f"the gradients were left unchanged")
    return total_norm
