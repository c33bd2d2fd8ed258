"""White-box checks of the reference tinytorch.core.tensor (ungraded: tito never runs them).

What the graded files (test_01_*.py) cannot ask of a learner: that construction and the inspection
helpers copy nothing, that the float32 hot path returns the very tensor it was given, and the exact
wording of the reference's messages (they name the operation and both shapes)."""
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, as_float, concat, stack, unbroadcast


# ---------------------------------------------------------------- no copies we do not need

def test_float32_data_is_not_copied():
    a = np.ones(3, dtype=np.float32)
    assert Tensor(a).data is a


def test_numpy_returns_the_data_itself():
    x = Tensor([1.0, 2.0])
    assert x.numpy() is x.data


def test_detach_shares_the_data():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    d = y.detach()
    assert d.data is y.data or np.shares_memory(d.data, y.data)


def test_unbroadcast_returns_the_same_array_when_nothing_was_broadcast():
    g = np.ones((2, 3), dtype=np.float32)
    assert unbroadcast(g, (2, 3)) is g


def test_as_float_is_free_for_floating_tensors():
    x = Tensor([1.0, 2.0])
    assert as_float(x) is x, "the float32 hot path returns the same tensor, no copy"
    y = Tensor([1.0], dtype=np.float64)
    assert as_float(y) is y, "float64 is floating too: as_float never changes precision"


def test_operation_results_wrap_the_array_numpy_returned():
    x = Tensor(np.ones((2, 3), np.float32))
    y = x.reshape(3, 2)
    assert np.shares_memory(y.data, x.data), "reshape of a contiguous array is a view"


# ---------------------------------------------------------------- the reference's exact messages

@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a / b])
def test_broadcast_error_names_both_shapes(op):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\) cannot be broadcast together"):
        op(Tensor(np.ones((2, 3))), Tensor(np.ones(4)))


def test_matmul_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\): inner dimensions 3 and 4 must match"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\) @ \(2,\)"):
        Tensor(np.ones(3)) @ Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"at least 1 dimension, got \(\) @ \(2,\)"):
        Tensor(2.0) @ Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"matmul \(batch dimensions\): shapes \(2, 2, 3\) and \(3, 3, 4\)"):
        Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 4)))


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"cannot view 6 elements of shape \(2, 3\) as \(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match=r"needs a one-element tensor, got shape \(2,\)"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(IndexError, match=r"into a tensor of shape \(2, 3\)"):
        Tensor(np.ones((2, 3)))[5]
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Tensor(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        concat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        stack([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))])
    for join in (concat, stack):
        with pytest.raises(ValueError, match="at least one tensor"):
            join([])


def test_dtype_errors_name_the_dtype():
    with pytest.raises(TypeError, match=r"Tensor\(requires_grad=True\) needs floating data, got dtype int64"):
        Tensor(np.array([1, 2], dtype=np.int64), requires_grad=True)
    with pytest.raises(ValueError, match="an integer tensor to a negative integer power"):
        Tensor([1, 2]) ** -1
    with pytest.raises(ValueError, match="power: an integer tensor to a negative integer power"):
        Tensor([1, 2]) ** Tensor([-1, 1])
