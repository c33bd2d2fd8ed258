"""Which numbers a Trainer records, and under which history keys: ``metric_slots``, ``history_keys``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure" and "History keys"): no
notebook exports it and no learner writes it. The rule: ``train_loss`` and ``eval_loss``,
``learning_rates``, and ``train_<name>`` / ``val_<name>`` for every metric, ``<name>`` being
``metric_name(metric)``. Accuracy is always recorded: the user's metric named ``accuracy`` when
there is one, otherwise a built-in accuracy that records None where it is undefined.
"""
from tinytorch.utils.metric_inputs import metric_name

__all__ = ["metric_slots", "history_keys", "HISTORY_BASE"]

HISTORY_BASE = ("train_loss", "train_accuracy", "eval_loss", "val_accuracy", "learning_rates")


def metric_slots(metrics, builtin_accuracy) -> list:
    """(name, metric, optional) for every number a pass records besides the loss: ``builtin_accuracy``
    first (optional: None where undefined) unless ``metrics`` holds a metric named "accuracy", then
    each of ``metrics`` (not optional: its errors are the caller's)."""
    named = [(metric_name(metric), metric) for metric in metrics]
    slots = [] if "accuracy" in dict(named) else [("accuracy", builtin_accuracy, True)]
    return slots + [(name, metric, False) for name, metric in named]


def history_keys(slots) -> list:
    """The history keys of a trainer that records ``slots``."""
    keys = list(HISTORY_BASE)
    for name, _, _ in slots:
        if name != "accuracy":
            keys += [f"train_{name}", f"val_{name}"]
    return keys
