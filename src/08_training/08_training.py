# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 08: Training
#
# Modules 01-07 gave us tensors, layers, losses, a data loader, autograd and optimizers. Each works
# alone; none of them trains anything. This module is the conductor: a `Trainer` that runs the
# loop forward -> loss -> backward -> (clip) -> step, plus the pieces every long run needs.
#
# What we build, in the order a learner meets it:
# 1. `CosineSchedule`: a learning rate that starts high and glides down to a floor.
# 2. `clip_grad_norm`: rescale all gradients together when their global norm explodes.
# 3. Metrics: `Accuracy`, `MeanAbsoluteError`, and the rule that any callable is a metric.
# 4. `Trainer`: `train_epoch` (with gradient accumulation), `evaluate`, `fit`.
# 5. Checkpoints that are safe (never unpickled, checksummed, written atomically) and exact
#    (resuming in a new process continues bit for bit), and a `CheckpointManager` that keeps the
#    last few, the best and the milestones.
# 6. Memory accounting: what training really holds in memory, measured from the buffers.
#
# The rule that runs through all of it: **a failure is loud and leaves things as they were.** A bad
# argument, a bad batch or a bad file raises an error that names the culprit before anything has
# changed; a non-finite loss stops training (or is skipped, if you ask) instead of quietly turning
# the weights into NaN.

# %%
#| default_exp core.training

# %% [markdown]
# ## Imports
#
# The trainer needs the `Tensor`, the `no_grad` switch, NumPy, `safetensors` (the file format of
# our checkpoints) and `tqdm` for a progress bar that draws itself properly in both a terminal and
# a notebook (`tqdm.auto` picks the right one). Note what is *not* imported: `pickle`. A pickle file
# can run arbitrary code when it is loaded, so a checkpoint format built on it turns "load a file a
# colleague sent me" into "run a program a colleague sent me". We never unpickle anything.

# %%
#| export
from __future__ import annotations

import copy
import json
import math
import mmap
import os
import re
import struct
import tempfile
from pathlib import Path

import google_crc32c
import numpy as np
import safetensors
import safetensors.numpy
from tqdm.auto import tqdm

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.metrics import Accuracy, MeanAbsoluteError, metric_name, _class_predictions
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor

__all__ = [
    "CosineSchedule", "clip_grad_norm", "Accuracy", "MeanAbsoluteError", "metric_name",
    "Trainer", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "CheckpointManager", "retained_epochs", "training_memory", "memory_table",
    "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION",
]


def _check_number(name: str, value, *, minimum=None, positive=False) -> float:
    """A finite real number (not a bool), optionally >= minimum or > 0, as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def _check_int(name: str, value, minimum: int) -> int:
    """An integer (not a bool) >= minimum, as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# %% [markdown]
# ## 1. Cosine learning-rate schedule
#
# Early in training the weights are far from any good solution, so big steps make fast progress.
# Near a minimum, big steps overshoot and bounce around it. A schedule gives both: start at
# `max_lr` and decay smoothly to `min_lr`. Cosine annealing uses half a cosine wave:
#
# $$\text{lr}(e) = \text{min\_lr} + (\text{max\_lr} - \text{min\_lr})\,\frac{1 + \cos(\pi e / E)}{2}$$
#
# At $e = 0$ the cosine is 1, so the rate is `max_lr`; at $e = E$ (`total_epochs`) it is $-1$, so
# the rate is `min_lr`. The curve is flat at both ends: it leaves `max_lr` gently and lands on
# `min_lr` gently.
#
# **Past the end.** PyTorch's `CosineAnnealingLR` keeps following the cosine after `T_max`, so the
# rate climbs back up (it is periodic). Ours *holds* `min_lr` for every epoch `>= total_epochs`: if
# you train longer than planned, you fine-tune at the floor instead of jumping back to a high rate.
# For epochs `0..total_epochs` the two agree (a test checks this against PyTorch).
#
# **Warmup.** With `warmup_epochs = W > 0`, the first `W` epochs ramp linearly up,
# `lr(e) = max_lr * (e + 1) / (W + 1)`, and the cosine then runs from `max_lr` at epoch `W` down to
# `min_lr` at `total_epochs`. A ramp helps when the first updates of a freshly initialised model
# (or Adam's first, poorly estimated steps) would otherwise be too large. `W = 0` is exactly the
# formula above.
#
# `get_lr` returns a plain Python `float` (computed with `math.cos`), so it can go into JSON and
# into the optimizer without dragging a NumPy scalar along.

# %%
#| export
class CosineSchedule:
    """Cosine annealing from ``max_lr`` to ``min_lr`` over ``total_epochs``, with optional warmup.

    ``get_lr(epoch)`` is, for ``warmup_epochs <= epoch < total_epochs``,
    ``min_lr + (max_lr - min_lr) * (1 + cos(pi * (epoch - W) / (total_epochs - W))) / 2`` with
    ``W = warmup_epochs`` (so with no warmup it is the textbook formula); during warmup it is
    ``max_lr * (epoch + 1) / (W + 1)``; and it is exactly ``min_lr`` for every
    ``epoch >= total_epochs``. Unlike PyTorch's ``CosineAnnealingLR``, which is periodic past
    ``T_max`` (the rate rises again), this schedule holds ``min_lr`` once the schedule is over;
    for epochs ``0..total_epochs`` the two agree.

    >>> s = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    >>> [round(s.get_lr(e), 4) for e in (0, 25, 50, 75, 100, 150)]
    [0.1, 0.0868, 0.055, 0.0232, 0.01, 0.01]
    """

    def __init__(self, max_lr=0.1, min_lr=0.01, total_epochs=100, warmup_epochs=0):
        max_lr = _check_number("CosineSchedule max_lr", max_lr, minimum=0.0)
        min_lr = _check_number("CosineSchedule min_lr", min_lr, minimum=0.0)
        if min_lr > max_lr:
            raise ValueError(f"CosineSchedule min_lr must be <= max_lr, got min_lr={min_lr!r} > max_lr={max_lr!r}")
        total_epochs = _check_int("CosineSchedule total_epochs", total_epochs, 1)
        warmup_epochs = _check_int("CosineSchedule warmup_epochs", warmup_epochs, 0)
        if warmup_epochs >= total_epochs:
            raise ValueError(f"CosineSchedule warmup_epochs must be < total_epochs={total_epochs}, "
                             f"got {warmup_epochs}")
        self.max_lr, self.min_lr = max_lr, min_lr
        self.total_epochs, self.warmup_epochs = total_epochs, warmup_epochs

    def get_lr(self, epoch: int) -> float:
        """The learning rate for epoch ``epoch`` (an integer >= 0), as a Python float."""
        ### BEGIN SOLUTION
        epoch = _check_int("CosineSchedule.get_lr epoch", epoch, 0)
        if epoch >= self.total_epochs:
            return self.min_lr
        warmup = self.warmup_epochs
        if epoch < warmup:
            return self.max_lr * (epoch + 1) / (warmup + 1)
        if epoch == warmup:
            return self.max_lr                    # cos(0) = 1 exactly; avoid min + (max - min) rounding
        progress = (epoch - warmup) / (self.total_epochs - warmup)
        return self.min_lr + (self.max_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0
        ### END SOLUTION

    def state_dict(self) -> dict:
        """Plain, JSON-able hyperparameters (the schedule has no other state)."""
        return {"max_lr": self.max_lr, "min_lr": self.min_lr,
                "total_epochs": self.total_epochs, "warmup_epochs": self.warmup_epochs}

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()``; everything is validated before anything changes."""
        keys = {"max_lr", "min_lr", "total_epochs", "warmup_epochs"}
        if not isinstance(state, dict) or set(state) != keys:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"CosineSchedule.load_state_dict state must have keys {sorted(keys)}, got {got}")
        checked = CosineSchedule(**state)        # runs every validation of __init__
        self.__dict__.update(checked.__dict__)

    def __repr__(self) -> str:
        return (f"CosineSchedule(max_lr={self.max_lr}, min_lr={self.min_lr}, "
                f"total_epochs={self.total_epochs}, warmup_epochs={self.warmup_epochs})")


# %%
def test_unit_cosine_schedule():
    s = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    assert s.get_lr(0) == 0.1 and s.get_lr(100) == 0.01 and s.get_lr(1000) == 0.01
    assert abs(s.get_lr(50) - 0.055) < 1e-12
    assert all(s.get_lr(e) >= s.get_lr(e + 1) for e in range(120))
    w = CosineSchedule(max_lr=1.0, min_lr=0.0, total_epochs=10, warmup_epochs=4)
    assert [w.get_lr(e) for e in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    for bad in (dict(min_lr=0.2), dict(max_lr=-1.0, min_lr=-2.0), dict(total_epochs=0)):
        try:
            CosineSchedule(**bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{bad} should be refused")
    print("CosineSchedule: ok")


if __name__ == "__main__":
    test_unit_cosine_schedule()


# %% [markdown]
# ## 2. Gradient clipping by global norm
#
# Sometimes one batch produces enormous gradients (a steep cliff in the loss surface, a bad
# sample). One step along them throws the weights far away, and the run may never recover. Clipping
# caps the size of the step while keeping its direction.
#
# *Global* norm means we treat all gradients of all parameters as one long vector $g$ and compute
# $\lVert g\rVert = \sqrt{\sum_i g_i^2}$. If it exceeds `max_norm`, every gradient is multiplied by
# the same factor `max_norm / total_norm`: the new global norm is exactly `max_norm`, and the ratios
# between gradients are unchanged (a parameter that needed twice the update still gets twice the
# update). Clipping each gradient on its own would destroy those ratios.
#
# Details that matter in practice:
# - **Overflow.** Squaring float32 gradients of size 1e20 overflows float32 (max ~3.4e38). We sum
#   squares in float64 (`np.dot` of the float64 copy of each array), which is exact enough and cannot
#   overflow for any finite float32 gradient.
# - **PyTorch's epsilon.** `torch.nn.utils.clip_grad_norm_` multiplies by
#   `min(max_norm / (total_norm + 1e-6), 1)`. The `1e-6` only guards against dividing by zero; it
#   makes the clipped norm a hair below `max_norm` and even touches gradients whose norm is just
#   under `max_norm`. We scale by exactly `max_norm / total_norm` and only when
#   `total_norm > max_norm` (so the division is always by a number > 0): below the threshold the
#   gradients are left bit-for-bit untouched, above it the new norm is `max_norm` up to rounding.
#   The two agree to about `1e-6` relative (tested against PyTorch).
# - **Non-finite gradients.** If some gradient is `inf` or `nan`, the norm is too, and scaling
#   would turn every gradient (and after the step, every weight) into NaN. We never do that: with
#   `error_if_nonfinite=True` a `RuntimeError` is raised (as in PyTorch); otherwise the non-finite
#   norm is returned and **the gradients are left unchanged** for the caller to decide (PyTorch
#   would scale them by NaN). The `Trainer` treats a non-finite norm like a non-finite loss.
#
# Gradients may be stored as ndarrays (our contract) or as `Tensor`s (their `.data` is used);
# parameters whose `.grad` is `None` are skipped.

# %%
#| export
def _grad_array(param):
    """The gradient of ``param`` as an ndarray that can be scaled in place, or None."""
    grad = getattr(param, "grad", None)
    if grad is None:
        return None
    if isinstance(grad, Tensor):
        grad = grad.data
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"clip_grad_norm needs gradients stored as ndarrays or Tensors, "
                        f"got {type(grad).__name__}")
    return grad


def clip_grad_norm(parameters, max_norm: float = 1.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the global norm *before* clipping, as a Python float. When it exceeds ``max_norm``
    every gradient is multiplied by ``max_norm / total_norm`` (no epsilon: see the chapter);
    otherwise nothing changes. A non-finite norm raises ``RuntimeError`` when
    ``error_if_nonfinite`` is true, and is otherwise returned with the gradients untouched.

    >>> p = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> p.grad = np.array([100.0, 200.0, 50.0], dtype=np.float32)
    >>> clip_grad_norm([p], max_norm=1.0)
    229.128784747792
    >>> [round(float(g), 3) for g in p.grad]
    [0.436, 0.873, 0.218]
    """
    ### BEGIN SOLUTION
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    max_norm = _check_number("clip_grad_norm max_norm", max_norm, positive=True)
    grads = [g for g in map(_grad_array, parameters) if g is not None]
    squares = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for g in grads:
            flat = g.reshape(-1).astype(np.float64)
            squares += float(np.dot(flat, flat))
    total_norm = math.sqrt(squares) if squares == squares else squares   # sqrt(nan) would raise
    if not math.isfinite(total_norm):
        if error_if_nonfinite:
            raise RuntimeError(f"clip_grad_norm: the total norm of the gradients is {total_norm}; "
                               f"the gradients were left unchanged")
        return total_norm
    if total_norm > max_norm:
        scale = max_norm / total_norm
        for g in grads:
            g *= scale
    return total_norm
    ### END SOLUTION


# %%
def test_unit_clip_grad_norm():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)
    assert clip_grad_norm([a, b], max_norm=1.0) == 5.0
    assert np.allclose(a.grad, [0.6, 0.0]) and np.allclose(b.grad, [0.8])
    before = a.grad.copy()
    assert abs(clip_grad_norm([a, b], max_norm=10.0) - 1.0) < 1e-6
    assert np.array_equal(a.grad, before)                       # below the threshold: untouched
    a.grad = np.array([np.inf, 1.0], np.float32)
    assert clip_grad_norm([a, b]) == np.inf and a.grad[1] == 1.0  # reported, not spread as NaN
    print("clip_grad_norm: ok")


if __name__ == "__main__":
    test_unit_clip_grad_norm()


# %% [markdown]
# ## 3. Metrics
#
# The loss is what we optimise; a metric is what a person reads. A metric here is anything callable
# as `metric(y_pred, y_true) -> float`, taking Tensors or arrays:
#
# - `Accuracy()`: the fraction of correct predictions. With several outputs per sample the
#   prediction is the `argmax`; targets may be class indices or one-hot rows. With a single output
#   per sample (a binary classifier ending in a sigmoid) the prediction is `output > threshold`
#   (default 0.5) and targets must be 0/1.
# - `MeanAbsoluteError()`: the mean of `|y_pred - y_true|`, for regression.
#
# Each metric gets its own history entries, `train_<name>` and `val_<name>`, where the name is the
# metric's `name` attribute if it has one, else its `__name__` (for plain functions), else its class
# name, in snake_case: `Accuracy` -> `accuracy` (so `train_accuracy` / `val_accuracy`),
# `MeanAbsoluteError` -> `mean_absolute_error`, `def top2(...)` -> `top2`.

# %%
#| export core.metrics
"""Metrics: callables ``metric(y_pred, y_true) -> float`` (exported from module 08, src/08_training)."""
import math
import re

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["Accuracy", "MeanAbsoluteError", "metric_name"]


def _as_array(value) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _snake_case(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def metric_name(metric) -> str:
    """The snake_case name under which ``metric`` is recorded (``train_<name>``, ``val_<name>``)."""
    name = getattr(metric, "name", None) or getattr(metric, "__name__", None) or type(metric).__name__
    name = _snake_case(name)
    if not name:
        raise ValueError(f"metric {metric!r} has no usable name; give it a `name` attribute")
    return name


def _class_predictions(pred: np.ndarray, true: np.ndarray, threshold: float, who: str):
    """(predicted, actual) label arrays of equal length, or raise ValueError if undefined."""
    if pred.ndim == 0 or pred.size == 0:
        raise ValueError(f"{who} needs a non-empty batch of predictions, got shape {pred.shape}")
    single = pred.ndim == 1 or pred.shape[-1] == 1
    if single:                                             # binary classifier, one output per sample
        n = pred.shape[0]
        if true.size != n:
            raise ValueError(f"{who}: predictions of shape {pred.shape} and targets of shape "
                             f"{true.shape} hold different numbers of samples")
        actual = true.reshape(n)
        if not np.all((actual == 0) | (actual == 1)):
            raise ValueError(f"{who}: a single-output model needs 0/1 targets; got values outside "
                             f"{{0, 1}} (accuracy is undefined for regression)")
        return pred.reshape(n) > threshold, actual.astype(bool)
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
    One output per sample: the prediction is ``y_pred > threshold``, targets are 0/1.

    >>> Accuracy()(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0]))
    0.6666666666666666
    >>> Accuracy()(np.array([0.9, 0.2, 0.6, 0.4]), np.array([1.0, 0.0, 0.0, 0.0]))
    0.75
    """

    name = "accuracy"

    def __init__(self, threshold: float = 0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
                or not math.isfinite(threshold):
            raise ValueError(f"Accuracy threshold must be a finite number, got {threshold!r}")
        self.threshold = float(threshold)

    def __call__(self, y_pred, y_true) -> float:
        ### BEGIN SOLUTION
        predicted, actual = _class_predictions(_as_array(y_pred), _as_array(y_true), self.threshold, "Accuracy")
        return float(np.count_nonzero(predicted == actual) / predicted.size)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold})"


class MeanAbsoluteError:
    """Mean of ``|y_pred - y_true|`` over all elements, as a float.

    >>> MeanAbsoluteError()(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0]))
    0.8333333333333334
    """

    name = "mean_absolute_error"

    def __call__(self, y_pred, y_true) -> float:
        ### BEGIN SOLUTION
        pred, true = _as_array(y_pred), _as_array(y_true)
        if pred.size == 0:
            raise ValueError("MeanAbsoluteError needs a non-empty batch")
        if pred.shape != true.shape:
            if pred.size != true.size:
                raise ValueError(f"MeanAbsoluteError: predictions of shape {pred.shape} and targets "
                                 f"of shape {true.shape} differ")
            true = true.reshape(pred.shape)
        return float(np.mean(np.abs(pred.astype(np.float64) - true.astype(np.float64))))
        ### END SOLUTION

    def __repr__(self) -> str:
        return "MeanAbsoluteError()"


# %%
def test_unit_metrics():
    assert Accuracy()(np.eye(3), np.array([0, 1, 1])) == 2 / 3
    assert Accuracy()(np.eye(3), np.eye(3)) == 1.0
    assert Accuracy()(np.array([[0.7], [0.2]]), np.array([[1.0], [1.0]])) == 0.5
    assert MeanAbsoluteError()(np.zeros(4), np.ones(4)) == 1.0
    assert metric_name(MeanAbsoluteError()) == "mean_absolute_error" and metric_name(Accuracy()) == "accuracy"
    print("metrics: ok")


if __name__ == "__main__":
    test_unit_metrics()


# %% [markdown]
# ## 4. The Trainer
#
# ### One epoch, with gradient accumulation
#
# `train_epoch(loader, accumulation_steps=k)` puts the model in training mode and, for each batch:
# forward, loss, backward. Every `k` batches it clips (if `grad_clip_norm` is set), takes one
# optimizer step and zeroes the gradients. Gradients *add up* across backward passes, which is
# what makes accumulation possible: `k` batches of 32 can produce the update of one batch of
# `32 k` when memory only fits 32.
#
# Getting "the same update" exactly right takes care. With a mean loss, one big batch of $N$
# samples has gradient $\frac{1}{N}\sum_s \nabla \ell_s = \sum_i \frac{n_i}{N} \nabla L_i$, where
# $L_i$ is the mean loss of the $i$-th small batch of $n_i$ samples. So each batch's gradient must be
# weighted by its share of the window's samples, $n_i / N$, where $N$ counts only the samples that
# really are in the window. Two cases make this more than "divide by `k`":
# - the **last window** of an epoch usually holds fewer than `k` batches (40 samples in batches of 8
#   with `k = 4` is one window of 4 batches and a leftover window of 1). It still steps (and counts
#   as a step), and its gradient is averaged over the batches it really holds;
# - the **last batch** is usually smaller than the others.
#
# We keep the weights right without knowing $N$ in advance: the accumulated gradient is kept
# relative to the size of the newest batch, $G = \sum_j \frac{n_j}{n_{\text{last}}}\nabla L_j$. When a
# batch of a different size arrives, $G$ is rescaled by $n_{\text{prev}}/n_{\text{new}}$ first (this
# happens at most once per epoch, for the short last batch). Before the step, one multiplication by
# $n_{\text{last}}/N$ turns $G$ into exactly the big-batch gradient. With `k = 1` both factors are 1
# and nothing extra is computed.
#
# ### The schedule: at the *start* of each epoch
#
# The older seed set the learning rate *after* the epoch, so epoch 0 ran at whatever rate the
# optimizer was built with and every later epoch used the previous epoch's rate. We set
# `optimizer.lr = scheduler.get_lr(epoch)` *before* the first batch of epoch `epoch`, so the epoch
# numbered `e` trains at `get_lr(e)`, epoch 0 at `max_lr`, and `history["learning_rates"][e]` is the
# rate that epoch really used (recorded with or without a scheduler). The trainer also calls
# `loader.set_epoch(epoch)` when the loader has it, so the shuffle order is a function of the
# loader's seed and the epoch, which is what makes resuming exact.
#
# ### What is returned and recorded
#
# The mean loss over the epoch *weighted by samples* (so a short last batch counts for what it
# holds), appended to `history["train_loss"]`. The training accuracy (and every metric) is measured
# on the outputs the training forward pass already computed, before each update, in training mode:
# no extra forward pass. It is therefore a running average over the epoch, not the accuracy of the
# final weights (`evaluate` gives that).
#
# ### Failing safely
#
# - Bad arguments (`accumulation_steps < 1`, an empty loader) raise before anything happens.
# - The first batch is run forward and checked (batch sizes of inputs and targets agree, the loss is
#   a scalar) *before* any gradient is zeroed or any weight updated. If it fails, the model's mode,
#   its dropout generators, the loader's epoch and the optimizer's rate are put back as they were.
#   Later batches are checked the same way; an error there names the epoch and batch, and the
#   updates already made this epoch stay (the epoch counter does not advance).
# - A non-finite loss (`inf`/`nan`) raises `FloatingPointError` naming the epoch and batch
#   (`nonfinite="raise"`, the default), before its backward pass. With `nonfinite="skip"` that
#   batch contributes nothing (no backward, so the gradients already accumulated stay clean; an
#   accumulation window then holds `k` good batches) and `trainer.skipped_steps` counts it; the
#   epoch goes on.
#   When clipping is on, a non-finite gradient norm is handled the same way (with "skip", the whole
#   update is dropped and its gradients zeroed). Without clipping the gradients are not inspected.
#
# ### Evaluation
#
# `evaluate(loader) -> (loss, accuracy)` runs in evaluation mode (dropout off) under `no_grad` (no
# graph is built, no gradient or weight is touched) and puts the model back into the mode it was in.
# The accuracy follows the `Accuracy` rules; **for regression (targets that are not class labels)
# it is `None`**, never a `nan` that could be mistaken for a number.

# %%
#| export
_HISTORY_BASE = ("train_loss", "train_accuracy", "eval_loss", "val_accuracy", "learning_rates")


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _unpack_batch(batch, epoch: int, index: int):
    """(inputs, targets) Tensors of one batch, with matching leading (batch) dimensions."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"epoch {epoch}, batch {index}: a batch must be a pair (inputs, targets), "
                         f"got {type(batch).__name__}")
    inputs, targets = _as_tensor(batch[0]), _as_tensor(batch[1])
    if inputs.data.ndim == 0 or targets.data.ndim == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs and targets need a batch dimension, "
                         f"got shapes {inputs.shape} and {targets.shape}")
    if inputs.data.shape[0] != targets.data.shape[0]:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs of shape {inputs.shape} and targets of "
                         f"shape {targets.shape} hold different numbers of samples")
    if inputs.data.shape[0] == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: the batch is empty")
    return inputs, targets


def _correct_count(pred: np.ndarray, true: np.ndarray, threshold: float = 0.5):
    """Number of correct predictions in a batch, or None when accuracy is undefined (regression)."""
    if pred.ndim == 2 and pred.shape[1] > 1 and true.dtype.kind in "iu" and true.shape == pred.shape[:1]:
        return int(np.count_nonzero(pred.argmax(axis=1) == true))     # the common case, fast
    try:
        predicted, actual = _class_predictions(pred, true, threshold, "accuracy")
    except ValueError:
        return None
    return int(np.count_nonzero(predicted == actual))


class _Running:
    """Sample-weighted running means of the loss and metrics over one pass through a loader."""

    def __init__(self, metrics, threshold: float = 0.5):
        self.metrics = metrics
        self.threshold = threshold
        self.samples = 0
        self.loss_sum = 0.0
        self.correct = 0
        self.accuracy_defined = True
        self.metric_sums = {name: 0.0 for name, _ in metrics}

    def add(self, n: int, loss_value: float, outputs: Tensor, targets: Tensor):
        self.samples += n
        self.loss_sum += loss_value * n
        if self.accuracy_defined:
            correct = _correct_count(outputs.data, targets.data, self.threshold)
            if correct is None:
                self.accuracy_defined = False
            else:
                self.correct += correct
        for name, metric in self.metrics:
            self.metric_sums[name] += float(metric(outputs, targets)) * n

    def results(self) -> dict:
        if self.samples == 0:
            return {"loss": float("nan"), "accuracy": None,
                    **{name: None for name in self.metric_sums}}
        out = {"loss": self.loss_sum / self.samples,
               "accuracy": self.correct / self.samples if self.accuracy_defined else None}
        for name, total in self.metric_sums.items():
            out[name] = total / self.samples
        return out


class Trainer:
    """Runs training: epochs of forward, loss, backward, clip, step; evaluation; checkpoints.

    ``Trainer(model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *, metrics=None,
    nonfinite="raise")``. ``scheduler`` is anything with ``get_lr(epoch)`` (usually a
    ``CosineSchedule``). For the older API ``Trainer(model, optimizer, loss_fn, [Accuracy()])``,
    a list or tuple in the ``scheduler`` position is taken as ``metrics``.

    State: ``epoch`` (completed epochs), ``step`` (optimizer updates), ``skipped_steps``,
    ``training_mode`` (mirrors ``model.training``), ``history`` (``train_loss``, ``train_accuracy``,
    ``eval_loss``, ``val_accuracy``, ``learning_rates`` and ``train_<m>``/``val_<m>`` per metric).
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *,
                 metrics=None, nonfinite="raise"):
        if isinstance(scheduler, (list, tuple)):        # the older seed's Trainer(model, opt, loss, metrics)
            if metrics is not None:
                raise TypeError("Trainer got metrics twice: as the fourth argument and as metrics=")
            scheduler, metrics = None, scheduler
        if scheduler is not None and not callable(getattr(scheduler, "get_lr", None)):
            raise TypeError(f"Trainer scheduler must have a get_lr(epoch) method, got {type(scheduler).__name__}")
        if grad_clip_norm is not None:
            grad_clip_norm = _check_number("Trainer grad_clip_norm", grad_clip_norm, positive=True)
        if nonfinite not in ("raise", "skip"):
            raise ValueError(f"Trainer nonfinite must be 'raise' or 'skip', got {nonfinite!r}")
        if not callable(loss_fn):
            raise TypeError(f"Trainer loss_fn must be callable, got {type(loss_fn).__name__}")
        for method in ("step", "zero_grad"):
            if not callable(getattr(optimizer, method, None)):
                raise TypeError(f"Trainer optimizer must have a {method}() method, got {type(optimizer).__name__}")
        named = []
        for metric in list(metrics or []):
            if not callable(metric):
                raise TypeError(f"Trainer metrics must be callables metric(y_pred, y_true), got {metric!r}")
            named.append((metric_name(metric), metric))
        names = [name for name, _ in named]
        if len(set(names)) != len(names):
            raise ValueError(f"Trainer metrics must have distinct names, got {names}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm, self.nonfinite = scheduler, grad_clip_norm, nonfinite
        self.metrics = [metric for _, metric in named]
        self._named_metrics = named
        self.epoch = 0
        self.step = 0
        self.skipped_steps = 0
        self.history = {key: [] for key in self._history_keys()}
        self.loader_states = {}        # last state of the loaders seen, by role ("train", "eval")
        self._pending_loader_states = {}

    # -- small helpers -------------------------------------------------------------------------
    def _history_keys(self) -> list:
        keys = list(_HISTORY_BASE)
        for name, _ in self._named_metrics:
            if name != "accuracy":
                keys += [f"train_{name}", f"val_{name}"]
        return keys

    def _extra_metrics(self):
        """Metrics other than accuracy (accuracy is always tracked by the trainer itself)."""
        return [(n, m) for n, m in self._named_metrics if n != "accuracy"]

    def _running(self) -> "_Running":
        """A fresh accumulator; a user's ``Accuracy(threshold=...)`` sets the binary threshold."""
        threshold = 0.5
        for name, metric in self._named_metrics:
            if name == "accuracy":
                threshold = float(getattr(metric, "threshold", 0.5))
        return _Running(self._extra_metrics(), threshold)

    @property
    def training_mode(self) -> bool:
        """Whether the model is in training mode; assigning sets the model's mode."""
        return bool(getattr(self.model, "training", True))

    @training_mode.setter
    def training_mode(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Trainer training_mode must be True or False, got {value!r}")
        self.model.train() if value else self.model.eval()

    def _parameters(self) -> list:
        return list(self.model.parameters())

    @staticmethod
    def _check_loader(dataloader, who: str) -> None:
        if not hasattr(dataloader, "__iter__"):
            raise TypeError(f"Trainer.{who} dataloader must be iterable, got {type(dataloader).__name__}")
        if hasattr(dataloader, "__len__") and len(dataloader) == 0:
            raise ValueError(f"Trainer.{who} dataloader is empty (len 0): nothing to {who.split('_')[0]} on")

    def _loss(self, outputs, targets, epoch: int, index: int) -> tuple:
        loss = self.loss_fn(outputs, targets)
        data = loss.data if isinstance(loss, Tensor) else np.asarray(loss)
        if data.size != 1:
            raise ValueError(f"epoch {epoch}, batch {index}: the loss must be a scalar, got shape "
                             f"{data.shape} (use a loss that reduces with a mean)")
        return loss, float(data.reshape(()))

    def _random_state(self):
        getter = getattr(self.model, "random_state", None)
        return getter() if callable(getter) else None

    def _set_random_state(self, states) -> None:
        if states is not None and callable(getattr(self.model, "set_random_state", None)):
            self.model.set_random_state(states)

    def _scale_grads(self, params, factor: float) -> None:
        for p in params:
            if p.grad is not None:
                p.grad *= factor

    def _update(self, params, scale: float, epoch: int, index: int) -> None:
        """Average the window's gradients, clip, step and zero: one optimizer update."""
        if scale != 1.0:
            self._scale_grads(params, scale)
        if self.grad_clip_norm is not None:
            norm = clip_grad_norm(params, self.grad_clip_norm)
            if not math.isfinite(norm):
                if self.nonfinite == "raise":
                    raise FloatingPointError(f"non-finite gradient norm {norm} at epoch {epoch}, batch "
                                             f"{index}; pass nonfinite='skip' to skip such updates")
                self.optimizer.zero_grad()
                self.skipped_steps += 1
                return
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1

    # -- training ----------------------------------------------------------------------------------
    def train_epoch(self, dataloader, accumulation_steps: int = 1) -> float:
        """Train one epoch; return the sample-weighted mean loss (see the chapter for the rules)."""
        ### BEGIN SOLUTION
        k = _check_int("Trainer.train_epoch accumulation_steps", accumulation_steps, 1)
        self._check_loader(dataloader, "train_epoch")
        epoch = self.epoch
        lr = float(self.scheduler.get_lr(epoch)) if self.scheduler is not None else None
        # Snapshot what preparing the first batch may change, to restore it if that batch is bad.
        saved_mode = self.training_mode
        saved_rng = self._random_state()
        saved_lr = getattr(self.optimizer, "lr", None)
        has_state = callable(getattr(dataloader, "state_dict", None))
        saved_loader = dataloader.state_dict() if has_state else None
        try:
            pending = self._pending_loader_states.get("train")
            if pending is not None and callable(getattr(dataloader, "load_state_dict", None)):
                dataloader.load_state_dict(pending)
            if callable(getattr(dataloader, "set_epoch", None)):
                dataloader.set_epoch(epoch)
            if lr is not None:
                self.optimizer.lr = lr
            self.model.train()
            batches = iter(dataloader)
            first = next(batches, None)
            if first is None:
                raise ValueError("Trainer.train_epoch dataloader yielded no batches")
            inputs, targets = _unpack_batch(first, epoch, 0)
            outputs = self.model(inputs)
            loss, value = self._loss(outputs, targets, epoch, 0)
            if not math.isfinite(value) and self.nonfinite == "raise":
                raise FloatingPointError(f"non-finite loss {value} at epoch {epoch}, batch 0; "
                                         f"pass nonfinite='skip' to skip such batches")
            for _, metric in self._extra_metrics():   # a metric that cannot handle these batches fails now
                metric(outputs, targets)
        except BaseException:
            self.training_mode = saved_mode
            self._set_random_state(saved_rng)
            if saved_lr is not None:
                self.optimizer.lr = saved_lr
            if has_state:
                dataloader.load_state_dict(saved_loader)
            raise
        self._pending_loader_states.pop("train", None)

        params = self._parameters()
        self.optimizer.zero_grad()
        running = self._running()
        window_batches, window_samples, last_n = 0, 0, 0
        index = 0
        while True:
            if index > 0:
                batch = next(batches, None)
                if batch is None:
                    break
                inputs, targets = _unpack_batch(batch, epoch, index)
                outputs = self.model(inputs)
                loss, value = self._loss(outputs, targets, epoch, index)
            if not math.isfinite(value):
                if self.nonfinite == "raise":
                    raise FloatingPointError(f"non-finite loss {value} at epoch {epoch}, batch {index}; "
                                             f"pass nonfinite='skip' to skip such batches")
                self.skipped_steps += 1           # this batch contributes nothing
                index += 1
                continue
            n = inputs.data.shape[0]
            if window_batches and n != last_n:    # keep G relative to the newest batch size
                self._scale_grads(params, last_n / n)
            loss.backward()
            window_batches, window_samples, last_n = window_batches + 1, window_samples + n, n
            running.add(n, value, outputs, targets)
            if window_batches == k:
                self._update(params, last_n / window_samples, epoch, index)
                window_batches, window_samples = 0, 0
            index += 1
        if window_batches:                        # the leftover partial window still steps
            self._update(params, last_n / window_samples, epoch, index - 1)

        results = running.results()
        self.history["learning_rates"].append(float(getattr(self.optimizer, "lr", float("nan"))))
        self.history["train_loss"].append(results["loss"])
        self.history["train_accuracy"].append(results["accuracy"])
        for name, _ in running.metrics:
            self.history[f"train_{name}"].append(results[name])
        if has_state:
            self.loader_states["train"] = dataloader.state_dict()
        self.epoch = epoch + 1
        return results["loss"]
        ### END SOLUTION

    def evaluate(self, dataloader) -> tuple:
        """``(loss, accuracy)`` over ``dataloader`` in eval mode without building a graph.

        ``accuracy`` is ``None`` when it is undefined (regression targets).
        """
        ### BEGIN SOLUTION
        self._check_loader(dataloader, "evaluate")
        saved_mode = self.training_mode
        running = self._running()
        pending = self._pending_loader_states.pop("eval", None)
        if pending is not None and callable(getattr(dataloader, "load_state_dict", None)):
            dataloader.load_state_dict(pending)
        try:
            self.model.eval()
            with no_grad():
                for index, batch in enumerate(dataloader):
                    inputs, targets = _unpack_batch(batch, self.epoch, index)
                    outputs = self.model(inputs)
                    _, value = self._loss(outputs, targets, self.epoch, index)
                    running.add(inputs.data.shape[0], value, outputs, targets)
        finally:
            self.training_mode = saved_mode
        if running.samples == 0:
            raise ValueError("Trainer.evaluate dataloader yielded no batches")
        results = running.results()
        self.history["eval_loss"].append(results["loss"])
        self.history["val_accuracy"].append(results["accuracy"])
        for name, _ in running.metrics:
            self.history[f"val_{name}"].append(results[name])
        if callable(getattr(dataloader, "state_dict", None)):
            self.loader_states["eval"] = dataloader.state_dict()
        return results["loss"], results["accuracy"]
        ### END SOLUTION

    # -- the whole loop ------------------------------------------------------------------------
    def fit(self, train_dataloader, val_dataloader=None, epochs: int = 1, verbose: bool = True, *,
            accumulation_steps: int = 1, checkpoint_dir=None, checkpoint_every: int = 1,
            early_stopping_patience=None, monitor: str = "eval_loss") -> dict:
        """Train for ``epochs`` more epochs, evaluating on ``val_dataloader`` after each; return history.

        Options (no callback framework): a tqdm progress bar over epochs when ``verbose``;
        ``checkpoint_dir`` (a folder or a ``CheckpointManager``) saves every ``checkpoint_every``
        epochs with the manager's retention; ``early_stopping_patience=p`` stops once ``monitor``
        (a history key, minimised for losses and errors, maximised otherwise) has not improved
        for ``p`` epochs in a row. The model keeps the weights of the last epoch trained.
        """
        epochs = _check_int("Trainer.fit epochs", epochs, 0)
        _check_int("Trainer.fit accumulation_steps", accumulation_steps, 1)
        checkpoint_every = _check_int("Trainer.fit checkpoint_every", checkpoint_every, 1)
        self._check_loader(train_dataloader, "train_epoch")
        if val_dataloader is not None:
            self._check_loader(val_dataloader, "evaluate")
        if early_stopping_patience is not None:
            early_stopping_patience = _check_int("Trainer.fit early_stopping_patience", early_stopping_patience, 1)
        needs_monitor = early_stopping_patience is not None or checkpoint_dir is not None
        if needs_monitor:
            if monitor not in self.history:
                raise ValueError(f"Trainer.fit monitor must be a history key, one of {sorted(self.history)}, "
                                 f"got {monitor!r}")
            if val_dataloader is None and (monitor == "eval_loss" or monitor.startswith("val_")) \
                    and early_stopping_patience is not None:
                raise ValueError(f"Trainer.fit monitor={monitor!r} needs a val_dataloader")
        manager = None
        if checkpoint_dir is not None:
            manager = checkpoint_dir if isinstance(checkpoint_dir, CheckpointManager) else \
                CheckpointManager(checkpoint_dir, monitor=monitor, mode=_monitor_mode(monitor))
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not verbose)
        try:
            self._fit_loop(bar, train_dataloader, val_dataloader, accumulation_steps, manager,
                           checkpoint_every, early_stopping_patience, monitor)
        finally:
            bar.close()
        return self.history

    def _fit_loop(self, bar, train_dataloader, val_dataloader, accumulation_steps, manager,
                  checkpoint_every, early_stopping_patience, monitor) -> None:
        mode = _monitor_mode(monitor)
        best, waited = None, 0
        for _ in bar:
            train_loss = self.train_epoch(train_dataloader, accumulation_steps=accumulation_steps)
            postfix = {"loss": f"{train_loss:.4f}"}
            if val_dataloader is not None:
                eval_loss, accuracy = self.evaluate(val_dataloader)
                postfix["val_loss"] = f"{eval_loss:.4f}"
                if accuracy is not None:
                    postfix["val_acc"] = f"{accuracy:.3f}"
            bar.set_postfix(postfix)
            if manager is not None and self.epoch % checkpoint_every == 0:
                manager.save(self)
            if early_stopping_patience is not None:
                value = self.history[monitor][-1] if self.history[monitor] else None
                if _improves(value, best, mode):
                    best, waited = value, 0
                else:
                    waited += 1
                    if waited >= early_stopping_patience:
                        break

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a checkpoint holds, as nested dicts of plain values and ndarrays (copies)."""
        return self._state(copy_arrays=True)

    def _model_arrays(self, copy_arrays: bool) -> dict:
        if not copy_arrays and type(self.model).state_dict is Module.state_dict:
            return {name: p.data for name, p in self.model.named_parameters()}   # same content, no copy
        return self.model.state_dict()

    def _state(self, copy_arrays: bool) -> dict:
        """The state; with ``copy_arrays=False`` arrays may be views of live buffers (for saving)."""
        scheduler = None
        if self.scheduler is not None:
            getter = getattr(self.scheduler, "state_dict", None)
            scheduler = {"type": type(self.scheduler).__name__,
                         "state": getter() if callable(getter) else None}
        # Module.state_dict() and Optimizer.state_dict() already return copies of their arrays.
        return {
            "model": self._model_arrays(copy_arrays),
            "optimizer": {"type": type(self.optimizer).__name__, "state": _optimizer_state(self.optimizer, copy_arrays)},
            "scheduler": scheduler,
            "random_state": copy.deepcopy(self._random_state()),
            "trainer": {**self._counters(), "grad_clip_norm": self.grad_clip_norm, "nonfinite": self.nonfinite},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; every part is checked first, and on any error nothing changes.

        After the checks, the parts are applied from the cheapest to undo to the dearest: random
        generators, schedule and counters, then the model (whose previous weights are kept aside),
        and last the optimizer, whose ``load_state_dict`` validates everything before it changes
        anything. If any step still fails, what was applied is put back.
        """
        problems = self._state_problems(state)
        if problems:
            raise ValueError("the checkpoint does not fit this trainer:\n  - " + "\n  - ".join(problems))
        small = self._small_state()
        model_before = None
        try:
            self._set_random_state(state["random_state"])
            if state["scheduler"] is not None and state["scheduler"]["state"] is not None:
                self.scheduler.load_state_dict(state["scheduler"]["state"])
            self._apply_trainer_state(state["trainer"])
            model_before = self.model.state_dict()
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"]["state"])
        except BaseException as error:
            if model_before is not None:
                self.model.load_state_dict(model_before)
            self._restore_small_state(small)
            if isinstance(error, (ValueError, TypeError)):
                raise ValueError(f"the checkpoint does not fit this trainer: {error}") from error
            raise

    def _counters(self) -> dict:
        """The trainer's own progress (copies): what ``_apply_trainer_state`` puts back."""
        return {"epoch": self.epoch, "step": self.step, "skipped_steps": self.skipped_steps,
                "training_mode": self.training_mode, "history": copy.deepcopy(self.history),
                "loader_states": copy.deepcopy(self.loader_states)}

    def _small_state(self) -> dict:
        """Everything but the model and optimizer arrays: cheap to copy and to put back."""
        getter = getattr(self.scheduler, "state_dict", None)
        return {"random_state": copy.deepcopy(self._random_state()),
                "scheduler": getter() if callable(getter) else None,
                "trainer": self._counters(),
                "pending": copy.deepcopy(self._pending_loader_states)}

    def _restore_small_state(self, small: dict) -> None:
        self._set_random_state(small["random_state"])
        if small["scheduler"] is not None:
            self.scheduler.load_state_dict(small["scheduler"])
        self._apply_trainer_state(small["trainer"])
        self._pending_loader_states = small["pending"]

    def _apply_trainer_state(self, t: dict) -> None:
        self.epoch, self.step, self.skipped_steps = t["epoch"], t["step"], t["skipped_steps"]
        self.history = copy.deepcopy(t["history"])
        self.loader_states = copy.deepcopy(t["loader_states"])
        self._pending_loader_states = copy.deepcopy(t["loader_states"])
        self.training_mode = t["training_mode"]

    def _state_problems(self, state) -> list:
        """Every reason ``state`` cannot be loaded into this trainer (empty when it can)."""
        expected = {"model", "optimizer", "scheduler", "random_state", "trainer"}
        if not isinstance(state, dict) or set(state) != expected:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            return [f"state must have keys {sorted(expected)}, got {got}"]
        problems = []
        # model: same parameter names, shapes and dtypes
        current = self._model_arrays(copy_arrays=False)
        saved = state["model"]
        if not isinstance(saved, dict):
            return ["model state is not a dict"]
        missing, extra = sorted(set(current) - set(saved)), sorted(set(saved) - set(current))
        if missing:
            problems.append(f"model parameters missing from the checkpoint: {missing}")
        if extra:
            problems.append(f"checkpoint has parameters this model does not: {extra}")
        for name in sorted(set(current) & set(saved)):
            a, b = np.asarray(saved[name]), current[name]
            if a.shape != b.shape or a.dtype != b.dtype:
                problems.append(f"parameter {name!r} is {a.dtype}{list(a.shape)} in the checkpoint but "
                                f"{b.dtype}{list(b.shape)} in the model (another architecture?)")
        # optimizer: same type (its own load_state_dict checks the rest before mutating)
        opt = state["optimizer"]
        if not isinstance(opt, dict) or set(opt) != {"type", "state"}:
            problems.append("optimizer state is malformed")
        elif opt["type"] != type(self.optimizer).__name__:
            problems.append(f"the checkpoint was saved with optimizer {opt['type']}, this trainer uses "
                            f"{type(self.optimizer).__name__}")
        # scheduler: same presence and type
        sched = state["scheduler"]
        mine = None if self.scheduler is None else type(self.scheduler).__name__
        theirs = sched.get("type") if isinstance(sched, dict) else None
        if sched is not None and not (isinstance(sched, dict) and set(sched) == {"type", "state"}):
            problems.append("scheduler state is malformed")
        elif theirs != mine:
            problems.append(f"the checkpoint was saved with scheduler {theirs}, this trainer uses {mine}")
        elif sched is not None and sched["state"] is not None and \
                not callable(getattr(self.scheduler, "load_state_dict", None)):
            problems.append(f"scheduler {mine} cannot load a state (no load_state_dict)")
        elif sched is not None and isinstance(self.scheduler, CosineSchedule):
            try:
                CosineSchedule(**sched["state"])
            except (TypeError, ValueError) as error:
                problems.append(f"scheduler state is invalid: {error}")
        # random generators owned by the model (Dropout)
        rng = state["random_state"]
        current_rng = self._random_state()
        if (rng is None) != (current_rng is None):
            problems.append("random state present in only one of checkpoint and model")
        elif rng is not None and (not isinstance(rng, dict) or set(rng) != set(current_rng)):
            problems.append(f"random generators differ: checkpoint has "
                            f"{sorted(rng) if isinstance(rng, dict) else rng!r}, model has {sorted(current_rng)}")
        # trainer counters and history
        t = state["trainer"]
        keys = {"epoch", "step", "skipped_steps", "training_mode", "history", "loader_states",
                "grad_clip_norm", "nonfinite"}
        if not isinstance(t, dict) or set(t) != keys:
            problems.append("trainer state is malformed")
            return problems
        for name in ("epoch", "step", "skipped_steps"):
            if isinstance(t[name], bool) or not isinstance(t[name], int) or t[name] < 0:
                problems.append(f"trainer {name} must be an integer >= 0, got {t[name]!r}")
        if not isinstance(t["training_mode"], bool):
            problems.append(f"trainer training_mode must be a bool, got {t['training_mode']!r}")
        history = t["history"]
        if not isinstance(history, dict) or set(history) != set(self.history) or \
                not all(isinstance(v, list) for v in history.values()):
            problems.append(f"history keys differ (other metrics?): checkpoint has "
                            f"{sorted(history) if isinstance(history, dict) else history!r}, "
                            f"trainer has {sorted(self.history)}")
        if not isinstance(t["loader_states"], dict):
            problems.append("loader states must be a dict")
        return problems

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, path) -> Path:
        """Write the whole training state to one safetensors file at ``path`` (atomically)."""
        return save_checkpoint(self, path)

    def load_checkpoint(self, path) -> None:
        """Restore the state saved by ``save_checkpoint``; a bad file changes nothing."""
        load_checkpoint(self, path)


def _optimizer_state(opt, copy_arrays: bool) -> dict:
    """``opt.state_dict()``; with ``copy_arrays=False`` its arrays are views of the live buffers."""
    if not copy_arrays and isinstance(opt, Optimizer) and type(opt).state_dict is Optimizer.state_dict:
        # Optimizer.state_dict() copies every buffer; for writing a file, views of the live
        # buffers are enough. A shallow twin with empty state gives the rest of the dict.
        twin = copy.copy(opt)
        twin.state = [{} for _ in opt.state]
        state = twin.state_dict()
        state["state"] = [{k: v if isinstance(v, np.ndarray) else int(v) for k, v in entry.items()}
                          for entry in opt.state]
        return state
    return opt.state_dict()


def _monitor_mode(monitor: str) -> str:
    """'min' for losses and errors, 'max' for everything else (accuracy, ...)."""
    return "min" if ("loss" in monitor or "error" in monitor) else "max"


def _improves(value, best, mode: str) -> bool:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


# %% [markdown]
# ## 5. Checkpoints that are safe and exact
#
# A long run must survive a crash, and a checkpoint file must be something you can open without
# fear. The seeds pickled a dict; we don't, for three reasons:
# 1. **Loading a pickle runs code.** The file decides what gets executed. A checkpoint is data and
#    must be loaded as data.
# 2. **A half-written file is a broken run.** If the process dies while writing, the previous good
#    checkpoint must still be there.
# 3. **A silently wrong load is worse than none.** A flipped byte, a truncated copy or a checkpoint
#    of another model must be refused *before* anything is overwritten.
#
# ### The file
#
# One [safetensors](https://github.com/huggingface/safetensors) file. Its layout is: 8 bytes (a
# little-endian unsigned 64-bit integer `N`), then `N` bytes of JSON describing each array (dtype,
# shape, byte offsets) plus an optional `"__metadata__"` map of string to string, then the raw
# array bytes. Loading it means reading numbers, never running anything. We store:
# - every array of the state under a path-like name: `model/layers.0.weight`,
#   `optimizer/state/...` (each optimizer buffer), ...;
# - in `__metadata__`: `format` (`tinytorch.checkpoint`), `format_version`, `state` (the rest of
#   the state as canonical JSON: hyperparameters, step counts, epoch, history, the scheduler, the
#   random generators' states, the loaders' seeds and epochs, with a placeholder where each array
#   goes) and `crc32c`.
#
# The checksum covers the payload: one CRC-32C over, for each array in sorted name order, its name,
# dtype and shape followed by its bytes, then the `state` JSON. CRC-32C (the Castagnoli polynomial,
# used by iSCSI, ext4 and cloud object stores for the same job) detects every error burst up to 32
# bits long, so any flipped bit or byte, and modern CPUs compute it in hardware: `google-crc32c` runs
# at over 10 GB/s here, ten times SHA-256, so verifying costs a fraction of reading. It guards
# against damage, which is what a checkpoint meets on disk; it is not a defence against a forged
# file, and none is needed for safety: nothing here is ever unpickled, so no file can run code.
#
# ### Writing atomically
#
# We write to a temporary file *in the same folder*, flush and `fsync` it (so its bytes are on the
# disk, not just in the page cache), then `os.replace` it onto the target name, and `fsync` the
# folder (so the rename itself is durable). `os.replace` is atomic on POSIX: anyone opening the path
# sees either the old complete file or the new complete file. A crash at any moment leaves the old
# checkpoint (plus, at worst, a stray `.tmp` file), never a broken one.
#
# Saving hashes and writes *views* of the live weights and optimizer buffers (nothing else runs
# meanwhile), so a checkpoint costs no extra copy of the state in memory; loading maps the file
# into memory and reads the arrays in place, so the only copy is the one into the live arrays.
#
# A path ending in `.pkl` (the seeds' habit) gets the same safetensors format: the name is only a
# name.
#
# ### Loading: verify everything, then change everything
#
# `load_checkpoint` reads the file once, checks the header, the format name and version, the
# checksum, then that the state fits: the same parameter names with the same shapes and dtypes, the
# same optimizer type (the optimizer's `load_state_dict` validates its buffers before it mutates),
# the same scheduler type, the same metrics. Only then does it apply the state; should any part
# still fail, everything already applied is rolled back. A missing file raises
# `FileNotFoundError`; any other bad file raises `ValueError` with the reason.
#
# ### Exact resume
#
# Training N epochs must equal training k epochs, saving, loading *in a new process* and training
# N - k more, bit for bit. That needs every source of change: weights, every optimizer buffer and
# step count, the schedule, the epoch (which fixes the learning rate and, through `set_epoch`, the
# shuffle order), and the state of every random generator training uses (Dropout's). The data
# loaders' states (seed and epoch) are saved too: after loading, the first loader passed to
# `train_epoch` (and to `evaluate`) gets the saved state back, so a loader created without a seed in
# the new process continues with the original seed.

# %%
#| export
CHECKPOINT_FORMAT = "tinytorch.checkpoint"
CHECKPOINT_VERSION = 1
_MARKERS = ("__array__", "__tuple__", "__items__")


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


def _flatten_state(obj, path: str, arrays: dict):
    """A JSON-able skeleton of ``obj`` with each ndarray moved into ``arrays`` under a unique name."""
    if isinstance(obj, (np.ndarray, np.generic)):
        name = path
        while name in arrays:
            name += "_"
        array = np.asarray(obj)                # a NumPy scalar becomes a 0-d array (ascontiguousarray would make it 1-d)
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"__array__": name}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(m in obj for m in _MARKERS):
            return {k: _flatten_state(v, _join(path, k), arrays) for k, v in obj.items()}
        items = []
        for i, (k, v) in enumerate(obj.items()):
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint state at {path!r} has a key of type {type(k).__name__}; "
                                f"only str and int keys can be saved")
            items.append([k, _flatten_state(v, _join(path, k), arrays)])
        return {"__items__": items}
    if isinstance(obj, list):
        return [_flatten_state(v, _join(path, i), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten_state(v, _join(path, i), arrays) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint state at {path!r} holds a {type(obj).__name__}, which cannot be saved "
                    f"as data (only dicts, lists, tuples, numbers, strings, None and ndarrays)")


def _unflatten_state(skeleton, arrays: dict, used: set):
    """Inverse of ``_flatten_state``; records which arrays were referenced in ``used``."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__array__"}:
            name = skeleton["__array__"]
            if name not in arrays:
                raise ValueError(f"the state refers to array {name!r}, which is not in the file")
            used.add(name)
            return arrays[name]
        if set(skeleton) == {"__tuple__"}:
            return tuple(_unflatten_state(v, arrays, used) for v in skeleton["__tuple__"])
        if set(skeleton) == {"__items__"}:
            return {k: _unflatten_state(v, arrays, used) for k, v in skeleton["__items__"]}
        return {k: _unflatten_state(v, arrays, used) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten_state(v, arrays, used) for v in skeleton]
    return skeleton


def _checksum(arrays: dict, state_json: str) -> str:
    """CRC-32C (8 hex digits) over (name, dtype, shape, bytes) of each array in sorted order, then the JSON."""
    crc = 0
    for name in sorted(arrays):
        a = arrays[name]
        crc = google_crc32c.extend(crc, f"{name}\0{a.dtype.str}\0{list(a.shape)}\n".encode())
        crc = google_crc32c.extend(crc, np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return f"{google_crc32c.extend(crc, state_json.encode()):08x}"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:                              # e.g. platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(path: Path, arrays: dict, metadata: dict) -> None:
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.close(fd)
        safetensors.numpy.save_file(arrays, tmp, metadata=metadata)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def save_checkpoint(trainer: Trainer, path) -> Path:
    """Save ``trainer.state_dict()`` to ``path`` as one checksummed safetensors file, atomically."""
    ### BEGIN SOLUTION
    path = Path(path)
    arrays = {}
    skeleton = _flatten_state(trainer._state(copy_arrays=False), "", arrays)   # views; nothing runs meanwhile
    state_json = json.dumps(skeleton, sort_keys=True, separators=(",", ":"))
    metadata = {"format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_VERSION),
                "state": state_json, "crc32c": _checksum(arrays, state_json)}
    _write_atomically(path, arrays, metadata)
    return path
    ### END SOLUTION


def _bad(path, reason: str) -> ValueError:
    return ValueError(f"{path} is not a valid TinyTorch checkpoint: {reason}; nothing was loaded")


_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def _looks_like(data) -> str:
    """A sentence about what a file that is not a safetensors file might be."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "; it looks like a pickle, and pickles are never loaded"
    if data[:4] == b"PK\x03\x04":
        return "; it looks like a zip archive (a torch.save file?), which is never unpickled"
    return ""


def _read_header(data, path) -> dict:
    if len(data) < 8:
        raise _bad(path, f"the file is only {len(data)} bytes long (truncated?){_looks_like(data)}")
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8 or size > 100_000_000 or data[8:9] != b"{":
        raise _bad(path, f"it does not start with a safetensors header: the length prefix says {size} "
                         f"bytes and {len(data) - 8} follow, so it is truncated or in another format"
                         f"{_looks_like(data)}")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _bad(path, f"the header is not valid JSON ({error}){_looks_like(data)}") from None
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise _bad(path, f"its metadata does not name the format {CHECKPOINT_FORMAT!r} "
                         f"(a safetensors file from somewhere else?)")
    if meta.get("format_version") != str(CHECKPOINT_VERSION):
        raise _bad(path, f"format version {meta.get('format_version')!r} is not supported "
                         f"(this TinyTorch reads version {CHECKPOINT_VERSION})")
    if not all(isinstance(meta.get(k), str) for k in ("state", "crc32c")):
        raise _bad(path, "its metadata lacks the state or the checksum")
    return header


def _array_views(data, header: dict, path) -> dict:
    """Zero-copy views of every array, after checking the table as strictly as safetensors does:
    known dtypes, whole shapes, offsets that tile the data section exactly, in order, with no gap."""
    start = 8 + struct.unpack("<Q", data[:8])[0]
    length = len(data) - start
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in (*shape, begin, end)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise _bad(path, f"the entry for array {name!r} is malformed") from None
        count = math.prod(shape)
        if end - begin != count * dtype.itemsize:
            raise _bad(path, f"array {name!r} claims {end - begin} bytes for shape {list(shape)}")
        entries.append((begin, end, name, dtype, shape, count))
    entries.sort(key=lambda e: e[:2])
    position = 0
    for begin, end, name, *_ in entries:
        if begin != position:
            raise _bad(path, f"array {name!r} does not start where the previous one ends")
        position = end
    if position != length:
        raise _bad(path, f"the arrays cover {position} bytes but the data section holds {length} "
                         f"(truncated or padded)")
    return {name: np.frombuffer(data, dtype=dtype, count=count, offset=start + begin).reshape(shape)
            for begin, end, name, dtype, shape, count in entries}


def _read_verified(path) -> dict:
    """Read, parse and verify a checkpoint file; return the state as nested dicts and arrays."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not path.is_file():
        raise _bad(path, "it is not a regular file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # Map the file instead of reading it: arrays become views of the page cache, no copy.
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size >= 8 else f.read()
    header = _read_header(data, path)
    meta = header["__metadata__"]
    arrays = _array_views(data, header, path)
    if _checksum(arrays, meta["state"]) != meta["crc32c"]:
        raise _bad(path, "the checksum does not match (the file was changed or damaged)")
    try:
        skeleton = json.loads(meta["state"])
    except (ValueError, RecursionError) as error:
        raise _bad(path, f"the state is not valid JSON ({error})") from None
    used = set()
    try:
        state = _unflatten_state(skeleton, arrays, used)
    except (ValueError, TypeError, AttributeError, RecursionError) as error:
        raise _bad(path, f"the state is malformed ({error})") from None
    if used != set(arrays):
        raise _bad(path, f"arrays {sorted(set(arrays) - used)} are not referenced by the state")
    return state


def read_checkpoint(path) -> dict:
    """The verified state stored in a checkpoint file (arrays copied), without loading it into anything."""
    return copy.deepcopy(_read_verified(path))


def load_checkpoint(trainer: Trainer, path) -> None:
    """Verify the file at ``path`` completely, then restore it into ``trainer`` (or change nothing)."""
    ### BEGIN SOLUTION
    state = _read_verified(path)
    try:
        trainer.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{path}: {error}; nothing was loaded") from None
    ### END SOLUTION


# %% [markdown]
# ### Keeping the right checkpoints
#
# Saving every epoch of a 100-epoch run with 1 GB checkpoints costs 100 GB. Saving rarely risks
# losing many epochs. The seed's answer keeps three kinds of file:
# - the **last N** (a rolling window: a crash loses at most one epoch),
# - the **best** by a monitored value (`eval_loss` by default, lowest is best),
# - **milestones** every `every` epochs (25, 50, 75, ... to restart experiments from).
#
# `CheckpointManager.save(trainer)` writes `epoch_<e>.safetensors` for the trainer's current epoch
# and deletes every file it wrote that is in none of the three sets. Its index
# (`checkpoints.json`, written atomically too) remembers each epoch's monitored value, so a new
# process can keep managing the same folder. `retained_epochs` predicts the kept set without
# training anything: for 100 epochs, `keep_last=3`, `every=25` and the best at epoch 72 it is
# `[25, 50, 72, 75, 98, 99, 100]`, 7 files instead of 100.

# %%
#| export
def retained_epochs(saved_epochs, keep_last: int = 3, every=None, best_epoch=None) -> list:
    """The epochs a ``CheckpointManager`` keeps: the last ``keep_last`` saved, ``best_epoch``, and
    every saved epoch that is a multiple of ``every``. ``saved_epochs`` may be an int ``E``
    (meaning epochs 1..E were saved).

    >>> retained_epochs(100, keep_last=3, every=25, best_epoch=72)
    [25, 50, 72, 75, 98, 99, 100]
    """
    if isinstance(saved_epochs, (int, np.integer)) and not isinstance(saved_epochs, bool):
        saved_epochs = range(1, int(saved_epochs) + 1)
    saved = sorted(set(int(e) for e in saved_epochs))
    keep_last = _check_int("keep_last", keep_last, 0)
    kept = set(saved[-keep_last:]) if keep_last else set()
    if every is not None:
        every = _check_int("every", every, 1)
        kept |= {e for e in saved if e % every == 0}
    if best_epoch is not None and best_epoch in saved:
        kept.add(int(best_epoch))
    return sorted(kept)


class CheckpointManager:
    """Save checkpoints into ``directory`` and keep only the last ``keep_last``, the best by
    ``monitor`` (``mode`` "min" or "max") when ``keep_best``, and the milestones (every ``every``-th
    epoch) when ``every`` is set. Files are ``epoch_<e>.safetensors``; others are never touched.
    """

    INDEX = "checkpoints.json"

    def __init__(self, directory, keep_last: int = 3, keep_best: bool = True, monitor: str = "eval_loss",
                 mode: str = "min", every=None):
        self.directory = Path(directory)
        self.keep_last = _check_int("CheckpointManager keep_last", keep_last, 0)
        if not isinstance(keep_best, bool):
            raise TypeError(f"CheckpointManager keep_best must be True or False, got {keep_best!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"CheckpointManager mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"CheckpointManager monitor must be a history key (str), got {monitor!r}")
        self.every = None if every is None else _check_int("CheckpointManager every", every, 1)
        self.keep_best, self.monitor, self.mode = keep_best, monitor, mode
        self.records = {}                 # epoch -> monitored value (or None)
        index = self.directory / self.INDEX
        if index.is_file():
            try:
                loaded = json.loads(index.read_text())
                self.records = {int(e): v for e, v in loaded.get("records", {}).items()
                                if self.path_for(int(e)).is_file()}
            except (ValueError, AttributeError, TypeError):
                self.records = {}

    def path_for(self, epoch: int) -> Path:
        return self.directory / f"epoch_{int(epoch):04d}.safetensors"

    @property
    def best_epoch(self):
        best = None
        for epoch in sorted(self.records):
            if _improves(self.records[epoch], None if best is None else self.records[best], self.mode):
                best = epoch
        return best

    @property
    def best_path(self):
        best = self.best_epoch
        return None if best is None else self.path_for(best)

    @property
    def latest_path(self):
        return self.path_for(max(self.records)) if self.records else None

    def kept_epochs(self) -> list:
        best = self.best_epoch if self.keep_best else None
        return retained_epochs(self.records, self.keep_last, self.every, best)

    def save(self, trainer: Trainer, epoch=None, metrics=None) -> Path:
        """Checkpoint ``trainer`` as epoch ``epoch`` (default: ``trainer.epoch``), then prune.

        The monitored value is ``metrics[monitor]`` if given, else the last entry of
        ``trainer.history[monitor]`` (None if there is none: such epochs are never "best").
        """
        epoch = trainer.epoch if epoch is None else _check_int("CheckpointManager.save epoch", epoch, 0)
        if metrics is not None and self.monitor in metrics:
            value = metrics[self.monitor]
        else:
            series = trainer.history.get(self.monitor) or [None]
            value = series[-1]
        value = float(value) if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) else None
        path = save_checkpoint(trainer, self.path_for(epoch))
        self.records[epoch] = value
        keep = set(self.kept_epochs())
        for old in sorted(set(self.records) - keep):
            try:
                self.path_for(old).unlink()
            except FileNotFoundError:
                pass
            del self.records[old]
        self._write_index()
        return path

    def _write_index(self) -> None:
        text = json.dumps({"monitor": self.monitor, "mode": self.mode,
                           "records": {str(e): v for e, v in sorted(self.records.items())}}, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=".checkpoints.", suffix=".tmp", dir=self.directory)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / self.INDEX)

    def files(self) -> list:
        return sorted(self.directory.glob("epoch_*.safetensors"))


# %%
def test_unit_retention():
    assert retained_epochs(100, keep_last=3, every=25, best_epoch=72) == [25, 50, 72, 75, 98, 99, 100]
    assert retained_epochs(5, keep_last=3) == [3, 4, 5]
    print("retention: ok")


if __name__ == "__main__":
    test_unit_retention()


# %% [markdown]
# ## 6. Where training memory goes
#
# Training holds much more than the model. For every parameter there is its gradient (same size),
# and the optimizer's state: nothing for plain SGD, one velocity buffer for SGD with momentum, two
# moment buffers for Adam. Then there are the activations the forward pass keeps for the backward
# pass, which grow with the batch size.
#
# `training_memory(model, optimizer, batch_size, input_shape)` measures the first three from the
# real buffers (`.nbytes` of each array; a gradient not yet allocated is counted at the size it will
# have, its parameter's, since zeroing keeps the buffers). The activations are an *estimate*: we
# push a batch of zeros through the model under `no_grad` in eval mode and add up the bytes of the
# input and of each layer's output (for a model with a `layers` list, layer by layer; otherwise
# just input and output). That is what a backward pass needs to keep around, give or take the
# temporaries of particular layers.
#
# `memory_table(num_params, optimizer)` gives the textbook numbers for the seed's question:
# 10M float32 parameters are 40 MB; with Adam, training needs 40 (params) + 40 (grads) + 80 (two
# moments) = 160 MB, 4x the model; with SGD and momentum 120 MB, 3x.

# %%
#| export
_OPTIMIZER_SLOTS = {"sgd": 0, "sgd_momentum": 1, "momentum": 1, "adam": 2, "adamw": 2}


def memory_table(num_params: int, optimizer: str = "adam", bytes_per_param: int = 4) -> dict:
    """Textbook training memory in bytes: parameters, gradients, optimizer state and their total.

    >>> memory_table(10_000_000, "adam")["total"] / 1e6
    160.0
    """
    num_params = _check_int("memory_table num_params", num_params, 0)
    bytes_per_param = _check_int("memory_table bytes_per_param", bytes_per_param, 1)
    key = str(optimizer).lower()
    if key not in _OPTIMIZER_SLOTS:
        raise ValueError(f"memory_table optimizer must be one of {sorted(_OPTIMIZER_SLOTS)}, got {optimizer!r}")
    params = num_params * bytes_per_param
    state = _OPTIMIZER_SLOTS[key] * params
    return {"parameters": params, "gradients": params, "optimizer_state": state,
            "total": 2 * params + state, "multiple_of_model": (2 * params + state) / params if params else 0.0}


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
    params = list(model.parameters())
    param_bytes = sum(p.data.nbytes for p in params)
    grad_bytes = sum((p.grad.nbytes if isinstance(p.grad, np.ndarray) else p.data.nbytes) for p in params)
    # the live buffers themselves, not a copy: a memory report should not double the memory it reports
    state_bytes = _array_bytes(_optimizer_state(optimizer, copy_arrays=False)) if optimizer is not None else 0
    activation_bytes = None
    if batch_size is not None and input_shape is not None:
        batch_size = _check_int("training_memory batch_size", batch_size, 1)
        shape = (batch_size, *tuple(input_shape))
        x = Tensor(np.zeros(shape, dtype=np.float32))
        saved_mode = bool(getattr(model, "training", True))
        layers = getattr(model, "layers", None)
        try:
            model.eval()
            with no_grad():
                activation_bytes = x.data.nbytes
                if isinstance(layers, (list, tuple)) and layers:
                    for layer in layers:
                        x = layer(x)
                        activation_bytes += x.data.nbytes
                else:
                    activation_bytes += model(x).data.nbytes
        finally:
            model.train() if saved_mode else model.eval()
    total = param_bytes + grad_bytes + state_bytes + (activation_bytes or 0)
    return {"parameters": param_bytes, "gradients": grad_bytes, "optimizer_state": state_bytes,
            "activations": activation_bytes, "total": total,
            "num_parameters": int(sum(p.data.size for p in params))}
