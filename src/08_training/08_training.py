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
# alone; none of them trains anything. This module is the conductor: a `Trainer` that runs the loop
# forward -> loss -> backward -> (clip) -> step, epoch after epoch, and the two tools every long run
# needs beside it, a learning-rate schedule and gradient clipping.
#
# You write five things, each a few lines; the book teaches module 08 on three pages, named here
# after each thing (the hints name the section):
# - the cosine formula of `CosineSchedule.get_lr` ("08. Training: stability");
# - `clip_grad_norm`: the global norm of all gradients, and the scaling when it is too large
#   ("08. Training: stability");
# - the training loop of `Trainer.train_epoch` and the update it makes (`Trainer.update`)
#   ("08. Training: the loop");
# - the evaluation loop of `Trainer.evaluate` ("08. Training: the loop");
# - what a checkpoint holds (`Trainer.state_dict`) ("08. Training: state and cost").
#
# Around your code sits provided code in `tinytorch/utils/` that no notebook exports (DESIGN.md,
# "Provided infrastructure"). Its rule is that **a failure is loud and leaves things as they were**:
# a bad argument, batch or file raises an error that names the culprit before anything changed; a
# non-finite loss or gradient stops training (or is skipped, if you ask) instead of quietly turning
# the weights into NaN; a checkpoint is a checksummed safetensors file, written atomically and
# verified when read. Your loops meet that code through a few public names, each introduced below.
#
# | file | what it holds |
# |------|---------------|
# | `tinytorch/core/schedule.py` | `CosineSchedule`: a learning rate that starts high and glides down |
# | `tinytorch/core/clipping.py` | `clip_grad_norm`, `grad_norm`: the global norm of all gradients |
# | `tinytorch/core/metrics.py` | `Accuracy`, `MeanAbsoluteError`: what a person reads beside the loss |
# | `tinytorch/core/training.py` | the `Trainer` (and the names above, re-exported) |

# %%
#| default_exp core.training

# %% [markdown]
# ## 1. Cosine learning-rate schedule
#
# Early in training the weights are far from any good solution, so big steps make fast progress.
# Near a minimum, big steps overshoot and bounce around it. A schedule gives both: start at
# `max_lr` and decay smoothly to `min_lr`. Cosine annealing uses half a cosine wave. With $t$ the
# fraction of the schedule done ($t = e / E$ at epoch $e$ of $E$ = `total_epochs`):
#
# $$\text{lr} = \text{min\_lr} + (\text{max\_lr} - \text{min\_lr})\,\frac{1 + \cos(\pi t)}{2}$$
#
# At $t = 0$ the cosine is 1, so the rate is `max_lr`; at $t = 1$ it is $-1$, so the rate is
# `min_lr`; halfway it is exactly the mean of the two. The curve is flat at both ends.
#
# Provided around your formula: the rate *holds* `min_lr` for every epoch `>= total_epochs`
# (PyTorch's `CosineAnnealingLR` is periodic instead: past `T_max` it climbs back up; for epochs
# `0..total_epochs` the two agree), and an optional linear warmup: with `warmup_epochs = W > 0` the
# first `W` epochs ramp up, `lr = max_lr * (e + 1) / (W + 1)`, and $t$ then runs from 0 at epoch `W`
# to 1 at `total_epochs`. Use `math.cos` and `math.pi`: the rate is a plain Python `float` that goes
# into JSON and into the optimizer without dragging a NumPy scalar along. The schedule's state is its
# four hyperparameters; `load_state_dict` checks them as the constructor does before changing any.

# %%
#| export core.schedule
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
        ### BEGIN SOLUTION
        return self.min_lr + (self.max_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0
        ### END SOLUTION

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


# %%
def test_unit_cosine_schedule():
    s = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    assert s.get_lr(0) == 0.1 and s.get_lr(100) == 0.01 and s.get_lr(1000) == 0.01
    assert abs(s.get_lr(50) - 0.055) < 1e-12, "halfway, the rate is the mean of max_lr and min_lr"
    assert abs(s.get_lr(25) - (0.01 + 0.09 * (1 + math.cos(math.pi / 4)) / 2)) < 1e-12
    assert all(s.get_lr(e) >= s.get_lr(e + 1) for e in range(120)), "the rate never rises"
    assert isinstance(s.get_lr(10), float)
    w = CosineSchedule(max_lr=1.0, min_lr=0.0, total_epochs=10, warmup_epochs=4)
    assert [w.get_lr(e) for e in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    print("CosineSchedule: ok")


if __name__ == "__main__":
    test_unit_cosine_schedule()


# %% [markdown]
# ## 2. Gradient clipping by global norm
#
# Sometimes one batch produces enormous gradients (a steep cliff in the loss surface, a bad sample).
# One step along them throws the weights far away. Clipping caps the *norm of the gradient* while
# keeping its direction.
#
# *Global* norm means we treat all gradients of all parameters as one long vector $g$:
# $\lVert g\rVert = \sqrt{\sum_i g_i^2}$. If it exceeds `max_norm`, every gradient is multiplied in
# place by the same factor `max_norm / total_norm`: the new global norm is exactly `max_norm`, and
# the ratios between gradients are unchanged. Clipping each gradient on its own would destroy them.
#
# Three details:
# - **Overflow.** Squaring a float32 gradient of 1e20 overflows float32. Sum the squares in float64
#   (`g.astype(np.float64)`), which no finite float32 gradient can overflow.
# - **Non-finite gradients.** If a gradient holds `inf` or `nan`, so does the norm, and scaling would
#   spread NaN into every gradient (`inf * 0` is NaN). Scale only a *finite* norm above `max_norm`;
#   a non-finite norm is returned with the gradients untouched (or, with `error_if_nonfinite=True`,
#   the provided code raises `RuntimeError`, as PyTorch does). The `Trainer` checks the norm of
#   every update.
# - **No epsilon.** PyTorch multiplies by `min(max_norm / (total_norm + 1e-6), 1)`. We scale by
#   exactly `max_norm / total_norm`, and only above the threshold: below it the gradients are left
#   bit for bit as they were. The two agree to about `1e-6` relative.
#
# Provided before your code: `grads`, the list of gradient arrays of `parameters` (a parameter
# without a gradient is skipped), each checked to be a writable float array, so that a bad one
# raises before any gradient changed. `grad_norm(parameters)` is the same norm without the scaling
# (provided, summed with BLAS in the gradients' own dtype and recounted in float64 if that
# overflows: the Trainer calls it on every update).

# %%
#| export core.clipping
"""Gradient clipping by global norm (exported from module 08, src/08_training)."""
import math

import numpy as np

from tinytorch.utils.gradient_arrays import gradient_arrays
from tinytorch.utils.validation import check_bool, check_number

__all__ = ["clip_grad_norm", "grad_norm"]


def grad_norm(parameters) -> float:
    """The global L2 norm of the gradients of ``parameters`` (None gradients skipped), as a float."""
    grads = gradient_arrays(parameters, "grad_norm")
    squares = 0.0
    for g in grads:
        squares += float(np.vdot(g, g))
    if not math.isfinite(squares):                # float32 overflow, or a non-finite gradient
        with np.errstate(over="ignore", invalid="ignore"):
            squares = sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)
    return math.sqrt(squares)


def clip_grad_norm(parameters, max_norm: float = 1.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients in place so their global L2 norm is at most ``max_norm``.

    Returns the global norm *before* clipping, as a Python float. When it is finite and exceeds
    ``max_norm``, every gradient is multiplied by ``max_norm / total_norm``; otherwise nothing
    changes. A non-finite norm raises ``RuntimeError`` when ``error_if_nonfinite`` is true.

    >>> from tinytorch.core.tensor import Tensor
    >>> p = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> p.grad = np.array([100.0, 200.0, 50.0], dtype=np.float32)
    >>> clip_grad_norm([p], max_norm=1.0)
    229.128784747792
    >>> [round(float(g), 3) for g in p.grad]
    [0.436, 0.873, 0.218]
    """
    max_norm = check_number("clip_grad_norm max_norm", max_norm, positive=True)
    error_if_nonfinite = check_bool("clip_grad_norm error_if_nonfinite", error_if_nonfinite)
    grads = gradient_arrays(parameters, "clip_grad_norm", writable=True)
    # Hint: total_norm = sqrt(sum of every gradient entry squared, in float64); if it is finite and
    # above max_norm, multiply every g in grads in place by max_norm / total_norm (chapter 08, "Gradient clipping").
    ### BEGIN SOLUTION
    total_norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    if math.isfinite(total_norm) and total_norm > max_norm:
        scale = max_norm / total_norm
        for g in grads:
            g *= scale
    ### END SOLUTION
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(f"clip_grad_norm: the total norm of the gradients is {total_norm} (non-finite); "
                           f"the gradients were left unchanged")
    return total_norm


# %%
def test_unit_clip_grad_norm():
    from tinytorch.core.tensor import Tensor

    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)
    assert clip_grad_norm([a, b], max_norm=1.0) == 5.0, "the norm before clipping, over all gradients"
    assert np.allclose(a.grad, [0.6, 0.0]) and np.allclose(b.grad, [0.8]), "scaled by max_norm / 5"
    before = a.grad.copy()
    assert abs(clip_grad_norm([a, b], max_norm=10.0) - 1.0) < 1e-6
    assert np.array_equal(a.grad, before), "below the threshold the gradients are untouched"
    big = Tensor(np.zeros(2), requires_grad=True)
    big.grad = np.array([3e30, 4e30], np.float32)          # float32 squares would overflow
    assert abs(clip_grad_norm([big]) / 5e30 - 1) < 1e-6 and np.allclose(big.grad, [0.6, 0.8])
    a.grad = np.array([np.inf, 1.0], np.float32)
    assert clip_grad_norm([a, b]) == np.inf and a.grad[1] == 1.0, "a non-finite norm changes nothing"
    assert abs(grad_norm([b]) - 0.8) < 1e-6
    print("clip_grad_norm: ok")


if __name__ == "__main__":
    test_unit_clip_grad_norm()


# %% [markdown]
# ## 3. Metrics
#
# The loss is what we optimise; a metric is what a person reads. A metric is anything callable as
# `metric(y_pred, y_true) -> float`, taking Tensors or arrays:
#
# - `Accuracy(threshold=0.5, from_logits=None)`: the fraction of correct predictions. With several
#   outputs per sample the prediction is the `argmax`; targets may be class indices or one-hot rows.
#   With **one output per sample** (a binary classifier) the output is read as a probability
#   (class 1 when `y_pred > threshold`) or, with `from_logits=True`, as a logit (class 1 when
#   `sigmoid(y_pred) > threshold`, i.e. `y_pred > log(threshold / (1 - threshold))`). Left at
#   `None`, the `Trainer` decides from its loss (`for_loss`): logits for `BCEWithLogitsLoss`, which
#   takes logits, probabilities otherwise. Accuracy is *undefined* for regression targets: the
#   metric raises `ValueError` there.
# - `MeanAbsoluteError()`: the mean of `|y_pred - y_true|`, computed in float64.
#
# The checks of what a metric is given live in `tinytorch/utils/metric_inputs.py`. A metric's name
# (`metric_name`) is its `name` attribute, else its `__name__`, else its class name, in snake_case:
# `MeanAbsoluteError` -> `mean_absolute_error`. The trainer records it as `train_<name>` and
# `val_<name>`.

# %%
#| export core.metrics
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


# %%
def test_unit_metrics():
    assert Accuracy()(np.eye(3), np.array([0, 1, 1])) == 2 / 3
    assert Accuracy()(np.eye(3), np.eye(3)) == 1.0, "one-hot targets"
    logits = np.array([[0.3], [-0.2]])                 # as probabilities both are below 0.5
    assert Accuracy()(logits, np.array([1, 0])) == 0.5
    assert Accuracy(from_logits=True)(logits, np.array([1, 0])) == 1.0
    assert MeanAbsoluteError()(np.zeros(4), np.ones(4)) == 1.0
    assert metric_name(MeanAbsoluteError()) == "mean_absolute_error"
    print("metrics: ok")


if __name__ == "__main__":
    test_unit_metrics()


# %% [markdown]
# ## 4. The Trainer
#
# ### The training loop
#
# `train_epoch(loader, accumulation_steps=k)` runs one epoch: put the model in training mode, zero
# the gradients, then for each batch forward, loss, backward, and every `k` batches one update.
# `backward()` *adds* into `.grad`, which is what makes accumulation possible: `k` batches of 32 can
# give the update of one batch of `32 k` when memory only fits 32. An epoch rarely divides evenly
# into windows, so after the loop a *short last window* still makes its update.
#
# The update (`Trainer.update`) turns the window's gradients into one step: average them, clip them
# when `grad_clip_norm` is set (the norm otherwise still comes from `grad_norm`), step unless the
# norm is not finite, count the step in `self.step`, zero the gradients.
#
# Provided code opens the pass for you, `with EpochRun(self, dataloader, training=True) as run:`
# (`tinytorch/utils/epoch_run.py`), and your loop uses five of its public members:
#
# | member | what it does |
# |--------|--------------|
# | `run.batches()` | the loader's batches, each a checked `(inputs, targets)` pair of Tensors |
# | `run.skip_batch(outputs, loss)` | checks the output and the loss; `True` for a non-finite loss the trainer skips (`nonfinite="skip"`), otherwise such a loss raises `FloatingPointError` naming epoch and batch |
# | `run.window` | the `AccumulationWindow` of the gradients: `add(n)` right **before** the backward pass of a batch of `n` samples, `average()` before the update, `batches` so far |
# | `run.skip_update(norm)` | the same decision for an update whose gradient norm is not finite |
# | `run.record(outputs, targets, loss)` | adds the batch to the sample-weighted means of the loss and the metrics |
#
# Why a window, and not "divide each loss by `k`"? With a mean loss, one big batch of $N$ samples
# has gradient $\sum_i \frac{n_i}{N} \nabla L_i$, where $L_i$ is the mean loss of the $i$-th small
# batch of $n_i$ samples. Dividing by `k` is right only when every batch has the same size and the
# window is full; the last batch and the last window usually are not. The window weights each batch
# by its share of the samples, and leaves a window of one batch untouched (so `k = 1` is bit for bit
# a plain `loss.backward()`).
#
# Before your loop the run has set `optimizer.lr = scheduler.get_lr(epoch)` (so epoch `e` trains at
# `get_lr(e)`, and `history["learning_rates"][e]` is that rate) and called `loader.set_epoch(epoch)`
# when the loader has it (the shuffle order is then a function of seed and epoch, which is what
# makes resuming exact). After it, the run records the history. If anything fails, it puts back the
# model's mode, the optimizer's rate and the loader's position; before the first update that is
# everything (gradients and dropout generators included); after it, the updates made stay.
#
# Call the model as `self.model.forward(inputs)`: the specs train plain objects (a `SimpleNN` with
# `forward`, `parameters()` and a `training` attribute) as often as `Module`s, and both have
# `forward`. `self.training_mode = True` sets the mode of either kind (`train()` / `eval()` when the
# model has them, else its `training` attribute).
#
# ### Evaluation
#
# `evaluate(loader) -> (loss, accuracy)` measures without learning: evaluation mode (dropout off),
# `no_grad()` (no graph is built, so no memory is kept for a backward pass that never comes), then
# forward, loss and `run.record`; no backward, no step. The run puts the previous mode back.
# `accuracy` is always a float: `nan` where accuracy is undefined (a regression loss), while the
# history records `None` there, which stays valid JSON in a checkpoint.
#
# ### History keys (one rule)
#
# `train_loss`, `eval_loss` (sample-weighted means of each call), `learning_rates`, and
# `train_<name>` / `val_<name>` for every metric. Accuracy is always among them: the metric named
# `accuracy` in `metrics` if you pass one, else a built-in `Accuracy()` that records `None` where it
# is undefined. `fit(..., monitor="eval_loss", mode="min")` names the history key that early
# stopping and a checkpoint folder watch, and whether lower or higher is better (say `mode="max"`
# for an accuracy: it is never guessed from the name).
#
# ### What a checkpoint must contain
#
# Everything that changes while training, so that a resumed run continues bit for bit:
#
# | key | holds | from |
# |-----|-------|------|
# | `"model"` | the model's arrays | `model_state(self.model, copy=copy)` (a `Module`'s `state_dict`, or a plain model's parameters by position) |
# | `"optimizer"` | momentum, Adam's moments, step counts, hyperparameters | `self.optimizer.state_dict(copy=copy)` |
# | `"scheduler"` | the schedule's hyperparameters, or `None` without a schedule | `self.scheduler.state_dict()` |
# | `"random_state"` | the dropout generators' states, or `None` | `model_random_state(self.model)` |
# | `"trainer"` | epoch, step, skipped steps, mode, history, the loaders' states | `trainer_progress(self, copy=copy)` |
#
# `copy=False` gives views of the live arrays instead of copies: what `save_checkpoint` writes (it
# never changes them). The helpers of the last column are provided (`tinytorch/utils/`). Loading
# (`load_state_dict`, provided) checks every part with its owner before anything changes, and puts
# back what it applied if a later part refuses, so a checkpoint that does not fit changes nothing.
# The file (`save_checkpoint`) is one checksummed safetensors file written atomically; nothing is
# ever unpickled.

# %%
#| export
"""The Trainer: epochs, evaluation, checkpoints (exported from module 08, src/08_training).

Also re-exports the names of module 08's other files and of the provided checkpoint and memory
tools, so that ``from tinytorch.core.training import Trainer, CosineSchedule, clip_grad_norm`` works."""

import math

from tqdm.auto import tqdm

from tinytorch.core.autograd import no_grad
from tinytorch.core.clipping import clip_grad_norm, grad_norm
from tinytorch.core.metrics import Accuracy, MeanAbsoluteError, metric_name
from tinytorch.core.schedule import CosineSchedule
from tinytorch.utils.checkpoint_file import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, read_checkpoint,
                                             write_checkpoint)
from tinytorch.utils.checkpoint_retention import CheckpointManager, improves, retained_epochs
from tinytorch.utils.epoch_run import EpochRun, check_training_run
from tinytorch.utils.model_adapter import is_training, model_random_state, model_state, set_training
from tinytorch.utils.trainer_arguments import check_fit_arguments, check_trainer_arguments
from tinytorch.utils.trainer_state import restore_trainer_state, trainer_progress
from tinytorch.utils.training_history import history_keys, metric_slots
from tinytorch.utils.training_memory import memory_table, training_memory
from tinytorch.utils.validation import check_bool, check_int

__all__ = [
    "Trainer", "CosineSchedule", "clip_grad_norm", "grad_norm", "Accuracy", "MeanAbsoluteError", "metric_name",
    "CheckpointManager", "retained_epochs", "read_checkpoint", "write_checkpoint",
    "training_memory", "memory_table", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION",
]


class Trainer:
    """Runs training: epochs of forward, loss, backward, clip, step; evaluation; checkpoints.

    ``Trainer(model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *, metrics=None,
    nonfinite="raise")``. ``model``: anything with ``forward(x)`` and ``parameters()`` returning a
    list of Tensors. ``scheduler``: anything with ``get_lr(epoch)``. ``metrics``: callables
    ``metric(y_pred, y_true) -> float`` (for the older ``Trainer(model, optimizer, loss_fn,
    [Accuracy()])``, a list in the ``scheduler`` position is taken as ``metrics``). ``nonfinite``:
    "raise" (a non-finite loss or gradient norm is a ``FloatingPointError``) or "skip".

    State: ``epoch`` (completed epochs), ``step`` (optimizer updates), ``skipped_steps``,
    ``training_mode`` (the model's mode), ``history`` (the chapter's rule), ``loader_states``.
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *,
                 metrics=None, nonfinite="raise"):
        scheduler, grad_clip_norm, metrics, nonfinite = check_trainer_arguments(
            model, optimizer, loss_fn, scheduler, grad_clip_norm, metrics, nonfinite)
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm, self.nonfinite = scheduler, grad_clip_norm, nonfinite
        self.metrics = metrics
        reading = [m.for_loss(loss_fn) if isinstance(m, Accuracy) else m for m in metrics]
        self.metric_slots = metric_slots(reading, Accuracy().for_loss(loss_fn))
        self.epoch = 0                  # epochs completed
        self.step = 0                   # optimizer updates made
        self.skipped_steps = 0          # batches and updates skipped as non-finite
        self.history = {key: [] for key in history_keys(self.metric_slots)}
        self.loader_states = {}         # the loaders' states after their last pass ("train", "eval")
        self.resume_loader_states = {}  # states loaded from a checkpoint, put back at the next pass

    @property
    def training_mode(self) -> bool:
        """Whether the model is in training mode; assigning sets the model's mode."""
        return is_training(self.model)

    @training_mode.setter
    def training_mode(self, value: bool) -> None:
        set_training(self.model, check_bool("Trainer training_mode", value))

    def train_epoch(self, dataloader, accumulation_steps: int = 1) -> float:
        """Train one epoch; return the sample-weighted mean loss of its batches."""
        accumulation_steps = check_int("Trainer.train_epoch accumulation_steps", accumulation_steps, 1)
        with EpochRun(self, dataloader, training=True) as run:
            # Hint: training mode, zero_grad, then per batch: forward, loss, skip_batch, run.window.add(n), backward,
            # record, and self.update(run) every accumulation_steps batches and for a short last window
            # (chapter 08, "The training loop").
            ### BEGIN SOLUTION
            self.training_mode = True
            self.optimizer.zero_grad()
            for inputs, targets in run.batches():
                outputs = self.model.forward(inputs)
                loss = self.loss_fn(outputs, targets)
                if run.skip_batch(outputs, loss):
                    continue
                run.window.add(len(targets))
                loss.backward()
                run.record(outputs, targets, loss)
                if run.window.batches == accumulation_steps:
                    self.update(run)
            if run.window.batches > 0:
                self.update(run)
            ### END SOLUTION
        return run.loss

    def update(self, run) -> None:
        """One optimizer update from the gradients accumulated in ``run.window`` (the ``EpochRun`` of
        ``train_epoch``): average, clip (or measure) the norm, step unless it is not finite, zero."""
        run = check_training_run("Trainer.update run", run)
        # Hint: run.window.average(); norm = clip_grad_norm(...) when grad_clip_norm is set, else
        # grad_norm(...); unless run.skip_update(norm): step and count it; zero_grad (chapter 08, "The training loop").
        ### BEGIN SOLUTION
        run.window.average()
        params = self.model.parameters()
        if self.grad_clip_norm is not None:
            norm = clip_grad_norm(params, self.grad_clip_norm)
        else:
            norm = grad_norm(params)
        if not run.skip_update(norm):
            self.optimizer.step()
            self.step += 1
        self.optimizer.zero_grad()
        ### END SOLUTION

    def evaluate(self, dataloader) -> tuple:
        """``(loss, accuracy)`` over ``dataloader`` in eval mode, without building a graph.

        ``accuracy`` is a float: ``nan`` where accuracy is undefined (regression targets with the
        built-in accuracy), where the history records ``None``."""
        with EpochRun(self, dataloader, training=False) as run:
            # Hint: evaluation mode, then under no_grad() per batch: forward, loss, run.record;
            # no backward, no step (chapter 08, "Evaluation").
            ### BEGIN SOLUTION
            self.training_mode = False
            with no_grad():
                for inputs, targets in run.batches():
                    outputs = self.model.forward(inputs)
                    loss = self.loss_fn(outputs, targets)
                    run.record(outputs, targets, loss)
            ### END SOLUTION
        accuracy = run.results()["accuracy"]
        return run.loss, (math.nan if accuracy is None else float(accuracy))

    def fit(self, train_dataloader, val_dataloader=None, epochs: int = 1, verbose: bool = True, *,
            accumulation_steps: int = 1, checkpoint_dir=None, checkpoint_every: int = 1,
            early_stopping_patience=None, monitor: str = "eval_loss", mode: str = "min") -> dict:
        """Train for ``epochs`` more epochs, evaluating on ``val_dataloader`` after each; return history.

        Options (no callback framework): a tqdm progress bar over epochs when ``verbose``;
        ``checkpoint_dir`` (a folder, or a ``CheckpointManager`` with its own monitor and mode) saves
        every ``checkpoint_every`` epochs; ``early_stopping_patience=p`` stops once ``monitor`` (a
        history key) has not improved for ``p`` epochs in a row, ``mode`` saying whether lower
        ("min", the default, for losses) or higher ("max", e.g. ``val_accuracy``) is better.
        The model keeps the weights of the last epoch trained.
        """
        args = check_fit_arguments(self.history, train_dataloader, val_dataloader, epochs, verbose,
                                   accumulation_steps, checkpoint_dir, checkpoint_every,
                                   early_stopping_patience, monitor, mode)
        manager, best, waited = args["manager"], None, 0
        bar = tqdm(range(args["epochs"]), desc="training", unit="epoch", disable=not args["verbose"])
        try:
            for _ in bar:
                train_loss = self.train_epoch(train_dataloader, accumulation_steps=args["accumulation_steps"])
                postfix = {"loss": f"{train_loss:.4f}"}
                if val_dataloader is not None:
                    eval_loss, accuracy = self.evaluate(val_dataloader)
                    postfix["val_loss"] = f"{eval_loss:.4f}"
                    if math.isfinite(accuracy):
                        postfix["val_acc"] = f"{accuracy:.3f}"
                bar.set_postfix(postfix)
                if manager is not None and self.epoch % args["checkpoint_every"] == 0:
                    manager.save(self.state_dict(copy=False), epoch=self.epoch,
                                 value=self.history[manager.monitor][-1] if self.history[manager.monitor] else None)
                if args["patience"] is not None:
                    series = self.history[args["monitor"]]
                    value = series[-1] if series else None
                    if improves(value, best, args["mode"]):
                        best, waited = value, 0
                    else:
                        waited += 1
                        if waited >= args["patience"]:
                            break
        finally:
            bar.close()
        return self.history

    def state_dict(self, copy: bool = True) -> dict:
        """Everything a checkpoint holds, as nested dicts of plain values and ndarrays: copies, or
        with ``copy=False`` views of the live arrays (to write a file; do not modify them)."""
        copy = check_bool("Trainer.state_dict copy", copy)
        # Hint: a dict of "model", "optimizer", "scheduler" (None without one), "random_state" and
        # "trainer", each from the helper the chapter names (chapter 08, "What a checkpoint must contain").
        ### BEGIN SOLUTION
        return {
            "model": model_state(self.model, copy=copy),
            "optimizer": self.optimizer.state_dict(copy=copy),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "random_state": model_random_state(self.model),
            "trainer": trainer_progress(self, copy=copy),
        }
        ### END SOLUTION

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``: every part is checked by its owner, and on any error nothing
        changes (``tinytorch/utils/trainer_state.py``)."""
        restore_trainer_state(self, state)

    def save_checkpoint(self, path):
        """Write the whole training state to one checksummed safetensors file at ``path``, atomically;
        return the path. Any name works (the specs' ``.pkl`` too): the content is never a pickle."""
        return write_checkpoint(path, self.state_dict(copy=False))

    def load_checkpoint(self, path) -> None:
        """Restore the state saved by ``save_checkpoint``; a bad or unfitting file changes nothing."""
        state = read_checkpoint(path)
        try:
            self.load_state_dict(state)
        except ValueError as error:
            raise ValueError(f"{path}: {error}; nothing was loaded") from None


# %%
def test_unit_trainer():
    from tinytorch.core.layers import Linear
    from tinytorch.core.losses import MSELoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor

    class Plain:                                   # a plain model, as the specs write them
        def __init__(self):
            self.layer = Linear(2, 1)
            self.training = True

        def forward(self, x):
            return self.layer.forward(x)

        def parameters(self):
            return self.layer.parameters()

    model = Plain()
    data = [(Tensor([[1.0, 0.5]]), Tensor([[2.0]])), (Tensor([[0.5, 1.0]]), Tensor([[1.5]]))]
    trainer = Trainer(model, SGD(model.parameters(), lr=0.05), MSELoss(), CosineSchedule(0.1, 0.01, 10),
                      grad_clip_norm=1.0)
    first = trainer.train_epoch(data)
    for _ in range(20):
        last = trainer.train_epoch(data)
    assert last < first, "the loss falls"
    assert trainer.epoch == 21 and trainer.step == 42, "one update per batch"
    loss, accuracy = trainer.evaluate(data)
    assert model.training is True, "evaluate puts the mode back"
    assert math.isnan(accuracy) and trainer.history["val_accuracy"] == [None], "regression: no accuracy"
    before = model.layer.weight.data.copy()
    try:
        trainer.train_epoch([(Tensor([[1.0, 0.5]]), Tensor([[float("inf")]]))])
    except FloatingPointError:
        pass
    assert np.array_equal(model.layer.weight.data, before) and trainer.epoch == 21, "a failed epoch changes nothing"
    print("Trainer: ok")


def test_unit_accumulation():
    from tinytorch.core.layers import Linear, manual_seed
    from tinytorch.core.losses import MSELoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor

    x = np.arange(20, dtype=np.float32).reshape(10, 2) / 10
    y = x @ np.array([[1.0], [-1.0]], np.float32)
    weights = []
    for batch, k in ((3, 3), (9, 1)):        # windows of 3+3+3 and a short last 1 == batches of 9 and 1
        manual_seed(0)
        model = Linear(2, 1)
        trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
        trainer.train_epoch([(Tensor(x[i:i + batch]), Tensor(y[i:i + batch])) for i in range(0, 10, batch)],
                            accumulation_steps=k)
        assert trainer.step == 2, "a short last window makes its own update"
        weights.append(model.weight.data.copy())
    assert np.allclose(weights[0], weights[1], atol=1e-6), "accumulating equals the big batches"
    print("accumulation: ok")


def test_unit_checkpoint_state():
    from tinytorch.core.layers import Linear
    from tinytorch.core.losses import MSELoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.tensor import Tensor

    def trainer():
        model = Linear(2, 1)
        return Trainer(model, Adam(model.parameters(), lr=0.1), MSELoss(), CosineSchedule(0.1, 0.01, 5))

    source, target = trainer(), trainer()
    source.train_epoch([(Tensor([[1.0, 2.0]]), Tensor([[1.0]]))])
    state = source.state_dict()
    assert set(state) == {"model", "optimizer", "scheduler", "random_state", "trainer"}
    target.load_state_dict(state)
    assert np.array_equal(target.model.weight.data, source.model.weight.data), "the weights come back"
    assert target.epoch == 1 and target.history == source.history, "and the counters and history"
    assert np.array_equal(target.optimizer.state[0]["exp_avg"], source.optimizer.state[0]["exp_avg"])
    print("checkpoint state: ok")


if __name__ == "__main__":
    test_unit_trainer()
    test_unit_accumulation()
    test_unit_checkpoint_state()
