# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""Learning-rate schedules (exported from module 08, src/08_training)."""
import math

from tinytorch.utils.validation import check_int, check_number, describe

__all__ = ["CosineSchedule"]


class CosineSchedule:
    """Cosine annealing from ``max_lr`` to ``min_lr`` over ``total_epochs``, with optional warmup.

    ``get_lr(epoch)`` is ``min_lr + (max_lr - min_lr) * (1 + cos(pi * t)) / 2`` with ``t`` the
    fraction of the schedule done, ``(epoch - W) / (total_epochs - W)`` for ``W = warmup_epochs``;
    during warmup it is ``max_lr * (epoch + 1) / (W + 1)``; from ``total_epochs`` on it is exactly
    ``min_lr`` (PyTorch's ``CosineAnnealingLR`` rises again there; up to it the two agree).

    >>> s = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    >>> [round(s.get_lr(e), 4) for e in (0, 25, 50, 75, 100, 150)]
    [0.1, 0.0868, 0.055, 0.0232, 0.01, 0.01]
    """

    KEYS = ("max_lr", "min_lr", "total_epochs", "warmup_epochs")

    def __init__(self, max_lr=0.1, min_lr=0.01, total_epochs=100, warmup_epochs=0):
        max_lr = check_number("CosineSchedule max_lr", max_lr, minimum=0.0)
        min_lr = check_number("CosineSchedule min_lr", min_lr, minimum=0.0)
        if min_lr > max_lr:
            raise ValueError(f"CosineSchedule min_lr must be <= max_lr, got min_lr={min_lr!r} > max_lr={max_lr!r}")
        total_epochs = check_int("CosineSchedule total_epochs", total_epochs, 1)
        warmup_epochs = check_int("CosineSchedule warmup_epochs", warmup_epochs, 0)
        if warmup_epochs >= total_epochs:
            raise ValueError(f"CosineSchedule warmup_epochs must be < total_epochs={total_epochs}, "
                             f"got {warmup_epochs}")
        self.max_lr, self.min_lr = max_lr, min_lr
        self.total_epochs, self.warmup_epochs = total_epochs, warmup_epochs

    def get_lr(self, epoch: int) -> float:
        """The learning rate for epoch ``epoch`` (an integer >= 0), as a Python float."""
        epoch = check_int("CosineSchedule.get_lr epoch", epoch, 0)
        warmup = self.warmup_epochs
        if epoch >= self.total_epochs:
            return self.min_lr
        if epoch < warmup:
            return self.max_lr * (epoch + 1) / (warmup + 1)
        if epoch == warmup:
            return self.max_lr                    # cos(0) = 1 exactly; avoid min + (max - min) rounding
        progress = (epoch - warmup) / (self.total_epochs - warmup)     # t in (0, 1)
        # Hint: lr = min_lr + (max_lr - min_lr) * (1 + cos(pi * t)) / 2 with t = progress
        # (chapter 08, "Cosine schedule"); use math.cos and math.pi so the result is a Python float.
        return self.min_lr + (self.max_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0

    def state_dict(self) -> dict:
        """Plain, JSON-able hyperparameters (the schedule has no other state)."""
        return {key: getattr(self, key) for key in self.KEYS}

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()``; everything is validated before anything changes."""
        if not isinstance(state, dict):
            raise TypeError(f"CosineSchedule.load_state_dict state must be a dict, got {describe(state)}")
        if set(state) != set(self.KEYS):
            raise ValueError(f"CosineSchedule.load_state_dict state must have keys {sorted(self.KEYS)}, "
                             f"got {sorted(map(str, state))}")
        checked = CosineSchedule(**state)        # runs every validation of __init__
        self.__dict__.update(checked.__dict__)

    def __repr__(self) -> str:
        return (f"CosineSchedule(max_lr={self.max_lr}, min_lr={self.min_lr}, "
                f"total_epochs={self.total_epochs}, warmup_epochs={self.warmup_epochs})")
