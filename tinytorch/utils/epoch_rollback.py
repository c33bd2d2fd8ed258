"""Putting back what a failed pass changed: ``EpochSnapshot``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. Before a pass over a loader the Trainer takes a snapshot of what the pass
may change; if the pass fails, ``restore`` puts back the model's mode, the optimizer's learning
rate and the loader's position and, when no update was made yet (the trainer's ``step`` has not
moved), everything else too: the gradients, the model's random generators (dropout) and the count
of skipped steps. After an update the updates already made stay (the error names the batch).

Gradients are kept as they were: None stays None, an all-zero gradient is remembered as zero
(nothing copied), any other gradient is copied.
"""
import numpy as np

from tinytorch.utils.loader_states import loader_state, restore_loader_state
from tinytorch.utils.model_adapter import (model_parameters, model_random_state, set_model_random_state,
                                           set_training)

__all__ = ["EpochSnapshot"]


class _Zero:
    """A gradient that was all zeros: its shape and dtype, not a copy."""

    def __init__(self, grad: np.ndarray):
        self.shape, self.dtype = grad.shape, grad.dtype


def _kept(grad):
    if isinstance(grad, np.ndarray):
        return grad.copy() if grad.any() else _Zero(grad)
    return grad          # None (no gradient), or an object put back as it is


def _put_back(param, kept) -> None:
    grad = param.grad
    fits = isinstance(grad, np.ndarray) and grad.flags.writeable
    if isinstance(kept, _Zero):
        if fits and grad.shape == kept.shape and grad.dtype == kept.dtype:
            grad.fill(0)
        else:
            param.grad = np.zeros(kept.shape, kept.dtype)
    elif isinstance(kept, np.ndarray) and fits and grad.shape == kept.shape and grad.dtype == kept.dtype:
        np.copyto(grad, kept)                # in place: references to the buffer stay valid
    else:
        param.grad = kept


class EpochSnapshot:
    """What a pass of ``trainer`` over ``dataloader`` may change, taken before it starts.

    ``training``: the pass trains (gradients, generators and skipped steps are kept too)."""

    def __init__(self, trainer, dataloader, training: bool):
        self.training = training
        self.mode = trainer.training_mode
        self.lr = getattr(trainer.optimizer, "lr", None)
        self.loader = loader_state(dataloader)
        self.step = trainer.step
        if training:
            self.skipped = trainer.skipped_steps
            self.random = model_random_state(trainer.model)
            self.params = model_parameters(trainer.model)
            self.grads = [_kept(p.grad) for p in self.params]

    def restore(self, trainer, dataloader) -> None:
        """Put back the mode, rate and loader position; before the first update, everything."""
        set_training(trainer.model, self.mode)
        if self.lr is not None:
            trainer.optimizer.lr = self.lr
        restore_loader_state(dataloader, self.loader)
        if self.training and trainer.step == self.step:
            for param, kept in zip(self.params, self.grads):
                _put_back(param, kept)
            trainer.skipped_steps = self.skipped
            if self.random is not None:
                set_model_random_state(trainer.model, self.random)
