"""Gradient accumulation that equals one big batch exactly: ``AccumulationWindow``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. The Trainer's loop (chapter 08, "Gradient accumulation") calls
``window.add(batch_size)`` right before each backward pass and ``window.average()`` before each
update; ``window.batches`` says how many batches the gradients hold.

With a mean loss, one batch of N samples has gradient sum_i (n_i / N) grad L_i, where L_i is the mean
loss of the i-th small batch of n_i samples. The window keeps the accumulated gradient relative to
the newest batch size, G = sum_j (n_j / n_last) grad L_j: before a batch of another size is added,
what is accumulated is rescaled by n_prev / n_new. ``average`` then multiplies once by n_last / N.
Batches of one size are never rescaled on the way, and a window of one batch not at all, so
``accumulation_steps=1`` gives bit for bit the gradient of a plain ``loss.backward()``.
"""
from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_int, describe

__all__ = ["AccumulationWindow"]


class AccumulationWindow:
    """How many batches and samples the gradients of ``parameters`` hold since the last update,
    weighted so that ``average()`` leaves the gradient of one batch of all those samples.

    >>> import numpy as np
    >>> w = Tensor([0.0], requires_grad=True)
    >>> window = AccumulationWindow([w])
    >>> window.add(3); w.grad = np.array([3 * 2.0], np.float32)    # batch of 3, mean gradient 6
    >>> window.add(1); w.grad += np.float32(10.0)                  # batch of 1, gradient 10 (rescaled first)
    >>> window.batches, window.samples
    (2, 4)
    >>> window.average(); float(w.grad[0])                         # (3 * 6 + 1 * 10) / 4
    7.0
    """

    def __init__(self, parameters):
        parameters = list(parameters)
        for index, param in enumerate(parameters):
            if not isinstance(param, Tensor):
                raise TypeError(f"AccumulationWindow parameters[{index}] must be a Tensor, got {describe(param)}")
        self.parameters = parameters
        self.batches = 0          # batches whose gradients the window holds
        self.samples = 0          # samples in those batches
        self.last = 0             # size of the newest batch: the gradients are kept relative to it

    def _scale(self, factor: float) -> None:
        for param in self.parameters:
            if param.grad is not None:
                param.grad *= factor

    def add(self, batch_size: int) -> None:
        """Make room for the gradient of a batch of ``batch_size`` samples: call it right before
        that batch's backward pass."""
        n = batch_size if type(batch_size) is int and batch_size >= 1 else \
            check_int("AccumulationWindow.add batch_size", batch_size, 1)
        if self.batches and n != self.last:       # keep the sum relative to the newest batch size
            self._scale(self.last / n)
        self.batches, self.samples, self.last = self.batches + 1, self.samples + n, n

    def average(self) -> None:
        """Turn the accumulated gradients into the mean over the window's samples, and start a new
        window (the caller zeroes the gradients after its update)."""
        if self.batches > 1 and self.last != self.samples:
            self._scale(self.last / self.samples)
        self.batches, self.samples, self.last = 0, 0, 0

    def __repr__(self) -> str:
        return f"AccumulationWindow(batches={self.batches}, samples={self.samples})"
