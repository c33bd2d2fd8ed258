"""Fuzzing the provided training tools' arguments (tinytorch/utils/: memory_table, retained_epochs,
CheckpointManager): each call works, or raises TypeError/ValueError naming the argument.

Ungraded (tito never runs tests/internals/; `make test` does); the graded half is tests/test_08_fuzz.py.
"""
from __future__ import annotations

import pytest
from hypothesis import given

from tinytorch.utils.checkpoint_retention import CheckpointManager, retained_epochs
from tinytorch.utils.training_memory import memory_table

from test_08_fuzz import FUZZ, JUNK, call_or_refuse

VALID = {
    memory_table: dict(num_params=10, optimizer="adam", bytes_per_param=4),
    retained_epochs: dict(saved_epochs=10, keep_last=3, every=None, best_epoch=None),
}
CASES = [(function, name) for function, kwargs in VALID.items() for name in kwargs
         if (function, name) not in {(retained_epochs, "best_epoch")}]    # any best epoch is allowed


@pytest.mark.parametrize("function,argument", CASES, ids=lambda v: getattr(v, "__name__", v))
@FUZZ
@given(junk=JUNK)
def test_provided_functions_refuse_junk_naming_the_argument(function, argument, junk):
    call_or_refuse(function, argument, **{**VALID[function], argument: junk})


@pytest.mark.parametrize("argument", ["keep_last", "keep_best", "monitor", "mode", "every", "directory"])
@FUZZ
@given(junk=JUNK)
def test_checkpoint_manager_refuses_junk_naming_the_argument(tmp_path, argument, junk):
    kwargs = dict(directory=tmp_path, keep_last=3, keep_best=True, monitor="eval_loss", mode="min", every=None)
    call_or_refuse(CheckpointManager, argument, **{**kwargs, argument: junk})
