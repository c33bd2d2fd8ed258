"""tinytorch.core.kernels: each route returns what the plain NumPy expression returns, on both
sides of its size switch, for any memory layout, and refuses what it cannot compute."""
import numpy as np
import pytest

from tinytorch.core import kernels
from tinytorch.core.kernels import affine, column_sums, row_max, row_sums

RNG = np.random.default_rng(0)
# rows below and above kernels._FEW_ROWS (where the BLAS routes start), and an empty batch
SHAPES = [(1, 3), (5, 10), (31, 7), (32, 7), (64, 10), (256, 128), (0, 4)]


def matrix(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_and_max_equal_numpy(shape, dtype):
    a = matrix(shape, dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert column_sums(a).dtype == dtype and row_sums(a).dtype == dtype
    np.testing.assert_allclose(column_sums(a), a.sum(axis=0), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(row_sums(a), a.sum(axis=1), rtol=tol, atol=tol * 10)
    if shape[1]:
        np.testing.assert_array_equal(row_max(a), a.max(axis=1))     # a max is exact


def test_non_contiguous_inputs():
    a = matrix((128, 64))
    for view in (a.T, a[::2], a[:, ::3]):
        np.testing.assert_allclose(column_sums(view), view.sum(axis=0), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(row_sums(view), view.sum(axis=1), rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(row_max(view), view.max(axis=1))


def test_row_max_propagates_nan_and_inf_like_max():
    a = matrix((40, 5))
    a[3, 2], a[7, 0], a[9, 4] = np.nan, np.inf, -np.inf
    np.testing.assert_array_equal(row_max(a), a.max(axis=1))


@pytest.mark.parametrize("rows", [40, 64])
def test_column_sums_writes_into_out_of_any_layout(rows):
    a = matrix((rows, 6))
    for out in (np.empty(6, np.float32), np.empty(6, np.float64), np.empty((6, 2), np.float32)[:, 1]):
        assert column_sums(a, out=out) is out
        np.testing.assert_allclose(out, a.sum(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch, width", [(3, 40), (40, 3), (64, 128), (256, 128), (16, 16),
                                          (64, 256), (64, 257), (16, 2048)])
@pytest.mark.parametrize("bias", [True, False])
def test_affine_equals_the_plain_product_on_every_route(batch, width, bias):
    x, w = matrix((batch, 20)), matrix((width, 20))
    b = matrix((width,)) if bias else None
    out = affine(x, w, b)
    expected = x @ w.T + (b if bias else 0)
    assert out.shape == (batch, width) and out.dtype == np.float32
    # fewer rows than the width: the transposed product, F-ordered, as BLAS left it
    assert out.flags.f_contiguous if batch < width else out.flags.c_contiguous
    assert not np.shares_memory(out, x) and not np.shares_memory(out, w)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    if bias:                                  # the bias is added exactly as `x @ w.T + b` adds it
        np.testing.assert_array_equal(out, affine(x, w) + b)


def test_affine_on_1d_and_3d_inputs_and_an_integer_bias():
    w, b = matrix((4, 3)), matrix((4,))
    np.testing.assert_allclose(affine(matrix((3,))[None][0], w, b).shape, (4,))
    x = matrix((2, 5, 3))
    np.testing.assert_allclose(affine(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
    out = affine(matrix((2, 3)), w, np.arange(4))
    assert out.dtype == np.float32       # the bias is added in place, as `out += b` would


@pytest.mark.parametrize("call, error", [
    (lambda: column_sums([[1.0, 2.0]]), TypeError),             # a list, not an ndarray
    (lambda: column_sums(np.ones(3, np.float32)), TypeError),  # 1-D
    (lambda: row_sums(np.ones((2, 2), np.int64)), TypeError),  # integers
    (lambda: row_max(np.ones((3, 0), np.float32)), ValueError),
    (lambda: column_sums(np.ones((2, 3), np.float32), out=np.empty(4, np.float32)), ValueError),
    (lambda: affine(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)), ValueError),
    (lambda: affine(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), np.ones(5, np.float32)), ValueError),
    (lambda: affine("x", np.ones((4, 3), np.float32)), TypeError),
])
def test_refusals_name_the_function(call, error):
    with pytest.raises(error) as info:
        call()
    assert any(name in str(info.value) for name in ("column_sums", "row_sums", "row_max", "affine"))


def test_the_ones_vectors_cannot_be_changed():
    ones = kernels._ones(64, np.dtype(np.float32))
    with pytest.raises(ValueError):
        ones[0] = 2.0
