"""Sample-weighted running means of the loss and of every metric over one pass: ``RunningMeans``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. Each batch counts by its number of samples, so a short last batch weighs
what it holds, and the mean over an epoch is the mean over its samples. A metric that says its
value is undefined (a ``ValueError``, as ``Accuracy`` raises for regression targets) records
``None`` when its slot is optional (the Trainer's built-in accuracy); any other metric's error is
the caller's.
"""
import math
import numbers

import numpy as np

from tinytorch.utils.validation import describe

__all__ = ["RunningMeans"]


class RunningMeans:
    """Running means over one pass. ``slots``: (name, metric, optional) triples, each metric called
    as ``metric(outputs, targets)``; ``optional`` ones record None where they are undefined.

    >>> means = RunningMeans([])
    >>> means.add(3, 1.0, None, None); means.add(1, 5.0, None, None)
    >>> means.results()
    {'loss': 2.0}
    """

    def __init__(self, slots):
        self.slots = list(slots)
        self.samples, self.loss_sum = 0, 0.0
        self.sums = {name: 0.0 for name, _, _ in self.slots}
        self.undefined = set()

    def add(self, n: int, loss_value: float, outputs, targets, where: str = "") -> None:
        """Count a batch of ``n`` samples whose mean loss is ``loss_value``; call each metric on it."""
        self.samples += n
        self.loss_sum += loss_value * n
        for name, metric, optional in self.slots:
            if name in self.undefined:
                continue
            try:
                value = metric(outputs, targets)
            except ValueError:
                if not optional:
                    raise
                self.undefined.add(name)
                continue
            if type(value) is not float:         # the usual case is cheap; anything else is checked
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)) \
                        or np.size(value) != 1:
                    raise TypeError(f"{where}: metric {name!r} returned {describe(value)}; a metric returns a number")
                value = float(np.reshape(value, ()))
            self.sums[name] += value * n

    def results(self) -> dict:
        """{"loss": mean loss, <metric name>: mean or None}; with no samples the loss is nan."""
        if not self.samples:
            return {"loss": math.nan, **{name: None for name in self.sums}}
        out = {"loss": self.loss_sum / self.samples}
        for name, total in self.sums.items():
            out[name] = None if name in self.undefined else total / self.samples
        return out
