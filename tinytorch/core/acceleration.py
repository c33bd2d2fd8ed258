# GENERATED FILE: DO NOT EDIT. Source: src/11_acceleration/11_acceleration.py
# Edit the source, then run `make export` to regenerate this file.

import math

import numpy as np

from tinytorch.core import activations
from tinytorch.core.activations import ReLU
from tinytorch.core.flat import end_to_end, lay_end_to_end, memory_order
from tinytorch.core.kernels import affine, column_sums, input_gradient, row_max, row_sums, weight_gradient
from tinytorch.core.layers import Linear, Module, Sequential, check_linear_arguments, linear
from tinytorch.core.losses import CrossEntropyLoss, checked_predictions, class_labels, cross_entropy, target_array
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor
from tinytorch.utils.joined_state import joined_state, zero_joined
from tinytorch.utils.validation import check_bool, check_number, describe

__all__ = ["FusedLinear", "fused_linear", "Identity", "FusedCrossEntropyLoss", "fused_cross_entropy",
           "update_all_at_once", "zero_all_at_once", "accelerate", "MAX_END_TO_END_BYTES"]


def fused_linear(x: Tensor, weight: Tensor, bias: Tensor = None, relu: bool = False) -> Tensor:
    """`x @ weight.T + bias` (with `relu=True`, its ReLU) for a 2-D `x` of the weight's dtype as one
    graph node, by the kernels' routes (other inputs, such as a batch of sequences or integers, go
    through module 03's `linear` and module 02's `relu`)."""
    check_linear_arguments(x, weight, bias)
    relu = check_bool("fused_linear relu", relu)
    if x.data.ndim != 2 or x.data.dtype != weight.data.dtype:
        out = linear(x, weight, bias)
        return activations.relu(out) if relu else out
    # Hint: out = affine(x.data, w, b), with relu np.maximum(out, 0, out=out); backward (with relu,
    # first g = g * (out > 0)) returns one per parent: input_gradient(g, w, x.data) (None when x needs
    # none), weight_gradient(g, x.data, w), and with a bias column_sums(g) (chapter 12, "FusedLinear").
    w = weight.data
    out = affine(x.data, w, None if bias is None else bias.data)
    if relu:
        np.maximum(out, 0, out=out)

    def backward(g):
        if relu:
            g = g * (out > 0)
        grad_x = input_gradient(g, w, x.data) if x.requires_grad else None
        grad_w = weight_gradient(g, x.data, w) if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        return grad_x, grad_w, column_sums(g) if bias.requires_grad else None
    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.record(out, parents, backward)


class FusedLinear(Linear):
    """A `Linear` (with `relu=True`, a `Linear` and the `ReLU` after it) computed as one graph node
    (`fused_linear`), sharing the replaced layer's parameters. `Linear`'s checks of the input stay."""

    def __init__(self, layer: Linear, relu: bool = False):
        if not isinstance(layer, Linear):
            raise TypeError(f"FusedLinear layer must be a Linear, got {describe(layer)}")
        relu = check_bool("FusedLinear relu", relu)
        Module.__init__(self)
        self.in_features, self.out_features = layer.in_features, layer.out_features
        self.weight, self.bias = layer.weight, layer.bias      # the same tensors: nothing else changes
        self.relu = relu
        self.training = layer.training

    def forward(self, x) -> Tensor:
        return fused_linear(self.checked_input(x), self.weight, self.bias, relu=self.relu)

    def __repr__(self) -> str:
        text = "Fused" + super().__repr__()
        return text[:-1] + ", relu=True)" if self.relu else text


class Identity(Module):
    """Returns its input: what `accelerate` leaves where a `ReLU` was applied by the `FusedLinear`
    before it, so that a list of layers keeps its positions and a checkpoint its keys (PyTorch's
    `fuse_modules` leaves an `nn.Identity` the same way)."""

    def forward(self, x):
        return x

    def __repr__(self) -> str:
        return "Identity()"


def fused_cross_entropy(logits: Tensor, target) -> Tensor:
    """Module 04's `cross_entropy` (same checks, same numbers up to rounding), with class labels
    picked by index and the row maximum and sums by the kernels; probability targets use module 04's."""
    name = "cross_entropy"
    logits = checked_predictions(name, logits)
    t = target_array(name, target)
    if logits.ndim != 2 or t.ndim != 1:
        return cross_entropy(logits, target)
    labels = class_labels(name, t, logits)
    x = logits.data
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - row_max(x)[:, None]
    e = np.exp(shifted)
    sums = row_sums(e)
    loss = (np.log(sums) - shifted[rows, labels]).sum() / n

    def backward(g):
        grad_x = e / sums[:, None]
        grad_x[rows, labels] -= 1
        grad_x *= g / n
        return (grad_x,)
    return Tensor.record(np.asarray(loss, dtype=x.dtype), (logits,), backward)


class FusedCrossEntropyLoss(CrossEntropyLoss):
    """`CrossEntropyLoss` by `fused_cross_entropy`."""

    def forward(self, logits: Tensor, target) -> Tensor:
        return fused_cross_entropy(logits, target)


MAX_END_TO_END_BYTES = 1 << 20


def update_all_at_once(optimizer: Optimizer, lr: float) -> bool:
    """One call of `optimizer.update` on all parameters at once (see above); False, having changed
    nothing, when that does not apply."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"update_all_at_once optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    if type(lr) is not float or not 0.0 <= lr < math.inf:      # a quick pass for the usual float
        lr = check_number("update_all_at_once lr", lr, minimum=0.0)
    entries = optimizer.state                  # each parameter's own state dict
    joined = joined_state(optimizer, MAX_END_TO_END_BYTES)     # provided: None when it does not apply
    if joined is None:
        return False
    # Hint: run optimizer.update once, on all values (joined.values), all gradients (joined.grad)
    # and the joined state (joined.state) (chapter 12, "One update for all parameters").
    optimizer.update(joined.values, joined.grad, joined.state, lr)
    joined.share_state(entries)                # provided: step 4, the state shared back
    return True


def zero_all_at_once(optimizer: Optimizer) -> bool:
    """`optimizer.zero_grad()` with one call when its gradients lie end to end (the one-call update
    laid them out); False, having changed nothing, otherwise."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"zero_all_at_once optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    return zero_joined(optimizer)


def _fusions(owner, seen: set) -> list:
    """What fusing changes below `owner` (its attributes, and lists of them), nothing changed yet:
    (holder, key, new layer) for every Linear, a FusedLinear sharing its parameters. Only in a
    Sequential's list, which runs its layers in that order, a Linear followed by a ReLU becomes one
    FusedLinear with relu=True and the ReLU an Identity; any other list or attribute may be run in
    any order (a residual block, a layer also named elsewhere): no pairs. Each object is visited
    once, so a model that refers back to itself is no endless walk."""
    if id(owner) in seen:
        return []
    seen.add(id(owner))
    in_order = isinstance(owner, Sequential) and type(owner).forward is Sequential.forward
    plan = []
    for name, value in list(vars(owner).items()):
        if type(value) is Linear:
            plan.append((owner, name, FusedLinear(value)))
        elif isinstance(value, list) and id(value) not in seen:
            seen.add(id(value))
            for index, item in enumerate(value):
                if type(item) is Linear:
                    then_relu = in_order and index + 1 < len(value) and type(value[index + 1]) is ReLU
                    plan.append((value, index, FusedLinear(item, relu=then_relu)))
                    if then_relu:
                        plan.append((value, index + 1, Identity()))
                elif hasattr(item, "__dict__") and not isinstance(item, (Tensor, np.ndarray, type)):
                    plan += _fusions(item, seen)
        elif isinstance(value, Module):
            plan += _fusions(value, seen)
    return plan


def accelerate(model, optimizer=None, loss_fn=None) -> tuple:
    """`(model, optimizer, loss_fn)` with the fast paths switched on (see the chapter); `optimizer`
    and `loss_fn` may be None and are then returned as None.

    >>> from tinytorch.core.layers import Sequential, manual_seed
    >>> manual_seed(0)
    >>> model, optimizer, loss_fn = accelerate(Sequential(Linear(4, 3)), None, CrossEntropyLoss())
    >>> model
    Sequential(
      (0): FusedLinear(in_features=4, out_features=3, bias=True)
    )
    """
    if isinstance(model, type) or not callable(getattr(model, "parameters", None)) or not hasattr(model, "__dict__"):
        raise TypeError(f"accelerate model must have a parameters() method (a Module or a model "
                        f"object), got {describe(model)}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"accelerate optimizer must be a tinytorch Optimizer, got {describe(optimizer)}")
    if loss_fn is not None and (isinstance(loss_fn, type) or not callable(loss_fn)):
        raise TypeError(f"accelerate loss_fn must be a loss (a callable such as CrossEntropyLoss()) or "
                        f"None, got {describe(loss_fn)}")
    params = model.parameters()
    if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise TypeError(f"accelerate model.parameters() must return Tensors, got {describe(params)}")
    params = list(params)
    if not all(isinstance(p, Tensor) for p in params):
        raise TypeError("accelerate model.parameters() must return Tensors")
    plan = _fusions(model, set())            # all checks and the whole plan first: then the changes
    for holder, key, layer in plan:
        if isinstance(holder, list):
            holder[key] = layer
        else:
            setattr(holder, key, layer)
    fused = [layer for _, _, layer in plan if isinstance(layer, FusedLinear)]
    if params and len({p.data.dtype for p in params}) == 1 and end_to_end([p.data for p in params]) is None:
        # Weights by columns only where the one-call update will hold their gradients (laid out like
        # the values): a gradient your engine creates is a copy laid out by rows, and adding a
        # by-columns gradient into it every step would cost more than the product saves.
        joined = optimizer is not None and sum(p.data.nbytes for p in params) <= MAX_END_TO_END_BYTES
        by_columns = {id(layer.weight) for layer in fused} if joined else set()
        orders = ["F" if id(p) in by_columns else memory_order(p.data) for p in params]
        for param, view in zip(params, lay_end_to_end([p.data for p in params], orders)):
            param.data = view
    if optimizer is not None:
        optimizer.foreach = True
    if type(loss_fn) is CrossEntropyLoss:
        loss_fn = FusedCrossEntropyLoss()
    return model, optimizer, loss_fn
