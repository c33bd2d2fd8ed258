"""Tests for tinytorch.core.losses: gradients, values, stability, dtypes, what is recorded, errors.

Graded: behaviour only. The reference's own guarantees (one graph node per loss, a BCE that stays
silent at p = 0 and 1, its exact messages) are checked in internals/test_core_losses.py."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import check_gradients
from tinytorch.core.losses import (BCELoss, BCEWithLogitsLoss, BinaryCrossEntropyLoss, CrossEntropyLoss,
                                   MeanSquaredError, MSELoss, binary_cross_entropy,
                                   binary_cross_entropy_with_logits, cross_entropy, mse_loss)
from tinytorch.core.tensor import Tensor

LOSS_CLASSES = [MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss, BCEWithLogitsLoss]


def batch(n, c, seed=0):
    """Logits (n, c), integer labels (n,), probability rows (n, c), binary probabilities/targets (n, c)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 2
    labels = rng.integers(0, c, size=n)
    probs = rng.dirichlet(np.ones(c), size=n)
    p = rng.uniform(0.05, 0.95, size=(n, c))
    t = rng.uniform(0, 1, size=(n, c))
    return logits, labels, probs, p, t


# ---------------------------------------------------------------- gradients (float64, central differences)

@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 5), seed=st.integers(0, 1000))
def test_gradients_match_central_differences(n, c, seed):
    logits, labels, probs, p, t = batch(n, c, seed)
    check_gradients(mse_loss, logits, t)                                    # wrt prediction and target
    check_gradients(lambda x: cross_entropy(x, labels), logits)
    check_gradients(cross_entropy, logits, probs)                           # soft targets: both
    check_gradients(cross_entropy, logits, t)                               # rows not summing to 1
    check_gradients(binary_cross_entropy, p, t)
    check_gradients(binary_cross_entropy_with_logits, logits, t)


def test_gradients_wrt_prediction_only():
    logits, labels, probs, p, t = batch(3, 4)
    for fn, a, b in [(mse_loss, logits, t), (cross_entropy, logits, probs), (binary_cross_entropy, p, t),
                     (binary_cross_entropy_with_logits, logits, t)]:
        check_gradients(fn, a, b, wrt=[0])


def test_gradients_of_other_shapes():
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((2, 3, 2)), rng.uniform(0, 1, (2, 3, 2))
    check_gradients(mse_loss, x, t)
    check_gradients(binary_cross_entropy_with_logits, x, t)
    check_gradients(binary_cross_entropy, rng.uniform(0.1, 0.9, 5), rng.uniform(0, 1, 5))


# ---------------------------------------------------------------- values against the formulas

def test_values_against_formulas():
    logits, labels, probs, p, t = batch(6, 4)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    cases = [
        (mse_loss(Tensor(logits), t), np.mean((logits - t) ** 2)),
        (cross_entropy(Tensor(logits), labels), -logp[np.arange(6), labels].mean()),
        (cross_entropy(Tensor(logits), probs), -(probs * logp).sum() / 6),
        (binary_cross_entropy(Tensor(p), t), -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))),
        (binary_cross_entropy_with_logits(Tensor(logits), t),
         -np.mean(t * np.log(1 / (1 + np.exp(-logits))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-logits))))),
    ]
    for loss, want in cases:
        assert loss.shape == () and loss.dtype == np.float32
        assert np.isclose(loss.item(), want, rtol=1e-5)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits, labels, _, _, _ = batch(5, 3)
    x = Tensor(logits, requires_grad=True)
    cross_entropy(x, labels).backward()
    s = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad, (s - np.eye(3)[labels]) / 5, rtol=1e-5, atol=1e-7)


def test_one_hot_targets_equal_labels():
    logits, labels, _, _, _ = batch(4, 5)
    a, b = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    la, lb = cross_entropy(a, labels), cross_entropy(b, np.eye(5, dtype=np.int64)[labels])
    la.backward()
    lb.backward()
    assert np.isclose(la.item(), lb.item(), rtol=1e-6)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("convert", [list, np.asarray, Tensor], ids=["list", "ndarray", "Tensor"])
def test_targets_may_be_lists_arrays_or_tensors(convert):
    pred = Tensor([[0.2, 0.8], [0.6, 0.4]])
    assert np.isclose(cross_entropy(pred, convert([1, 0])).item(), cross_entropy(pred, [1, 0]).item())
    assert np.isclose(mse_loss(pred, convert([[0.0, 1.0], [1.0, 0.0]])).item(), 0.1)
    assert np.isclose(binary_cross_entropy(pred, convert([[0.0, 1.0], [1.0, 0.0]])).item(),
                      -np.log([0.8, 0.8, 0.6, 0.6]).mean(), rtol=1e-6)


def test_aliases_and_objects():
    assert MeanSquaredError is MSELoss and BCELoss is BinaryCrossEntropyLoss
    pred = Tensor([[0.3, 0.7]])
    for cls, fn, target in [(MSELoss, mse_loss, [[0.0, 1.0]]), (CrossEntropyLoss, cross_entropy, [1]),
                            (BinaryCrossEntropyLoss, binary_cross_entropy, [[0.0, 1.0]]),
                            (BCEWithLogitsLoss, binary_cross_entropy_with_logits, [[0.0, 1.0]])]:
        loss = cls()
        assert loss(pred, target).item() == loss.forward(pred, target).item() == fn(pred, target).item()
        assert loss.parameters() == [] and cls.__name__ in repr(loss)


# ---------------------------------------------------------------- stability and the BCE clamp

def _silently(fn, *args):
    """Stable formulas are the lesson of these two losses (chapter 04, "Stability"): with logits of
    any size they never overflow, so nothing warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # any RuntimeWarning (overflow, log(0), 0/0) fails
        return fn(*args)


def test_cross_entropy_with_huge_logits_is_finite_and_exact():
    x = Tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], requires_grad=True)
    loss = _silently(cross_entropy, x, [1, 0])
    _silently(loss.backward)
    assert loss.item() == 2000.0
    assert np.isfinite(x.grad).all()
    soft = _silently(cross_entropy, Tensor(x.data), np.full((2, 3), 1 / 3, np.float32))
    assert np.isfinite(soft.item())


def test_bce_with_logits_of_huge_magnitude():
    x = Tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    loss = _silently(binary_cross_entropy_with_logits, x, [1.0, 0.0, 0.0, 1.0])
    _silently(loss.backward)
    assert loss.item() == 500.0
    np.testing.assert_array_equal(x.grad, [0, 0, 0.25, -0.25])


def test_bce_clamps_logs_at_minus_100_like_pytorch():
    p = Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):          # log(0) before the clamp may warn: the values count
        loss = binary_cross_entropy(p, [1.0, 0.0, 0.0, 1.0])
        loss.backward()
    assert loss.item() == 50.0                  # (100 + 100 + 0 + 0) / 4
    assert np.isfinite(p.grad).all()
    np.testing.assert_allclose(p.grad, [-0.25e12, 0.25e12, 0, 0], rtol=1e-6)  # (p - t) / max(p(1-p), 1e-12) / n


# ---------------------------------------------------------------- dtypes, one node, no-grad

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    logits, labels, probs, p, t = batch(3, 4)
    for fn, a, b in [(mse_loss, logits, t), (cross_entropy, logits, labels), (cross_entropy, logits, probs),
                     (binary_cross_entropy, p, t), (binary_cross_entropy_with_logits, logits, t)]:
        x = Tensor(a, dtype=dtype, requires_grad=True)
        loss = fn(x, b)                            # b is a float64 array: it must not promote
        assert loss.dtype == dtype and loss.shape == ()
        loss.backward()
        assert x.grad.dtype == dtype


def test_a_target_gets_a_gradient_only_when_it_requires_one():
    logits, labels, probs, p, t = batch(3, 4)
    for fn, a, b in [(mse_loss, logits, t), (cross_entropy, logits, labels), (cross_entropy, logits, probs),
                     (binary_cross_entropy, p, t), (binary_cross_entropy_with_logits, logits, t)]:
        x, constant = Tensor(a, requires_grad=True), Tensor(b)
        fn(x, constant).backward()
        assert x.grad is not None and x.grad.shape == x.shape
        assert constant.grad is None, "a target that needs no gradient receives none"
        if b.dtype.kind == "f":
            target = Tensor(b, requires_grad=True)
            fn(Tensor(a), target).backward()
            assert target.grad is not None and target.grad.shape == target.shape


def test_nothing_is_recorded_without_requires_grad():
    loss = cross_entropy(Tensor(np.ones((2, 3))), [0, 1])
    assert not loss.requires_grad and loss.grad_fn is None


def test_target_gradient_without_prediction_gradient():
    target = Tensor([[0.2, 0.8]], requires_grad=True)
    pred = Tensor([[1.0, 0.0]])
    mse_loss(pred, target).backward()
    np.testing.assert_allclose(target.grad, [[-0.8, 0.8]], rtol=1e-6)
    assert pred.grad is None


# ---------------------------------------------------------------- errors

def test_pred_must_be_a_tensor_and_integer_predictions_become_float32():
    for fn in (mse_loss, cross_entropy, binary_cross_entropy, binary_cross_entropy_with_logits):
        with pytest.raises(TypeError, match="predictions"):
            fn(np.ones((2, 2)), np.ones((2, 2)))
    loss = mse_loss(Tensor([1, 2]), [1, 4])       # the integer rule: promoted, not refused
    assert loss.dtype == np.float32 and loss.item() == 2.0


@pytest.mark.parametrize("fn", [mse_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
                                cross_entropy])
def test_mismatched_shapes_name_the_loss(fn):
    pred = Tensor(np.full((4, 3), 0.5), requires_grad=True)
    with pytest.raises(ValueError, match=rf"\b{fn.__name__}\b"):
        fn(pred, np.full((5, 3), 0.5))
    assert pred.grad is None


def test_cross_entropy_label_batch_mismatch():
    with pytest.raises(ValueError, match="labels"):
        cross_entropy(Tensor(np.zeros((4, 3))), [0, 1, 2, 0, 1])


@pytest.mark.parametrize("bad", [3, 7, -1])
def test_cross_entropy_label_out_of_range_names_the_label(bad):
    with pytest.raises(ValueError, match=r"\blabel\b"):
        CrossEntropyLoss()(Tensor(np.zeros((4, 3))), [0, 1, bad, 2])


@pytest.mark.parametrize("dtype", ["<i8", ">i4", "<i2", ">i2", "u1", ">u4"])
def test_cross_entropy_labels_of_any_integer_dtype_and_byte_order(dtype):
    logits = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    good = np.array([0, 2, 1, 2], dtype=dtype)
    assert cross_entropy(logits, good).item() == pytest.approx(cross_entropy(logits, [0, 2, 1, 2]).item())
    bad = np.array([0, 3, 1, 2], dtype=dtype)
    with pytest.raises(ValueError, match=r"\blabel\b"):
        cross_entropy(logits, bad)
    if np.dtype(dtype).kind == "i":       # a negative label seen as unsigned is large: refused too
        with pytest.raises(ValueError, match=r"\blabel\b"):
            cross_entropy(logits, np.array([0, -1, 1, 2], dtype=dtype))


def test_cross_entropy_other_bad_input():
    with pytest.raises(TypeError, match="labels"):
        cross_entropy(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(Tensor(np.zeros(6)), [0])
    with pytest.raises(ValueError, match="cross_entropy"):
        cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, np.int64))


def test_bce_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match="predictions"):
        binary_cross_entropy(Tensor([0.5, 1.5]), [1.0, 1.0])
    with pytest.raises(ValueError, match="predictions"):
        binary_cross_entropy(Tensor([-0.1]), [1.0])
