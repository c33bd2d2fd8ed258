"""What a metric is given, checked: ``metric_array``, ``class_labels``, ``matching_arrays``, ``metric_name``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. The metrics of chapter 08 (``tinytorch.core.metrics``) take Tensors,
arrays or nested lists; these helpers turn them into arrays, decide which labels to compare, and
refuse (with a ``ValueError`` naming the metric) what has no accuracy, such as regression targets.
"""
import re

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import describe

__all__ = ["metric_array", "class_labels", "matching_arrays", "metric_name"]


def metric_array(value, who: str, name: str) -> np.ndarray:
    """``value`` (a Tensor, an array or nested lists of numbers) as an ndarray in its own dtype (a
    metric of float64 arrays is computed in float64), or an error naming ``who`` and ``name``."""
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


def class_labels(pred: np.ndarray, true: np.ndarray, cut: float, who: str):
    """(predicted, actual) label arrays of equal length, or ValueError when accuracy is undefined.

    Several outputs per sample: the predicted label is the argmax; targets are class indices or
    one-hot rows. One output per sample (a binary classifier): class 1 when the output is above
    ``cut``; targets are 0/1."""
    if pred.ndim == 2 and pred.shape[1] > 1 and true.ndim == 1 and true.dtype.kind in "iu" \
            and true.shape[0] == pred.shape[0]:
        return pred.argmax(axis=1), true                   # the usual case: class indices
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


def matching_arrays(y_pred, y_true, who: str) -> tuple:
    """(pred, true) arrays of one shape, for an elementwise metric: ``y_true`` is reshaped when it
    holds as many elements; an empty batch or a different size is a ValueError naming ``who``."""
    pred = metric_array(y_pred, who, "y_pred")
    true = metric_array(y_true, who, "y_true")
    if pred.size == 0:
        raise ValueError(f"{who} needs a non-empty batch")
    if pred.shape != true.shape:
        if pred.size != true.size:
            raise ValueError(f"{who}: predictions of shape {pred.shape} and targets of shape {true.shape} differ")
        true = true.reshape(pred.shape)
    return pred, true


def _snake_case(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def metric_name(metric) -> str:
    """The snake_case name under which ``metric`` is recorded (``train_<name>``, ``val_<name>``):
    its ``name`` attribute, else its ``__name__`` (a function), else its class name.

    >>> metric_name(metric_name)
    'metric_name'
    """
    name = getattr(metric, "name", None) or getattr(metric, "__name__", None) or type(metric).__name__
    name = _snake_case(name)
    if not name:
        raise ValueError(f"metric {describe(metric)} has no usable name; give it a `name` attribute")
    return name
