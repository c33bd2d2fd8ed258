"""The provided checkpoint infrastructure (tinytorch/utils/checkpoint_file.py, atomic_write.py,
checkpoint_retention.py): the file format, refusal of every kind of bad file with its exact reason,
atomic writes under failures and SIGKILL, and the CheckpointManager's retention.

Ungraded (tito never runs tests/internals/; `make test` does): white-box tests of provided code and
of the exact wording of its messages.
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import tinytorch.core.training as training
import tinytorch.utils.checkpoint_file as checkpoint
from tinytorch.core.layers import Linear, manual_seed
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.training import Trainer
from tinytorch.utils.checkpoint_file import read_checkpoint
from tinytorch.utils.checkpoint_retention import CheckpointManager, retained_epochs

from test_08_training_checkpoint import (BAD_KINDS, REPO_ROOT, SETUP, assert_nothing_changed, build, observed,
                                         run, same_package_env, trained, write_bad_file)


def test_checkpoint_is_one_safetensors_file_with_format_version_and_checksum(tmp_path):
    trainer = trained(epochs=1)
    path = trainer.save_checkpoint(tmp_path / "checkpoint_0.pkl")     # the seeds' .pkl habit
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    meta = header["__metadata__"]
    assert meta["format"] == "tinytorch.checkpoint" and meta["format_version"] == str(checkpoint.CHECKPOINT_VERSION)
    assert re.fullmatch(r"[0-9a-f]{8}", meta["crc32c"])
    arrays = safetensors.numpy.load_file(str(path))         # any safetensors reader can open it
    names = dict(trainer.model.named_parameters())
    for name, p in names.items():
        assert np.array_equal(arrays[f"model/{name}"], p.data)
    assert any(n.startswith("optimizer/") for n in arrays)
    state = json.loads(meta["state"])
    assert state["trainer"]["epoch"] == 1 and state["optimizer"]["type"] == "Adam"
    assert state["scheduler"] == {"max_lr": 0.02, "min_lr": 0.001, "total_epochs": 6, "warmup_epochs": 1}
    assert set(state["random_state"]) == {"layers.2.rng"}
    assert state["trainer"]["loader_states"]["train"] == {"seed": 5, "epoch": 0, "epoch_is_set": True}


@pytest.mark.parametrize("module", [training, checkpoint])
def test_tinytorch_training_never_imports_or_calls_pickle(module):
    import ast
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom)}
    assert not any("pickle" in (name or "") for name in imported)
    np_loads = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "load"
                and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")]
    assert not np_loads                          # np.load can unpickle object arrays
    assert not hasattr(module, "pickle")


def test_every_kind_of_state_value_round_trips_through_the_file(tmp_path):
    state = {"empty": np.zeros((0, 3), np.float32), "scalar": np.float64(2.5), "flag": np.bool_(True),
             "zero_d": np.array(7, dtype=np.int64), "transposed": np.arange(6.0).reshape(2, 3).T,
             "tuple": (1, 2.5, None, "s"), "int_keys": {3: "x", 4: [True, False]}, "nan": float("nan"),
             "big_int": 2**100, "nested": [{"a": np.ones(2, np.float16)}]}
    path = checkpoint.write_checkpoint(tmp_path / "state.safetensors", state)
    back = read_checkpoint(path)
    assert back["scalar"].shape == () and back["scalar"] == 2.5 and back["zero_d"].shape == ()
    assert back["flag"].shape == () and bool(back["flag"]) is True
    assert np.array_equal(back["transposed"], state["transposed"]) and back["empty"].shape == (0, 3)
    assert back["tuple"] == (1, 2.5, None, "s") and back["int_keys"] == {3: "x", 4: [True, False]}
    assert math.isnan(back["nan"]) and back["big_int"] == 2**100
    assert back["nested"][0]["a"].dtype == np.float16


# -- refusals: every bad file, with its reason
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_bad_file_is_refused_with_a_clear_error_and_nothing_changes(kind, tmp_path):
    good = trained(epochs=2).save_checkpoint(tmp_path / "good.ckpt")
    bad = write_bad_file(kind, good, tmp_path)
    trainer = trained(epochs=1, init_seed=3)
    before = observed(trainer)
    with pytest.raises(ValueError, match="not a valid TinyTorch checkpoint") as error:
        trainer.load_checkpoint(bad)
    assert str(bad) in str(error.value)
    if kind == "pickle":
        assert "pickle" in str(error.value)
    assert_nothing_changed(trainer, before)
    trainer.load_checkpoint(good)                 # and the trainer still works with a good file
    assert trainer.epoch == 2


def test_a_valid_checkpoint_whose_first_byte_is_0x80_is_not_mistaken_for_a_pickle(tmp_path):
    trainer = trained(epochs=1)
    path = tmp_path / "a.ckpt"
    for extra in range(80):              # the header length moves in steps of 8; one ends in 0x80
        trainer.history["train_loss"] = [0.5] * extra
        trainer.history["train_accuracy"] = [0.25] * extra
        trainer.save_checkpoint(path)
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no header length ending in 0x80 was produced")
    target, _, _ = build(init_seed=5)
    target.load_checkpoint(path)
    assert target.history["train_loss"] == [0.5] * extra


# -- atomic writes --------------------------------------------------------------------------------------
def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    trainer = trained(epochs=1)
    path = trainer.save_checkpoint(tmp_path / "run.ckpt")
    old = path.read_bytes()
    run(trainer, *build()[1:], 1)

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(checkpoint.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()

    def half_written(arrays, filename, metadata=None):
        Path(filename).write_bytes(b"\x00" * 100)
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(checkpoint.safetensors.numpy, "save_file", half_written)
    with pytest.raises(RuntimeError, match="mid-write"):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]


def test_save_fsyncs_the_file_and_its_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd)
        real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", spy)
    trained(epochs=1).save_checkpoint(tmp_path / "run.ckpt")
    assert len(synced) >= 2
    if os.path.exists("/proc/self/fd"):
        assert str(tmp_path) in synced                                  # the folder
        assert any(s.startswith(str(tmp_path / ".run.ckpt.")) for s in synced)   # the temporary file


WRITER = SETUP + textwrap.dedent("""
    path = sys.argv[1]
    trainer, train, val = build(hidden=20_000)       # ~1.3 MB of weights, x3 with Adam's moments
    run(trainer, train, val, 1)
    i = 0
    while True:
        for p in trainer.model.parameters():
            p.data.fill(i)
        trainer.step = i
        trainer.save_checkpoint(path)
        print(i, flush=True)
        i += 1
""")


def test_a_save_killed_at_random_moments_leaves_a_loadable_checkpoint(tmp_path):
    rng = random.Random(1234)
    path = tmp_path / "live.ckpt"
    env = same_package_env()
    interrupted, seen_temporaries = 0, set()            # rounds whose kill landed inside a save
    for round_ in range(6):
        writer = subprocess.Popen([sys.executable, "-P", "-c", WRITER, str(path)], cwd=REPO_ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = writer.stdout.readline()            # one save has completed
            assert first.strip() == "0", writer.stderr.read()
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            writer.send_signal(signal.SIGKILL)
            rest = writer.communicate(timeout=30)[0]
        completed = [0] + [int(line) for line in rest.split()]
        temporaries = {p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")}
        interrupted += bool(temporaries - seen_temporaries)
        seen_temporaries |= temporaries
        trainer, _, _ = build(hidden=20_000)
        trainer.load_checkpoint(path)                   # must succeed: old or new, never broken
        i = trainer.step
        assert completed[-1] <= i <= completed[-1] + 1, (round_, i, completed[-1])
        for p in trainer.model.parameters():
            assert np.all(p.data == i)
    print(f"{interrupted} of 6 kills left a temporary file behind (killed mid-save)")


# -- CheckpointManager --------------------------------------------------------------------------------
def test_checkpoint_manager_keeps_last_three_best_and_milestones_of_a_hundred_epochs(tmp_path):
    manual_seed(0)
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    manager = CheckpointManager(tmp_path, keep_last=3, keep_best=True, monitor="eval_loss", every=25)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    for epoch in range(1, 101):
        trainer.epoch = epoch
        eval_loss = 1.0 + abs(epoch - 72) / 100          # best (lowest) at epoch 72
        manager.save(trainer.state_dict(copy=False), epoch, eval_loss)
        assert len(manager.files()) <= 7
    expected = retained_epochs(100, keep_last=3, every=25, best_epoch=72)
    assert expected == [25, 50, 72, 75, 98, 99, 100]
    assert [p.name for p in manager.files()] == [f"epoch_{e}.safetensors" for e in expected]
    assert manager.best_epoch == 72 and manager.best_path.name == "epoch_72.safetensors"
    assert manager.latest_path.name == "epoch_100.safetensors"
    assert (tmp_path / "notes.txt").exists()
    # a new manager (a new process) picks up the same folder and keeps managing it
    again = CheckpointManager(tmp_path, keep_last=3, keep_best=True, monitor="eval_loss", every=25)
    assert again.best_epoch == 72 and sorted(again.records) == expected
    trainer.epoch = 101
    again.save(trainer.state_dict(), trainer.epoch, 5.0)
    assert [int(p.stem.split("_")[1]) for p in again.files()] == [25, 50, 72, 75, 99, 100, 101]


def test_checkpoint_manager_keeps_the_best_by_an_explicit_max_mode(tmp_path):
    trainer = trained(epochs=1)
    manager = CheckpointManager(tmp_path, keep_last=1, monitor="val_accuracy", mode="max")
    for accuracy in (0.5, 0.9, 0.7):
        trainer.history["val_accuracy"].append(accuracy)
        trainer.epoch += 1
        manager.save(trainer.state_dict(copy=False), trainer.epoch, trainer.history["val_accuracy"][-1])
    assert manager.best_epoch == 3 and sorted(manager.records) == [3, 4]
    trainer2, _, _ = build(init_seed=9)
    trainer2.load_checkpoint(manager.best_path)
    assert trainer2.history["val_accuracy"][-1] == 0.9


def test_retained_epochs_predicts_counts_for_the_chapter():
    assert len(retained_epochs(100, keep_last=3, every=25, best_epoch=72)) == 7
    assert len(retained_epochs(100, keep_last=3, every=25, best_epoch=99)) == 6
    assert retained_epochs(2, keep_last=3) == [1, 2]
    assert retained_epochs([10, 20, 30, 40], keep_last=1, every=20) == [20, 40]
