"""Fuzzing module 07/08's public arguments: each call works, or raises TypeError/ValueError naming
the argument, never an AttributeError, IndexError or a NumPy error, and a refused call changes nothing.

One argument is replaced by junk at a time, the others stay valid, so the error must be about it.
Graded (`tito test 08`); the provided tools (memory_table, retained_epochs, CheckpointManager) are
fuzzed the same way in tests/internals/test_training_fuzz_utils.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinytorch.core.layers import Linear, manual_seed
from tinytorch.core.losses import MSELoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.integers(10**20, 10**21),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                 st.lists(st.integers(-2, 2), max_size=2), st.just(np.float32(0.5)), st.just(np.int64(2)),
                 st.just(object()), st.just({"a": 1}))

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def call_or_refuse(function, argument: str, **kwargs):
    """Run ``function(**kwargs)``; an error must be a TypeError or ValueError naming ``argument``."""
    try:
        return function(**kwargs)
    except (TypeError, ValueError) as error:
        assert argument in str(error), f"{type(error).__name__} without {argument!r}: {error}"
        return error


VALID = {
    CosineSchedule: dict(max_lr=0.1, min_lr=0.01, total_epochs=10, warmup_epochs=0),
    Accuracy: dict(threshold=0.5, from_logits=None),
}
CASES = [(function, name) for function, kwargs in VALID.items() for name in kwargs]


@pytest.mark.parametrize("function,argument", CASES, ids=lambda v: getattr(v, "__name__", v))
@FUZZ
@given(junk=JUNK)
def test_constructors_and_functions_refuse_junk_naming_the_argument(function, argument, junk):
    call_or_refuse(function, argument, **{**VALID[function], argument: junk})


@pytest.mark.parametrize("argument", ["max_norm", "error_if_nonfinite", "parameters"])
@FUZZ
@given(junk=JUNK)
def test_clip_grad_norm_refuses_junk_and_scales_nothing(argument, junk):
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([30.0, 40.0], np.float32)
    kwargs = {"parameters": [p], "max_norm": 1.0, "error_if_nonfinite": False, argument: junk}
    if isinstance(call_or_refuse(clip_grad_norm, argument, **kwargs), Exception):
        assert p.grad.tolist() == [30.0, 40.0]


@pytest.mark.parametrize("argument", ["lr", "momentum", "learning_rate"])
@FUZZ
@given(junk=JUNK)
def test_optimizers_refuse_junk_naming_the_argument(argument, junk):
    w = Tensor([1.0], requires_grad=True)
    kwargs = {"params": [w], argument: junk} if argument != "momentum" else {"params": [w], "lr": 0.1, argument: junk}
    if argument == "learning_rate" and junk is None:
        return                                     # SGD([w], learning_rate=None): no rate at all, tested elsewhere
    call_or_refuse(SGD, "lr" if argument == "learning_rate" else argument, **kwargs)


def small_trainer():
    manual_seed(0)
    model = Linear(2, 1)
    return Trainer(model, Adam(model.parameters(), lr=0.01), MSELoss())


DATA = [(Tensor([[1.0, 2.0]]), Tensor([[1.0]])), (Tensor([[0.5, -1.0]]), Tensor([[0.0]]))]


@pytest.mark.parametrize("argument", ["grad_clip_norm", "metrics", "nonfinite", "scheduler"])
@FUZZ
@given(junk=JUNK)
def test_trainer_constructor_refuses_junk_naming_the_argument(argument, junk):
    if argument in ("grad_clip_norm", "metrics", "scheduler") and junk is None:
        return                                     # None is these arguments' default
    manual_seed(0)
    model = Linear(2, 1)
    kwargs = dict(model=model, optimizer=SGD(model.parameters(), lr=0.1), loss_fn=MSELoss(), **{argument: junk})
    if argument == "scheduler" and isinstance(junk, list):
        argument = "metrics"                       # a list in the scheduler's place is the older metrics form
    call_or_refuse(Trainer, argument, **kwargs)


def snapshot(trainer) -> str:
    return json.dumps({"epoch": trainer.epoch, "step": trainer.step, "history": trainer.history,
                       "weights": [p.data.tolist() for p in trainer.model.parameters()],
                       "lr": trainer.optimizer.lr, "mode": trainer.training_mode})


@pytest.mark.parametrize("argument", ["epochs", "verbose", "accumulation_steps", "checkpoint_every",
                                      "early_stopping_patience", "monitor", "mode"])
@FUZZ
@given(junk=JUNK)
def test_fit_refuses_junk_naming_the_argument_and_changes_nothing(argument, junk):
    if argument == "early_stopping_patience" and junk is None:
        return
    if argument == "epochs" and isinstance(junk, (int, np.integer)) and junk > 3:
        return                                     # a valid, long run: not junk
    trainer = small_trainer()
    trainer.train_epoch(DATA)
    before = snapshot(trainer)
    kwargs = {**dict(train_dataloader=DATA, val_dataloader=DATA, epochs=1, verbose=False,
                     early_stopping_patience=1), argument: junk}
    result = call_or_refuse(trainer.fit, argument, **kwargs)
    if isinstance(result, Exception):
        assert snapshot(trainer) == before


@pytest.mark.parametrize("argument", ["accumulation_steps", "dataloader"])
@FUZZ
@given(junk=JUNK)
def test_train_epoch_refuses_junk_naming_the_argument_and_changes_nothing(argument, junk):
    trainer = small_trainer()
    before = snapshot(trainer)
    kwargs = {"dataloader": DATA, "accumulation_steps": 1, argument: junk}
    try:
        trainer.train_epoch(**kwargs)
    except (TypeError, ValueError) as error:
        assert argument in str(error) or "batch 0" in str(error), str(error)
        assert snapshot(trainer) == before
