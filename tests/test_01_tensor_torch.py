"""tinytorch.core.tensor against PyTorch at float32: the values of every differentiable operation and
the gradients backward() produces, over random shapes with broadcasting. PyTorch is a test oracle
only; without it this module is skipped and the summary says why."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the parity tests against it were skipped "
                    "(pip install torch==2.13.0 to run them)")

from tinytorch.core.tensor import Tensor, concat, stack  # noqa: E402

pytestmark = pytest.mark.torch
SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
RTOL, ATOL = 1e-5, 1e-5


def values(seed, shape, kind="any"):
    rng = np.random.default_rng(seed)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
    if kind == "distinct":
        size = int(np.prod(shape))
        return ((rng.permutation(size) - size / 2) * 0.25).reshape(shape).astype(np.float32)
    return rng.uniform(-2.0, 2.0, size=shape).astype(np.float32)


def compare(ours, theirs, *arrays, wrt=None, rtol=RTOL, atol=ATOL, seed=0):
    """Run `ours` on tinytorch tensors and `theirs` on torch tensors built from the same float32
    arrays; compare outputs, then seed both backward passes with the same random weight and compare
    the gradients of the inputs listed in `wrt` (default: all)."""
    wrt = set(range(len(arrays)) if wrt is None else wrt)
    tt = [Tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    th = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out_tt, out_th = ours(*tt), theirs(*th)
    assert out_tt.dtype == np.float32 and out_th.dtype == torch.float32
    assert out_tt.shape == tuple(out_th.shape), f"shape {out_tt.shape}, torch gives {tuple(out_th.shape)}"
    np.testing.assert_allclose(out_tt.data, out_th.detach().numpy(), rtol=rtol, atol=atol)
    weight = np.random.default_rng(seed).uniform(-1.5, 1.5, size=out_tt.shape).astype(np.float32)
    out_tt.backward(weight)
    out_th.backward(torch.tensor(weight))
    for i in sorted(wrt):
        assert tt[i].grad is not None and tt[i].grad.dtype == np.float32
        np.testing.assert_allclose(tt[i].grad, th[i].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


@st.composite
def broadcast_pairs(draw):
    first = draw(shapes)
    second = draw(hnp.broadcastable_shapes(first, min_dims=0, max_dims=3, max_side=4))
    return (first, second) if draw(st.booleans()) else (second, first)


# ------------------------------------------------------------------ arithmetic

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(pair=broadcast_pairs(), seed=seeds)
def test_binary_ops_match_torch(name, pair, seed):
    a = values(seed, pair[0], "positive" if name == "pow" else "any")
    b = values(seed + 1, pair[1], "positive" if name == "div" else "any")
    compare(BINARY[name], BINARY[name], a, b)


SCALAR_FORMS = {
    "2.0 + x": lambda x: 2.0 + x,
    "2.0 - x": lambda x: 2.0 - x,
    "x * 3": lambda x: x * 3,
    "2.0 / x": lambda x: 2.0 / x,
    "x / 4.0": lambda x: x / 4.0,
    "-x": lambda x: -x,
    "x ** 2": lambda x: x ** 2,
    "x ** 3": lambda x: x ** 3,
    "x ** -1.5": lambda x: x ** -1.5,
    "x ** 0.5": lambda x: x ** 0.5,
    "2.0 ** x": lambda x: 2.0 ** x,
}


def test_power_with_a_zero_base_matches_torch():
    """d(0 ** e)/de is 0 for e > 0 (PyTorch masks 0 * log 0), and d(0 ** e)/da is 0 for e > 1."""
    base = np.array([0.0, 0.0, 1.0, 2.0], dtype=np.float32)
    exponent = np.array([2.0, 3.5, 2.0, 0.5], dtype=np.float32)
    compare(lambda a, e: a ** e, lambda a, e: a ** e, base, exponent)


@pytest.mark.parametrize("form", SCALAR_FORMS)
@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=seeds)
def test_scalar_operands_match_torch(form, shape, seed):
    kind = "positive" if form in {"2.0 / x", "x ** -1.5", "x ** 0.5"} else "any"
    compare(SCALAR_FORMS[form], SCALAR_FORMS[form], values(seed, shape, kind))


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@SETTINGS
@given(pair=broadcast_pairs(), seed=seeds)
def test_ndarray_on_the_left_matches_torch(op, pair, seed):
    """`ndarray op Tensor` in tinytorch; torch gets the same constant as a tensor."""
    const = values(seed, pair[0]).astype(np.float64)   # a float64 array must not upcast our result
    fn = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}[op]
    ours = {"+": lambda x: const + x, "-": lambda x: const - x,
            "*": lambda x: const * x, "/": lambda x: const / x}[op]
    compare(ours, lambda x: fn(torch.tensor(const, dtype=torch.float32), x),
            values(seed + 1, pair[1], "positive"))


# ------------------------------------------------------------------ matmul, elementwise functions

@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(n?,k),(k,m?)->(n?,m?)", max_dims=4,
                                                 max_side=5),
       seed=seeds)
def test_matmul_matches_torch(shapes, seed):
    (sa, sb), _ = shapes
    compare(lambda a, b: a @ b, lambda a, b: a @ b, values(seed, sa), values(seed + 1, sb))


@pytest.mark.parametrize("name, kind", [("exp", "any"), ("log", "positive"), ("sqrt", "positive")])
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_elementwise_functions_match_torch(name, kind, shape, seed):
    compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), values(seed, shape, kind))


# ------------------------------------------------------------------ reductions

@st.composite
def shape_and_axis(draw):
    shape = draw(shapes)
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return shape, draw(st.one_of(*choices)), draw(st.booleans())


def torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


@pytest.mark.parametrize("name", ["sum", "mean", "max", "max with ties"])
@SETTINGS
@given(case=shape_and_axis(), seed=seeds)
def test_reductions_match_torch(name, case, seed):
    """max with ties: integer-valued data ties often; torch.amax and tinytorch share the gradient
    equally among the tied maxima."""
    shape, axis, keep = case
    if name == "max with ties":
        x = np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float32)
    else:
        x = values(seed, shape, "distinct" if name == "max" else "any")
    ours = {"sum": lambda t: t.sum(axis=axis, keepdims=keep), "mean": lambda t: t.mean(axis=axis, keepdims=keep)}
    theirs = {"sum": lambda t: torch.sum(t, dim=torch_dims(axis, t.ndim), keepdim=keep),
              "mean": lambda t: torch.mean(t, dim=torch_dims(axis, t.ndim), keepdim=keep)}
    key = "max" if name.startswith("max") else name
    ours["max"] = lambda t: t.max(axis=axis, keepdims=keep)
    theirs["max"] = lambda t: torch.amax(t, dim=torch_dims(axis, t.ndim), keepdim=keep)
    compare(ours[key], theirs[key], x)


# ------------------------------------------------------------------ shapes and indexing

@SETTINGS
@given(shape=shapes, seed=seeds)
def test_reshape_and_T_match_torch(shape, seed):
    x = values(seed, shape)
    compare(lambda t: t.reshape(-1), lambda t: t.reshape(-1), x)
    compare(lambda t: t.reshape(tuple(reversed(shape))), lambda t: t.reshape(tuple(reversed(shape))), x)
    compare(lambda t: t.T, lambda t: t.permute(tuple(reversed(range(t.ndim)))), x)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data(), seed=seeds)
def test_transpose_matches_torch(shape, data, seed):
    ndim = len(shape)
    d0, d1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    compare(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), values(seed, shape))


def _positive_steps(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, slice) or (p.step or 1) > 0 for p in parts)


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_basic_indexing_matches_torch(data, shape, seed):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True))
    assume(_positive_steps(index))   # torch has no negative slice steps
    compare(lambda t: t[index], lambda t: t[index], values(seed, shape))


@SETTINGS
@given(data=st.data(), shape=nonscalar_shapes, seed=seeds)
def test_advanced_indexing_with_repeats_matches_torch(data, shape, seed):
    index = data.draw(hnp.integer_array_indices(
        shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=6)))
    compare(lambda t: t[index], lambda t: t[tuple(torch.as_tensor(i) for i in index)], values(seed, shape))


def test_masks_and_mixed_indexing_match_torch():
    x = values(0, (3, 4))
    mask = x > 0
    compare(lambda t: t[mask], lambda t: t[torch.as_tensor(mask)], x)
    compare(lambda t: t[1:, [0, 0, 3]], lambda t: t[1:, [0, 0, 3]], x)
    rows = np.array([2, 0, 2, 2])
    compare(lambda t: t[rows], lambda t: t[torch.as_tensor(rows)], x)


@SETTINGS
@given(shape=nonscalar_shapes, sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), data=st.data(),
       seed=seeds)
def test_concat_matches_torch(shape, sizes, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = [values(seed + i, tuple(n if d == axis % len(shape) else s for d, s in enumerate(shape)))
             for i, n in enumerate(sizes)]
    compare(lambda *ts: concat(list(ts), axis=axis), lambda *ts: torch.cat(ts, dim=axis), *parts)


@SETTINGS
@given(shape=shapes, n=st.integers(1, 3), data=st.data(), seed=seeds)
def test_stack_matches_torch(shape, n, data, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    parts = [values(seed + i, shape) for i in range(n)]
    compare(lambda *ts: stack(list(ts), axis=axis), lambda *ts: torch.stack(ts, dim=axis), *parts)


# ------------------------------------------------------------------ a composition

@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 8), k=st.integers(1, 6), m=st.integers(2, 5), seed=seeds)
def test_hand_written_cross_entropy_matches_torch(n, k, m, seed):
    """A linear classifier's loss from primitive ops vs torch.nn.functional.cross_entropy."""
    labels = np.random.default_rng(seed).integers(0, m, size=n)

    def ours(x, w, b):
        z = x @ w + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - z.exp().sum(axis=1, keepdims=True).log()
        return -logp[np.arange(n), labels].mean()

    def theirs(x, w, b):
        return torch.nn.functional.cross_entropy(x @ w + b, torch.as_tensor(labels))

    compare(ours, theirs, values(seed, (n, k)), values(seed + 1, (k, m)), values(seed + 2, (m,)))


@pytest.mark.parametrize("ints, other", [
    (np.array([0, 2, 1]), 1),
    (np.array([0, 2, 1]), np.array([3, 1, 2])),
    (np.array([0, 2, 1]), 0.5),
    (np.array([0, 2, 1]), np.array([0.5, 1.5, 2.5], dtype=np.float32)),
    (np.array([0, 2, 1], dtype=np.int32), np.array([0.5, 1.5, 2.5], dtype=np.float32)),
    (np.array([True, False, True]), np.array([0.5, 1.5, 2.5], dtype=np.float32)),
    (np.array([0, 2, 1]), np.array([0.5, 1.5, 2.5], dtype=np.float64)),
])
@pytest.mark.parametrize("op", ["+", "*"])
def test_integer_and_mixed_dtypes_follow_torch(ints, other, op):
    fn = {"+": lambda a, b: a + b, "*": lambda a, b: a * b}[op]
    wrap = (lambda v, make: make(v) if isinstance(v, np.ndarray) else v)
    ours = fn(Tensor(ints), wrap(other, lambda v: Tensor(v, dtype=v.dtype)))
    theirs = fn(torch.as_tensor(ints), wrap(other, torch.as_tensor))
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(ours.data, theirs.numpy())


def test_concat_of_integers_and_floats_follows_torch():
    ints, floats = np.array([[1, 2]]), np.ones((2, 2), dtype=np.float32)
    ours = concat([Tensor(ints), Tensor(floats)])
    theirs = torch.cat([torch.as_tensor(ints), torch.as_tensor(floats)])
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.data, theirs.numpy())
