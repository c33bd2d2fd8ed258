"""The trainer's own part of a checkpoint, and putting a whole checkpoint back: ``trainer_progress``,
``restore_trainer_state``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure" and "State API"): no
notebook exports it and no learner writes it. ``Trainer.state_dict`` (the learner's, chapter 08)
holds five parts, ``model``, ``optimizer``, ``scheduler``, ``random_state`` and ``trainer``; the last
is ``trainer_progress``: the counters, the history and the loaders' states.

``restore_trainer_state`` checks the trainer's own part and the shape of the whole, then applies the
owners from the cheapest to undo to the dearest (generators, schedule, model, optimizer), each
checking its own part before it changes anything; if one refuses, those already applied are put
back, so a state that does not fit changes nothing. Every refusal is a ``ValueError`` saying that
the checkpoint does not fit this trainer.
"""
from copy import deepcopy

from tinytorch.utils.loader_states import check_loader_states
from tinytorch.utils.model_adapter import (load_model_state, model_random_state, model_state,
                                           set_model_random_state, set_training)
from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["trainer_progress", "restore_trainer_state", "STATE_KEYS", "PROGRESS_KEYS"]

STATE_KEYS = ("model", "optimizer", "scheduler", "random_state", "trainer")
PROGRESS_KEYS = ("epoch", "step", "skipped_steps", "training_mode", "history", "loader_states")


def trainer_progress(trainer, copy: bool = True) -> dict:
    """The trainer's own part of its state: ``epoch``, ``step``, ``skipped_steps``, ``training_mode``,
    ``history`` and ``loader_states`` (copies, or with ``copy=False`` the live history and states)."""
    copy = check_bool("trainer_progress copy", copy)
    return {"epoch": trainer.epoch, "step": trainer.step, "skipped_steps": trainer.skipped_steps,
            "training_mode": trainer.training_mode,
            "history": deepcopy(trainer.history) if copy else trainer.history,
            "loader_states": deepcopy(trainer.loader_states) if copy else trainer.loader_states}


def _checked_progress(progress, history_keys) -> dict:
    """The trainer's own part of a state, checked completely (a copy, ready to apply)."""
    if not isinstance(progress, dict) or set(progress) != set(PROGRESS_KEYS):
        raise ValueError(f"trainer state must have keys {sorted(PROGRESS_KEYS)}, got "
                         f"{sorted(map(str, progress)) if isinstance(progress, dict) else describe(progress)}")
    for name in ("epoch", "step", "skipped_steps"):
        check_int(f"trainer state {name}", progress[name], 0)
    check_bool("trainer state training_mode", progress["training_mode"])
    history = progress["history"]
    if not isinstance(history, dict) or set(history) != set(history_keys):
        raise ValueError(f"history keys differ (other metrics?): the state has "
                         f"{sorted(map(str, history)) if isinstance(history, dict) else describe(history)}, "
                         f"this trainer {sorted(history_keys)}")
    for key, values in history.items():
        if not isinstance(values, list):
            raise ValueError(f"history[{key!r}] must be a list, got {describe(values)}")
        for i, value in enumerate(values):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"history[{key!r}][{i}] must be a number or None, got {describe(value)}")
    return {**deepcopy(progress), "loader_states": check_loader_states(progress["loader_states"])}


def restore_trainer_state(trainer, state) -> None:
    """Put ``state`` (what ``trainer.state_dict()`` gave) back into ``trainer``, all or nothing."""
    if not isinstance(state, dict) or set(state) != set(STATE_KEYS):
        got = sorted(map(str, state)) if isinstance(state, dict) else describe(state)
        raise ValueError(f"the checkpoint does not fit this trainer: a state must have keys "
                         f"{sorted(STATE_KEYS)}, got {got}")
    model, scheduler = trainer.model, trainer.scheduler
    try:
        own = _checked_progress(state["trainer"], trainer.history)
        if (state["scheduler"] is None) != (scheduler is None):
            raise ValueError(f"the state was saved {'without' if state['scheduler'] is None else 'with'} a "
                             f"scheduler, this trainer has {'none' if scheduler is None else 'one'}")
        if scheduler is not None and not callable(getattr(scheduler, "load_state_dict", None)):
            raise TypeError(f"scheduler {describe(scheduler)} has no load_state_dict")
    except (TypeError, ValueError) as error:
        raise ValueError(f"the checkpoint does not fit this trainer: {error}") from None
    undo = []
    try:
        random_before = model_random_state(model)
        set_model_random_state(model, state["random_state"])
        undo.append(lambda: set_model_random_state(model, random_before))
        if scheduler is not None:
            scheduler_before = scheduler.state_dict()
            scheduler.load_state_dict(state["scheduler"])
            undo.append(lambda: scheduler.load_state_dict(scheduler_before))
        model_before = model_state(model, copy=True)
        load_model_state(model, state["model"])
        undo.append(lambda: load_model_state(model, model_before))
        trainer.optimizer.load_state_dict(state["optimizer"])     # last: nothing to undo after it
    except BaseException as error:
        for step_back in reversed(undo):
            step_back()
        if isinstance(error, (ValueError, TypeError)):
            raise ValueError(f"the checkpoint does not fit this trainer: {error}") from None
        raise
    trainer.epoch, trainer.step, trainer.skipped_steps = own["epoch"], own["step"], own["skipped_steps"]
    trainer.history = own["history"]
    trainer.loader_states = own["loader_states"]
    trainer.resume_loader_states = deepcopy(own["loader_states"])
    set_training(model, own["training_mode"])
