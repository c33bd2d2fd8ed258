# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""Metrics: callables ``metric(y_pred, y_true) -> float`` (exported from module 08, src/08_training)."""
import math
import re

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["Accuracy", "MeanAbsoluteError", "metric_name"]


def _as_array(value, who: str, name: str) -> np.ndarray:
    """`value` (a Tensor, an array or nested lists of numbers) as an ndarray in its own dtype (a metric
    of float64 arrays is computed in float64), or an error naming it."""
    if isinstance(value, Tensor):
        return value.data
    try:
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return array
    except (TypeError, ValueError):
        pass
    try:                                 # not numbers: Tensor's check says what is wrong with them
        return Tensor(value).data
    except (TypeError, ValueError) as error:
        raise type(error)(f"{who} {name}: {error}") from None


def _snake_case(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def metric_name(metric) -> str:
    """The snake_case name under which ``metric`` is recorded (``train_<name>``, ``val_<name>``)."""
    name = getattr(metric, "name", None) or getattr(metric, "__name__", None) or type(metric).__name__
    name = _snake_case(name)
    if not name:
        raise ValueError(f"metric {describe(metric)} has no usable name; give it a `name` attribute")
    return name


def _class_labels(pred: np.ndarray, true: np.ndarray, cut: float, who: str):
    """(predicted, actual) label arrays of equal length, or ValueError when accuracy is undefined.

    ``cut``: a single output per sample counts as class 1 when it is above ``cut``."""
    if pred.ndim == 0 or pred.size == 0:
        raise ValueError(f"{who} needs a non-empty batch of predictions, got shape {pred.shape}")
    if pred.ndim == 1 or pred.shape[-1] == 1:              # binary classifier, one output per sample
        n = pred.shape[0]
        if true.size != n:
            raise ValueError(f"{who}: predictions of shape {pred.shape} and targets of shape "
                             f"{true.shape} hold different numbers of samples")
        actual = true.reshape(n)
        if not np.all((actual == 0) | (actual == 1)):
            raise ValueError(f"{who}: a single-output model needs 0/1 targets; got values outside "
                             f"{{0, 1}} (accuracy is undefined for regression)")
        return pred.reshape(n) > cut, actual.astype(bool)
    predicted = pred.argmax(axis=-1)
    if true.shape == pred.shape:                           # one-hot rows
        if not (np.all((true == 0) | (true == 1)) and np.all(true.sum(axis=-1) == 1)):
            raise ValueError(f"{who}: targets shaped like the predictions {pred.shape} must be one-hot "
                             f"rows (accuracy is undefined for regression)")
        actual = true.argmax(axis=-1)
    elif true.shape == pred.shape[:-1] or true.size == predicted.size:
        if true.dtype.kind == "f" and not np.all(true == np.round(true)):
            raise ValueError(f"{who}: class-index targets must be whole numbers")
        actual = true.reshape(predicted.shape)
    else:
        raise ValueError(f"{who}: predictions of shape {pred.shape} need class indices of shape "
                         f"{pred.shape[:-1]} or one-hot targets of shape {pred.shape}, got {true.shape}")
    return predicted, actual


class Accuracy:
    """Fraction of correct predictions: ``Accuracy()(y_pred, y_true) -> float`` in ``[0, 1]``.

    Several outputs per sample: the prediction is the argmax, targets are class indices or one-hot.
    One output per sample: class 1 when ``y_pred > threshold`` (probabilities) or, with
    ``from_logits=True``, when ``sigmoid(y_pred) > threshold``; targets are 0/1. ``from_logits=None``
    reads probabilities when called directly; a ``Trainer`` reads logits when its loss is
    ``BCEWithLogitsLoss``.

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

    def cut(self) -> float:
        """The value a single output must exceed to count as class 1."""
        if self.from_logits:
            return math.log(self.threshold / (1.0 - self.threshold))     # the logit of the threshold
        return self.threshold

    def __call__(self, y_pred, y_true) -> float:
        pred = _as_array(y_pred, "Accuracy", "y_pred")
        true = _as_array(y_true, "Accuracy", "y_true")
        if pred.ndim == 2 and pred.shape[1] > 1 and true.ndim == 1 and true.dtype.kind in "iu" \
                and true.shape[0] == pred.shape[0]:
            predicted, actual = pred.argmax(axis=1), true          # the common case: class indices
        else:
            predicted, actual = _class_labels(pred, true, self.cut(), "Accuracy")
        # Hint: the fraction of samples whose predicted label equals the actual one
        # (chapter 08, "Metrics"); return it as a Python float.
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
        pred = _as_array(y_pred, "MeanAbsoluteError", "y_pred")
        true = _as_array(y_true, "MeanAbsoluteError", "y_true")
        if pred.size == 0:
            raise ValueError("MeanAbsoluteError needs a non-empty batch")
        if pred.shape != true.shape:
            if pred.size != true.size:
                raise ValueError(f"MeanAbsoluteError: predictions of shape {pred.shape} and targets "
                                 f"of shape {true.shape} differ")
            true = true.reshape(pred.shape)
        # Hint: the mean over all elements of |y_pred - y_true|, computed in float64
        # (chapter 08, "Metrics").
        return float(np.mean(np.abs(pred.astype(np.float64) - true.astype(np.float64))))

    def __repr__(self) -> str:
        return "MeanAbsoluteError()"
