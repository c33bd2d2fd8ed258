"""One pass of a Trainer over a loader, with the safety net around the learner's loop: ``EpochRun``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. ``Trainer.train_epoch`` and ``Trainer.evaluate`` (chapter 08) open one::

    with EpochRun(trainer, dataloader, training=True) as run:
        for inputs, targets in run.batches():      # checked (inputs, targets) Tensors
            ...                                    # the learner's loop

and the loop uses a few public members:

- ``run.batches()``: the loader's batches, each a checked pair of Tensors with one batch dimension;
- ``run.skip_batch(outputs, loss)``: checks the model's output and the loss; ``True`` when the loss
  is not finite and the trainer skips such batches (``nonfinite="skip"``, counted in
  ``trainer.skipped_steps``), a ``FloatingPointError`` naming epoch and batch otherwise;
- ``run.window``: the ``AccumulationWindow`` of the model's gradients (training passes);
- ``run.skip_update(norm)``: the same decision for an update whose gradient norm is not finite;
- ``run.record(outputs, targets, loss)``: adds the batch to the sample-weighted means of the loss
  and of every metric.

On entering, the run checks the loader, takes an ``EpochSnapshot``, puts a loader state saved in a
checkpoint back, and for training calls ``dataloader.set_epoch(epoch)`` and sets the optimizer's
rate to ``scheduler.get_lr(epoch)``. On leaving normally it records the history, the loader's
state and (training) the finished epoch; an evaluation puts the model's mode back. On an error it
restores the snapshot and lets the error through.
"""
import math
import numbers

from tinytorch.utils.accumulation_window import AccumulationWindow
from tinytorch.utils.batch_checks import check_loader, check_loss, check_outputs, unpack_batch
from tinytorch.utils.epoch_rollback import EpochSnapshot
from tinytorch.utils.loader_states import loader_state, restore_loader_state
from tinytorch.utils.model_adapter import set_training
from tinytorch.utils.running_means import RunningMeans
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["EpochRun", "check_training_run"]


class EpochRun:
    """One pass of ``trainer`` over ``dataloader``: training (``training=True``) or evaluation."""

    def __init__(self, trainer, dataloader, training: bool):
        training = check_bool("EpochRun training", training)
        self.who = "train_epoch" if training else "evaluate"
        check_loader(dataloader, self.who)
        self.trainer, self.dataloader, self.training = trainer, dataloader, training
        self.role = "train" if training else "eval"
        self.epoch = trainer.epoch
        self.index = 0                       # the batch being worked on, for error messages
        self.means = RunningMeans(trainer.metric_slots)
        self.window = None
        self.snapshot = None
        self._checked = (None, 0.0)          # the last loss skip_batch checked, and its value

    # -- entering and leaving -------------------------------------------------------------------
    def __enter__(self):
        trainer, loader = self.trainer, self.dataloader
        self.snapshot = EpochSnapshot(trainer, loader, self.training)
        try:
            restore_loader_state(loader, trainer.resume_loader_states.get(self.role))
            if self.training:
                if callable(getattr(loader, "set_epoch", None)):
                    loader.set_epoch(self.epoch)
                if trainer.scheduler is not None:
                    lr = trainer.scheduler.get_lr(self.epoch)
                    trainer.optimizer.lr = check_number(f"scheduler.get_lr({self.epoch})", lr, minimum=0.0)
                self.window = AccumulationWindow(self.snapshot.params)
        except BaseException:
            self.snapshot.restore(trainer, loader)
            raise
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            try:
                self._finish()
                return False
            except BaseException:
                self.snapshot.restore(self.trainer, self.dataloader)
                raise
        self.snapshot.restore(self.trainer, self.dataloader)
        return False                         # the error goes on

    def _finish(self) -> None:
        trainer = self.trainer
        nothing_skipped = not self.training or trainer.skipped_steps == self.snapshot.skipped
        if self.means.samples == 0 and nothing_skipped:
            raise ValueError(f"Trainer.{self.who} dataloader yielded no batches")
        if not self.training:
            set_training(trainer.model, self.snapshot.mode)
        results = self.means.results()
        prefix = "train" if self.training else "val"
        if self.training:
            trainer.history["learning_rates"].append(float(getattr(trainer.optimizer, "lr", math.nan)))
        trainer.history[f"{self.role}_loss"].append(results["loss"])
        for name, _, _ in trainer.metric_slots:
            trainer.history[f"{prefix}_{name}"].append(results[name])
        trainer.resume_loader_states.pop(self.role, None)
        if self.snapshot.loader is not None:
            trainer.loader_states[self.role] = loader_state(self.dataloader)
        if self.training:
            trainer.epoch = self.epoch + 1

    # -- what the loop uses ---------------------------------------------------------------------
    def batches(self):
        """The loader's batches, each a checked ``(inputs, targets)`` pair of Tensors."""
        for index, batch in enumerate(self.dataloader):
            self.index = index
            yield unpack_batch(batch, self.epoch, index)

    def _nonfinite(self, what: str, value: float) -> bool:
        """False for a finite value; otherwise raise, or (nonfinite="skip") count it and return True."""
        if math.isfinite(value):
            return False
        if self.trainer.nonfinite == "raise":
            raise FloatingPointError(f"non-finite {what} {value} at epoch {self.epoch}, batch {self.index}; "
                                     f"pass nonfinite='skip' to skip it")
        self.trainer.skipped_steps += 1
        return True

    def skip_batch(self, outputs, loss) -> bool:
        """Check the model's ``outputs`` (a Tensor) and the ``loss`` (a scalar Tensor, with a graph
        when training); True when the loss is not finite and such batches are skipped."""
        check_outputs(outputs, self.epoch, self.index)
        value = check_loss(loss, self.epoch, self.index, graph=self.training)
        self._checked = (loss, value)
        return self._nonfinite("loss", value)

    def skip_update(self, norm) -> bool:
        """True when the gradient ``norm`` is not finite and such updates are skipped (the caller
        then makes no step); a FloatingPointError when they are not; False for a finite norm."""
        if isinstance(norm, bool) or not isinstance(norm, numbers.Real):
            raise TypeError(f"EpochRun.skip_update norm must be a number (the gradient norm), got {describe(norm)}")
        return self._nonfinite("gradient norm", float(norm))

    def record(self, outputs, targets, loss) -> None:
        """Add the batch (``outputs``, ``targets`` and its ``loss``) to the running means of the loss
        and of every metric, each weighted by the batch's number of samples."""
        checked, value = self._checked
        if loss is not checked:                  # not checked by skip_batch (evaluation)
            check_outputs(outputs, self.epoch, self.index)
            value = check_loss(loss, self.epoch, self.index, graph=False)
        n = len(targets.data) if hasattr(targets, "data") else len(targets)
        where = f"epoch {self.epoch}, batch {self.index}" if self.training else f"evaluate, batch {self.index}"
        self.means.add(n, value, outputs, targets, where)

    # -- what the pass gave ---------------------------------------------------------------------
    def results(self) -> dict:
        """{"loss": mean loss, <metric name>: mean, or None where undefined} over the pass so far."""
        return self.means.results()

    @property
    def loss(self) -> float:
        """The sample-weighted mean loss of the batches recorded (nan if none was)."""
        return self.means.results()["loss"]

    def __repr__(self) -> str:
        return f"EpochRun({self.role}, epoch={self.epoch}, batch={self.index})"


def check_training_run(who: str, run) -> EpochRun:
    """``run`` when it is the EpochRun of a training pass; a TypeError naming ``who`` otherwise."""
    if not isinstance(run, EpochRun) or not run.training:
        raise TypeError(f"{who} must be the EpochRun of a training pass (train_epoch opens it), got {describe(run)}")
    return run
