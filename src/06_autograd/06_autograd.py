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
# `parents` (the inputs of the operation that made it), `grad_fn` (the rule: output gradient in,
# one gradient per parent out) and `requires_grad`. That separation is why adding an operation never
# touches this file.

# %%
#| default_exp core.autograd

# %% [markdown]
# ## Grad mode
#
# Building the graph costs memory and time: every result keeps its inputs alive until backward runs.
# During evaluation nobody will call `backward()`, so `no_grad()` switches recording off. The switch
# itself is module 01's (`set_grad_enabled`, which `Tensor.record` reads); `no_grad` is a context
# manager (and a decorator) around it that puts the previous setting back when the block ends, even
# when the block raises.

# %%
#| export
import contextlib

import numpy as np

from tinytorch.core.tensor import Tensor, is_grad_enabled, set_grad_enabled
from tinytorch.utils.validation import describe

__all__ = ["no_grad", "is_grad_enabled", "set_grad_enabled", "topological_order", "backward"]


def _check_node(name: str, value) -> None:
    """A TypeError naming `name` unless `value` is a tensor. A tensor is recognised by what the engine
    uses (`data`, `requires_grad`, `parents`, `grad_fn`), not by its class: a notebook that defines
    its own `Tensor` (module 01's, run as a script) hands its tensors to this engine too."""
    if type(value) is Tensor:          # the usual case, one test: this runs on every backward
        return
    if not all(hasattr(value, attribute) for attribute in ("data", "requires_grad", "parents", "grad_fn")):
        raise TypeError(f"{name} must be a Tensor, got {describe(value)}")


class no_grad(contextlib.ContextDecorator):
    """Stop recording the graph inside a `with` block (or a decorated function).

    >>> w = Tensor([2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    def __init__(self):
        # A stack, not one slot: as a decorator the same object is entered again by every call,
        # and a recursive (or nested) call must not overwrite the state saved by the outer one.
        self.previous = []

    def __enter__(self):
        # Hint: remember is_grad_enabled() on self.previous, then set_grad_enabled(False) (chapter 06,
        # "API").
        ### BEGIN SOLUTION
        self.previous.append(is_grad_enabled())
        set_grad_enabled(False)
        ### END SOLUTION
        return self

    def __exit__(self, *exc):
        # Hint: put back the setting remembered last (chapter 06, "API").
        ### BEGIN SOLUTION
        set_grad_enabled(self.previous.pop())
        ### END SOLUTION
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
# The sort is a depth-first search: visit a node's parents first, then put the node on the list.
# Only *interior* nodes (results of operations, `grad_fn` not None) are sorted; leaves just receive
# gradients. Written recursively it is five lines, and that is a fine first version; but Python
# allows about 1,000 nested calls, so a 10,000-step chain (an unrolled recurrent network) would
# crash it. With an explicit stack there is no limit: each node is pushed once to expand its
# parents and once more, marked, to be emitted after them.

# %%
#| export
def topological_order(root: Tensor) -> list:
    """The interior nodes reachable from `root` (results of operations that recorded a `grad_fn`),
    each listed before every node it was computed from: `root` first, the leaves' consumers last.

    >>> x = Tensor([1.0], requires_grad=True)
    >>> y = x * 2
    >>> z = y + y
    >>> topological_order(z) == [z, y]
    True
    """
    _check_node("topological_order root", root)
    # Hint: depth-first from root over parents whose grad_fn is not None; a node goes on the list
    # after all its parents; return the list reversed. An explicit stack of (node, expanded) pairs
    # avoids Python's recursion limit (chapter 06, "Walking the graph backwards").
    ### BEGIN SOLUTION
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node.parents:
            if parent.grad_fn is not None and parent not in visited:
                stack.append((parent, False))
    order.reverse()
    return order
    ### END SOLUTION


# %% [markdown]
# `backward(root)` then runs the rules in that order:
# - the gradient of `root` with respect to itself is 1 (for a one-element root; otherwise the caller
#   passes it);
# - each node's gradient, complete once every consumer has run, goes through its `grad_fn`, which
#   returns one gradient per parent (`None` for a parent that needs none);
# - what reaches an interior parent is **summed** with what others sent it; what reaches a leaf is
#   **added** to its `.grad` (a copy the first time, since a rule may hand the same array to several
#   parents), so two `backward()` calls accumulate, exactly as in PyTorch, and
#   `Optimizer.zero_grad()` resets them.
#
# Provided around your loop: the checks of `root` and of the gradient you pass, and, after the walk,
# releasing the graph: each node drops its parents and its rule. That frees the activations the graph
# kept alive, and a second `backward()` through the same graph fails loudly instead of silently
# counting twice.
#
# Cost: one pass over the nodes, O(nodes + edges) Python work, plus whatever the rules compute.

# %%
#| export
def _graph_freed(grad):
    raise RuntimeError(
        "backward() reached a node whose graph was already used and freed: run the forward pass "
        "again before calling backward() a second time"
    )


def _root_gradient(root, grad) -> np.ndarray:
    """The gradient to start from: 1 for a one-element root, else `grad`, checked and converted to
    the root's shape and dtype."""
    _check_node("backward root", root)
    if not root.requires_grad:
        raise RuntimeError("backward() called on a tensor that does not require grad: "
                           "no input of the computation had requires_grad=True")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() without a gradient needs a single-element tensor, got "
                               f"shape {root.data.shape}: pass grad= of that shape, or reduce first")
        return np.ones(root.data.shape, root.data.dtype)
    try:
        grad = np.array(getattr(grad, "data", grad), dtype=root.data.dtype)
    except (TypeError, ValueError):
        raise TypeError(f"backward grad must be a Tensor or an array of numbers of shape "
                        f"{root.data.shape}, got {describe(grad)}") from None
    if grad.shape != root.data.shape:
        raise ValueError(f"backward(grad=...) got shape {grad.shape}: expected {root.data.shape}")
    return grad


def backward(root: Tensor, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into the `.grad` of every leaf that requires grad.

    `grad` is the gradient of some scalar with respect to `root`; it may be omitted only when
    `root` holds a single element (it is then 1).
    """
    grad = _root_gradient(root, grad)
    if root.grad_fn is None:      # a leaf: d(root)/d(root) = 1
        root.grad = grad if root.grad is None else root.grad + grad
        return
    order = topological_order(root)
    # Hint: grads = {root: grad}; for each node of `order`, pop its gradient, call node.grad_fn(g); each
    # parent_grad not None, to a parent that requires grad, goes into a leaf's .grad (a copy in the leaf's dtype,
    # astype, when it is None, else added) or is summed into grads for an interior parent (chapter 06, "Walking the graph backwards").
    ### BEGIN SOLUTION
    grads = {root: grad}
    for node in order:
        node_grad = grads.pop(node, None)
        if node_grad is None:         # every consumer of this node declined to send a gradient
            continue
        for parent, parent_grad in zip(node.parents, node.grad_fn(node_grad)):
            if parent_grad is None or not parent.requires_grad:
                continue
            if parent.grad_fn is None:
                if parent.grad is None:
                    parent.grad = parent_grad.astype(parent.data.dtype)   # a copy, in the leaf's dtype
                else:
                    parent.grad += parent_grad
            elif parent in grads:
                grads[parent] = grads[parent] + parent_grad
            else:
                grads[parent] = parent_grad
    ### END SOLUTION
    for node in order:            # provided: release the graph (see above) ...
        for parent in node.parents:
            # ... and keep every leaf's .grad an array: NumPy arithmetic on 0-d arrays returns
            # scalars (np.float32(2.0) * 3 is no ndarray), so a 0-d leaf's gradient may arrive as one
            if parent.grad_fn is None and parent.grad is not None and type(parent.grad) is not np.ndarray:
                parent.grad = np.asarray(parent.grad, dtype=parent.data.dtype)
        node.parents, node.grad_fn = (), _graph_freed


# %% [markdown]
# The checks below use the `Tensor` of module 01, whose operations were written against exactly this
# engine.

# %%
def test_unit_backward_accumulates_and_frees():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()           # dy/dx = 2x
    y.backward()
    assert np.allclose(x.grad, [2, 4, 6])
    (x * 3).sum().backward()    # accumulates: 2x + 3
    assert np.allclose(x.grad, [5, 7, 9])
    try:
        y.backward()
        raise AssertionError("a freed graph must not run twice")
    except RuntimeError:
        pass
    print("backward: ok")


def test_unit_shared_nodes():
    x = Tensor([2.0], requires_grad=True)
    y = x * x                   # used twice below: its gradient is the sum of both uses
    z = (y + y * 3.0).sum()     # z = 4 x^2, dz/dx = 8 x
    order = topological_order(z)
    assert order.index(z) < order.index(y), "a node comes before the nodes it was computed from"
    z.backward()
    assert np.allclose(x.grad, [16.0])
    print("shared nodes: ok")


def test_unit_long_chain():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3_000):      # deeper than Python's recursion limit
        y = y + 1.0
    y.sum().backward()
    assert x.grad[0] == 1.0
    print("3,000-node chain: ok")


if __name__ == "__main__":
    test_unit_backward_accumulates_and_frees()
    test_unit_shared_nodes()
    test_unit_long_chain()
