"""Module 08 checkpoints: the file format, refusal of every kind of bad file with nothing changed,
atomic writes under SIGKILL, exact resume in a new process, and CheckpointManager retention."""
from __future__ import annotations

import json
import math
import os
import pickle          # only to *write* a pickle file that must be refused; tinytorch never imports it
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

import tinytorch.core.checkpoint as checkpoint
import tinytorch.core.training as training
from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, SimpleDataset
from tinytorch.core.layers import Dropout, Linear, Sequential, manual_seed
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.training import (CheckpointManager, CosineSchedule, Trainer, read_checkpoint,
                                     retained_epochs)

from test_08_training import assert_same

REPO_ROOT = Path(__file__).resolve().parent.parent

# One setup, shared by this process and the subprocesses (so a new process builds the same trainer).
SETUP = textwrap.dedent("""
    import sys
    import numpy as np
    from tinytorch.core.activations import ReLU
    from tinytorch.core.dataloader import DataLoader, SimpleDataset
    from tinytorch.core.layers import Dropout, Linear, Sequential, manual_seed
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.metrics import Accuracy
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.training import CosineSchedule, Trainer

    def build(loader_seed=5, hidden=16, init_seed=0):
        manual_seed(init_seed)
        model = Sequential([Linear(4, hidden), ReLU(), Dropout(0.3, seed=11), Linear(hidden, 3)])
        trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss(),
                          CosineSchedule(max_lr=0.02, min_lr=0.001, total_epochs=6, warmup_epochs=1),
                          grad_clip_norm=1.0, metrics=[Accuracy()])
        data = SimpleDataset(size=200, num_features=4, num_classes=3, seed=0)
        train = DataLoader(data, batch_size=16, shuffle=True, seed=loader_seed)
        val = DataLoader(data, batch_size=64)
        return trainer, train, val

    def run(trainer, train, val, epochs):
        for _ in range(epochs):
            trainer.train_epoch(train, accumulation_steps=3)
            trainer.evaluate(val)
""")
exec(SETUP)        # defines build() and run() here too


def run_python(code: str, *args, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


def trained(epochs=2, **kwargs):
    trainer, train, val = build(**kwargs)
    run(trainer, train, val, epochs)
    return trainer


def observed(trainer):
    grads = [None if p.grad is None else p.grad.copy() for p in trainer.model.parameters()]
    return trainer.state_dict(), grads, trainer.optimizer.lr, trainer.training_mode


def assert_nothing_changed(trainer, before):
    state, grads, lr, mode = before
    assert_same(trainer.state_dict(), state)
    for p, g in zip(trainer.model.parameters(), grads):
        assert (p.grad is None) == (g is None) and (g is None or np.array_equal(p.grad, g))
    assert trainer.optimizer.lr == lr and trainer.training_mode == mode


# -- format --------------------------------------------------------------------------------------------
def test_checkpoint_round_trip_restores_the_whole_state(tmp_path):
    source = trained(epochs=3)
    source.training_mode = False
    path = source.save_checkpoint(tmp_path / "run.ckpt")
    target, _, _ = build(init_seed=99)
    target.load_checkpoint(path)
    assert_same(target.state_dict(), source.state_dict())
    assert target.epoch == 3 and target.step == source.step and target.training_mode is False
    assert target.optimizer.state[0]["step"] == source.optimizer.state[0]["step"]


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
    assert state["trainer"]["loader_states"]["train"] == {"seed": 5, "epoch": 0}


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


def test_read_checkpoint_returns_the_verified_state_without_loading_it(tmp_path):
    trainer = trained(epochs=1)
    path = trainer.save_checkpoint(tmp_path / "a.ckpt")
    state = read_checkpoint(path)
    assert state["trainer"]["epoch"] == 1
    assert_same(state["model"], trainer.state_dict()["model"])


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


# -- refusals: every bad file raises before anything changes ------------------------------------------
def write_bad_file(kind: str, good: Path, tmp_path: Path) -> Path:
    data = good.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    path = tmp_path / f"bad_{kind}.pkl"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"epoch": 3, "model_state": {"w": np.zeros(3)}}))
    elif kind == "pickle_protocol_0":
        path.write_bytes(pickle.dumps({"epoch": 3, "history": [1.0, 2.0]}, protocol=0))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated_prefix":
        path.write_bytes(data[:5])
    elif kind == "truncated_header":
        path.write_bytes(data[:8 + size // 2])
    elif kind == "truncated_data":
        path.write_bytes(data[:-7])
    elif kind == "flipped_data_byte":
        flipped = bytearray(data)
        flipped[8 + size + (len(data) - 8 - size) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
    elif kind == "flipped_last_byte":
        flipped = bytearray(data)
        flipped[-1] ^= 0x80
        path.write_bytes(bytes(flipped))
    elif kind == "edited_state_json":
        header = data[8:8 + size].decode()
        edited = header.replace('\\"epoch\\":2', '\\"epoch\\":7', 1)
        assert edited != header
        path.write_bytes(data[:8] + edited.encode() + data[8 + size:])
    elif kind == "garbage":
        path.write_bytes(os.urandom(4096))
    elif kind == "zip_archive":
        path.write_bytes(b"PK\x03\x04" + os.urandom(100))
    elif kind == "foreign_safetensors":
        safetensors.numpy.save_file({"weight": np.zeros((4, 16), np.float32)}, str(path))
    elif kind == "other_format_version":
        header = json.loads(data[8:8 + size])
        header["__metadata__"]["format_version"] = "99"
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + size:])
    else:
        raise AssertionError(kind)
    return path


BAD_KINDS = ["pickle", "pickle_protocol_0", "empty", "truncated_prefix", "truncated_header", "truncated_data",
             "flipped_data_byte", "flipped_last_byte", "edited_state_json", "garbage", "zip_archive",
             "foreign_safetensors", "other_format_version"]


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


def test_a_missing_file_raises_file_not_found_and_a_folder_is_refused(tmp_path):
    trainer = trained(epochs=1)
    before = observed(trainer)
    with pytest.raises(FileNotFoundError, match="no_such.ckpt"):
        trainer.load_checkpoint(tmp_path / "no_such.ckpt")
    with pytest.raises(ValueError, match="not a regular file"):
        trainer.load_checkpoint(tmp_path)
    assert_nothing_changed(trainer, before)


def test_a_checkpoint_of_another_architecture_is_refused_naming_the_parameter(tmp_path):
    path = trained(epochs=1, hidden=8).save_checkpoint(tmp_path / "small.ckpt")
    trainer = trained(epochs=1, hidden=16)
    before = observed(trainer)
    with pytest.raises(ValueError, match=r"layers\.0\.weight.*shape"):
        trainer.load_checkpoint(path)
    assert_nothing_changed(trainer, before)


def test_a_checkpoint_of_another_optimizer_is_refused(tmp_path):
    trainer_sgd, train, val = build()
    trainer_sgd = Trainer(trainer_sgd.model, SGD(trainer_sgd.model.parameters(), lr=0.1, momentum=0.9),
                          trainer_sgd.loss_fn, trainer_sgd.scheduler, grad_clip_norm=1.0, metrics=[Accuracy()])
    run(trainer_sgd, train, val, 1)
    path = trainer_sgd.save_checkpoint(tmp_path / "sgd.ckpt")
    trainer = trained(epochs=1)
    before = observed(trainer)
    with pytest.raises(ValueError, match="SGD.*Adam"):
        trainer.load_checkpoint(path)
    assert_nothing_changed(trainer, before)


def test_a_checkpoint_with_another_scheduler_or_other_metrics_is_refused(tmp_path):
    path = trained(epochs=1).save_checkpoint(tmp_path / "a.ckpt")
    base, _, _ = build()
    no_schedule = Trainer(base.model, base.optimizer, base.loss_fn, None, metrics=[Accuracy()])
    before = observed(no_schedule)
    with pytest.raises(ValueError, match="with a scheduler.*none"):
        no_schedule.load_checkpoint(path)
    assert_nothing_changed(no_schedule, before)

    def f1(y_pred, y_true):
        return 0.0

    other_metrics = Trainer(base.model, base.optimizer, base.loss_fn, base.scheduler, metrics=[f1])
    with pytest.raises(ValueError, match="history keys differ"):
        other_metrics.load_checkpoint(path)


def test_a_failure_after_part_of_the_state_was_applied_is_rolled_back():
    source = trained(epochs=2)
    state = source.state_dict()
    (name,) = state["random_state"]
    state["random_state"][name] = dict(state["random_state"][name], bit_generator="MT19937")
    trainer = trained(epochs=1, init_seed=4)
    before = observed(trainer)
    with pytest.raises(ValueError, match="MT19937"):
        trainer.load_state_dict(state)       # optimizer and model were applied, then this failed
    assert_nothing_changed(trainer, before)


def test_an_optimizer_that_refuses_its_state_last_gets_the_model_rolled_back():
    source = trained(epochs=2)
    state = source.state_dict()
    state["optimizer"]["hyperparameters"]["lr"] = -1.0     # only Adam itself rejects this
    trainer = trained(epochs=1, init_seed=4)
    before = observed(trainer)
    with pytest.raises(ValueError, match="lr"):
        trainer.load_state_dict(state)       # random state, counters and model were applied first
    assert_nothing_changed(trainer, before)


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
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    interrupted, seen_temporaries = 0, set()            # rounds whose kill landed inside a save
    for round_ in range(6):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO_ROOT, env=env,
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


# -- exact resume in a new process --------------------------------------------------------------------
RESUME = SETUP + textwrap.dedent("""
    trainer, train, val = build(loader_seed=None, init_seed=123)   # seed and weights come from the file
    trainer.load_checkpoint(sys.argv[1])
    run(trainer, train, val, int(sys.argv[2]))
    trainer.save_checkpoint(sys.argv[3])
""")


def test_resume_in_a_new_process_is_bit_for_bit_equal_to_training_straight_through(tmp_path):
    total, first = 5, 2
    straight, train, val = build()
    run(straight, train, val, total)

    part, train, val = build()
    run(part, train, val, first)
    part.save_checkpoint(tmp_path / "half.pkl")
    run_python(RESUME, tmp_path / "half.pkl", total - first, tmp_path / "resumed.pkl")

    resumed, _, _ = build(init_seed=7)
    resumed.load_checkpoint(tmp_path / "resumed.pkl")
    assert_same(resumed.state_dict(), straight.state_dict())      # weights, Adam buffers, history, RNGs
    assert resumed.epoch == total and resumed.history["learning_rates"] == \
        [CosineSchedule(0.02, 0.001, 6, warmup_epochs=1).get_lr(e) for e in range(total)]


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
