"""Tests for tinytorch.core.tensor: every differentiable operation against central differences
(float64, random shapes with broadcasting, drawn by hypothesis), dtype rules, inspection helpers and
errors (their type, and the operation the message names). The graph engine itself (accumulation,
freeing, no_grad) is tested in test_06_autograd.py; agreement with PyTorch in test_01_tensor_torch.py.

Graded: behaviour only. What the reference guarantees beyond that (no copies, shared arrays, the
exact wording of its messages) is checked in internals/test_core_tensor.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcheck import check_gradients
from tinytorch.core.tensor import Tensor, concat, stack, unbroadcast

SETTINGS = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def values(seed, shape, kind="any"):
    """float64 test inputs: 'any' in [-2, 2]; 'positive' in [0.5, 2] (safe for log, sqrt, 1/x);
    'distinct' with gaps of at least 0.05 between any two entries (max has no ties within eps)."""
    rng = np.random.default_rng(seed)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "distinct":
        size = int(np.prod(shape))
        return (rng.permutation(size) * 0.1 + rng.uniform(-0.02, 0.02, size) - 0.05 * size).reshape(shape)
    return rng.uniform(-2.0, 2.0, size=shape)


@st.composite
def broadcast_pairs(draw):
    """Two shapes that broadcast together, in either order (one may have fewer dimensions)."""
    first = draw(shapes)
    second = draw(hnp.broadcastable_shapes(first, min_dims=0, max_dims=3, max_side=4))
    return (first, second) if draw(st.booleans()) else (second, first)


# ------------------------------------------------------------------ binary ops with broadcasting

BINARY = {  # name: (function, kind of values for a, kind for b)
    "add": (lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, "any", "positive"),     # the denominator stays away from 0
    "pow": (lambda a, b: a ** b, "positive", "any"),    # a positive base: log(a) is defined
}


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(pair=broadcast_pairs(), seed=seeds)
def test_binary_gradients_with_broadcasting(name, pair, seed):
    fn, kind_a, kind_b = BINARY[name]
    a, b = values(seed, pair[0], kind_a), values(seed + 1, pair[1], kind_b)
    check_gradients(fn, a, b)
    check_gradients(fn, a, b, wrt=[0])   # a constant operand gets no gradient and costs nothing
    check_gradients(fn, a, b, wrt=[1])


@pytest.mark.parametrize("name", BINARY)
def test_binary_same_tensor_on_both_sides(name):
    """x op x: both gradient contributions reach the same leaf and are summed."""
    fn = BINARY[name][0]
    check_gradients(lambda x: fn(x, x), values(3, (2, 3), "positive"))


SCALAR_FORMS = {
    "x + 2.0": lambda x: x + 2.0,
    "2.0 + x": lambda x: 2.0 + x,
    "x - 2.0": lambda x: x - 2.0,
    "2.0 - x": lambda x: 2.0 - x,
    "3.0 * x": lambda x: 3.0 * x,
    "x * 3": lambda x: x * 3,
    "x / 4.0": lambda x: x / 4.0,
    "2.0 / x": lambda x: 2.0 / x,
    "-x": lambda x: -x,
    "x ** 2": lambda x: x ** 2,
    "x ** 3": lambda x: x ** 3,
    "x ** -1": lambda x: x ** -1,
    "x ** 2.5": lambda x: x ** 2.5,
    "x ** -1.5": lambda x: x ** -1.5,
    "x ** 0.5": lambda x: x ** 0.5,
    "x ** np.float64(2)": lambda x: x ** np.float64(2.0),
    "np.float64(3) * x": lambda x: np.float64(3.0) * x,
    "2.0 ** x": lambda x: 2.0 ** x,
}


# forms defined for negative inputs too are checked there (x ** 3 of a negative x, for one)
NEEDS_POSITIVE = {"2.0 / x", "x ** -1", "x ** 2.5", "x ** -1.5", "x ** 0.5"}


@pytest.mark.parametrize("form", SCALAR_FORMS)
@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=seeds)
def test_scalar_operand_gradients(form, shape, seed):
    check_gradients(SCALAR_FORMS[form], values(seed, shape, "positive" if form in NEEDS_POSITIVE else "any"))


NDARRAY_LEFT = {
    "ndarray + x": lambda c, x: c + x,
    "ndarray - x": lambda c, x: c - x,
    "ndarray * x": lambda c, x: c * x,
    "ndarray / x": lambda c, x: c / x,
    "ndarray ** x": lambda c, x: (c * c + 0.5) ** x,
}


@pytest.mark.parametrize("form", NDARRAY_LEFT)
@SETTINGS
@given(pair=broadcast_pairs(), seed=seeds)
def test_ndarray_on_the_left(form, pair, seed):
    """`ndarray op Tensor` reaches the Tensor's reflected method (no array of Tensors), broadcasts,
    and treats the array as a constant."""
    const = values(seed, pair[0])
    check_gradients(lambda x: NDARRAY_LEFT[form](const, x), values(seed + 1, pair[1], "positive"))


# ------------------------------------------------------------------ matmul

@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(n?,k),(k,m?)->(n?,m?)", max_dims=4,
                                                 max_side=4),
       seed=seeds)
def test_matmul_gradients(shapes, seed):
    """Plain, batched (with broadcast batch axes) and 1-D operands on either side."""
    (sa, sb), _ = shapes
    a, b = values(seed, sa), values(seed + 1, sb)
    check_gradients(lambda x, y: x @ y, a, b)
    check_gradients(lambda x, y: x @ y, a, b, wrt=[1])


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,)),
                                    ((3,), (4, 3, 2)), ((2, 1, 2, 3), (4, 3, 2))])
def test_matmul_vector_and_batch_cases(sa, sb):
    """The 1-D and broadcast-batch cases named explicitly, so they run on every test run."""
    check_gradients(lambda x, y: x @ y, values(0, sa), values(1, sb))


def test_ndarray_matmul_tensor():
    """`ndarray @ Tensor` reaches __rmatmul__; the array is a constant."""
    check_gradients(lambda x: values(1, (4, 3)) @ x, values(0, (3, 2)))
    check_gradients(lambda x: values(1, (3,)) @ x, values(0, (2, 3, 2)))


# ------------------------------------------------------------------ elementwise functions

UNARY = {
    "exp": (lambda x: x.exp(), "any"),
    "log": (lambda x: x.log(), "positive"),
    "sqrt": (lambda x: x.sqrt(), "positive"),
}


@pytest.mark.parametrize("name", UNARY)
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary_gradients(name, shape, seed):
    fn, kind = UNARY[name]
    check_gradients(fn, values(seed, shape, kind))


# ------------------------------------------------------------------ reductions

@st.composite
def shape_and_axis(draw, min_dims=0):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                       .map(lambda axes: tuple(a - ndim if i % 2 else a for i, a in enumerate(axes))))
    return shape, draw(st.one_of(*choices)), draw(st.booleans())


REDUCTIONS = {
    "sum": (lambda x, axis, keep: x.sum(axis=axis, keepdims=keep), np.sum, "any"),
    "mean": (lambda x, axis, keep: x.mean(axis=axis, keepdims=keep), np.mean, "any"),
    "max": (lambda x, axis, keep: x.max(axis=axis, keepdims=keep), np.max, "distinct"),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@SETTINGS
@given(case=shape_and_axis(), seed=seeds)
def test_reduction_values_and_gradients(name, case, seed):
    shape, axis, keepdims = case
    fn, reference, kind = REDUCTIONS[name]
    x = values(seed, shape, kind)
    out = fn(Tensor(x, dtype=np.float64), axis, keepdims)
    want = reference(x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(want) and np.allclose(out.data, want)
    check_gradients(lambda t: fn(t, axis, keepdims), x)


def test_max_ties_share_the_gradient():
    x = Tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([1.0, 3.0], dtype=np.float32))
    assert np.allclose(x.grad, [[0.5, 0, 0.5], [1, 1, 1]])
    x.grad = None
    x.max().backward()
    assert np.allclose(x.grad, [[0.5, 0, 0.5], [0, 0, 0]])


@pytest.mark.parametrize("axis", [np.int64(1), np.int32(-1), (np.int64(0), 1), [0, np.int64(1)]])
def test_reductions_accept_numpy_integer_axes(axis):
    x = np.arange(6.0).reshape(2, 3)
    for name, reference in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        assert np.allclose(getattr(Tensor(x), name)(axis=axis).data, reference(x, axis=tuple(np.atleast_1d(axis))))


def test_reduction_axis_out_of_range_names_the_axis():
    with pytest.raises(ValueError, match=r"\baxis\b"):
        Tensor(np.ones((2, 3))).sum(axis=2)


# ------------------------------------------------------------------ shape operations

@st.composite
def shape_and_reshape(draw):
    shape = draw(shapes)
    size = int(np.prod(shape))
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = draw(st.sampled_from(divisors))
    target = draw(st.sampled_from([(size,), (-1,), (d, size // d), (size // d, -1, 1), (1, d, 1, size // d),
                                   tuple(reversed(shape))]))
    return shape, target


@SETTINGS
@given(case=shape_and_reshape(), seed=seeds)
def test_reshape_gradients(case, seed):
    shape, target = case
    out = check_gradients(lambda t: t.reshape(target) * Tensor(np.arange(int(np.prod(shape)), dtype=np.float64)
                                                               .reshape(target)), values(seed, shape))
    assert out[0].shape == shape


def test_reshape_accepts_tuple_and_varargs():
    x = Tensor(np.arange(6.0))
    assert x.reshape(2, 3).shape == x.reshape((2, 3)).shape == x.reshape([2, 3]).shape == (2, 3)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4), data=st.data(), seed=seeds)
def test_transpose_gradients(shape, data, seed):
    ndim = len(shape)
    d0, d1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    x = values(seed, shape)
    assert np.array_equal(Tensor(x).transpose(d0, d1).data, np.swapaxes(x.astype(np.float32), d0, d1))
    check_gradients(lambda t: t.transpose(d0, d1), x)


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_T_reverses_all_axes(shape, seed):
    x = values(seed, shape)
    assert Tensor(x, dtype=np.float64).T.shape == x.T.shape
    check_gradients(lambda t: t.T, x)


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_getitem_basic_gradients(data, shape, seed):
    """Integers, slices (negative steps too), None and Ellipsis."""
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True))
    x = values(seed, shape)
    assert np.array_equal(Tensor(x, dtype=np.float64)[index].data, x[index])
    check_gradients(lambda t: t[index], x)


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_getitem_advanced_gradients_with_repeats(data, shape, seed):
    """Integer arrays pick positions possibly many times; the gradient adds up over repeats."""
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2,
                                                                                     max_side=6)))
    x = values(seed, shape)
    assert np.array_equal(Tensor(x, dtype=np.float64)[index].data, x[index])
    check_gradients(lambda t: t[index], x)


def test_getitem_repeats_mixed_and_masks():
    x = values(0, (3, 4))
    check_gradients(lambda t: t[np.array([2, 0, 2, 2])], x)
    leaf = Tensor(x, requires_grad=True)
    leaf[np.array([2, 0, 2, 2])].sum().backward()
    assert np.array_equal(leaf.grad, np.repeat([[1.0], [0.0], [3.0]], 4, axis=1)), "row 2 was picked 3 times"
    check_gradients(lambda t: t[1:, [0, 0, 3]], x)                        # slice mixed with an array
    check_gradients(lambda t: t[x > 0], x)                                # boolean mask
    check_gradients(lambda t: t[Tensor(np.array([1, 1]))], x)             # an integer Tensor as index
    check_gradients(lambda t: t[np.array([0, 2]), np.array([3, 3])], x)   # paired arrays: points
    check_gradients(lambda t: t[1, 2], x)                                 # a single element (0-d)


def test_getitem_out_of_range_is_an_index_error_naming_the_index():
    with pytest.raises(IndexError, match=r"\bindex\b"):
        Tensor(np.ones((2, 3)))[5]


@st.composite
def concat_case(draw):
    shape = draw(nonscalar_shapes)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [tuple(s if i != axis % len(shape) else n for i, s in enumerate(shape)) for n in sizes]
    return parts, axis


@SETTINGS
@given(case=concat_case(), seed=seeds)
def test_concat_gradients(case, seed):
    parts, axis = case
    arrays = [values(seed + i, s) for i, s in enumerate(parts)]
    out = concat([Tensor(a, dtype=np.float64) for a in arrays], axis=axis)
    assert np.array_equal(out.data, np.concatenate(arrays, axis=axis))
    check_gradients(lambda *ts: concat(list(ts), axis=axis), *arrays)


@SETTINGS
@given(shape=shapes, n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_stack_gradients(shape, n, data, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [values(seed + i, shape) for i in range(n)]
    out = stack([Tensor(a, dtype=np.float64) for a in arrays], axis=axis)
    assert np.array_equal(out.data, np.stack(arrays, axis=axis))
    check_gradients(lambda *ts: stack(list(ts), axis=axis), *arrays)


def test_concat_and_stack_take_constants_anywhere_and_keep_float32():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    joined = concat([np.zeros((1, 2)), x, Tensor(np.array([[7, 8]]))])
    assert joined.dtype == np.float32 and joined.shape == (4, 2)
    assert np.array_equal(joined.data[-1], [7, 8])
    joined.backward(np.arange(8, dtype=np.float32).reshape(4, 2))
    assert np.array_equal(x.grad, [[2, 3], [4, 5]])
    assert stack([np.zeros(2), x[0]]).dtype == np.float32
    assert concat([Tensor([1, 2]), Tensor([3])]).dtype == Tensor([1]).dtype, "integers alone stay integer"
    for join in (concat, stack):
        with pytest.raises(ValueError, match=rf"\b{join.__name__}\b"):
            join([])


def test_concat_and_stack_of_mismatched_shapes_name_the_operation():
    with pytest.raises(ValueError, match=r"\bconcat\b"):
        concat([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match=r"\bstack\b"):
        stack([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))])


# ------------------------------------------------------------------ compositions

@SETTINGS
@given(n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(2, 4), seed=seeds)
def test_hand_written_cross_entropy(n, k, m, seed):
    """A small classifier written with the primitive ops: matmul, broadcast bias, a stable
    log-softmax (max, exp, sum, log), advanced indexing of the target classes and a mean."""
    labels = np.random.default_rng(seed).integers(0, m, size=n)

    def loss(x, w, b):
        z = x @ w + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - z.exp().sum(axis=1, keepdims=True).log()
        return -logp[np.arange(n), labels].mean()

    check_gradients(loss, values(seed, (n, k)), values(seed + 1, (k, m)), values(seed + 2, (m,)))


# ------------------------------------------------------------------ unbroadcast

@settings(max_examples=60, deadline=None)
@given(pair=broadcast_pairs(), seed=seeds)
def test_unbroadcast_is_the_adjoint_of_broadcasting(pair, seed):
    """For v of the small shape and g of the broadcast shape, <broadcast(v), g> == <v, unbroadcast(g)>.
    Integer-valued floats keep every sum exact."""
    small, other = pair
    big = np.broadcast_shapes(small, other)
    rng = np.random.default_rng(seed)
    v = rng.integers(-5, 6, size=small).astype(np.float64)
    g = rng.integers(-5, 6, size=big).astype(np.float64)
    reduced = unbroadcast(g, small)
    assert np.shape(reduced) == small
    assert np.sum(np.broadcast_to(v, big) * g) == np.sum(v * reduced)
    # broadcasting a gradient and summing it back multiplies it by the number of copies
    copies = int(np.prod(big)) // int(np.prod(small))
    assert np.array_equal(unbroadcast(np.broadcast_to(v, big), small), v * copies)


def test_unbroadcast_keeps_values_and_dtype():
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    same = unbroadcast(g, (2, 3))
    assert same.shape == (2, 3) and same.dtype == np.float32 and np.array_equal(same, g)
    summed = unbroadcast(g, (1, 3))
    assert summed.dtype == np.float32 and np.array_equal(summed, [[3, 5, 7]])


# ------------------------------------------------------------------ dtypes

def test_construction_dtypes():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.ones(3)).dtype == np.float32, "float64 arrays become float32 unless dtype is given"
    assert Tensor(np.ones(3, dtype=np.float16)).dtype == np.float32
    assert Tensor(np.ones(3), dtype=np.float64).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor([1, 2, 3]).dtype == np.asarray([1, 2, 3]).dtype, "integer labels stay integer"
    assert Tensor(np.array([1, 2], dtype=np.int32)).dtype == np.int32
    assert Tensor(np.array([True, False])).dtype == np.bool_
    assert Tensor(Tensor(np.ones(2), dtype=np.float64), dtype=np.float64).dtype == np.float64
    assert isinstance(Tensor(3.0).data, np.ndarray)


def test_requires_grad_needs_floating_data():
    with pytest.raises(TypeError, match="requires_grad"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        Tensor(["a", object()])


def test_integer_arithmetic_stays_integer():
    labels = Tensor([1, 2, 3])
    assert (labels + 1).dtype == labels.dtype
    assert (labels * labels).dtype == labels.dtype
    assert labels[np.array([0, 0])].dtype == labels.dtype
    assert labels.sum().dtype.kind == "i"


def test_integers_meeting_floats_take_the_float_dtype():
    """As in PyTorch: int64 with float32 gives float32 (NumPy alone would say float64)."""
    labels = Tensor([1, 2, 3])
    assert (labels * 0.5).dtype == np.float32
    assert (labels + Tensor([0.5, 0.5, 0.5])).dtype == np.float32
    assert (labels / Tensor(np.ones(3), dtype=np.float64)).dtype == np.float64
    assert np.array_equal((labels * 0.5).data, [0.5, 1.0, 1.5])


def _spy(t, seen):
    """An identity node that records the dtype of the gradient flowing back into it."""
    def backward(g):
        seen.append(np.asarray(g).dtype)
        return (g,)
    return Tensor.record(t.data, (t,), backward)


FLOAT32_OPS = {
    "x + 2.0": lambda x: x + 2.0,
    "2.0 + x": lambda x: 2.0 + x,
    "2.0 - x": lambda x: 2.0 - x,
    "2.0 * x": lambda x: 2.0 * x,
    "2.0 / x": lambda x: 2.0 / x,
    "x / 3.0": lambda x: x / 3.0,
    "ndarray64 + x": lambda x: np.ones((3, 4)) + x,
    "ndarray64 * x": lambda x: np.full((3, 4), 0.5) * x,
    "ndarray64 / x": lambda x: np.ones(4) / x,
    "x - ndarray64": lambda x: x - np.ones(4),
    "np.float64 * x": lambda x: np.float64(2.0) * x,
    "x * np.float64": lambda x: x * np.float64(2.0),
    "x ** 2": lambda x: x ** 2,
    "x ** 0.5": lambda x: x ** 0.5,
    "x ** np.float64": lambda x: x ** np.float64(1.5),
    "x ** ndarray64": lambda x: x ** np.full(4, 2.0),
    "x ** tensor": lambda x: x ** Tensor(np.full(4, 2.0)),
    "-x": lambda x: -x,
    "x @ ndarray64": lambda x: x @ np.ones((4, 2)),
    "ndarray64 @ x": lambda x: np.ones((5, 3)) @ x,
    "x @ x.T": lambda x: x @ x.T,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "sum": lambda x: x.sum(),
    "mean axis": lambda x: x.mean(axis=0),
    "max axis keepdims": lambda x: x.max(axis=1, keepdims=True),
    "max": lambda x: x.max(),
    "reshape": lambda x: x.reshape(-1),
    "transpose": lambda x: x.transpose(0, 1),
    "getitem": lambda x: x[np.array([0, 0, 2])],
    "concat with ndarray64": lambda x: concat([x, np.ones((1, 4))]),
    "stack": lambda x: stack([x, x], axis=1),
    "int64 tensor * x": lambda x: Tensor(np.arange(12).reshape(3, 4)) * x,
    "x + int64 tensor": lambda x: x + Tensor(np.arange(4)),
    "int64 ndarray / x": lambda x: np.arange(4) / x,
    "x ** int64 tensor": lambda x: x ** Tensor(np.array([1, 2, 3, 1])),
    "bool mask * x": lambda x: Tensor(np.array([True, False, True, True])) * x,
    "int64 tensor @ x": lambda x: Tensor(np.ones((2, 3), dtype=np.int64)) @ x,
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32_forward_and_backward(name):
    """No operation, whatever its constant operands, turns float32 into float64: not the result, not
    the gradient flowing back through the graph, not the leaf's .grad."""
    x = Tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    seen = []
    out = FLOAT32_OPS[name](_spy(x, seen))
    assert out.dtype == np.float32, f"{name} gave {out.dtype}"
    assert isinstance(out.data, np.ndarray)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert seen == [np.float32], f"{name} sent back a {seen} gradient"
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_zero_dimensional_results_hold_arrays():
    """NumPy returns scalars from ufuncs on 0-d arrays; .data must still be an ndarray."""
    x = Tensor(2.0, requires_grad=True)
    for out in (x * 3.0, x + x, x.exp(), x.log(), x.sqrt(), -x, x ** 2, 1.0 / x, x.sum(), x.reshape(()),
                Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0]), Tensor([1.0, 2.0])[0], Tensor([1.0, 5.0]).max()):
        assert type(out.data) is np.ndarray and out.data.ndim == 0 and out.dtype == np.float32


# ------------------------------------------------------------------ inspection

def test_shape_and_friends():
    x = Tensor(np.zeros((2, 3, 4)))
    assert (x.shape, x.ndim, x.size, len(x)) == ((2, 3, 4), 3, 24, 2)


def test_numpy_returns_the_data():
    x = Tensor([1.0, 2.0])
    out = x.numpy()
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.tolist() == [1.0, 2.0]


def test_item():
    value = Tensor([[2.5]]).item()
    assert value == 2.5 and type(value) is float
    assert type(Tensor([7]).item()) is int
    with pytest.raises(ValueError, match=r"\bitem\b"):
        Tensor([1.0, 2.0]).item()


def test_detach_keeps_the_values_and_cuts_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert np.array_equal(d.data, y.data) and d.dtype == y.dtype
    assert not d.requires_grad and d.parents == () and d.grad is None
    (d * x).sum().backward()
    assert np.allclose(x.grad, [2.0, 4.0]), "the detached factor is a constant"
    assert Tensor(np.ones(2), dtype=np.float64).detach().dtype == np.float64


def test_repr_mentions_requires_grad_and_dtype():
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert "float64" in repr(Tensor([1.0], dtype=np.float64))


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("name, op", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                      ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)])
def test_broadcast_error_names_the_operation(name, op):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        op(Tensor(np.ones((2, 3))), Tensor(np.ones(4)))


@pytest.mark.parametrize("a, b", [((2, 3), (4, 5)), ((3,), (2,)), ((), (2,)), ((2, 2, 3), (3, 3, 4))])
def test_matmul_errors_name_the_operation(a, b):
    with pytest.raises(ValueError, match=r"\bmatmul\b"):
        Tensor(np.ones(a)) @ Tensor(np.ones(b))


def test_reshape_error_names_the_operation():
    with pytest.raises(ValueError, match=r"\breshape\b"):
        Tensor(np.ones((2, 3))).reshape(4, 2)
