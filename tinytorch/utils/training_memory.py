"""Where the bytes of a training run go: ``training_memory`` (measured) and ``memory_table`` (textbook).

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it; chapter 08 uses it to count the bytes of parameters, gradients, optimizer
state and activations. Parameters, gradients and optimizer state are measured from the real buffers
(``.nbytes``, the optimizer read through the no-copy view ``state_dict(copy=False)``; a gradient not
allocated yet counts at the size it will have). Activations are an estimate: a batch of zeros goes
through the model under ``no_grad`` in eval mode, adding up the bytes of the input and of each
layer's output.
"""
import math

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor
from tinytorch.utils.model_adapter import is_training, model_parameters, run_model, set_training
from tinytorch.utils.validation import check_choice, check_int, describe

__all__ = ["memory_table", "training_memory"]

_OPTIMIZER_SLOTS = {"sgd": 0, "sgd_momentum": 1, "momentum": 1, "adam": 2, "adamw": 2}


def memory_table(num_params: int, optimizer: str = "adam", bytes_per_param: int = 4) -> dict:
    """Textbook training memory in bytes: parameters, gradients, optimizer state and their total.

    >>> memory_table(10_000_000, "adam")["total"] / 1e6
    160.0
    """
    num_params = check_int("memory_table num_params", num_params, 0)
    bytes_per_param = check_int("memory_table bytes_per_param", bytes_per_param, 1)
    key = check_choice("memory_table optimizer", str(optimizer).lower() if isinstance(optimizer, str) else optimizer,
                       sorted(_OPTIMIZER_SLOTS))
    params = num_params * bytes_per_param
    state = _OPTIMIZER_SLOTS[key] * params
    total = 2 * params + state
    return {"parameters": params, "gradients": params, "optimizer_state": state,
            "total": total, "multiple_of_model": total / params if params else 0.0}


def _array_bytes(obj) -> int:
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(_array_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_array_bytes(v) for v in obj)
    return 0


def training_memory(model, optimizer=None, batch_size=None, input_shape=None) -> dict:
    """Bytes of parameters, gradients, optimizer state (measured) and activations (estimated).

    Activations are estimated only when both ``batch_size`` and ``input_shape`` (one sample's
    shape) are given; otherwise that entry is None and not part of the total.
    """
    params = model_parameters(model)
    param_bytes = sum(p.data.nbytes for p in params)
    grad_bytes = sum((p.grad.nbytes if isinstance(p.grad, np.ndarray) else p.data.nbytes) for p in params)
    if optimizer is not None and not callable(getattr(optimizer, "state_dict", None)):
        raise TypeError(f"training_memory optimizer must be an optimizer (with state_dict()) or None, "
                        f"got {describe(optimizer)}")
    state_bytes = 0
    if optimizer is not None:     # the live buffers, not a copy: a report should not double what it reports
        state = optimizer.state_dict(copy=False) if isinstance(optimizer, Optimizer) else optimizer.state_dict()
        state_bytes = _array_bytes(state)
    activation_bytes = None
    if batch_size is not None and input_shape is not None:
        batch_size = check_int("training_memory batch_size", batch_size, 1)
        if not isinstance(input_shape, (tuple, list)):
            raise TypeError(f"training_memory input_shape must be a tuple of ints (one sample's shape), "
                            f"got {describe(input_shape)}")
        input_shape = tuple(check_int("training_memory input_shape entry", d, 1) for d in input_shape)
        if batch_size * math.prod(input_shape) > np.iinfo(np.intp).max // 8:
            raise ValueError(f"training_memory batch_size * input_shape = {batch_size} * {input_shape} is more "
                             f"elements than one array can hold")
        x = Tensor(np.zeros((batch_size, *input_shape), dtype=np.float32))
        saved_mode = is_training(model)
        layers = getattr(model, "layers", None)
        try:
            set_training(model, False)
            with no_grad():
                activation_bytes = x.data.nbytes
                if isinstance(layers, (list, tuple)) and layers:
                    for layer in layers:
                        x = layer(x)
                        activation_bytes += x.data.nbytes
                else:
                    activation_bytes += run_model(model, x).data.nbytes
        finally:
            set_training(model, saved_mode)
    total = param_bytes + grad_bytes + state_bytes + (activation_bytes or 0)
    return {"parameters": param_bytes, "gradients": grad_bytes, "optimizer_state": state_bytes,
            "activations": activation_bytes, "total": total,
            "num_parameters": int(sum(p.data.size for p in params))}
