"""What a training or evaluation loop is given, checked: ``check_loader``, ``unpack_batch``,
``check_outputs``, ``check_loss``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. A loader is an iterable of ``(inputs, targets)`` pairs (Tensors, arrays or
lists, with one batch dimension of equal length); the model must return a Tensor; the loss must
be a scalar Tensor, built from the model's output when it is to be backpropagated. Errors name the
epoch and the batch they come from.
"""
from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import describe

__all__ = ["check_loader", "unpack_batch", "check_outputs", "check_loss"]


def check_loader(dataloader, who: str) -> None:
    """TypeError unless ``dataloader`` is an iterable of batches; ValueError when its len is 0."""
    if isinstance(dataloader, (str, bytes, dict)) or not hasattr(dataloader, "__iter__"):
        raise TypeError(f"Trainer.{who} dataloader must be an iterable of (inputs, targets) batches, "
                        f"got {describe(dataloader)}")
    try:
        empty = hasattr(dataloader, "__len__") and len(dataloader) == 0
    except TypeError:                        # a 0-d array: iterable by type, not in fact
        raise TypeError(f"Trainer.{who} dataloader must be an iterable of (inputs, targets) batches, "
                        f"got {describe(dataloader)}") from None
    if empty:
        raise ValueError(f"Trainer.{who} dataloader is empty (len 0)")


def unpack_batch(batch, epoch: int, index: int) -> tuple:
    """(inputs, targets) Tensors of one batch, with matching leading (batch) dimensions."""
    if type(batch) is tuple and len(batch) == 2:            # the usual batch passes one test
        inputs, targets = batch
        if (type(inputs) is Tensor and type(targets) is Tensor and inputs.data.ndim and targets.data.ndim
                and inputs.data.shape[0] == targets.data.shape[0] != 0):
            return inputs, targets
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"epoch {epoch}, batch {index}: a batch must be a pair (inputs, targets), "
                         f"got {describe(batch)}")
    try:
        inputs, targets = (value if isinstance(value, Tensor) else Tensor(value) for value in batch)
    except (TypeError, ValueError) as error:
        raise type(error)(f"epoch {epoch}, batch {index}: {error}") from None
    if inputs.data.ndim == 0 or targets.data.ndim == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs and targets need a batch dimension, "
                         f"got shapes {inputs.shape} and {targets.shape}")
    if inputs.data.shape[0] != targets.data.shape[0]:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs of shape {inputs.shape} and targets of "
                         f"shape {targets.shape} hold different numbers of samples")
    if inputs.data.shape[0] == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: the batch is empty")
    return inputs, targets


def check_outputs(outputs, epoch: int, index: int) -> None:
    """TypeError unless the model's ``outputs`` are a Tensor."""
    if not isinstance(outputs, Tensor):
        raise TypeError(f"epoch {epoch}, batch {index}: the model returned {describe(outputs)}; "
                        f"its forward must return a Tensor")


def check_loss(loss, epoch: int, index: int, graph: bool) -> float:
    """The value of ``loss`` as a float, after checking that it is a scalar Tensor (with a graph
    when ``graph``: backward must reach the parameters)."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"epoch {epoch}, batch {index}: loss_fn returned {describe(loss)}; it must "
                        f"return a scalar Tensor built from the outputs (backward runs through it)")
    if loss.data.size != 1:
        raise ValueError(f"epoch {epoch}, batch {index}: the loss must be a scalar, got shape "
                         f"{loss.data.shape} (use a loss that reduces with a mean)")
    if graph and not loss.requires_grad:
        raise ValueError(f"epoch {epoch}, batch {index}: the loss has no graph (requires_grad is False), "
                         f"so backward cannot reach any parameter: the model's output must be computed "
                         f"from its parameters with Tensor operations")
    return float(loss.data.reshape(()))
