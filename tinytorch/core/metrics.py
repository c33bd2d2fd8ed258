# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""Metrics: callables ``metric(y_pred, y_true) -> float`` (exported from module 08, src/08_training)."""
import math

import numpy as np

from tinytorch.core.losses import BCEWithLogitsLoss
from tinytorch.utils.metric_inputs import class_labels, matching_arrays, metric_array, metric_name
from tinytorch.utils.validation import check_bool, check_number

__all__ = ["Accuracy", "MeanAbsoluteError", "metric_name"]


class Accuracy:
    """Fraction of correct predictions: ``Accuracy()(y_pred, y_true) -> float`` in ``[0, 1]``.

    >>> Accuracy()(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0]))
    0.6666666666666666
    >>> Accuracy()(np.array([0.9, 0.2, 0.6, 0.4]), np.array([1.0, 0.0, 0.0, 0.0]))
    0.75
    >>> Accuracy(from_logits=True)(np.array([2.0, -1.0, 0.3, -0.2]), np.array([1.0, 0.0, 0.0, 0.0]))
    0.75
    """

    name = "accuracy"

    def __init__(self, threshold: float = 0.5, from_logits=None):
        threshold = check_number("Accuracy threshold", threshold)
        if from_logits is not None:
            from_logits = check_bool("Accuracy from_logits", from_logits)
            if from_logits and not 0.0 < threshold < 1.0:
                raise ValueError(f"Accuracy threshold must be a probability in (0, 1) when from_logits=True, "
                                 f"got {threshold!r}")
        self.threshold, self.from_logits = threshold, from_logits

    def for_loss(self, loss_fn) -> "Accuracy":
        """This accuracy, reading a single output as a logit when ``loss_fn`` takes logits
        (``BCEWithLogitsLoss``) unless ``from_logits`` says otherwise."""
        if self.from_logits is not None:
            return self
        return Accuracy(self.threshold, from_logits=isinstance(loss_fn, BCEWithLogitsLoss))

    def cut(self) -> float:
        """The value a single output must exceed to count as class 1."""
        if self.from_logits:
            return math.log(self.threshold / (1.0 - self.threshold))     # the logit of the threshold
        return self.threshold

    def __call__(self, y_pred, y_true) -> float:
        pred = metric_array(y_pred, "Accuracy", "y_pred")
        true = metric_array(y_true, "Accuracy", "y_true")
        predicted, actual = class_labels(pred, true, self.cut(), "Accuracy")
        return float(np.count_nonzero(predicted == actual) / predicted.size)

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold}, from_logits={self.from_logits})"


class MeanAbsoluteError:
    """Mean of ``|y_pred - y_true|`` over all elements, as a float.

    >>> MeanAbsoluteError()(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0]))
    0.8333333333333334
    """

    name = "mean_absolute_error"

    def __call__(self, y_pred, y_true) -> float:
        pred, true = matching_arrays(y_pred, y_true, "MeanAbsoluteError")
        return float(np.mean(np.abs(pred.astype(np.float64) - true.astype(np.float64))))

    def __repr__(self) -> str:
        return "MeanAbsoluteError()"
