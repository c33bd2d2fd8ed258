"""tinytorch.core.kernels.matrix_product returns what `a @ b` returns, into any `out` of the right
shape, and refuses what it cannot compute; `check=False` on every kernel skips only the checks (the
same results for valid input), and `check` accepts nothing but True and False."""
import numpy as np
import pytest

from tinytorch.core.kernels import affine, column_sums, input_gradient, matrix_product, row_max, row_sums

RNG = np.random.default_rng(0)


def matrix(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, k, m", [(1, 1, 1), (3, 5, 2), (64, 20, 10), (10, 64, 128), (0, 4, 3), (4, 0, 3)])
def test_matrix_product_equals_the_plain_product(dtype, n, k, m):
    a, b = matrix((n, k), dtype), matrix((k, m), dtype)
    out = matrix_product(a, b)
    assert type(out) is np.ndarray and out.shape == (n, m) and out.dtype == dtype
    np.testing.assert_allclose(out, a @ b, **tolerance(dtype))


def test_matrix_product_of_non_contiguous_inputs():
    a, b = matrix((40, 30)), matrix((40, 20))
    for x, y in ((a.T, b), (a[::2].T, b[::2]), (a[:, ::3], b.T[::3].T[:10])):
        np.testing.assert_allclose(matrix_product(x, y), x @ y, rtol=1e-5, atol=1e-5)


def test_matrix_product_mixed_precision_follows_numpy():
    a, b = matrix((3, 4), np.float32), matrix((4, 2), np.float64)
    out = matrix_product(a, b)
    assert out.dtype == (a @ b).dtype
    np.testing.assert_allclose(out, a @ b, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_product_writes_into_a_c_ordered_out_of_its_dtype(dtype):
    a, b = matrix((6, 5), dtype), matrix((5, 4), dtype)
    out = np.full((6, 4), np.nan, dtype)
    assert matrix_product(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, **tolerance(dtype))


def test_matrix_product_casts_into_a_float64_out():
    a, b = matrix((6, 5)), matrix((5, 4))
    out = np.full((6, 4), np.nan)
    assert matrix_product(a, b, out=out) is out
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_product_writes_into_a_non_c_ordered_out(dtype):
    a, b = matrix((6, 5)), matrix((5, 4))
    transposed = np.full((4, 6), np.nan, dtype).T           # shape (6, 4), F-ordered
    assert matrix_product(a, b, out=transposed) is transposed
    np.testing.assert_allclose(transposed, a @ b, rtol=1e-5, atol=1e-5)
    wide = np.full((6, 8), np.nan, np.float32)
    strided = wide[:, ::2]                                  # shape (6, 4), every other column
    assert matrix_product(a, b, out=strided) is strided
    np.testing.assert_allclose(strided, a @ b, rtol=1e-5, atol=1e-5)
    assert np.all(np.isnan(wide[:, 1::2]))                  # the columns in between are untouched


def test_matrix_product_into_its_own_gradient_buffer_shape():
    # Linear's weight gradient: rows.T @ inputs, with rows.T an F-ordered view
    rows, inputs = matrix((64, 10)), matrix((64, 20))
    out = np.empty((10, 20), np.float32)
    matrix_product(rows.T, inputs, out=out)
    np.testing.assert_allclose(out, rows.T @ inputs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call, error", [
    (lambda: matrix_product(np.ones(3, np.float32), np.ones((3, 2), np.float32)), TypeError),    # 1-D a
    (lambda: matrix_product(np.ones((2, 3, 1), np.float32), np.ones((1, 2), np.float32)), TypeError),
    (lambda: matrix_product(np.ones((2, 3), np.float32), np.ones(3, np.float32)), TypeError),    # 1-D b
    (lambda: matrix_product([[1.0, 2.0]], np.ones((2, 1), np.float32)), TypeError),             # a list
    (lambda: matrix_product(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64)), TypeError),  # integers
    (lambda: matrix_product(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32)), ValueError),
    (lambda: matrix_product(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32),
                            out=np.empty((3, 2), np.float32)), ValueError),
    (lambda: matrix_product(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32),
                            out=np.empty(4, np.float32)), ValueError),
    (lambda: matrix_product(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32),
                            out=[[0.0, 0.0], [0.0, 0.0]]), ValueError),
])
def test_matrix_product_refusals_name_the_function(call, error):
    with pytest.raises(error, match="matrix_product"):
        call()


def test_matrix_product_refusal_changes_no_out():
    out = np.full((2, 2), 5.0, np.float32)
    with pytest.raises(ValueError):
        matrix_product(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32), out=out)
    np.testing.assert_array_equal(out, np.full((2, 2), 5.0))


# ------------------------------------------------------------------------------------- check=False

@pytest.mark.parametrize("rows", [5, 64])         # both sides of kernels._FEW_ROWS
def test_check_false_gives_the_same_results(rows):
    a = matrix((rows, 12))
    w, b = matrix((7, 12)), matrix((7,))
    np.testing.assert_array_equal(column_sums(a, check=False), column_sums(a, check=True))
    out_checked, out_unchecked = np.empty(12, np.float32), np.empty(12, np.float32)
    column_sums(a, out=out_checked)
    assert column_sums(a, out=out_unchecked, check=False) is out_unchecked
    np.testing.assert_array_equal(out_unchecked, out_checked)
    np.testing.assert_array_equal(row_sums(a, check=False), row_sums(a, check=True))
    np.testing.assert_array_equal(row_max(a, check=False), row_max(a, check=True))
    np.testing.assert_array_equal(affine(a, w, b, check=False), affine(a, w, b, check=True))
    np.testing.assert_array_equal(affine(a, w, check=False), affine(a, w, check=True))
    c = matrix((12, 9))
    np.testing.assert_array_equal(matrix_product(a, c, check=False), matrix_product(a, c, check=True))
    out = np.empty((rows, 9), np.float32)
    assert matrix_product(a, c, out=out, check=False) is out
    np.testing.assert_array_equal(out, matrix_product(a, c))
    np.testing.assert_allclose(out, a @ c, rtol=1e-5, atol=1e-5)


CALLS = {
    "column_sums": lambda check: column_sums(matrix((4, 3)), check=check),
    "row_sums": lambda check: row_sums(matrix((4, 3)), check=check),
    "row_max": lambda check: row_max(matrix((4, 3)), check=check),
    "affine": lambda check: affine(matrix((4, 3)), matrix((2, 3)), matrix((2,)), check=check),
    "matrix_product": lambda check: matrix_product(matrix((4, 3)), matrix((3, 2)), check=check),
    "input_gradient": lambda check: input_gradient(matrix((4, 2)), matrix((2, 3)), matrix((4, 3)), check=check),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("check", ["yes", 1, 0, None, 1.0, np.True_, [True]])
def test_check_must_be_true_or_false(name, check):
    with pytest.raises(TypeError, match=f"{name} check"):
        CALLS[name](check)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_check_is_keyword_only(name):
    a = matrix((4, 3))
    calls = {
        "column_sums": lambda: column_sums(a, None, False),
        "row_sums": lambda: row_sums(a, False),
        "row_max": lambda: row_max(a, False),
        "affine": lambda: affine(a, matrix((2, 3)), None, False),
        "matrix_product": lambda: matrix_product(a, matrix((3, 2)), None, False),
        "input_gradient": lambda: input_gradient(a, matrix((3, 2)), matrix((4, 2)), False),
    }
    with pytest.raises(TypeError):
        calls[name]()


def test_check_true_still_refuses_bad_input():
    with pytest.raises(TypeError, match="matrix_product"):
        matrix_product(np.ones(3, np.float32), np.ones((3, 2), np.float32), check=True)
    with pytest.raises(ValueError, match="affine"):
        affine(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32), check=True)


# ---------------------------------------------------------------------------------- input_gradient

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, m, k", [(1, 1, 1), (3, 5, 2), (64, 128, 784), (64, 64, 128), (0, 4, 3)])
def test_input_gradient_is_g_at_w_in_the_order_of_x(dtype, n, m, k):
    g, w = matrix((n, m), dtype), matrix((m, k), dtype)
    for x in (np.empty((n, k), dtype), np.empty((k, n), dtype).T):       # C-ordered, then F-ordered
        grad = input_gradient(g, w, x)
        assert type(grad) is np.ndarray and grad.shape == (n, k) and grad.dtype == dtype
        np.testing.assert_allclose(grad, g @ w, **tolerance(dtype))
        if x.flags.f_contiguous and not x.flags.c_contiguous:
            assert grad.flags.f_contiguous
        else:
            assert grad.flags.c_contiguous


def test_input_gradient_of_other_shapes_is_c_ordered():
    w = matrix((4, 3))
    for g, x in ((matrix((4,)), np.empty(3, np.float32)),                    # one sample
                 (matrix((2, 5, 4)), np.empty((2, 5, 3), np.float32)),        # a batch of sequences
                 (matrix((6, 4)), np.empty((6, 6), np.float32)[:, :3])):      # x neither C nor F
        grad = input_gradient(g, w, x)
        assert grad.flags.c_contiguous and grad.shape == x.shape
        np.testing.assert_allclose(grad, g @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("args, error", [
    ((np.ones((2, 4), np.float32), np.ones((4, 3), np.float32), [[0.0] * 3] * 2), TypeError),   # x a list
    ((np.ones((2, 4), np.int64), np.ones((4, 3), np.float32), np.zeros((2, 3))), TypeError),     # integer g
    ((np.ones((2, 4), np.float32), np.ones((5, 3), np.float32), np.zeros((2, 3))), ValueError),  # g, w do not chain
    ((np.ones((2, 4), np.float32), np.ones((4, 3), np.float32), np.zeros((3, 2))), ValueError),  # x the wrong shape
    ((np.ones((2, 4), np.float32), np.ones(4, np.float32), np.zeros((2, 3))), ValueError),       # w 1-D
])
def test_input_gradient_refuses_what_it_cannot_compute(args, error):
    with pytest.raises(error, match="input_gradient needs"):
        input_gradient(*args)

