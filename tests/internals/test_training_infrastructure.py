"""Module 08's provided infrastructure and white-box rules (tinytorch/utils/: the accumulation window,
running means, the model adapter, the epoch run and its rollback, memory accounting, retention), the
exact wording of the Trainer's messages, and the rules the module's source keeps.

Ungraded (tito never runs tests/internals/; `make test` does).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, SimpleDataset
from tinytorch.core.layers import Dropout, Linear, Sequential, manual_seed
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer, clip_grad_norm
from tinytorch.utils.accumulation_window import AccumulationWindow
from tinytorch.utils.epoch_rollback import EpochSnapshot
from tinytorch.utils.epoch_run import EpochRun, check_training_run
from tinytorch.utils.metric_inputs import class_labels
from tinytorch.utils.model_adapter import check_model, load_model_state, model_state, run_model
from tinytorch.utils.running_means import RunningMeans
from tinytorch.utils.checkpoint_retention import retained_epochs
from tinytorch.utils.training_memory import memory_table, training_memory

from test_08_training import classification_loaders, mlp

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SOURCE = REPO_ROOT / "src" / "08_training" / "08_training.py"
UTILS = REPO_ROOT / "tinytorch" / "utils"
MODULE_08_UTILS = ["accumulation_window", "atomic_write", "batch_checks", "checkpoint_file", "checkpoint_retention",
                   "epoch_rollback", "epoch_run", "gradient_arrays", "loader_states", "metric_inputs",
                   "model_adapter", "running_means", "trainer_arguments", "trainer_state", "training_history",
                   "training_memory"]


# -- the source of module 08 ----------------------------------------------------------------------------
def test_the_module_source_stays_under_900_lines():
    assert len(SOURCE.read_text().splitlines()) < 900


@pytest.mark.parametrize("path", [SOURCE, *(UTILS / f"{name}.py" for name in MODULE_08_UTILS)],
                         ids=lambda p: p.name)
def test_module_08_and_its_utils_use_the_plain_core_only(path):
    """No kernels, no parameters laid end to end, no lazy zeroing (they belong to module 11)."""
    text = path.read_text()
    for word in ("core.kernels", "core.flat", "zero_grads", "zero_is_pending", "grad_buffer", "._grad"):
        assert word not in text, (path.name, word)


@pytest.mark.parametrize("name", MODULE_08_UTILS)
def test_the_utils_files_are_hand_written(name):
    assert not (UTILS / f"{name}.py").read_text().startswith("# GENERATED")


def solution_blocks(text: str) -> list:
    lines, blocks, start = text.splitlines(), [], None
    for number, line in enumerate(lines):
        if line.strip() == "### BEGIN SOLUTION":
            start = number
        elif line.strip() == "### END SOLUTION":
            blocks.append(lines[start + 1:number])
    return blocks


def test_every_solution_block_uses_public_names_only():
    blocks = solution_blocks(SOURCE.read_text())
    assert len(blocks) == 6
    for body in blocks:
        code = "\n".join(body)
        assert not re.search(r"\b_[a-z]\w*", code.replace("__", "")), code       # no private helpers


# -- memory accounting -------------------------------------------------------------------------------
def test_memory_table_answers_the_ten_million_parameter_question():
    adam, sgdm, sgd = memory_table(10_000_000, "adam"), memory_table(10_000_000, "sgd_momentum"), \
        memory_table(10_000_000, "sgd")
    assert adam["parameters"] == adam["gradients"] == 40_000_000
    assert adam["optimizer_state"] == 80_000_000 and adam["total"] == 160_000_000
    assert sgdm["total"] == 120_000_000 and sgd["total"] == 80_000_000
    assert f"{(adam['total'] - sgdm['total']) / sgdm['total'] * 100:.0f}" == "33"
    assert adam["multiple_of_model"] == 4.0 and sgdm["multiple_of_model"] == 3.0
    with pytest.raises(ValueError, match="optimizer"):
        memory_table(10, "lion")


def test_training_memory_measures_the_real_buffers():
    model = mlp()
    n_bytes = sum(p.data.nbytes for p in model.parameters())
    adam = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, adam, CrossEntropyLoss())
    before = training_memory(model, adam)
    assert before["parameters"] == n_bytes and before["gradients"] == n_bytes
    assert before["optimizer_state"] == 0                     # Adam allocates its moments on first step
    trainer.train_epoch(classification_loaders()[0])
    after = training_memory(model, adam)
    assert after["optimizer_state"] == 2 * n_bytes
    assert after["total"] == 4 * n_bytes and after["activations"] is None
    sgd = SGD(model.parameters(), lr=0.1, momentum=0.9)
    Trainer(model, sgd, CrossEntropyLoss()).train_epoch(classification_loaders()[0])
    assert training_memory(model, sgd)["optimizer_state"] == n_bytes


def test_training_memory_estimates_activations_layer_by_layer():
    model = mlp(dropout=0.5)
    model.train()
    report = training_memory(model, None, batch_size=32, input_shape=(4,))
    # input 32x4, Linear 32x16, ReLU 32x16, Dropout 32x16, Linear 32x3; float32
    assert report["activations"] == 4 * 32 * (4 + 16 + 16 + 16 + 3)
    assert model.training is True
    assert report["total"] == report["parameters"] + report["gradients"] + report["activations"]




def test_seed_004_question_four_retention_strategy_keeps_seven_of_a_hundred():
    kept = retained_epochs(100, keep_last=3, every=25, best_epoch=72)
    assert kept == [25, 50, 72, 75, 98, 99, 100] and len(kept) == 3 + 1 + 3




@pytest.mark.parametrize("source", ["07_optimizers/07_optimizers.py", "08_training/08_training.py"])
def test_every_solution_block_has_a_hint_and_stays_short(source):
    """Brief rule 7: one to three comment lines above each block, the first a `# Hint:` naming the
    chapter section; a block is something a learner writes (train_epoch's is a loop body)."""
    lines = (REPO_ROOT / "src" / source).read_text().split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION"]
    assert starts
    for start in starts:
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        above = start - 1
        while lines[above].startswith(indent + "#") and not lines[above].strip().startswith("###"):
            above -= 1
        hint = lines[above + 1:start]
        assert 1 <= len(hint) <= 3 and hint[0].strip().startswith("# Hint:"), (source, start + 1)
        assert "chapter 0" in " ".join(hint), (source, start + 1)
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == "### END SOLUTION")
        assert end - start - 1 <= 25, (source, start + 1, end - start - 1)


# -- the accumulation window --------------------------------------------------------------------------
def test_a_window_of_one_batch_leaves_the_gradient_bit_for_bit():
    w = Tensor(np.zeros(3), requires_grad=True)
    window = AccumulationWindow([w])
    window.add(7)
    w.grad = np.array([0.1, 0.2, 0.3], np.float32)
    before = w.grad.copy()
    window.average()
    assert np.array_equal(w.grad, before) and window.batches == 0


def test_a_window_weights_each_batch_by_its_samples():
    w = Tensor(np.zeros(1), requires_grad=True)
    window = AccumulationWindow([w])
    means = [(3, 2.0), (3, 4.0), (1, 10.0)]          # (batch size, mean gradient of the batch)
    for n, g in means:
        window.add(n)
        w.grad = np.array([g], np.float32) if w.grad is None else w.grad + np.float32(g)
    window.average()
    assert w.grad[0] == pytest.approx((3 * 2 + 3 * 4 + 1 * 10) / 7, rel=1e-6)


def test_a_window_refuses_a_bad_batch_size():
    window = AccumulationWindow([])
    with pytest.raises(ValueError, match="batch_size"):
        window.add(0)
    with pytest.raises(TypeError, match=r"parameters\[0\]"):
        AccumulationWindow([np.ones(2)])


# -- running means --------------------------------------------------------------------------------------
def test_running_means_weight_batches_by_samples_and_record_none_where_undefined():
    means = RunningMeans([("accuracy", Accuracy(), True)])
    means.add(3, 1.0, Tensor([[0.5], [1.5], [2.0]]), Tensor([[0.7], [2.5], [1.0]]))      # regression
    means.add(1, 5.0, Tensor([[0.5]]), Tensor([[0.2]]))
    assert means.results() == {"loss": 2.0, "accuracy": None}
    assert math.isnan(RunningMeans([]).results()["loss"])


def test_a_metric_returning_text_is_a_type_error_naming_it():
    means = RunningMeans([("mine", lambda p, t: "0.5", False)])
    with pytest.raises(TypeError, match=r"metric 'mine' returned '0.5'"):
        means.add(1, 0.0, None, None, "epoch 0, batch 0")


# -- the model adapter ----------------------------------------------------------------------------------
class PlainModel:
    def __init__(self):
        self.w = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
        self.training = True

    def forward(self, x):
        return x @ self.w

    def parameters(self):
        return [self.w]


def test_a_plain_model_is_run_and_restored_by_position():
    model = PlainModel()
    check_model(model)
    assert run_model(model, Tensor(np.ones((1, 3)))).shape == (1, 2)
    state = model_state(model)
    model.w.data[:] = 5.0
    load_model_state(model, state)
    assert np.all(model.w.data == 1.0) and list(state) == ["parameters.0"]


@pytest.mark.parametrize("model", [object(), type("NoForward", (), {"parameters": lambda self: []})()])
def test_a_model_without_forward_gets_the_message_saying_what_a_model_needs(model):
    with pytest.raises(TypeError, match="a model needs forward\\(x\\) and parameters\\(\\)"):
        check_model(model)


# -- the epoch run and its rollback ---------------------------------------------------------------------
def test_a_snapshot_puts_back_none_zero_and_other_gradients():
    model = Linear(2, 2)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    model.weight.grad = np.zeros((2, 2), np.float32)
    model.bias.grad = np.array([1.0, 2.0], np.float32)
    snapshot = EpochSnapshot(trainer, [], training=True)
    model.weight.grad[...] = 7.0
    model.bias.grad = None
    snapshot.restore(trainer, [])
    assert np.array_equal(model.weight.grad, np.zeros((2, 2))) and model.bias.grad.tolist() == [1.0, 2.0]


def test_update_refuses_anything_but_the_run_of_a_training_pass():
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    with pytest.raises(TypeError, match="Trainer.update run"):
        trainer.update(None)
    run = EpochRun(trainer, [(np.ones((1, 2)), np.ones((1, 1)))], training=False)
    with pytest.raises(TypeError, match="run"):
        check_training_run("Trainer.update run", run)
    with pytest.raises(TypeError, match="norm"):
        run.skip_update("1.0")


def test_class_labels_take_the_usual_case_and_the_general_rule_alike():
    rng = np.random.default_rng(0)
    pred, true = rng.standard_normal((50, 4)), rng.integers(0, 4, 50)
    fast = class_labels(pred, true, 0.5, "Accuracy")
    general = class_labels(pred, true.astype(np.float64), 0.5, "Accuracy")
    assert np.array_equal(fast[0], general[0]) and np.array_equal(fast[1], general[1])


# -- the exact wording of the Trainer's messages (graded tests check type and argument only) -------------
def prepared():
    manual_seed(0)
    model = Sequential([Linear(4, 8), ReLU(), Dropout(0.2, seed=3), Linear(8, 3)])
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), CrossEntropyLoss())
    loader = DataLoader(SimpleDataset(size=64, num_features=4, num_classes=3, seed=0), batch_size=16)
    trainer.train_epoch(loader)
    return trainer, loader


def test_the_messages_name_epoch_batch_and_what_was_wrong():
    trainer, loader = prepared()
    x = np.zeros((8, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"epoch 1, batch 0: inputs of shape \(8, 4\) and targets of shape \(7,\)"):
        trainer.train_epoch([(x, np.zeros(7, dtype=np.int64))])
    trainer.loss_fn = lambda outputs, targets: 1.5
    with pytest.raises(TypeError, match=r"epoch 1, batch 0: loss_fn returned 1\.5"):
        trainer.train_epoch(loader)
    trainer.loss_fn = lambda outputs, targets: Tensor(0.5)
    with pytest.raises(ValueError, match=r"epoch 1, batch 0: the loss has no graph"):
        trainer.train_epoch(loader)
    trainer.loss_fn = lambda outputs, targets: (outputs * outputs).sum(axis=1)
    with pytest.raises(ValueError, match=r"epoch 1, batch 0: the loss must be a scalar"):
        trainer.train_epoch(loader)
    trainer.loss_fn = lambda outputs, targets: Tensor(1.0)       # a loss that accepts anything
    trainer.model.forward = lambda x: x.data
    with pytest.raises(TypeError, match=r"epoch 1, batch 0: the model returned array"):
        trainer.train_epoch(loader)


def test_the_non_finite_messages_say_what_and_where():
    manual_seed(0)
    model = Linear(2, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), lambda out, y: ((out - y) ** 2).mean() * float("nan"))
    with pytest.raises(FloatingPointError, match=r"non-finite loss nan at epoch 0, batch 0; pass nonfinite='skip'"):
        trainer.train_epoch([(np.ones((2, 2), np.float32), np.ones((2, 1), np.float32))])


def test_clip_grad_norm_names_a_read_only_gradient():
    a = Tensor(np.zeros(2), requires_grad=True)
    a.grad = np.ones(2, np.float32)
    a.grad.flags.writeable = False
    with pytest.raises(ValueError, match=r"clip_grad_norm parameters\[0\]\.grad is read-only"):
        clip_grad_norm([a], 0.1)
