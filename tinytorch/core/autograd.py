# GENERATED FILE: DO NOT EDIT. Source: src/06_autograd/06_autograd.py
# Edit the source, then run `make export` to regenerate this file.

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
        self.previous.append(is_grad_enabled())
        set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        # Hint: put back the setting remembered last (chapter 06, "API").
        set_grad_enabled(self.previous.pop())
        return False


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
    for node in order:            # provided: release the graph (see above) ...
        for parent in node.parents:
            # ... and keep every leaf's .grad an array: NumPy arithmetic on 0-d arrays returns
            # scalars (np.float32(2.0) * 3 is no ndarray), so a 0-d leaf's gradient may arrive as one
            if parent.grad_fn is None and parent.grad is not None and type(parent.grad) is not np.ndarray:
                parent.grad = np.asarray(parent.grad, dtype=parent.data.dtype)
        node.parents, node.grad_fn = (), _graph_freed
