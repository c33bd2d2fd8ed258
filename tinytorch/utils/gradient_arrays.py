"""The gradients of a list of parameters, checked: ``gradient_arrays``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. ``clip_grad_norm`` and ``grad_norm`` (chapter 08) take a Tensor or an
iterable of Tensors, as PyTorch's do; this turns that argument into the list of their gradient
arrays (parameters without a gradient skipped), checking every one before any is returned, so that
a function which then scales them changes all of them or none.
"""
from collections.abc import Iterable

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import describe

__all__ = ["gradient_arrays"]


def gradient_arrays(parameters, who: str, writable: bool = False) -> list:
    """The float gradient ndarrays of ``parameters`` (a Tensor or an iterable of Tensors; a gradient
    held as a Tensor gives its ``.data``), None gradients skipped. With ``writable``, a read-only
    gradient is a ValueError (it could not be scaled in place)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    if type(parameters) is not list and (isinstance(parameters, (str, bytes, dict, np.ndarray))
                                         or not isinstance(parameters, Iterable)):
        raise TypeError(f"{who} parameters must be a Tensor or an iterable of Tensors "
                        f"(e.g. model.parameters()), got {describe(parameters)}")
    grads = []
    for index, param in enumerate(parameters):
        if not isinstance(param, Tensor):
            raise TypeError(f"{who} parameters[{index}] must be a Tensor (whose .grad is used), "
                            f"got {describe(param)}")
        grad = param.grad
        if grad is None:
            continue
        if isinstance(grad, Tensor):
            grad = grad.data
        if not isinstance(grad, np.ndarray) or grad.dtype.kind != "f":
            raise TypeError(f"{who} parameters[{index}].grad must be a float ndarray or Tensor, "
                            f"got {describe(grad)}")
        if writable and not grad.flags.writeable:
            raise ValueError(f"{who} parameters[{index}].grad is read-only, so it cannot be "
                             f"scaled in place; no gradient was changed")
        grads.append(grad)
    return grads
