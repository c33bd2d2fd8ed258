# GENERATED FILE: DO NOT EDIT. Source: src/08_training/08_training.py
# Edit the source, then run `make export` to regenerate this file.

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
        return run.loss

    def update(self, run) -> None:
        """One optimizer update from the gradients accumulated in ``run.window`` (the ``EpochRun`` of
        ``train_epoch``): average, clip (or measure) the norm, step unless it is not finite, zero."""
        run = check_training_run("Trainer.update run", run)
        # Hint: run.window.average(); norm = clip_grad_norm(...) when grad_clip_norm is set, else
        # grad_norm(...); unless run.skip_update(norm): step and count it; zero_grad (chapter 08, "The training loop").
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

    def evaluate(self, dataloader) -> tuple:
        """``(loss, accuracy)`` over ``dataloader`` in eval mode, without building a graph.

        ``accuracy`` is a float: ``nan`` where accuracy is undefined (regression targets with the
        built-in accuracy), where the history records ``None``."""
        with EpochRun(self, dataloader, training=False) as run:
            # Hint: evaluation mode, then under no_grad() per batch: forward, loss, run.record;
            # no backward, no step (chapter 08, "Evaluation").
            self.training_mode = False
            with no_grad():
                for inputs, targets in run.batches():
                    outputs = self.model.forward(inputs)
                    loss = self.loss_fn(outputs, targets)
                    run.record(outputs, targets, loss)
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
        return {
            "model": model_state(self.model, copy=copy),
            "optimizer": self.optimizer.state_dict(copy=copy),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "random_state": model_random_state(self.model),
            "trainer": trainer_progress(self, copy=copy),
        }

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
