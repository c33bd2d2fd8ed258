"""Tests for tinytorch.core.autograd: grad mode, the order of the graph walk, gradient accumulation,
a graph used once, and the errors of backward(). The operations' own rules are checked in
test_01_tensor.py.

Graded: behaviour only. The reference's own guarantees (gradients added into the same buffer, nodes
and arrays released by reference counting, a 10,000-node chain, rules that send None to an interior
node) are checked in internals/test_core_autograd.py."""
import numpy as np
import pytest

from gradcheck import check_gradients
from tinytorch.core.autograd import is_grad_enabled, no_grad, topological_order
from tinytorch.core.tensor import Tensor


def param(values):
    return Tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


# ------------------------------------------------------------------ grad mode

def test_no_grad_records_nothing():
    w = param([1.0, 2.0])
    with no_grad():
        y = (w * 3 + 1).exp().sum()
    assert not y.requires_grad and y.parents == () and y.grad_fn is None
    with pytest.raises(RuntimeError, match="backward"):
        y.backward()
    assert w.grad is None


def test_no_grad_keeps_data_and_restores_the_mode():
    w = param([1.0, 2.0])
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled(), "the inner block must restore the outer block's state"
        y = w * 2
    assert is_grad_enabled()
    assert np.array_equal(y.data, [2.0, 4.0])
    assert (w * 2).requires_grad, "recording resumes after the block"


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()


def test_no_grad_as_a_decorator_even_recursively():
    w = param([1.0])

    @no_grad()
    def depth(n):
        assert not is_grad_enabled()
        return w * 2 if n == 0 else depth(n - 1)

    assert not depth(3).requires_grad
    assert is_grad_enabled(), "re-entering the same decorator object must not lose the saved state"
    ctx = no_grad()
    with ctx:
        with ctx:
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_graph_recorded_only_when_a_parent_requires_grad():
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    y = a * b
    assert not y.requires_grad and y.parents == ()
    z = a * param([1.0, 1.0])
    assert z.requires_grad and z.grad_fn is not None


# ------------------------------------------------------------------ backward basics

def test_backward_accumulates_across_calls():
    x = param([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert np.allclose(x.grad, [2, 4, 6])
    (x * 3).sum().backward()
    assert np.allclose(x.grad, [5, 7, 9]), "a second backward adds to the first"
    assert x.grad.dtype == np.float32 and x.grad.shape == (3,)


def test_grad_has_the_leaf_shape_and_dtype():
    w = param(np.ones((1, 3)))
    b = param(np.ones(3))
    y = (Tensor(np.ones((4, 2, 3))) * w + b).sum()
    y.backward()
    assert w.grad.shape == (1, 3) and b.grad.shape == (3,)
    assert w.grad.dtype == b.grad.dtype == np.float32
    assert np.allclose(w.grad, 8) and np.allclose(b.grad, 8)


def test_leaf_gradients_never_alias():
    """add sends the same array to both parents; each leaf must get its own gradient, and the
    caller's seed gradient must not become anyone's .grad: changing one changes nothing else."""
    a, b = param([1.0, 2.0]), param([3.0, 4.0])
    seed = np.ones(2, dtype=np.float32)
    (a + b).backward(seed)
    a.grad += 10
    assert np.array_equal(b.grad, [1, 1]) and np.array_equal(seed, [1, 1])


def test_backward_on_a_leaf():
    x = param([3.0])
    x.backward()
    assert np.array_equal(x.grad, [1.0])
    y = param([[1.0, 2.0]])
    y.backward(np.array([[5.0, 6.0]]))
    assert np.array_equal(y.grad, [[5.0, 6.0]]) and y.grad.dtype == np.float32


def test_backward_needs_a_gradient_for_non_scalars():
    y = param(np.ones((2, 3))) * 2
    with pytest.raises(RuntimeError, match="backward"):
        y.backward()


def test_backward_checks_the_seed_shape():
    y = param(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match="backward"):
        y.backward(np.ones((3, 2)))


def test_backward_accepts_a_tensor_seed_and_casts_it():
    x = param([1.0, 2.0])
    (x * 2).backward(Tensor(np.array([1.0, 10.0]), dtype=np.float64))
    assert np.array_equal(x.grad, [2.0, 20.0]) and x.grad.dtype == np.float32


def test_backward_on_a_one_element_tensor_of_any_rank():
    x = param([[2.0]])
    (x * x).backward()
    assert np.array_equal(x.grad, [[4.0]])


def test_backward_without_any_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor([1.0]) * 2).backward()


# ------------------------------------------------------------------ graph shapes

def test_diamond_sums_both_paths():
    """x feeds two branches that meet again: its gradient is the sum over both paths."""
    x = param([2.0])
    a = x * 3           # da/dx = 3
    b = x * x           # db/dx = 2x
    (a * b).backward()  # d(3x * x^2)/dx = 9 x^2
    assert np.allclose(x.grad, [36.0])


def test_interior_diamond_waits_for_every_consumer():
    """An interior node h used by three consumers must pass on the complete sum, once."""
    x = param([0.5, 1.5])
    h = x * 2
    y = (h * h + h.exp() + h).sum()       # dy/dh = 2h + e^h + 1, dh/dx = 2
    y.backward()
    hv = 2 * x.data
    assert np.allclose(x.grad, 2 * (2 * hv + np.exp(hv) + 1))
    check_gradients(lambda t: ((t * 2) * (t * 2) + (t * 2).exp() + t * 2), x.data)


def test_node_used_directly_and_through_a_longer_path():
    """c feeds the root directly and through a = 3c. Whatever order the walk meets them in, c must
    pass its gradient on only after a has sent its share (a search that marked c as seen when it
    was first pushed, not when expanded, would emit a before c and lose that share)."""
    for order in ("direct first", "path first"):
        x = param([1.0, 2.0])
        c = x * 2
        a = c * 3
        y = (c + a) if order == "direct first" else (a + c)   # dy/dc = 1 + 3, dc/dx = 2
        y.sum().backward()
        assert np.array_equal(x.grad, [8.0, 8.0]), order


def test_shared_subexpression_in_a_deeper_graph():
    def f(x, w):
        h = (x @ w).exp()
        return (h / h.sum(axis=1, keepdims=True)) * h.max(axis=1, keepdims=True) + h
    rng = np.random.default_rng(0)
    check_gradients(f, rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (4, 5)))


def test_gradient_to_a_parent_that_does_not_require_grad_is_ignored():
    x, c = param([1.0]), Tensor([5.0])
    y = Tensor.record(x.data + c.data, (x, c), lambda g: (g, g * 100))
    y.backward()
    assert np.array_equal(x.grad, [1.0])
    assert c.grad is None, "a parent with requires_grad=False gets no .grad, whatever its node sends"


# ------------------------------------------------------------------ freeing the graph

def test_backward_twice_through_a_freed_graph_raises():
    x = param([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward"):
        y.backward()
    assert np.allclose(x.grad, [2, 4]), "the failed second call must not have added anything"


def test_a_subgraph_used_by_one_backward_is_freed_for_the_next():
    """As in PyTorch without retain_graph: a second backward through shared, already used nodes
    raises instead of silently recomputing from released buffers."""
    x = param([1.0, 2.0])
    z = x * 2
    a, b = z.sum(), (z * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="backward"):
        b.backward()


def test_a_new_forward_pass_works_after_backward():
    x = param([1.0, 2.0])
    for _ in range(3):
        (x * x).sum().backward()
    assert np.allclose(x.grad, [6, 12])


def test_a_chain_deeper_than_the_recursion_limit():
    """Python allows about 1,000 nested calls; the walk must not need one per node (chapter 06)."""
    x = param([1.0])
    y = x
    for i in range(3_000):
        y = y * -1.0 if i % 2 else y + 1.0       # 1,500 sign flips: the gradient is exactly 1
    y.backward()
    assert x.grad.tolist() == [1.0]


# ------------------------------------------------------------------ zero_grad and accumulation

def _mlp_and_batch(seed=0):
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential, manual_seed
    manual_seed(seed)
    model = Sequential([Linear(5, 4), ReLU(), Linear(4, 3)])
    rng = np.random.default_rng(seed)
    return model, Tensor(rng.standard_normal((6, 5))), rng.integers(0, 3, 6)


def _fresh_gradients(model, x, y):
    """The gradients of one backward into brand-new buffers: the reference."""
    from tinytorch.core.losses import cross_entropy
    for p in model.parameters():
        p.grad = None
    cross_entropy(model(x), y).backward()
    return [p.grad.copy() for p in model.parameters()]


def test_zero_grad_then_backward_gives_the_fresh_gradients():
    from tinytorch.core.losses import cross_entropy
    from tinytorch.core.optimizers import SGD
    model, x, y = _mlp_and_batch()
    expected = _fresh_gradients(model, x, y)
    optimizer = SGD(model.parameters(), lr=0.1)
    for zero in (optimizer.zero_grad, model.zero_grad):
        for _ in range(3):          # stale values from the previous pass must never leak in
            zero()
            cross_entropy(model(x), y).backward()
            for p, want in zip(model.parameters(), expected):
                assert p.grad.dtype == np.float32 and p.grad.shape == p.shape
                np.testing.assert_allclose(p.grad, want, rtol=1e-6, atol=1e-7)


def test_zero_grad_reads_as_zeros_and_keeps_accumulation():
    from tinytorch.core.losses import cross_entropy
    model, x, y = _mlp_and_batch()
    once = _fresh_gradients(model, x, y)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters()), "zeros to anybody who reads them"
    model.zero_grad()
    cross_entropy(model(x), y).backward()
    cross_entropy(model(x), y).backward()          # a second pass adds
    for p, want in zip(model.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * want, rtol=1e-6, atol=1e-7)


def test_a_layer_used_twice_gets_both_contributions_after_zero_grad():
    from tinytorch.core.layers import Linear, manual_seed
    manual_seed(1)
    layer = Linear(3, 3)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 3)))

    def f():
        return layer(layer(x)).sum()
    f().backward()
    layer.zero_grad()
    f().backward()
    got = [layer.weight.grad.copy(), layer.bias.grad.copy()]
    layer.weight.grad = layer.bias.grad = None
    f().backward()                                  # fresh buffers: the reference
    np.testing.assert_allclose(got[0], layer.weight.grad, rtol=1e-6)
    np.testing.assert_allclose(got[1], layer.bias.grad, rtol=1e-6)


def test_gradient_edited_or_replaced_between_zero_grad_and_backward_is_kept():
    from tinytorch.core.losses import cross_entropy
    model, x, y = _mlp_and_batch()
    once = _fresh_gradients(model, x, y)
    first, second = model.parameters()[:2]
    model.zero_grad()
    first.grad += 1.0                               # in place, after the zeros are visible
    second.grad = np.full_like(second.data, 2.0)    # replaced by a new array
    cross_entropy(model(x), y).backward()
    np.testing.assert_allclose(first.grad, once[0] + 1.0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(second.grad, once[1] + 2.0, rtol=1e-6, atol=1e-6)


def test_backward_on_a_leaf_with_its_own_grad_doubles_it():
    w = param([1.0, 2.0])
    w.backward(np.array([3.0, 4.0], np.float32))
    w.backward(w.grad)                              # the seed is the buffer itself
    assert np.array_equal(w.grad, [6.0, 8.0])


def _is_reverse_topological(order):
    """Each interior node appears once, before every interior node it consumes."""
    position = {id(node): i for i, node in enumerate(order)}
    return len(position) == len(order) and all(
        position[id(parent)] > position[id(node)]
        for node in order for parent in node.parents if parent.grad_fn is not None)


def test_topological_order_of_a_chain_and_of_graphs_that_join():
    """The interior nodes reachable from the root, each once, each before every node it was computed
    from: for a chain that order is unique. Leaves are not listed."""
    x = param([1.0, 2.0])
    a = x * 2.0
    b = a + 1.0
    c = b.sum()
    assert topological_order(c) == [c, b, a]              # a chain: root first, then down it
    shared = x * 3.0
    joined = (shared * shared).sum()                      # one node used twice by the next
    order = topological_order(joined)
    assert len(order) == 3 and order[0] is joined and order[-1] is shared
    assert _is_reverse_topological(order)
    left, right = x * 2.0, x * 5.0
    diamond = (left + right * left).sum()                 # two paths from the root to `left`
    order = topological_order(diamond)
    assert len(order) == 5 and order[0] is diamond and order[-1] in (left, right)
    assert _is_reverse_topological(order)
    assert all(node is not x for node in order), "a leaf is not an interior node"
    diamond.backward()
    assert np.allclose(x.grad, 2.0 + 2 * 2 * 5.0 * x.data)


def test_topological_order_leaves_out_what_was_not_recorded():
    w = param([1.0, 2.0])
    constant = Tensor([3.0, 4.0]) * 2.0                   # no parent requires grad: not recorded
    y = (w * constant).sum()
    order = topological_order(y)
    assert len(order) == 2 and order[0] is y and all(node is not constant for node in order)
