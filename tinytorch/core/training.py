# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

"""The Trainer: epochs, evaluation, checkpoints (exported from module 08, src/08_training).

Also re-exports the names of module 08's other files, so that
``from tinytorch.core.training import Trainer, CosineSchedule, clip_grad_norm`` works."""

import math
import numbers
from copy import deepcopy
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tinytorch.core.autograd import no_grad
from tinytorch.core.checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointManager, improves,
                                       read_checkpoint, retained_epochs, write_checkpoint)
from tinytorch.core.clipping import clip_grad_norm, grad_norm
from tinytorch.core.losses import BCEWithLogitsLoss
from tinytorch.core.memory import memory_table, training_memory
from tinytorch.core.metrics import Accuracy, MeanAbsoluteError, metric_name
from tinytorch.core.models import (check_model, is_training, load_model_state, model_parameters,
                                   model_random_state, model_state, run_model, set_model_random_state,
                                   set_training)
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.schedule import CosineSchedule
from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_choice, check_int, check_number, describe

__all__ = [
    "Trainer", "CosineSchedule", "clip_grad_norm", "grad_norm", "Accuracy", "MeanAbsoluteError", "metric_name",
    "CheckpointManager", "retained_epochs", "read_checkpoint", "write_checkpoint",
    "training_memory", "memory_table", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION",
]

_HISTORY_BASE = ("train_loss", "train_accuracy", "eval_loss", "val_accuracy", "learning_rates")
_TRAINER_KEYS = ("epoch", "step", "skipped_steps", "training_mode", "history", "loader_states")
_STATE_KEYS = ("model", "optimizer", "scheduler", "random_state", "trainer")


def _unpack_batch(batch, epoch: int, index: int):
    """(inputs, targets) Tensors of one batch, with matching leading (batch) dimensions."""
    if type(batch) is tuple and len(batch) == 2:            # the usual batch passes one test
        inputs, targets = batch
        if (type(inputs) is Tensor and type(targets) is Tensor and inputs.data.ndim and targets.data.ndim
                and inputs.data.shape[0] == targets.data.shape[0] != 0):
            return inputs, targets
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"epoch {epoch}, batch {index}: a batch must be a pair (inputs, targets), "
                         f"got {describe(batch)}")
    try:
        inputs, targets = (value if isinstance(value, Tensor) else Tensor(value) for value in batch)
    except (TypeError, ValueError) as error:
        raise type(error)(f"epoch {epoch}, batch {index}: {error}") from None
    if inputs.data.ndim == 0 or targets.data.ndim == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs and targets need a batch dimension, "
                         f"got shapes {inputs.shape} and {targets.shape}")
    if inputs.data.shape[0] != targets.data.shape[0]:
        raise ValueError(f"epoch {epoch}, batch {index}: inputs of shape {inputs.shape} and targets of "
                         f"shape {targets.shape} hold different numbers of samples")
    if inputs.data.shape[0] == 0:
        raise ValueError(f"epoch {epoch}, batch {index}: the batch is empty")
    return inputs, targets


def _scale_grads(params, factor: float) -> None:
    for p in params:
        if p.grad is not None:
            p.grad *= factor


_ZERO = "a gradient that was all zeros"      # what _Window keeps instead of copying zeros


def _saved_grad(param):
    """What ``_Window`` keeps of a gradient: None (there is none), ``_ZERO`` or a copy. A zero that
    ``zero_grad`` left pending is known without reading the buffer (reading would fill it)."""
    grad = param.grad
    if grad is None:
        return None
    return grad.copy() if grad.any() else _ZERO


class _Window:
    """One gradient-accumulation window: how many batches and samples its gradients hold.

    The epoch's first ``add`` zeroes the gradients, first keeping a copy of any that are not zero
    already (after a trainer's update they are), so a failure before the first update can put them
    back exactly; later windows start from the ``zero_grad`` of the update before them."""

    def __init__(self, params):
        self.params, self.batches, self.samples, self.last = params, 0, 0, 0
        self.saved_grads = None          # per parameter: None (had none), 0 (was zero) or a copy
        self.started = False

    def add(self, n: int) -> None:
        """Make room for the gradient of a batch of ``n`` samples (call right before its backward)."""
        if not self.started:
            self.saved_grads = [_saved_grad(p) for p in self.params]
            for p, saved in zip(self.params, self.saved_grads):
                if isinstance(saved, np.ndarray):
                    p.grad.fill(0)
            self.started = True
        elif self.batches and n != self.last:   # keep the sum relative to the newest batch size
            _scale_grads(self.params, self.last / n)
        self.batches, self.samples, self.last = self.batches + 1, self.samples + n, n

    def average(self) -> None:
        """Turn the accumulated gradient into the mean over the window's samples, and close it."""
        if self.batches > 1 and self.last != self.samples:
            _scale_grads(self.params, self.last / self.samples)
        self.batches, self.samples, self.saved_grads = 0, 0, None

    def put_back(self) -> None:
        """The gradients as they were before the epoch (only before its first update)."""
        if self.saved_grads is None:
            return
        for p, saved in zip(self.params, self.saved_grads):
            if saved is None:
                p.grad = None
            elif saved is _ZERO:
                p.grad.fill(0)
            else:
                np.copyto(p.grad, saved)


class _Running:
    """Sample-weighted running means of the loss and of each metric over one pass."""

    def __init__(self, slots):
        self.slots = slots               # (name, metric, optional): optional ones record None if undefined
        self.samples, self.loss_sum = 0, 0.0
        self.sums = {name: 0.0 for name, _, _ in slots}
        self.undefined = set()

    def add(self, n: int, loss_value: float, outputs: Tensor, targets: Tensor, where: str) -> None:
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
        out = {"loss": self.loss_sum / self.samples}
        for name, total in self.sums.items():
            out[name] = None if name in self.undefined else total / self.samples
        return out


def _checked_loader_states(states) -> dict:
    """The loaders' saved states: {"train"/"eval": dict of plain values}; a seed is None or an
    int >= 0 and an epoch an int >= 0 (what DataLoader.load_state_dict will accept)."""
    if not isinstance(states, dict) or not set(states) <= {"train", "eval"}:
        raise ValueError(f"trainer loader_states must be a dict with keys among ['eval', 'train'], got {describe(states)}")
    for role, state in states.items():
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise ValueError(f"trainer loader_states[{role!r}] must be a dict, got {describe(state)}")
        if "seed" in state and state["seed"] is not None:
            check_int(f"trainer loader_states[{role!r}]['seed']", state["seed"], 0)
        if "epoch" in state:
            check_int(f"trainer loader_states[{role!r}]['epoch']", state["epoch"], 0)
        if "epoch_is_set" in state:
            check_bool(f"trainer loader_states[{role!r}]['epoch_is_set']", state["epoch_is_set"])
    return deepcopy(states)


class Trainer:
    """Runs training: epochs of forward, loss, backward, clip, step; evaluation; checkpoints.

    ``Trainer(model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *, metrics=None,
    nonfinite="raise")``. ``model``: anything with ``forward(x)`` (or ``__call__``) and
    ``parameters()`` returning a list of Tensors. ``scheduler``: anything with ``get_lr(epoch)``.
    For the older API ``Trainer(model, optimizer, loss_fn, [Accuracy()])``, a list or tuple in the
    ``scheduler`` position is taken as ``metrics``. ``metrics``: a list of callables
    ``metric(y_pred, y_true) -> float``.

    State: ``epoch`` (completed epochs), ``step`` (optimizer updates), ``skipped_steps``,
    ``training_mode`` (the model's mode), ``history`` (see the chapter's rule: ``train_loss``,
    ``eval_loss``, ``learning_rates``, ``train_<m>``/``val_<m>`` per metric, accuracy included).
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None, *,
                 metrics=None, nonfinite="raise"):
        if isinstance(scheduler, (list, tuple)):        # the older spec's Trainer(model, opt, loss, metrics)
            if metrics is not None:
                raise TypeError("Trainer got metrics twice: as the fourth argument and as metrics=")
            scheduler, metrics = None, scheduler
        check_model(model)
        for method in ("step", "zero_grad"):
            if not callable(getattr(optimizer, method, None)):
                raise TypeError(f"Trainer optimizer must have a {method}() method, got {describe(optimizer)}")
        if not callable(loss_fn):
            raise TypeError(f"Trainer loss_fn must be callable as loss_fn(outputs, targets), got {describe(loss_fn)}")
        if scheduler is not None and not callable(getattr(scheduler, "get_lr", None)):
            raise TypeError(f"Trainer scheduler must have a get_lr(epoch) method, got {describe(scheduler)}")
        if grad_clip_norm is not None:
            grad_clip_norm = check_number("Trainer grad_clip_norm", grad_clip_norm, positive=True)
        nonfinite = check_choice("Trainer nonfinite", nonfinite, ("raise", "skip"))
        if metrics is None:
            metrics = []
        if not isinstance(metrics, (list, tuple)):
            raise TypeError(f"Trainer metrics must be a list of metrics, e.g. metrics=[Accuracy()], "
                            f"got {describe(metrics)}")
        named = []
        for index, metric in enumerate(metrics):
            if isinstance(metric, type):
                raise TypeError(f"Trainer metrics[{index}] is the class {metric.__name__}; pass an instance, "
                                f"e.g. {metric.__name__}()")
            if not callable(metric):
                raise TypeError(f"Trainer metrics[{index}] must be callable as metric(y_pred, y_true), "
                                f"got {describe(metric)}")
            named.append((metric_name(metric), metric))
        names = [name for name, _ in named]
        if len(set(names)) != len(names):
            raise ValueError(f"Trainer metrics must have distinct names, got {names}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm, self.nonfinite = scheduler, grad_clip_norm, nonfinite
        self.metrics = list(metrics)
        self._slots = self._metric_slots(named, logits=isinstance(loss_fn, BCEWithLogitsLoss))
        self.epoch = 0
        self.step = 0
        self.skipped_steps = 0
        self.history = {key: [] for key in self._history_keys()}
        self.loader_states = {}        # last state of the loaders seen, by role ("train", "eval")
        self._pending_loader_states = {}

    @staticmethod
    def _metric_slots(named, logits: bool) -> list:
        """(name, metric, optional) to compute: accuracy first (the built-in one unless the user's
        list has a metric named "accuracy"), then the user's metrics. An ``Accuracy`` whose
        ``from_logits`` was left at None reads logits when the loss takes logits."""
        slots = []
        if "accuracy" not in dict(named):
            slots.append(("accuracy", Accuracy(from_logits=logits), True))
        for name, metric in named:
            if isinstance(metric, Accuracy) and metric.from_logits is None:
                metric = Accuracy(metric.threshold, from_logits=logits)
            slots.append((name, metric, False))
        return slots

    def _history_keys(self) -> list:
        keys = list(_HISTORY_BASE)
        for name, _, _ in self._slots:
            if name != "accuracy":
                keys += [f"train_{name}", f"val_{name}"]
        return keys

    @property
    def training_mode(self) -> bool:
        """Whether the model is in training mode; assigning sets the model's mode."""
        return is_training(self.model)

    @training_mode.setter
    def training_mode(self, value: bool) -> None:
        set_training(self.model, check_bool("Trainer training_mode", value))

    # -- checks around the learner's code ---------------------------------------------------------------
    @staticmethod
    def _check_loader(dataloader, who: str) -> None:
        if isinstance(dataloader, (str, bytes, dict)) or not hasattr(dataloader, "__iter__"):
            raise TypeError(f"Trainer.{who} dataloader must be an iterable of (inputs, targets) batches, "
                            f"got {describe(dataloader)}")
        try:
            empty = hasattr(dataloader, "__len__") and len(dataloader) == 0
        except TypeError:                        # a 0-d array: iterable by type, not in fact
            raise TypeError(f"Trainer.{who} dataloader must be an iterable of (inputs, targets) batches, "
                            f"got {describe(dataloader)}") from None
        if empty:
            raise ValueError(f"Trainer.{who} dataloader is empty (len 0)")

    def _forward(self, inputs: Tensor, epoch: int, index: int) -> Tensor:
        outputs = run_model(self.model, inputs)
        if not isinstance(outputs, Tensor):
            raise TypeError(f"epoch {epoch}, batch {index}: the model returned {describe(outputs)}; "
                            f"its forward must return a Tensor")
        return outputs

    def _loss(self, outputs: Tensor, targets: Tensor, epoch: int, index: int, graph: bool = True) -> tuple:
        """(loss Tensor, its value as a float), after checking it is a scalar Tensor (with a graph
        when ``graph``: backward must reach the parameters)."""
        loss = self.loss_fn(outputs, targets)
        if not isinstance(loss, Tensor):
            raise TypeError(f"epoch {epoch}, batch {index}: loss_fn returned {describe(loss)}; it must "
                            f"return a scalar Tensor built from the outputs (backward runs through it)")
        if loss.data.size != 1:
            raise ValueError(f"epoch {epoch}, batch {index}: the loss must be a scalar, got shape "
                             f"{loss.data.shape} (use a loss that reduces with a mean)")
        if graph and not loss.requires_grad:
            raise ValueError(f"epoch {epoch}, batch {index}: the loss has no graph (requires_grad is False), "
                             f"so backward cannot reach any parameter: the model's output must be computed "
                             f"from its parameters with Tensor operations")
        return loss, float(loss.data.reshape(()))

    def _nonfinite(self, what: str, value: float, epoch: int, index: int) -> bool:
        """False for a finite value; otherwise raise, or (nonfinite="skip") count it and return True."""
        if math.isfinite(value):
            return False
        if self.nonfinite == "raise":
            raise FloatingPointError(f"non-finite {what} {value} at epoch {epoch}, batch {index}; "
                                     f"pass nonfinite='skip' to skip it")
        self.skipped_steps += 1
        return True

    def _update(self, window: _Window, epoch: int, index: int) -> None:
        """One optimizer update from the window's gradients: average, check the norm, clip, step, zero."""
        window.average()
        params = window.params
        if self.grad_clip_norm is not None:
            norm = clip_grad_norm(params, self.grad_clip_norm)
        else:
            norm = grad_norm(params)
        if not self._nonfinite("gradient norm", norm, epoch, index):
            self.optimizer.step()
            self.step += 1
        self.optimizer.zero_grad()

    def _epoch_lr(self, epoch: int):
        if self.scheduler is None:
            return None
        return check_number(f"scheduler.get_lr({epoch})", self.scheduler.get_lr(epoch), minimum=0.0)

    def _loader_state(self, dataloader):
        getter = getattr(dataloader, "state_dict", None)
        return getter() if callable(getter) else None

    # -- training ----------------------------------------------------------------------------------
    def train_epoch(self, dataloader, accumulation_steps: int = 1) -> float:
        """Train one epoch; return the sample-weighted mean loss (see the chapter for the rules)."""
        k = check_int("Trainer.train_epoch accumulation_steps", accumulation_steps, 1)
        self._check_loader(dataloader, "train_epoch")
        epoch, lr = self.epoch, self._epoch_lr(self.epoch)
        before = {"mode": self.training_mode, "lr": getattr(self.optimizer, "lr", None),
                  "loader": self._loader_state(dataloader), "skipped": self.skipped_steps,
                  "step": self.step, "random": deepcopy(model_random_state(self.model))}
        window = _Window(model_parameters(self.model))
        running = _Running(self._slots)
        try:
            pending = self._pending_loader_states.get("train")
            if pending is not None and callable(getattr(dataloader, "load_state_dict", None)):
                dataloader.load_state_dict(pending)
            if callable(getattr(dataloader, "set_epoch", None)):
                dataloader.set_epoch(epoch)
            if lr is not None:
                self.optimizer.lr = lr
            set_training(self.model, True)
            for index, batch in enumerate(dataloader):
                inputs, targets = _unpack_batch(batch, epoch, index)
                n = inputs.data.shape[0]
                # Hint: forward (self._forward), loss (self._loss), skip the batch if
                # self._nonfinite("loss", ...) says so, window.add(n), backward, running.add(...), and
                # after k batches self._update(window, ...) (chapter 08, "The training loop").
                outputs = self._forward(inputs, epoch, index)
                loss, value = self._loss(outputs, targets, epoch, index)
                if self._nonfinite("loss", value, epoch, index):
                    continue
                window.add(n)
                loss.backward()
                running.add(n, value, outputs, targets, f"epoch {epoch}, batch {index}")
                if window.batches == k:
                    self._update(window, epoch, index)
            if running.samples == 0 and self.skipped_steps == before["skipped"]:
                raise ValueError("Trainer.train_epoch dataloader yielded no batches")
            if window.batches:                    # the leftover partial window still steps
                self._update(window, epoch, index)
        except BaseException:
            self._undo_epoch(before, window, dataloader)
            raise
        results = running.results() if running.samples else {"loss": float("nan")}
        self.history["learning_rates"].append(float(getattr(self.optimizer, "lr", float("nan"))))
        self.history["train_loss"].append(results["loss"])
        for name, _, _ in self._slots:
            self.history[f"train_{name}"].append(results.get(name))
        self._pending_loader_states.pop("train", None)
        if before["loader"] is not None:
            self.loader_states["train"] = self._loader_state(dataloader)
        self.epoch = epoch + 1
        return results["loss"]

    def _undo_epoch(self, before: dict, window: _Window, dataloader) -> None:
        """Put back what a failed epoch changed: everything before its first update, and the mode,
        rate and loader state (not the updates) after it."""
        set_training(self.model, before["mode"])
        if before["lr"] is not None:
            self.optimizer.lr = before["lr"]
        if before["loader"] is not None and callable(getattr(dataloader, "load_state_dict", None)):
            dataloader.load_state_dict(before["loader"])
        if self.step == before["step"]:
            window.put_back()
            self.skipped_steps = before["skipped"]
            if before["random"] is not None:
                set_model_random_state(self.model, before["random"])

    def evaluate(self, dataloader) -> tuple:
        """``(loss, accuracy)`` over ``dataloader`` in eval mode without building a graph.

        ``accuracy`` is ``None`` when it is undefined (regression targets, built-in accuracy).
        """
        self._check_loader(dataloader, "evaluate")
        saved_mode, saved_loader = self.training_mode, self._loader_state(dataloader)
        running = _Running(self._slots)
        epoch = self.epoch
        try:
            pending = self._pending_loader_states.get("eval")
            if pending is not None and callable(getattr(dataloader, "load_state_dict", None)):
                dataloader.load_state_dict(pending)
            set_training(self.model, False)
            with no_grad():
                for index, batch in enumerate(dataloader):
                    inputs, targets = _unpack_batch(batch, epoch, index)
                    # Hint: forward, loss without a graph (graph=False), and running.add: no backward,
                    # no step (chapter 08, "Evaluation").
                    outputs = self._forward(inputs, epoch, index)
                    _, value = self._loss(outputs, targets, epoch, index, graph=False)
                    running.add(inputs.data.shape[0], value, outputs, targets, f"evaluate, batch {index}")
            if running.samples == 0:
                raise ValueError("Trainer.evaluate dataloader yielded no batches")
        except BaseException:
            if saved_loader is not None and callable(getattr(dataloader, "load_state_dict", None)):
                dataloader.load_state_dict(saved_loader)
            raise
        finally:
            set_training(self.model, saved_mode)
        self._pending_loader_states.pop("eval", None)
        results = running.results()
        self.history["eval_loss"].append(results["loss"])
        for name, _, _ in self._slots:
            self.history[f"val_{name}"].append(results[name])
        if saved_loader is not None:
            self.loader_states["eval"] = self._loader_state(dataloader)
        return results["loss"], results["accuracy"]

    # -- the whole loop ------------------------------------------------------------------------
    def fit(self, train_dataloader, val_dataloader=None, epochs: int = 1, verbose: bool = True, *,
            accumulation_steps: int = 1, checkpoint_dir=None, checkpoint_every: int = 1,
            early_stopping_patience=None, monitor: str = "eval_loss", mode: str = "min") -> dict:
        """Train for ``epochs`` more epochs, evaluating on ``val_dataloader`` after each; return history.

        Options (no callback framework): a tqdm progress bar over epochs when ``verbose``;
        ``checkpoint_dir`` (a folder, or a ``CheckpointManager`` with its own monitor and mode) saves
        every ``checkpoint_every`` epochs; ``early_stopping_patience=p`` stops once ``monitor`` (a
        history key) has not improved for ``p`` epochs in a row, where ``mode`` says whether lower
        ("min", the default, for losses) or higher ("max", e.g. for ``val_accuracy``) is better.
        The model keeps the weights of the last epoch trained.
        """
        epochs = check_int("Trainer.fit epochs", epochs, 0)
        verbose = check_bool("Trainer.fit verbose", verbose)
        check_int("Trainer.fit accumulation_steps", accumulation_steps, 1)
        checkpoint_every = check_int("Trainer.fit checkpoint_every", checkpoint_every, 1)
        mode = check_choice("Trainer.fit mode", mode, ("min", "max"))
        if not isinstance(monitor, str):
            raise TypeError(f"Trainer.fit monitor must be a history key (a str), got {describe(monitor)}")
        self._check_loader(train_dataloader, "train_epoch")
        if val_dataloader is not None:
            self._check_loader(val_dataloader, "evaluate")
        if early_stopping_patience is not None:
            early_stopping_patience = check_int("Trainer.fit early_stopping_patience", early_stopping_patience, 1)
        if (early_stopping_patience is not None or checkpoint_dir is not None) and monitor not in self.history:
            raise ValueError(f"Trainer.fit monitor must be a history key, one of {sorted(self.history)}, "
                             f"got {describe(monitor)}")
        if early_stopping_patience is not None and val_dataloader is None and \
                (monitor == "eval_loss" or str(monitor).startswith("val_")):
            raise ValueError(f"Trainer.fit monitor={monitor!r} needs a val_dataloader")
        manager = None
        if isinstance(checkpoint_dir, CheckpointManager):
            manager = checkpoint_dir
            if manager.monitor not in self.history:
                raise ValueError(f"Trainer.fit: the CheckpointManager monitors {manager.monitor!r}, which is "
                                 f"not a history key ({sorted(self.history)})")
        elif checkpoint_dir is not None:
            manager = CheckpointManager(checkpoint_dir, monitor=monitor, mode=mode)
        best, waited = None, 0
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not verbose)
        try:
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
                    manager.save(self.state_dict(copy=False), epoch=self.epoch,
                                 value=self._latest(manager.monitor))
                if early_stopping_patience is not None:
                    value = self._latest(monitor)
                    if improves(value, best, mode):
                        best, waited = value, 0
                    else:
                        waited += 1
                        if waited >= early_stopping_patience:
                            break
        finally:
            bar.close()
        return self.history

    def _latest(self, key: str):
        series = self.history.get(key) or [None]
        return series[-1]

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self, copy: bool = True) -> dict:
        """Everything a checkpoint holds, as nested dicts of plain values and ndarrays: copies, or
        with ``copy=False`` views of the live arrays (to write a file; do not modify them)."""
        copy = check_bool("Trainer.state_dict copy", copy)
        counters = {"epoch": self.epoch, "step": self.step, "skipped_steps": self.skipped_steps,
                    "training_mode": self.training_mode,
                    "history": deepcopy(self.history) if copy else self.history,
                    "loader_states": deepcopy(self.loader_states) if copy else self.loader_states}
        optimizer = self.optimizer.state_dict(copy=copy) if isinstance(self.optimizer, Optimizer) \
            else self.optimizer.state_dict()
        # Hint: everything that changes while training: the model's arrays, the optimizer's state,
        # the schedule's state (or None), the dropout generators' states and the counters above
        # (chapter 08, "What a checkpoint must contain").
        state = {
            "model": model_state(self.model, copy=copy),
            "optimizer": optimizer,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "random_state": deepcopy(model_random_state(self.model)),
            "trainer": counters,
        }
        return state

    def _checked_own_state(self, t) -> dict:
        """The trainer's own part of a state, checked completely (a copy, ready to apply)."""
        if not isinstance(t, dict) or set(t) != set(_TRAINER_KEYS):
            raise ValueError(f"trainer state must have keys {sorted(_TRAINER_KEYS)}, got "
                             f"{sorted(map(str, t)) if isinstance(t, dict) else describe(t)}")
        for name in ("epoch", "step", "skipped_steps"):
            check_int(f"trainer state {name}", t[name], 0)
        check_bool("trainer state training_mode", t["training_mode"])
        history = t["history"]
        if not isinstance(history, dict) or set(history) != set(self.history):
            raise ValueError(f"history keys differ (other metrics?): the state has "
                             f"{sorted(map(str, history)) if isinstance(history, dict) else describe(history)}, "
                             f"this trainer {sorted(self.history)}")
        for key, values in history.items():
            if not isinstance(values, list):
                raise ValueError(f"history[{key!r}] must be a list, got {describe(values)}")
            for i, value in enumerate(values):
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise ValueError(f"history[{key!r}][{i}] must be a number or None, got {describe(value)}")
        return {**deepcopy(t), "loader_states": _checked_loader_states(t["loader_states"])}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; every part is checked (by its owner) and on any error nothing changes.

        The trainer checks its own part and the shape of the whole, then applies the owners from the
        cheapest to undo to the dearest (generators, schedule, model, optimizer), each checking its
        part before it changes anything; if one refuses, those already applied are put back.
        """
        if not isinstance(state, dict) or set(state) != set(_STATE_KEYS):
            got = sorted(map(str, state)) if isinstance(state, dict) else describe(state)
            raise ValueError(f"the checkpoint does not fit this trainer: a state must have keys "
                             f"{sorted(_STATE_KEYS)}, got {got}")
        try:
            own = self._checked_own_state(state["trainer"])
            if (state["scheduler"] is None) != (self.scheduler is None):
                raise ValueError(f"the state was saved {'without' if state['scheduler'] is None else 'with'} a "
                                 f"scheduler, this trainer has {'none' if self.scheduler is None else 'one'}")
            if self.scheduler is not None and not callable(getattr(self.scheduler, "load_state_dict", None)):
                raise TypeError(f"scheduler {describe(self.scheduler)} has no load_state_dict")
        except (TypeError, ValueError) as error:
            raise ValueError(f"the checkpoint does not fit this trainer: {error}") from None
        undo = []
        try:
            random_before = deepcopy(model_random_state(self.model))
            set_model_random_state(self.model, state["random_state"])
            undo.append(lambda: set_model_random_state(self.model, random_before))
            if self.scheduler is not None:
                scheduler_before = self.scheduler.state_dict()
                self.scheduler.load_state_dict(state["scheduler"])
                undo.append(lambda: self.scheduler.load_state_dict(scheduler_before))
            model_before = model_state(self.model, copy=True)
            load_model_state(self.model, state["model"])
            undo.append(lambda: load_model_state(self.model, model_before))
            self.optimizer.load_state_dict(state["optimizer"])     # last: nothing to undo after it
        except BaseException as error:
            for step_back in reversed(undo):
                step_back()
            if isinstance(error, (ValueError, TypeError)):
                raise ValueError(f"the checkpoint does not fit this trainer: {error}") from None
            raise
        self.epoch, self.step, self.skipped_steps = own["epoch"], own["step"], own["skipped_steps"]
        self.history = own["history"]
        self.loader_states = own["loader_states"]
        self._pending_loader_states = deepcopy(own["loader_states"])
        set_training(self.model, own["training_mode"])

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, path) -> Path:
        """Write the whole training state to one checksummed safetensors file at ``path``, atomically.

        Any file name works (the specs' ``.pkl`` included): the content is safetensors, never a pickle."""
        return write_checkpoint(path, self.state_dict(copy=False))

    def load_checkpoint(self, path) -> None:
        """Restore the state saved by ``save_checkpoint``; a bad or unfitting file changes nothing."""
        state = read_checkpoint(path)
        try:
            self.load_state_dict(state)
        except ValueError as error:
            raise ValueError(f"{path}: {error}; nothing was loaded") from None
