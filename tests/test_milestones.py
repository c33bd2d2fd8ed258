"""The milestones: an MLP and a CNN reach their test accuracy on the real digits.

Each milestone runs as `python -m tinytorch.milestones NAME` in a subprocess (the command
`tito milestone run` uses), with BLAS pinned to one thread before NumPy loads: on a busy machine
BLAS worker threads that wait for a core make a small network many times slower, while the
result is the same. The accuracy asserted is the one printed, at the fixed seed 0.
Graded for module 10 (`tito test 10`): behaviour only. That bench/bench_digits.py trains like the
Trainer is a check of the bench, in tests/internals/test_bench_digits.py.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tinytorch.milestones import MILESTONES, shift_augment, standardize, train_mlp

PRINTED = re.compile(r"milestone (\w+): test accuracy (0\.\d{4}) \((\d+)/(\d+) test digits\) after "
                     r"(\d+) epochs in [\d.]+ s; target (0\.\d\d) (reached|NOT reached)")


def run_milestone(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "tinytorch.milestones", *args], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("name, target", [("mlp", 0.97), ("cnn", 0.98)])
def test_milestone_reaches_its_target(name, target):
    result = run_milestone(name)
    match = PRINTED.search(result.stdout)
    assert match, (result.stdout, result.stderr)
    printed_name, accuracy, right, total, epochs, printed_target, verdict = match.groups()
    assert printed_name == name and float(printed_target) == target
    assert int(total) == 359 and float(accuracy) == pytest.approx(int(right) / int(total), abs=5e-5)
    assert float(accuracy) >= target, result.stdout
    assert verdict == "reached" and result.returncode == 0


def test_milestone_below_target_exits_1():
    result = run_milestone("mlp", "--epochs", "1", "--seed", "3")
    match = PRINTED.search(result.stdout)
    assert match, (result.stdout, result.stderr)
    reached = float(match.group(2)) >= 0.97
    assert result.returncode == (0 if reached else 1) and match.group(7) == ("reached" if reached else "NOT reached")
    assert match.group(5) == "1"


def test_milestone_cli_rejects_an_unknown_name():
    result = run_milestone("transformer")
    assert result.returncode == 2 and "transformer" in result.stderr


def test_train_mlp_result_is_consistent():
    result = train_mlp(seed=0, epochs=3)
    assert result.name == "mlp" and result.epochs == 3 and result.seed == 0
    assert result.test_accuracy == pytest.approx(float(np.mean(result.predictions == result.labels)))
    assert result.errors == int((result.predictions != result.labels).sum())
    assert result.images.shape == (359, 8, 8) and result.labels.shape == (359,)
    assert result.num_parameters == 64 * 64 + 64 + 64 * 10 + 10
    assert result.train_samples == 5 * 1438
    assert len(result.history["train_loss"]) == 3 and result.history["train_loss"][-1] < result.history["train_loss"][0]
    again = train_mlp(seed=0, epochs=3)
    assert np.array_equal(again.predictions, result.predictions)      # one seed fixes the whole run


def test_train_mlp_bad_arguments():
    with pytest.raises(ValueError, match="epochs"):
        train_mlp(epochs=0)
    with pytest.raises(TypeError, match="seed"):
        train_mlp(seed=0.5)


def test_milestones_registry():
    assert sorted(MILESTONES) == ["cnn", "mlp"]


def test_shift_augment_moves_each_copy_one_pixel():
    rng = np.random.default_rng(0)
    images = rng.random((3, 1, 8, 8)).astype(np.float32)
    images[:, :, 0, :] = images[:, :, -1, :] = images[:, :, :, 0] = images[:, :, :, -1] = 0  # blank border
    big, labels = shift_augment(images, np.array([1, 2, 3]))
    assert big.shape == (15, 1, 8, 8) and labels.tolist() == [1, 2, 3] * 5
    np.testing.assert_array_equal(big[:3], images)
    np.testing.assert_array_equal(big[3:6], np.roll(images, -1, axis=2))    # up
    np.testing.assert_array_equal(big[6:9], np.roll(images, 1, axis=2))     # down
    np.testing.assert_array_equal(big[9:12], np.roll(images, -1, axis=3))   # left
    np.testing.assert_array_equal(big[12:15], np.roll(images, 1, axis=3))   # right


def test_standardize_uses_training_statistics_only():
    train = np.array([[0.0, 2.0], [2.0, 2.0], [4.0, 2.0]])
    test = np.array([[100.0, 2.0]])
    out_train, out_test = standardize(train, test, eps=0.0 + 1e-6)
    assert out_train.dtype == np.float32
    np.testing.assert_allclose(out_train[:, 0].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(out_test[0, 0], (100 - 2) / np.sqrt(8 / 3), rtol=1e-4)
    assert np.all(out_train[:, 1] == 0)             # a constant pixel is not divided by zero

