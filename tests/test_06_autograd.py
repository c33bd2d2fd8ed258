"""Tests for tinytorch.core.autograd: grad mode, the iterative graph walk, gradient accumulation,
freeing the graph, and the error messages of backward(). The operations' own rules are checked in
test_01_tensor.py."""
import gc
import weakref

import numpy as np
import pytest

from gradcheck import check_gradients
from tinytorch.core.autograd import is_grad_enabled, no_grad
from tinytorch.core.tensor import Tensor


def param(values):
    return Tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


@pytest.fixture
def no_cyclic_gc():
    """Objects must die by reference counting alone, not wait for the cycle collector."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


# ------------------------------------------------------------------ grad mode

def test_no_grad_records_nothing():
    w = param([1.0, 2.0])
    with no_grad():
        y = (w * 3 + 1).exp().sum()
    assert not y.requires_grad and y.parents == () and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
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
    assert z.requires_grad and len(z.parents) == 2


# ------------------------------------------------------------------ backward basics

def test_backward_accumulates_across_calls():
    x = param([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert np.allclose(x.grad, [2, 4, 6])
    grad_buffer = x.grad
    (x * 3).sum().backward()
    assert np.allclose(x.grad, [5, 7, 9])
    assert x.grad is grad_buffer, "later calls add into the same buffer in place"


def test_grad_has_the_leaf_shape_and_dtype():
    w = param(np.ones((1, 3)))
    b = param(np.ones(3))
    y = (Tensor(np.ones((4, 2, 3))) * w + b).sum()
    y.backward()
    assert w.grad.shape == (1, 3) and b.grad.shape == (3,)
    assert w.grad.dtype == b.grad.dtype == np.float32
    assert np.allclose(w.grad, 8) and np.allclose(b.grad, 8)


def test_leaf_gradients_never_alias():
    """add sends the same array to both parents; each leaf must get its own buffer, and the
    caller's seed gradient must not become anyone's .grad."""
    a, b = param([1.0, 2.0]), param([3.0, 4.0])
    seed = np.ones(2, dtype=np.float32)
    (a + b).backward(seed)
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, seed)
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
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()


def test_backward_checks_the_seed_shape():
    y = param(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
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


def test_consumers_that_send_none():
    """A node whose only consumer declines to send a gradient receives none and passes none on;
    the engine neither crashes nor invents a zero gradient."""
    x = param([1.0, 2.0])
    z = x * 2
    blocked = Tensor.record(z.data.copy(), (z,), lambda g: (None,))
    (blocked + x).sum().backward()
    assert np.array_equal(x.grad, [1.0, 1.0]), "only the direct path contributes"
    assert z.parents == (), "the unreached node is freed too"

    x2 = param([1.0, 2.0])
    z2 = x2 * 2
    Tensor.record(z2.data.copy(), (z2,), lambda g: (None,)).sum().backward()
    assert x2.grad is None


def test_gradient_to_a_parent_that_does_not_require_grad_is_ignored():
    x, c = param([1.0]), Tensor([5.0])
    y = Tensor.record(x.data + c.data, (x, c), lambda g: (g, g * 100))
    y.backward()
    assert np.array_equal(x.grad, [1.0]) and c.grad is None


# ------------------------------------------------------------------ freeing the graph

def test_backward_twice_through_a_freed_graph_raises():
    x = param([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="again"):
        y.backward()
    assert np.allclose(x.grad, [2, 4]), "the failed second call must not have added anything"


def test_a_subgraph_used_by_one_backward_is_freed_for_the_next():
    """As in PyTorch without retain_graph: a second backward through shared, already used nodes
    raises instead of silently recomputing from released buffers."""
    x = param([1.0, 2.0])
    z = x * 2
    a, b = z.sum(), (z * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="freed"):
        b.backward()


def test_a_new_forward_pass_works_after_backward():
    x = param([1.0, 2.0])
    for _ in range(3):
        (x * x).sum().backward()
    assert np.allclose(x.grad, [6, 12])


def test_deep_chain_does_not_recurse():
    x = param([1.0])
    y = x
    for i in range(10_000):
        y = y * 0.9999 if i % 2 else y + 1.0
    y.backward()
    assert np.isclose(x.grad[0], 0.9999 ** 5000, rtol=1e-4)


def test_deep_chain_is_freed_after_backward(no_cyclic_gc):
    """After backward, only what the caller still holds survives: the leaf and the root. Every
    intermediate tensor (and the array it held) is released by reference counting alone."""
    x = param(np.ones(1000))
    y, probes = x, []
    for i in range(10_000):
        y = (y * 1.0001) if i % 2 else (y + 1.0)
        if i % 1000 == 500:
            probes.append(weakref.ref(y))
    assert all(p() is not None for p in probes), "before backward the graph keeps them alive"
    root = y.sum()
    del y
    root.backward()
    assert all(p() is None for p in probes), "intermediates must be freed once backward is done"
    assert root.parents == () and x.grad is not None


def test_every_kind_of_node_releases_its_arrays(no_cyclic_gc):
    """Rules that keep arrays in their closures (exp's output, div's quotient, max's winners, the
    index of getitem...) must let them go too: probe the output arrays of a graph using every op."""
    x, w = param(np.linspace(0.5, 1.5, 12).reshape(3, 4)), param(np.full((4, 4), 0.1))
    steps = [lambda t: t + 1.0, lambda t: t * 0.5, lambda t: 2.0 / t, lambda t: t.exp(), lambda t: t.log(),
             lambda t: t.sqrt(), lambda t: t ** 2, lambda t: t @ w, lambda t: t.T.T,
             lambda t: t.reshape(4, 3).reshape(3, 4), lambda t: t.transpose(0, 1).transpose(0, 1),
             lambda t: t[np.array([0, 1, 2])], lambda t: t[:, :], lambda t: t - t.max(axis=1, keepdims=True) + 1.5,
             lambda t: t - t.mean(axis=0) + t.sum() * 0.0 + 1.0]
    y, arrays = x, []
    for _ in range(20):
        for step in steps:
            y = step(y)
            arrays.append(weakref.ref(y.data))
    root = y.sum()
    del y
    root.backward()
    assert all(a() is None for a in arrays), f"{sum(a() is not None for a in arrays)} arrays still alive"
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_no_grad_results_keep_nothing_alive(no_cyclic_gc):
    x = param(np.ones(10))
    with no_grad():
        h = x * 2
        probe = weakref.ref(h)
        y = h + 1
    del h
    assert probe() is None and y.parents == ()


def test_dropping_an_unused_deep_graph_does_not_crash(no_cyclic_gc):
    """Deallocating a long chain that never ran backward must not overflow the C stack."""
    x = param([1.0])
    y = x
    for _ in range(50_000):
        y = y + 1.0
    probe = weakref.ref(y)
    del y
    assert probe() is None


def test_a_rule_returning_the_wrong_gradient_shape_fails_loudly():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    bad = Tensor.record(x.data * 2, (x,), lambda g: (g.sum(axis=0),))   # shape (3,) for a (2, 3) input
    with pytest.raises(RuntimeError, match=r"shape \(3,\) for an input of shape \(2, 3\)"):
        bad.backward(np.ones((2, 3), np.float32))
    assert x.grad is None, "nothing was accumulated"


def test_backward_releases_each_node_as_it_goes():
    seen_alive = []
    x = Tensor(np.ones(4), requires_grad=True)

    def spy_rule(g):   # runs last: by then the node after it has been used and must be gone
        seen_alive.append(probe() is not None)
        return (g,)
    spy = Tensor.record(x.data.copy(), (x,), spy_rule)
    tripled = spy * 3.0
    probe = weakref.ref(tripled)
    out = tripled.sum()
    del tripled
    out.backward()
    assert seen_alive == [False], "an interior node is released once backward has used it"
    np.testing.assert_allclose(x.grad, 3.0)


# ------------------------------------------------------------------ lazy zero_grad (module 06, "Zeroing gradients lazily")

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


def test_zero_grad_then_backward_writes_into_the_same_buffers():
    from tinytorch.core.losses import cross_entropy
    from tinytorch.core.optimizers import SGD
    model, x, y = _mlp_and_batch()
    expected = _fresh_gradients(model, x, y)
    buffers = [p.grad for p in model.parameters()]
    optimizer = SGD(model.parameters(), lr=0.1)
    for zero in (optimizer.zero_grad, model.zero_grad):
        for _ in range(3):          # stale values from the previous pass must never leak in
            zero()
            cross_entropy(model(x), y).backward()
            for p, buffer, want in zip(model.parameters(), buffers, expected):
                assert p.grad is buffer, "the buffers stay allocated"
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


def test_zero_is_pending_says_when_a_gradient_is_known_zero():
    from tinytorch.core.autograd import zero_is_pending
    from tinytorch.core.losses import cross_entropy
    model, x, y = _mlp_and_batch()
    params = model.parameters()
    assert not any(zero_is_pending(p) for p in params)          # no gradient yet
    cross_entropy(model(x), y).backward()
    model.zero_grad()
    assert all(zero_is_pending(p) for p in params)
    cross_entropy(model(x), y).backward()                      # written over the pending zeros
    assert not any(zero_is_pending(p) for p in params)
    model.zero_grad()
    params[0].grad                                             # reading fills the zeros
    assert not zero_is_pending(params[0]) and zero_is_pending(params[1])
    with pytest.raises(TypeError, match="zero_is_pending tensor"):
        zero_is_pending(np.zeros(3))


def _is_reverse_topological(order):
    """Each interior node appears once, before every interior node it consumes."""
    position = {id(node): i for i, node in enumerate(order)}
    return len(position) == len(order) and all(
        position[id(parent)] > position[id(node)]
        for node in order for parent in node.parents if parent.grad_fn is not None)


def test_reverse_topological_order_of_a_chain_and_of_graphs_that_join():
    from tinytorch.core.autograd import _reverse_topological
    x = param([1.0, 2.0])
    a = x * 2.0
    b = a + 1.0
    c = b.sum()
    assert _reverse_topological(c) == [c, b, a]          # a chain: root first, then down it
    shared = x * 3.0
    joined = (shared * shared).sum()                      # one node used twice by the next
    order = _reverse_topological(joined)
    assert len(order) == 3 and order[0] is joined and order[-1] is shared
    assert _is_reverse_topological(order)
    left, right = x * 2.0, x * 5.0
    diamond = (left + right * left).sum()                 # two paths from the root to `left`
    order = _reverse_topological(diamond)
    assert len(order) == 5 and order[0] is diamond and order[-1] in (left, right)
    assert _is_reverse_topological(order)
    diamond.backward()
    assert np.allclose(x.grad, 2.0 + 2 * 2 * 5.0 * x.data)
