"""Module 08 checkpoints through the Trainer: what a checkpoint holds, a round trip, refusal of a bad
or unfitting file with nothing changed, rollback of a half-applied state, and exact resume in a new
process that imports the same `tinytorch` as this one.

Graded (`tito test 08` runs this file against a learner's package): behaviour only. The file format
itself, atomic writes, retention and other provided infrastructure are tested in
tests/internals/test_training_checkpoint_files.py."""
from __future__ import annotations

import json
import os
import pickle          # only to *write* a pickle file that must be refused; tinytorch never imports it
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import tinytorch
from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, SimpleDataset
from tinytorch.core.layers import Dropout, Linear, Sequential, manual_seed
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.training import CosineSchedule, Trainer, read_checkpoint

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


def same_package_env() -> dict:
    """The environment of a child process that imports the very `tinytorch` this process imported
    (a learner's package under `tito test`, the clone's under `make test`): its folder first on
    PYTHONPATH. Run the child with `python -P`, so no folder of the child's own wins over it;
    `SAME_PACKAGE` (prepended to the child's code) makes the child check that it did."""
    package = os.path.dirname(tinytorch.__file__)
    rest = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=os.path.dirname(package) + (os.pathsep + rest if rest else ""),
                EXPECTED_TINYTORCH=package)


SAME_PACKAGE = ("import os as _os, tinytorch as _tt\n"
                "assert _os.path.samefile(_os.path.dirname(_tt.__file__), _os.environ['EXPECTED_TINYTORCH']), "
                "_tt.__file__\n")


def run_python(code: str, *args, timeout=120) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-P", "-c", SAME_PACKAGE + code, *map(str, args)],
                          cwd=REPO_ROOT, env=same_package_env(), capture_output=True, text=True, timeout=timeout)
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


def test_a_checkpoint_holds_model_optimizer_schedule_generators_and_counters(tmp_path):
    trainer = trained(epochs=1)
    path = trainer.save_checkpoint(tmp_path / "checkpoint_0.pkl")     # the seeds' .pkl habit
    assert path.read_bytes()[:1] != b"\x80"                           # not a pickle
    state = read_checkpoint(path)
    assert set(state) == {"model", "optimizer", "scheduler", "random_state", "trainer"}
    for name, p in trainer.model.named_parameters():
        assert np.array_equal(state["model"][name], p.data), name
    assert state["optimizer"]["type"] == "Adam" and state["optimizer"]["state"]
    assert state["scheduler"] == {"max_lr": 0.02, "min_lr": 0.001, "total_epochs": 6, "warmup_epochs": 1}
    assert set(state["random_state"]) == {"layers.2.rng"}
    progress = state["trainer"]
    assert progress["epoch"] == 1 and progress["step"] == trainer.step and progress["training_mode"] is True
    assert progress["history"] == trainer.history
    assert progress["loader_states"]["train"] == {"seed": 5, "epoch": 0, "epoch_is_set": True}


def test_state_dict_gives_copies_by_default():
    trainer = trained(epochs=1)
    state = trainer.state_dict()
    weights = [p.data.copy() for p in trainer.model.parameters()]
    for array in state["model"].values():
        array += 1.0
    state["trainer"]["history"]["train_loss"].append(123.0)
    assert all(np.array_equal(p.data, w) for p, w in zip(trainer.model.parameters(), weights))
    assert 123.0 not in trainer.history["train_loss"]


def test_read_checkpoint_returns_the_verified_state_without_loading_it(tmp_path):
    trainer = trained(epochs=1)
    path = trainer.save_checkpoint(tmp_path / "a.ckpt")
    state = read_checkpoint(path)
    assert state["trainer"]["epoch"] == 1
    assert_same(state["model"], trainer.state_dict()["model"])


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


GRADED_BAD_KINDS = ["pickle", "truncated_data", "flipped_data_byte", "edited_state_json", "foreign_safetensors"]


@pytest.mark.parametrize("kind", GRADED_BAD_KINDS)
def test_a_bad_file_is_refused_naming_it_and_nothing_changes(kind, tmp_path):
    good = trained(epochs=2).save_checkpoint(tmp_path / "good.ckpt")
    bad = write_bad_file(kind, good, tmp_path)
    trainer = trained(epochs=1, init_seed=3)
    before = observed(trainer)
    with pytest.raises(ValueError) as error:
        trainer.load_checkpoint(bad)
    assert str(bad) in str(error.value)
    assert_nothing_changed(trainer, before)
    trainer.load_checkpoint(good)                 # and the trainer still works with a good file
    assert trainer.epoch == 2


def test_a_missing_file_raises_file_not_found_and_a_folder_is_refused(tmp_path):
    trainer = trained(epochs=1)
    before = observed(trainer)
    with pytest.raises(FileNotFoundError, match="no_such.ckpt"):
        trainer.load_checkpoint(tmp_path / "no_such.ckpt")
    with pytest.raises(ValueError):                              # a folder is not a checkpoint
        trainer.load_checkpoint(tmp_path)
    assert_nothing_changed(trainer, before)


def test_a_checkpoint_of_another_architecture_is_refused_naming_the_parameter(tmp_path):
    path = trained(epochs=1, hidden=8).save_checkpoint(tmp_path / "small.ckpt")
    trainer = trained(epochs=1, hidden=16)
    before = observed(trainer)
    with pytest.raises(ValueError, match=r"layers\.0\.weight"):
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
    with pytest.raises(ValueError, match="SGD"):
        trainer.load_checkpoint(path)
    assert_nothing_changed(trainer, before)


def test_a_checkpoint_with_another_scheduler_or_other_metrics_is_refused(tmp_path):
    path = trained(epochs=1).save_checkpoint(tmp_path / "a.ckpt")
    base, _, _ = build()
    no_schedule = Trainer(base.model, base.optimizer, base.loss_fn, None, metrics=[Accuracy()])
    before = observed(no_schedule)
    with pytest.raises(ValueError, match="scheduler"):
        no_schedule.load_checkpoint(path)
    assert_nothing_changed(no_schedule, before)

    def f1(y_pred, y_true):
        return 0.0

    other_metrics = Trainer(base.model, base.optimizer, base.loss_fn, base.scheduler, metrics=[f1])
    with pytest.raises(ValueError, match="history"):
        other_metrics.load_checkpoint(path)


def test_a_failure_after_part_of_the_state_was_applied_is_rolled_back():
    source = trained(epochs=2)
    state = source.state_dict()
    (name,) = state["random_state"]
    state["random_state"][name] = dict(state["random_state"][name], bit_generator="MT19937")
    trainer = trained(epochs=1, init_seed=4)
    before = observed(trainer)
    with pytest.raises(ValueError):
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
