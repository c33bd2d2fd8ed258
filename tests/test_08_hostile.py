"""Module 08 under hostile input: nothing is lost, nothing crashes, nothing changes before an error.

Each test is one finding of issue 8, section 4 (or issue 12 items 3 and 7, or section 1's plain
models), and fails on the code before the second pass.
"""
from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.checkpoint as checkpoint
from tinytorch.core.checkpoint import CheckpointManager, read_checkpoint, write_checkpoint
from tinytorch.core.dataloader import DataLoader, SimpleDataset, TensorDataset
from tinytorch.core.layers import Dropout, Linear, Module, Sequential, manual_seed
from tinytorch.core.activations import ReLU
from tinytorch.core.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm


def classifier(seed=0):
    manual_seed(seed)
    return Sequential([Linear(4, 8), ReLU(), Dropout(0.2, seed=3), Linear(8, 3)])


def blobs_loader(seed=1, n=64, batch_size=16):
    data = SimpleDataset(size=n, num_features=4, num_classes=3, seed=0)
    return DataLoader(data, batch_size=batch_size, shuffle=True, seed=seed)


def observed(trainer, loader=None) -> dict:
    """Everything a failed call must leave as it was."""
    params = trainer.model.parameters()
    return {"weights": [p.data.copy() for p in params],
            "grads": [None if p.grad is None else p.grad.copy() for p in params],
            "lr": trainer.optimizer.lr, "mode": trainer.model.training,
            "optimizer": trainer.optimizer.state_dict(), "epoch": trainer.epoch, "step": trainer.step,
            "skipped": trainer.skipped_steps, "history": json.dumps(trainer.history),
            "random": json.dumps(trainer.model.random_state()) if hasattr(trainer.model, "random_state") else None,
            "loader": None if loader is None else loader.state_dict()}


def assert_unchanged(trainer, before, loader=None):
    after = observed(trainer, loader)
    for key in ("lr", "mode", "epoch", "step", "skipped", "history", "random", "loader"):
        assert after[key] == before[key], key
    for a, b in zip(after["weights"], before["weights"]):
        assert np.array_equal(a, b)
    for a, b in zip(after["grads"], before["grads"]):
        assert (a is None and b is None) or np.array_equal(a, b)
    assert json.dumps(after["optimizer"], default=lambda a: a.tolist()) == \
        json.dumps(before["optimizer"], default=lambda a: a.tolist())


def prepared_trainer(**kwargs):
    """A trainer whose model is in eval mode with non-zero gradients, after one epoch: the state a
    failing train_epoch must leave exactly as it was."""
    model = classifier()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5, momentum=0.9), CrossEntropyLoss(),
                      CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=5), **kwargs)
    loader = blobs_loader()
    trainer.train_epoch(loader)
    for p in model.parameters():
        p.grad = np.full_like(p.data, 0.25)
    model.eval()
    return trainer, loader


# -- section 1: plain models and SGD(learning_rate=) ---------------------------------------------------
class PlainNet:
    """A model as the specs write them: not a Module, not callable."""

    def __init__(self):
        self.first = Linear(4, 8)
        self.second = Linear(8, 3)
        self.training = True
        self.modes_seen = []

    def forward(self, x):
        self.modes_seen.append(self.training)
        return self.second.forward(ReLU()(self.first.forward(x)))

    def parameters(self):
        return self.first.parameters() + self.second.parameters()


def test_a_plain_model_sees_training_true_in_train_epoch_and_false_in_evaluate():
    manual_seed(0)
    model = PlainNet()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    trainer.train_epoch(blobs_loader())
    assert set(model.modes_seen) == {True}
    model.modes_seen.clear()
    trainer.evaluate(blobs_loader())
    assert set(model.modes_seen) == {False} and model.training is True


def test_a_plain_model_checkpoints_by_position_and_resumes_exactly(tmp_path):
    def build():
        manual_seed(0)
        model = PlainNet()
        return Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss(),
                       CosineSchedule(0.02, 0.001, 6), grad_clip_norm=1.0)

    straight = build()
    for _ in range(4):
        straight.train_epoch(blobs_loader())
    first = build()
    for _ in range(2):
        first.train_epoch(blobs_loader())
    path = first.save_checkpoint(tmp_path / "plain.pkl")
    assert sorted(read_checkpoint(path)["model"]) == [f"parameters.{i}" for i in range(4)]
    second = build()
    second.load_checkpoint(path)
    for _ in range(2):
        second.train_epoch(blobs_loader())
    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        assert np.array_equal(a.data, b.data)
    assert straight.history == second.history


def test_a_plain_checkpoint_of_another_shape_is_refused_and_changes_nothing(tmp_path):
    manual_seed(0)
    model = PlainNet()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    state = trainer.state_dict()
    state["model"]["parameters.2"] = np.zeros((2, 2), np.float32)
    path = write_checkpoint(tmp_path / "bad.ckpt", state)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"parameters\.2.*shape"):
        trainer.load_checkpoint(path)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize("model", [object(), type("NoList", (), {"forward": lambda self, x: x,
                                                                   "parameters": lambda self: 3})(),
                                   type("NotTensors", (), {"forward": lambda self, x: x,
                                                           "parameters": lambda self: [np.ones(2)]})()])
def test_a_model_without_forward_or_tensor_parameters_gets_a_type_error_saying_what_it_needs(model):
    with pytest.raises(TypeError, match="a model needs forward"):
        Trainer(model, SGD([Tensor([1.0], requires_grad=True)], lr=0.1), MSELoss())


def test_sgd_takes_learning_rate_like_adam_and_refuses_both_names():
    w = Tensor([1.0], requires_grad=True)
    assert SGD([w], learning_rate=0.3).lr == 0.3 and SGD([w], 0.2).lr == 0.2
    with pytest.raises(TypeError, match="lr=0.1 and learning_rate=0.2"):
        SGD([w], lr=0.1, learning_rate=0.2)
    with pytest.raises(TypeError, match="needs a learning rate"):
        SGD([w])


def test_state_dict_copy_false_is_a_view_of_the_live_arrays():
    model = classifier()
    optimizer = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, optimizer, CrossEntropyLoss())
    trainer.train_epoch(blobs_loader())
    view = trainer.state_dict(copy=False)
    assert all(np.shares_memory(view["model"][name], p.data) for name, p in model.named_parameters())
    assert np.shares_memory(view["optimizer"]["state"][0]["exp_avg"], optimizer.state[0]["exp_avg"])
    copied = trainer.state_dict()
    assert not any(np.shares_memory(copied["model"][name], p.data) for name, p in model.named_parameters())


# -- data loss --------------------------------------------------------------------------------------
def test_a_manager_never_deletes_the_checkpoint_it_just_wrote(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=0)          # keeps only the best: nothing monitored
    for epoch in (1, 2):
        path = manager.save({"w": np.ones(2, np.float32)}, epoch=epoch)
        assert path.is_file() and manager.files() == [path]


def test_fit_with_keep_last_zero_and_no_validation_keeps_the_last_checkpoint(tmp_path):
    model = classifier()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    manager = CheckpointManager(tmp_path, keep_last=0)
    trainer.fit(blobs_loader(), epochs=3, verbose=False, checkpoint_dir=manager)
    assert [p.name for p in manager.files()] == ["epoch_3.safetensors"]


def test_settings_that_keep_nothing_are_refused(tmp_path):
    with pytest.raises(ValueError, match="keep no checkpoint"):
        CheckpointManager(tmp_path, keep_last=0, keep_best=False)


# -- SIGBUS and truncation ----------------------------------------------------------------------------
def saved_state_file(tmp_path) -> Path:
    model = classifier()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss())
    trainer.train_epoch(blobs_loader())
    return trainer.save_checkpoint(tmp_path / "run.ckpt")


def test_a_checkpoint_truncated_while_being_read_is_a_value_error_not_sigbus(tmp_path):
    path = saved_state_file(tmp_path)
    # Another process truncates the file right after we learn its size and open it. A memory map
    # of it would fault (SIGBUS) on the missing pages; run in a child so a crash cannot take pytest.
    child = textwrap.dedent(f"""
        import mmap, os, sys
        from tinytorch.core.training import read_checkpoint
        path = {str(path)!r}
        real_mmap, real_fstat = mmap.mmap, os.fstat
        def truncating_mmap(*args, **kwargs):
            mapped = real_mmap(*args, **kwargs)
            os.truncate(path, 100)
            return mapped
        def truncating_fstat(fd):
            result = real_fstat(fd)
            os.truncate(path, 100)
            return result
        mmap.mmap, os.fstat = truncating_mmap, truncating_fstat
        try:
            read_checkpoint(path)
        except ValueError as error:
            print("ValueError:", error)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the reader died (signal {-result.returncode}): {result.stderr[-300:]}"
    assert "ValueError" in result.stdout and "run.ckpt" in result.stdout


# -- the index -------------------------------------------------------------------------------------------
def test_a_damaged_index_is_rebuilt_from_the_files_and_old_checkpoints_are_still_pruned(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=2, keep_best=True)
    for epoch, loss in ((1, 0.5), (2, 0.9), (3, 0.8)):
        manager.save({"w": np.ones(2, np.float32)}, epoch=epoch, value=loss)
    (tmp_path / CheckpointManager.INDEX).write_text("{ not json")
    again = CheckpointManager(tmp_path, keep_last=2, keep_best=True)
    assert again.records == {1: 0.5, 2: 0.9, 3: 0.8} and again.best_epoch == 1   # values from the files
    again.save({"w": np.ones(2, np.float32)}, epoch=4, value=0.7)
    assert [p.name for p in again.files()] == ["epoch_1.safetensors", "epoch_3.safetensors",
                                               "epoch_4.safetensors"]
    (tmp_path / CheckpointManager.INDEX).unlink()
    assert CheckpointManager(tmp_path, keep_last=2).records == {1: 0.5, 3: 0.8, 4: 0.7}


def test_a_failed_index_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    manager = CheckpointManager(tmp_path, keep_last=1)
    manager.save({"w": np.ones(2, np.float32)}, epoch=1)
    real_replace = checkpoint.os.replace

    def failing_for_the_index(src, dst):
        if str(dst).endswith(CheckpointManager.INDEX):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", failing_for_the_index)
    with pytest.raises(OSError, match="disk full"):
        manager.save({"w": np.ones(2, np.float32)}, epoch=2)
    monkeypatch.undo()
    assert not list(tmp_path.glob(".*.tmp"))
    assert CheckpointManager(tmp_path, keep_last=1).records == {2: None}     # the files decide


# -- mutated before an error ------------------------------------------------------------------------------
class NoGraph(Module):
    def __init__(self):
        self.inner = classifier()

    def forward(self, x):
        return Tensor(self.inner(x).data)             # cut from the graph


def test_a_model_output_without_graph_changes_nothing():
    trainer, loader = prepared_trainer()
    trainer.model = NoGraph()
    trainer.model.inner = classifier()
    trainer.optimizer = SGD(trainer.model.parameters(), lr=0.5)
    for p in trainer.model.parameters():
        p.grad = np.full_like(p.data, 0.25)
    trainer.model.eval()
    before = observed(trainer, loader)
    with pytest.raises(ValueError, match=r"epoch 1, batch 0: the loss has no graph"):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


def test_a_loss_fn_returning_a_float_is_a_type_error_naming_it_and_changes_nothing():
    trainer, loader = prepared_trainer()
    trainer.loss_fn = lambda outputs, targets: 1.5
    before = observed(trainer, loader)
    with pytest.raises(TypeError, match=r"epoch 1, batch 0: loss_fn returned 1\.5"):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


def test_a_model_returning_an_array_is_a_type_error_naming_it():
    trainer, loader = prepared_trainer()
    trainer.model.forward = lambda x: x.data
    with pytest.raises(TypeError, match=r"epoch 1, batch 0: the model returned array"):
        trainer.train_epoch(loader)


def test_a_non_finite_first_loss_changes_nothing():
    trainer, loader = prepared_trainer()
    loss = CrossEntropyLoss()
    trainer.loss_fn = lambda outputs, targets: loss(outputs, targets) * float("inf")
    before = observed(trainer, loader)
    with pytest.raises(FloatingPointError, match="epoch 1, batch 0"):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


def test_a_failure_in_a_later_batch_before_any_update_puts_the_gradients_back():
    trainer, loader = prepared_trainer()
    loss, calls = CrossEntropyLoss(), []

    def fails_on_the_third(outputs, targets):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("bad batch")
        return loss(outputs, targets)

    trainer.loss_fn = fails_on_the_third
    before = observed(trainer, loader)
    with pytest.raises(RuntimeError, match="bad batch"):
        trainer.train_epoch(loader, accumulation_steps=4)        # two backward passes, no update yet
    assert_unchanged(trainer, before, loader)


def test_clip_grad_norm_with_a_read_only_second_gradient_scales_nothing():
    a, b = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    a.grad, b.grad = np.array([30.0, 40.0], np.float32), np.array([0.0, 1.0], np.float32)
    b.grad.flags.writeable = False
    with pytest.raises(ValueError, match=r"parameters\[1\]\.grad is read-only"):
        clip_grad_norm([a, b], max_norm=1.0)
    assert a.grad.tolist() == [30.0, 40.0]


def test_clip_grad_norm_refuses_arrays_and_none_clearly():
    with pytest.raises(TypeError, match=r"clip_grad_norm parameters\[0\] must be a Tensor"):
        clip_grad_norm([np.ones(3)], 1.0)
    with pytest.raises(TypeError, match="clip_grad_norm parameters must be a Tensor or an iterable"):
        clip_grad_norm(None)


def test_metrics_that_are_not_a_list_are_a_type_error():
    model = classifier()
    with pytest.raises(TypeError, match=r"metrics must be a list.*Accuracy"):
        Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), metrics=Accuracy())


def test_a_users_own_metric_named_accuracy_is_called():
    calls = []

    def accuracy(y_pred, y_true):
        calls.append(len(y_pred.data))
        return 0.125

    model = classifier()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), metrics=[accuracy])
    trainer.train_epoch(blobs_loader())
    _, value = trainer.evaluate(blobs_loader())
    assert calls and value == 0.125 and trainer.history["train_accuracy"] == [0.125]


def test_fit_monitors_with_an_explicit_mode():
    model = classifier()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    with pytest.raises(ValueError, match="mode must be one of"):
        trainer.fit(blobs_loader(), blobs_loader(), epochs=1, verbose=False, monitor="val_accuracy", mode="up")
    # a val_accuracy that only rises: with mode="max" it never stops early; with "min" it stops
    # after one epoch without improvement
    for mode, epochs_run in (("max", 4), ("min", 2)):
        model = classifier()
        holder = []

        def accuracy(y_pred, y_true):
            return float(holder[0].epoch)

        trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), metrics=[accuracy])
        holder.append(trainer)
        trainer.fit(blobs_loader(), blobs_loader(), epochs=4, verbose=False, early_stopping_patience=1,
                    monitor="val_accuracy", mode=mode)
        assert trainer.epoch == epochs_run, mode


# -- load validates everything it restores -----------------------------------------------------------
@pytest.mark.parametrize("poison", ["negative_loader_seed", "junk_history", "string_epoch"])
def test_a_checksum_valid_checkpoint_with_bad_restored_state_is_refused(tmp_path, poison):
    trainer, loader = prepared_trainer()
    trainer.train_epoch(loader)
    state = trainer.state_dict()
    if poison == "negative_loader_seed":
        state["trainer"]["loader_states"]["train"]["seed"] = -1
    elif poison == "junk_history":
        state["trainer"]["history"]["train_loss"][0] = "junk"
    else:
        state["trainer"]["epoch"] = "3"
    path = write_checkpoint(tmp_path / "poisoned.ckpt", state)
    before = observed(trainer, loader)
    with pytest.raises(ValueError, match="does not fit"):
        trainer.load_checkpoint(path)
    assert_unchanged(trainer, before, loader)


# -- resource bounds and clear refusals of hostile headers -------------------------------------------
def raw_checkpoint(path: Path, entries: dict, data: bytes = b"") -> Path:
    header = {"__metadata__": {"format": "tinytorch.checkpoint", "format_version": str(checkpoint.CHECKPOINT_VERSION),
                               "state": "{}", "crc32c": "00000000"}, **entries}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_a_header_of_a_million_and_a_half_empty_arrays_is_refused_before_parsing(tmp_path):
    body = ",".join(f'"a{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(1_500_000))
    raw = ('{"__metadata__":{"format":"tinytorch.checkpoint","format_version":"2","state":"{}",'
           '"crc32c":"0"},' + body + "}").encode()
    path = tmp_path / "huge.ckpt"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    with pytest.raises(ValueError, match="MAX_HEADER_BYTES") as error:
        read_checkpoint(path)
    assert len(str(error.value)) < 300


def test_too_many_arrays_are_refused_with_a_short_message(tmp_path):
    entries = {f"a{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
               for i in range(checkpoint.MAX_ARRAYS + 1)}
    with pytest.raises(ValueError, match=r"'a0', 'a1', 'a10' and \d+ more") as error:
        read_checkpoint(raw_checkpoint(tmp_path / "many.ckpt", entries))
    assert len(str(error.value)) < 400


@pytest.mark.parametrize("shape", [[0, 2**62], [1] * 70])
def test_absurd_array_shapes_are_refused_naming_the_file_and_array(tmp_path, shape):
    path = raw_checkpoint(tmp_path / "shape.ckpt", {"model/w": {"dtype": "F32", "shape": shape,
                                                                "data_offsets": [0, 4 if 0 not in shape else 0]}},
                          b"\0\0\0\0" if 0 not in shape else b"")
    with pytest.raises(ValueError, match=r"shape\.ckpt is not a valid TinyTorch checkpoint: array 'model/w'"):
        read_checkpoint(path)


# -- issue 12, item 3: how a single output is read --------------------------------------------------------
def test_a_logistic_model_with_bce_with_logits_scores_its_true_accuracy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.3).astype(np.float32).reshape(-1, 1)
    manual_seed(0)
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), BCEWithLogitsLoss())
    loader = DataLoader(TensorDataset(x, y), batch_size=50)
    for _ in range(30):
        trainer.train_epoch(loader)
    logits = model(Tensor(x)).data
    true_accuracy = float(np.mean((1 / (1 + np.exp(-logits)) > 0.5) == (y > 0.5)))
    _, accuracy = trainer.evaluate(loader)
    assert accuracy == pytest.approx(true_accuracy, abs=1e-12) and true_accuracy > 0.95
    probabilities_reading = float(np.mean((logits > 0.5) == (y > 0.5)))
    assert probabilities_reading < true_accuracy                 # what reading logits as probabilities gave
    explicit = Trainer(model, SGD(model.parameters(), lr=0.5), BCEWithLogitsLoss(),
                       metrics=[Accuracy(from_logits=False)])
    assert explicit.evaluate(loader)[1] == pytest.approx(probabilities_reading, abs=1e-12)


# -- issue 12, item 7: the gradient norm is checked with or without clipping ---------------------------
class Scale(Module):
    def __init__(self):
        self.w = Tensor(np.ones((1, 2)), requires_grad=True)

    def forward(self, x):
        return x * self.w


def sqrt_at_zero(outputs, targets):
    """A finite loss (0) whose gradient is infinite: d sqrt(u) / du at u = 0."""
    return (outputs - Tensor(outputs.data)).sqrt().mean()


@pytest.mark.parametrize("clip", [None, 1.0])
def test_an_infinite_gradient_behind_a_finite_loss_never_reaches_the_weights(clip):
    data = [(Tensor(np.ones((2, 2))), Tensor(np.zeros((2, 2))))]
    model = Scale()
    skipping = Trainer(model, SGD(model.parameters(), lr=0.1), sqrt_at_zero, grad_clip_norm=clip, nonfinite="skip")
    with np.errstate(divide="ignore", invalid="ignore"):       # the backward of sqrt at 0 divides by 0
        loss = skipping.train_epoch(data)
    assert loss == 0.0 and skipping.skipped_steps == 1 and skipping.step == 0
    assert np.array_equal(model.w.data, np.ones((1, 2), np.float32))
    raising = Trainer(model, SGD(model.parameters(), lr=0.1), sqrt_at_zero, grad_clip_norm=clip)
    with pytest.raises(FloatingPointError, match="non-finite gradient norm"), \
            np.errstate(divide="ignore", invalid="ignore"):
        raising.train_epoch(data)
    assert np.array_equal(model.w.data, np.ones((1, 2), np.float32))
