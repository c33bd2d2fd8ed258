# GENERATED FILE: DO NOT EDIT. Source: src/06_autograd/06_autograd.py
# Edit the source, then run `make export` to regenerate this file.

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
        self._previous.append(_grad_enabled)
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


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
