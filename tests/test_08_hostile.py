"""Module 08 under hostile input: nothing is lost, nothing crashes, nothing changes before an error.

Each test is one finding of issue 8, section 4 (or issue 12 items 3 and 7, or section 1's plain
models). Graded (`tito test 08`): errors are checked by type and by the argument (or batch) the
message names, never by wording; the provided checkpoint files, their retention and the exact
messages are tested in tests/internals/.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, SimpleDataset, TensorDataset
from tinytorch.core.layers import Dropout, Linear, Module, Sequential, manual_seed
from tinytorch.core.activations import ReLU
from tinytorch.core.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm, read_checkpoint, write_checkpoint


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
    with pytest.raises(ValueError, match=r"parameters\.2"):
        trainer.load_checkpoint(path)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize("model", [object(), type("NoList", (), {"forward": lambda self, x: x,
                                                                   "parameters": lambda self: 3})(),
                                   type("NotTensors", (), {"forward": lambda self, x: x,
                                                           "parameters": lambda self: [np.ones(2)]})()])
def test_a_model_without_forward_or_tensor_parameters_gets_a_type_error_saying_what_it_needs(model):
    with pytest.raises(TypeError, match="model"):
        Trainer(model, SGD([Tensor([1.0], requires_grad=True)], lr=0.1), MSELoss())


def test_sgd_takes_learning_rate_like_adam_and_refuses_both_names():
    w = Tensor([1.0], requires_grad=True)
    assert SGD([w], learning_rate=0.3).lr == 0.3 and SGD([w], 0.2).lr == 0.2
    with pytest.raises(TypeError, match="learning_rate"):
        SGD([w], lr=0.1, learning_rate=0.2)
    with pytest.raises(TypeError, match="lr"):
        SGD([w])


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
    with pytest.raises(ValueError, match="batch 0"):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


def test_a_loss_fn_returning_a_float_is_a_type_error_naming_it_and_changes_nothing():
    trainer, loader = prepared_trainer()
    trainer.loss_fn = lambda outputs, targets: 1.5
    before = observed(trainer, loader)
    with pytest.raises(TypeError, match="loss_fn"):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


def test_a_failing_epoch_on_a_fresh_loader_leaves_it_advancing_by_itself():
    # train_epoch calls set_epoch on the loader; after a failure the loader is restored, so a loader
    # that advanced its own epoch before still does (its state says epoch_is_set False again)
    trainer, _ = prepared_trainer()
    trainer.loss_fn = lambda outputs, targets: 1.5
    fresh = blobs_loader()
    before = observed(trainer, fresh)
    assert before["loader"]["epoch_is_set"] is False
    with pytest.raises(TypeError, match="loss_fn"):
        trainer.train_epoch(fresh)
    assert_unchanged(trainer, before, fresh)


def test_a_model_returning_an_array_is_a_type_error_naming_it():
    trainer, loader = prepared_trainer()
    trainer.model.forward = lambda x: x.data
    before = observed(trainer, loader)
    with pytest.raises((TypeError, ValueError)):
        trainer.train_epoch(loader)
    assert_unchanged(trainer, before, loader)


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
    with pytest.raises(ValueError, match=r"parameters\[1\]"):
        clip_grad_norm([a, b], max_norm=1.0)
    assert a.grad.tolist() == [30.0, 40.0]


def test_clip_grad_norm_refuses_arrays_and_none_clearly():
    with pytest.raises(TypeError, match=r"parameters\[0\]"):
        clip_grad_norm([np.ones(3)], 1.0)
    with pytest.raises(TypeError, match="parameters"):
        clip_grad_norm(None)


def test_metrics_that_are_not_a_list_are_a_type_error():
    model = classifier()
    with pytest.raises(TypeError, match="metrics"):
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
    with pytest.raises(ValueError, match="mode"):
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
    with pytest.raises(ValueError, match="poisoned"):
        trainer.load_checkpoint(path)
    assert_unchanged(trainer, before, loader)


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
    with pytest.raises(FloatingPointError), np.errstate(divide="ignore", invalid="ignore"):
        raising.train_epoch(data)
    assert np.array_equal(model.w.data, np.ones((1, 2), np.float32))
