# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 06: Autograd, the graph engine
#
# Since module 01 every operation on a `Tensor` has done two things: computed its result, and
# remembered, right beside that computation, how to send a gradient back to its inputs. This module
# builds the small engine that uses those rules: given a scalar loss, it visits every operation that
# led to it, in an order where each node's gradient is complete before it is passed on, and adds the
# results into the `.grad` of the leaves (the parameters).
#
# The engine knows nothing about particular operations. It needs only three attributes of a tensor:
# `_parents` (the inputs of the operation that made it), `_backward` (the rule: output gradient in,
# one gradient per parent out) and `requires_grad`. That separation is why adding an operation never
# touches this file.

# %%
#| default_exp core.autograd

# %% [markdown]
# ## Grad mode
#
# Building the graph costs memory and time: every result keeps its inputs alive until backward runs.
# During evaluation nobody will call `backward()`, so `no_grad()` switches recording off. It is a
# context manager (and a decorator); the flag is process-wide, like PyTorch's, and restored even when
# the body raises.

# %%
#| export
import contextlib
import functools

import numpy as np

from tinytorch.utils.validation import describe

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when operations record the graph for `backward()`."""
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Stop recording the graph inside a `with` block (or a decorated function).

    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor([2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    def __init__(self):
        # A stack, not one slot: as a decorator the same object is entered again by every call,
        # and a recursive (or nested) call must not overwrite the state saved by the outer one.
        self._previous = []

    def __enter__(self):
        global _grad_enabled
        # Hint: push the current flag on self._previous, then switch recording off (chapter 06,
        # "API").
        ### BEGIN SOLUTION
        self._previous.append(_grad_enabled)
        _grad_enabled = False
        ### END SOLUTION
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


# %%
def test_unit_no_grad():
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    try:
        with no_grad():
            raise KeyError("boom")
    except KeyError:
        pass
    assert is_grad_enabled(), "the flag must be restored when the body raises"

    @no_grad()
    def countdown(n):
        assert not is_grad_enabled()
        if n:
            countdown(n - 1)
    countdown(2)
    assert is_grad_enabled(), "a recursive decorated call must restore the flag"
    print("no_grad: ok")


if __name__ == "__main__":
    test_unit_no_grad()

# %% [markdown]
# ## Walking the graph backwards
#
# Gradients flow from the loss towards the leaves. A node may feed several later nodes (a weight used
# twice, a residual connection), and its gradient is the *sum* of what each of them sends back, so a
# node must not pass its gradient on until every consumer has contributed. A reverse topological
# order guarantees that: sort the nodes so that each comes after all of its inputs, then walk the list
# from the end.
#
# The sort is a depth-first search. A recursive one is three lines, but Python's recursion limit
# (about 1,000 frames) would make a 10,000-step chain crash, so we keep an explicit stack: each node is
# pushed once to expand its parents and once more to be emitted after them.
#
# Three more rules:
# - only *interior* nodes (results of operations) are sorted; leaves just receive gradients;
# - a leaf's gradient is **added** to its `.grad`, so two `backward()` calls accumulate, exactly as in
#   PyTorch, and `Optimizer.zero_grad()` resets it;
# - after use, each node drops its parents and its rule. That frees the activations the graph kept
#   alive, and a second `backward()` through the same graph fails loudly instead of silently
#   double-counting.
#
# Cost: one pass over the nodes, O(nodes + edges) Python work, plus whatever the rules compute. With
# fused layers a training step of an MLP is a handful of nodes, so the bookkeeping is microseconds.

# %%
#| export
def _graph_freed(grad):
    raise RuntimeError(
        "backward() reached a node whose graph was already used and freed: run the forward pass "
        "again before calling backward() a second time"
    )


def _chain(root):
    """The nodes from root down, if each has at most one interior input (an MLP's graph is such a
    chain, and its order is then simply the chain); None at the first node with two."""
    chain, node = [], root
    while node is not None:
        chain.append(node)
        below = None
        for parent in node._parents:
            if parent._backward is not None:
                if below is not None:
                    return None
                below = parent
        node = below
    return chain


def _reverse_topological(root) -> list:
    """Interior nodes reachable from root, each before every node it consumes (root first)."""
    chain = _chain(root)
    if chain is not None:
        return chain
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        # Marked when expanded, not when pushed: a node still waiting on the stack may also be an
        # input of a node expanded before it, and must then be emitted before that node.
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent._backward is not None and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


@functools.lru_cache(maxsize=16)
def _unit_gradient(shape: tuple, dtype) -> np.ndarray:
    """d(root)/d(root) for a one-element root: a read-only 1 (the same shapes come back every step,
    and no rule writes into the gradient it is given)."""
    one = np.ones(shape, dtype)
    one.flags.writeable = False
    return one


def backward(root, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into the `.grad` of every leaf that requires grad.

    `grad` is the gradient of some scalar with respect to `root`; it may be omitted only when
    `root` holds a single element (it is then 1).
    """
    _check_tensor("backward root", root)
    if not root.requires_grad:
        raise RuntimeError("backward() called on a tensor that does not require grad: "
                           "no input of the computation had requires_grad=True")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() without a gradient needs a single-element tensor, got "
                               f"shape {root.data.shape}: pass grad= of that shape, or reduce first")
        grad = _unit_gradient(root.data.shape, root.data.dtype)
    else:
        try:
            grad = np.asarray(getattr(grad, "data", grad), dtype=root.data.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"backward grad must be a Tensor or an array of numbers of shape "
                            f"{root.data.shape}, got {describe(grad)}") from None
        if grad.shape != root.data.shape:
            raise ValueError(f"backward(grad=...) got shape {grad.shape}: expected {root.data.shape}")
    if root._backward is None:  # a leaf: d(root)/d(root) = 1
        _accumulate(root, np.array(grad))   # a copy: the caller's array may be root.grad itself
        return
    # Hint: walk _reverse_topological(root) in order; sum what meets at a node in `pending`, hand
    # leaves' gradients to _accumulate, free each node after use (chapter 06, "06. Autograd").
    ### BEGIN SOLUTION
    pending = {id(root): grad}
    order = _reverse_topological(root)
    for position, node in enumerate(order):
        order[position] = None  # let each node's arrays go as soon as it is done
        node_grad = pending.pop(id(node), None)
        rule, parents = node._backward, node._parents
        node._parents, node._backward = (), _graph_freed
        if node_grad is None:  # every consumer of this node declined to send a gradient
            continue
        for parent, parent_grad in zip(parents, rule(node_grad)):
            if parent_grad is None or not parent.requires_grad:
                continue
            if parent_grad.shape != parent.data.shape:
                raise RuntimeError(f"a backward rule returned a gradient of shape {parent_grad.shape} "
                                   f"for an input of shape {parent.data.shape}")
            if parent._backward is None:
                _accumulate(parent, parent_grad)
            elif id(parent) in pending:
                pending[id(parent)] = pending[id(parent)] + parent_grad
            else:
                pending[id(parent)] = parent_grad
    ### END SOLUTION


_TENSOR_TYPES = set()   # classes recognised by _check_tensor: later checks are one set lookup


def _check_tensor(name: str, value) -> None:
    """The engine cannot import Tensor (tensor.py imports the engine), so it recognises one by the
    gradient slots every Tensor has. Every Tensor sets them when it is made, so a class that had
    them once is remembered (zero_grad checks every parameter on every step)."""
    if type(value) in _TENSOR_TYPES:
        return
    if not (hasattr(value, "_grad") and hasattr(value, "_grad_zero_pending") and hasattr(value, "data")):
        raise TypeError(f"{name} must be a Tensor, got {describe(value)}")
    _TENSOR_TYPES.add(type(value))


def _accumulate(leaf, grad) -> None:
    buffer = leaf._grad         # the array behind .grad; reading .grad would fill a pending zero
    if grad is buffer:          # the rule already wrote into the buffer (grad_buffer, below)
        return
    if buffer is None:
        # A copy: rules may hand the same array to several parents, and .grad is updated in place.
        leaf._grad = np.array(grad, dtype=leaf.data.dtype)
    elif leaf._grad_zero_pending:   # zero plus grad is grad: copy, and skip filling zeros first
        leaf._grad_zero_pending = False
        np.copyto(buffer, grad)
    else:
        buffer += grad


# %% [markdown]
# ## Zeroing gradients lazily
#
# A training step zeroes every gradient buffer (`optimizer.zero_grad()`), then backward adds each
# parameter's gradient into its zeroed buffer. For a weight that is three passes over an array the
# size of the weight: filling it with zeros, the matrix product writing a new temporary, and the
# addition reading both. Hand-written NumPy makes one pass, the product. On a wide layer the two
# extra passes cost as much as a small layer's whole step.
#
# The engine removes them and still knows no operation:
# - `zero_grads(tensors)` does not fill anything. It marks each buffer "zero pending". Reading
#   `.grad` (the property of module 01) fills a pending buffer with zeros first, so anybody who
#   looks sees zeros, exactly as before.
# - A backward rule that can write a parameter's gradient in one NumPy call asks
#   `grad_buffer(parent)`: it gets the parent's buffer when a zero is pending there (and claims it),
#   or `None`. Both fit one line: `np.matmul(g.T, x, out=grad_buffer(weight))`, since `out=None`
#   means "allocate a new array". The rule returns what it wrote, and `_accumulate` sees that the
#   buffer already holds it.
# - `_accumulate` copies a gradient into a buffer with a pending zero instead of adding.
#
# Every other case keeps its meaning: a weight used twice gets its second contribution added, a
# buffer replaced by the user (`w.grad = ...`) has no pending zero, and the first backward, before
# any buffer exists, allocates one. The buffers stay allocated throughout, so memory stays flat and
# countable. This is provided code, not an exercise: it changes how fast a step is, never what it
# computes, and `test_unit_lazy_zero` below checks both.
#
# The engine uses two attributes of a tensor besides `_parents` and `_backward`: `_grad`, the array
# behind the `.grad` property, and `_grad_zero_pending`.

# %%
#| export
def zero_grads(tensors) -> None:
    """Make every existing `.grad` buffer zero without touching its memory yet: the zero is filled
    in when `.grad` is read, or skipped when backward writes the next gradient over it. Buffers
    stay allocated; tensors whose `.grad` is None are left alone."""
    try:
        tensors = list(tensors)
    except TypeError:
        raise TypeError(f"zero_grads tensors must be an iterable of Tensors, got {describe(tensors)}") from None
    for tensor in tensors:          # all checked before any is marked
        _check_tensor("zero_grads tensors entry", tensor)
    for tensor in tensors:
        if tensor._grad is not None:
            tensor._grad_zero_pending = True


def zero_is_pending(tensor) -> bool:
    """True when `zero_grads` marked the tensor's gradient as zero and nothing has written or read
    it since: the gradient is zero, known without reading (or filling) the buffer."""
    _check_tensor("zero_is_pending tensor", tensor)
    return tensor._grad_zero_pending


def grad_buffer(tensor):
    """The buffer behind `tensor.grad` if a backward rule may write the tensor's whole gradient
    into it (`out=`), because a zero is pending there; claims it, so a second call gets None.
    Otherwise None, which makes NumPy allocate a new array."""
    try:                            # every backward rule calls this: no checks on the usual path
        pending = tensor._grad_zero_pending
    except AttributeError:
        _check_tensor("grad_buffer tensor", tensor)
        raise
    if pending:
        tensor._grad_zero_pending = False
        return tensor._grad
    return None


# %% [markdown]
# The checks below use the `Tensor` of module 01, whose operations were written against exactly this
# engine.

# %%
def test_unit_backward_accumulates_and_frees():
    from tinytorch.core.tensor import Tensor

    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()           # dy/dx = 2x
    y.backward()
    assert np.allclose(x.grad, [2, 4, 6])
    (x * 3).sum().backward()    # accumulates: 2x + 3
    assert np.allclose(x.grad, [5, 7, 9])
    try:
        y.backward()
        raise AssertionError("a freed graph must not run twice")
    except RuntimeError as e:
        assert "again" in str(e)
    print("backward: ok")


def test_unit_deep_chain():
    from tinytorch.core.tensor import Tensor

    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.sum().backward()
    assert x.grad[0] == 1.0
    print("10,000-node chain: ok")


def test_unit_lazy_zero():
    from tinytorch.core.tensor import Tensor

    w = Tensor([1.0, 2.0], requires_grad=True)
    x = np.array([3.0, 4.0], dtype=np.float32)

    def times_x(w):   # an operation whose rule writes straight into a zeroed buffer
        return Tensor._op(w.data * x, (w,), lambda g: (np.multiply(g, x, out=grad_buffer(w)),))
    times_x(w).sum().backward()
    buffer = w.grad
    assert np.array_equal(buffer, x)
    zero_grads([w])
    assert w.grad is buffer and not buffer.any(), "reading .grad after zero_grads shows zeros"
    zero_grads([w])
    times_x(w).sum().backward()
    assert w.grad is buffer and np.array_equal(buffer, x), "written in place, not added to stale data"
    times_x(w).sum().backward()
    assert np.array_equal(w.grad, 2 * x), "a second backward accumulates"
    zero_grads([w])
    (times_x(w).sum() + times_x(w).sum()).backward()
    assert np.array_equal(w.grad, 2 * x), "a tensor used twice gets both contributions"
    zero_grads([w])
    (w * 5.0).sum().backward()   # a rule that does not use grad_buffer: copied over the pending zero
    assert w.grad is buffer and np.array_equal(buffer, [5.0, 5.0])
    print("lazy zero: ok")


if __name__ == "__main__":
    test_unit_backward_accumulates_and_frees()
    test_unit_deep_chain()
    test_unit_lazy_zero()
