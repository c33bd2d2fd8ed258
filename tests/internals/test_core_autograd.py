"""White-box checks of the reference graph engine, tinytorch.core.autograd (ungraded: tito never runs
them).

What a learner's plain engine need not do but the reference does: add later gradients into the same
`.grad` array, survive a rule that sends None to an interior node, walk a 10,000-node chain, and
release every node and array of a used graph by reference counting alone (no cycle collector);
what happens to a rule that returns a gradient of the wrong shape."""
import gc
import weakref

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.optimizers import SGD
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


def test_later_backward_calls_add_into_the_same_array():
    x = param([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    grad_buffer = x.grad
    (x * 3).sum().backward()
    assert x.grad is grad_buffer, "later calls add into the same buffer in place"
    assert np.allclose(grad_buffer, [5, 7, 9])


def test_leaf_gradients_are_separate_arrays():
    a, b = param([1.0, 2.0]), param([3.0, 4.0])
    seed = np.ones(2, dtype=np.float32)
    (a + b).backward(seed)
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, seed)


def test_zero_grad_then_backward_writes_into_the_same_buffers():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential, manual_seed
    from tinytorch.core.losses import cross_entropy
    manual_seed(0)
    model = Sequential([Linear(5, 4), ReLU(), Linear(4, 3)])
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((6, 5))), rng.integers(0, 3, 6)
    cross_entropy(model(x), y).backward()
    buffers = [p.grad for p in model.parameters()]
    optimizer = SGD(model.parameters(), lr=0.1)
    for zero in (optimizer.zero_grad, model.zero_grad):
        zero()
        cross_entropy(model(x), y).backward()
        assert all(p.grad is buffer for p, buffer in zip(model.parameters(), buffers)), \
            "the buffers stay allocated"


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


def test_a_rule_returning_the_wrong_gradient_shape_is_caught_by_the_optimizer():
    """The plain engine does not check a rule's output (a learner's need not either): a gradient of
    the wrong shape lands in .grad, and Optimizer.step refuses it before it changes any parameter."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    bad = Tensor.record(x.data * 2, (x,), lambda g: (g.sum(axis=0),))   # shape (3,) for a (2, 3) input
    bad.backward(np.ones((2, 3), np.float32))
    assert x.grad.shape == (3,)
    optimizer = SGD([x], lr=0.1)
    with pytest.raises(ValueError, match=r"params\[0\]\.grad has shape \(3,\)"):
        optimizer.step()
    assert np.array_equal(x.data, np.ones((2, 3)))


def test_every_node_is_released_after_backward():
    x = param(np.ones(4))
    h = x * 2.0
    out = (h * 3.0).sum()
    out.backward()
    for node in (h, out):
        assert node.parents == ()
        with pytest.raises(RuntimeError, match="already used and freed"):
            node.grad_fn(np.ones(node.shape, np.float32))


def test_a_leaf_gets_its_gradient_in_its_own_dtype():
    """A float32 leaf that met a float64 tensor: the reference engine stores a float32 .grad, as
    PyTorch does, so the optimizer takes it (a copy of the float64 gradient would be refused)."""
    from tinytorch.core.optimizers import SGD
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * Tensor(np.array([3.0, 4.0]), dtype=np.float64)).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [3.0, 4.0]
    SGD([w], lr=0.5).step()
    assert w.data.tolist() == [-0.5, 0.0]
