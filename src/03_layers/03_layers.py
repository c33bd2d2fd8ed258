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
# # Module 03: Layers
#
# A layer is a function with parameters: `Linear` computes `x @ W.T + b` and owns `W` and `b`.
# Networks are layers of layers. This module builds the `Module` base that every layer and every
# network inherits, so that one call finds all parameters (for the optimizer), one call switches
# training and evaluation behaviour (for `Dropout`), and one call saves or restores the weights
# (for checkpoints). Then the layers themselves: `Linear`, `Dropout`, `Flatten`, `Sequential`.

# %%
#| default_exp core.layers

# %% [markdown]
# ## Reproducible initialisation
#
# Layers draw their initial weights from one generator owned by this module, never from NumPy's
# global state, so `manual_seed(0)` followed by building a model always gives the same weights,
# whatever else the program does with random numbers.

# %%
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_float, check_tensor
from tinytorch.utils.validation import check_bool, check_int, check_number, describe

_init_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator that initialises layer weights (and seeds Dropout layers created after)."""
    global _init_rng
    _init_rng = np.random.default_rng(check_int("manual_seed seed", seed, 0))


# %% [markdown]
# ## The Module base
#
# A module finds its parameters and children by looking at its own attributes, in the order they
# were assigned: a `Tensor` with `requires_grad=True` is a parameter, a `Module` (or a list of them)
# is a child. Names join the attribute path with dots (`layers.0.weight`), so they are stable across
# runs and are what checkpoints store. No registration calls, no metaclass.
#
# `training` is a property: setting it on the outermost model reaches every child, so a
# `Dropout` deep inside a network knows it is being evaluated. `load_state_dict` checks every name,
# shape and dtype before it copies anything, and copies *into* the existing arrays, so an optimizer
# that holds references to them keeps working.

# %%
#| export
class Module:
    """Base class of layers and models: parameters, children, train/eval mode, state dicts."""

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- the tree ---------------------------------------------------------------------------------
    def named_children(self):
        """(name, module) for each direct child, in assignment order; lists name items by index."""
        # Hint: walk vars(self) in order; yield Modules, and the Modules inside lists as name.i
        # (chapter 03, "A worked example": the parameter names layers.0.weight, ...).
        ### BEGIN SOLUTION
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item
        ### END SOLUTION

    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module and every descendant, parents first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> list:
        """(dotted name, Tensor) for every parameter, each shared tensor listed once."""
        seen, named = set(), []
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Tensor) and value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    named.append((f"{prefix}.{name}" if prefix else name, value))
        return named

    def parameters(self) -> list:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero in place (the arrays stay allocated; a gradient
        that is None stays None)."""
        for p in self.parameters():
            if p.grad is not None:
                p.grad.fill(0)

    # -- training / evaluation mode -----------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.__dict__.get("_training", True)

    @training.setter
    def training(self, mode: bool) -> None:
        self.train(mode)

    def train(self, mode: bool = True) -> "Module":
        mode = check_bool(f"{type(self).__name__}.train mode", mode)
        for _, module in self.named_modules():
            module.__dict__["_training"] = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self, copy: bool = True) -> dict:
        """{name: the parameter's array}: copies, or with ``copy=False`` the live arrays themselves
        (a no-copy view for writing a checkpoint or counting bytes; do not modify it)."""
        if check_bool(f"{type(self).__name__}.state_dict copy", copy):
            return {name: p.data.copy() for name, p in self.named_parameters()}
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters; every name, shape and dtype is checked first."""
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict: state must be a dict of arrays by parameter name, "
                            f"got {type(state).__name__}")
        params = dict(self.named_parameters())
        missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(f"load_state_dict: state does not match {type(self).__name__}: "
                             f"missing {missing}, unexpected {unexpected}")
        for name, p in params.items():
            try:
                value = np.asarray(state[name])
            except (TypeError, ValueError) as error:
                raise ValueError(f"load_state_dict: state[{name!r}] is not an array: "
                                 f"{describe(state[name])} ({error})") from None
            if value.shape != p.shape or value.dtype != p.dtype:
                raise ValueError(f"load_state_dict: {name!r} has shape {value.shape} and dtype "
                                 f"{value.dtype}, expected {p.shape} and {p.dtype}")
        for name, p in params.items():
            np.copyto(p.data, state[name])

    def named_generators(self) -> dict:
        """{dotted name: numpy Generator} of every generator owned by a module (Dropout's)."""
        return {f"{prefix}.{name}" if prefix else name: value
                for prefix, module in self.named_modules()
                for name, value in vars(module).items() if isinstance(value, np.random.Generator)}

    def random_state(self) -> dict:
        """{dotted name: bit-generator state (plain JSON-able dict)} of every owned generator."""
        return {name: rng.bit_generator.state for name, rng in self.named_generators().items()}

    def set_random_state(self, states: dict) -> None:
        """Restore what `random_state()` returned; checked completely before anything changes."""
        generators = self.named_generators()
        if not isinstance(states, dict):
            raise TypeError(f"set_random_state: states must be a dict, got {describe(states)}")
        if set(states) != set(generators):
            raise ValueError(f"set_random_state: states names other generators: expected generators "
                             f"{sorted(generators)}, got {describe(sorted(states, key=str))}")
        for name, rng in generators.items():
            kind = rng.bit_generator.state["bit_generator"]
            if not isinstance(states[name], dict) or states[name].get("bit_generator") != kind:
                raise ValueError(f"set_random_state: {name!r} is a {kind} generator, got {describe(states[name])}")
            try:   # a scratch generator of the same kind tries the state, so garbage changes nothing
                with np.errstate(all="raise"):       # a NaN cast into the state is refused, not warned about
                    type(rng.bit_generator)().state = states[name]
            except (TypeError, ValueError, KeyError, IndexError, OverflowError, FloatingPointError) as error:
                raise ValueError(f"set_random_state: {name!r} is not a valid {kind} state: "
                                 f"{describe(states[name])} ({error})") from None
        for name, rng in generators.items():
            rng.bit_generator.state = states[name]

    def __repr__(self) -> str:
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        return f"{type(self).__name__}(" + ("\n" + "\n".join(children) + "\n" if children else "") + ")"


# %%
def test_unit_module_tree():
    class Inner(Module):
        def __init__(self):
            self.w = Tensor(np.ones(2), requires_grad=True)
            self.constant = Tensor(np.ones(2))   # not a parameter: no grad wanted

    class Outer(Module):
        def __init__(self):
            self.first = Inner()
            self.blocks = [Inner(), "not a module", Inner()]

    model = Outer()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["first.w", "blocks.0.w", "blocks.2.w"], names
    model.training = False
    assert not model.blocks[2].training, "the flag reaches every child"
    state = model.state_dict()
    state["first.w"][:] = 5.0
    model.load_state_dict(state)
    assert np.all(model.first.w.data == 5.0)
    try:
        model.load_state_dict({"first.w": np.ones(3, np.float32)})
        raise AssertionError("a mismatched state must be refused")
    except ValueError as e:
        assert "blocks.0.w" in str(e), "the message names what is missing"
    assert np.all(model.first.w.data == 5.0), "a refused load changes nothing"
    print("Module: ok")


if __name__ == "__main__":
    test_unit_module_tree()

# %% [markdown]
# ## Linear
#
# `Linear(in_features, out_features)` maps the last axis: `y = x @ W.T + b` with `W` of shape
# `(out_features, in_features)`, PyTorch's layout, so a state dict means the same thing in both.
# Initial values are drawn uniformly from `[-1/sqrt(in_features), 1/sqrt(in_features)]`, which is
# what PyTorch's default (Kaiming-uniform with `a = sqrt(5)`) works out to for both `W` and `b`:
# it keeps the output variance close to the input's, layer after layer.
#
# The layer is three operations of module 01: a transpose (free: a view), a matrix product and a
# broadcast addition, so `linear` is the one line `x @ weight.T + bias`, and backward needs nothing
# new. Module 01's rules give exactly the three products a hand-written NumPy network computes:
#
# - `grad_x = grad @ W` (skipped when the input needs no gradient, as for the network's input),
# - `grad_W = grad.T @ x` (in `W`'s own memory order: module 01, "Matrix multiplication"),
# - `grad_b = grad.sum(axis=0)` (the `unbroadcast` of the addition).
#
# Cost for a batch of `B`: `2 * B * in * out` floating-point operations forward, twice that
# backward; memory: the parameters, their gradients, and the input `x` kept for `grad_W`.

# %%
#| export
def _linear_input(name: str, x, weight: Tensor) -> Tensor:
    """The input of a linear map in the weight's dtype. Integer and bool input is promoted to it
    (DESIGN.md, "Integer inputs"); a floating input of another precision is refused, as PyTorch does,
    because silently casting would either lose the precision asked for or make the output float64."""
    check_tensor(name, x)
    if x.data.dtype is weight.data.dtype or x.data.dtype == weight.data.dtype:
        return x
    if x.data.dtype.kind in "biu":
        return Tensor(x.data, dtype=weight.data.dtype)
    raise TypeError(f"{name} got {x.data.dtype} input but its weight is {weight.data.dtype}: convert "
                    f"the input (Tensor(x.data, dtype=np.{weight.data.dtype})) or the layer's parameters")


def check_linear_arguments(x, weight, bias) -> None:
    """TypeError / ValueError naming `linear`'s argument whose type or shape cannot work. One
    expression decides in the usual case (this runs on every Linear call); the messages are built
    only when it fails."""
    if (isinstance(x, Tensor) and isinstance(weight, Tensor) and weight.data.ndim == 2 and x.data.ndim
            and x.data.shape[-1] == weight.data.shape[1] and weight.data.dtype.kind == "f"
            and (bias is None or (isinstance(bias, Tensor) and bias.data.shape == weight.data.shape[:1]))):
        return
    check_tensor("linear x", x)
    check_tensor("linear weight", weight)
    if weight.data.dtype.kind != "f":
        raise TypeError(f"linear weight must hold floating values, got dtype {weight.data.dtype}")
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear weight of shape {weight.shape} must be (out_features, in_features) with "
                         f"in_features the last dimension of x, got x of shape {x.shape}")
    if bias is not None:
        check_tensor("linear bias", bias)
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"linear bias must have shape {weight.shape[:1]} (out_features,), got {bias.shape}")


def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """`x @ weight.T + bias` (no bias when `bias` is None). `x` must have the weight's dtype or be
    integer/bool (then it is converted to it); a float64 input to a float32 weight is a TypeError."""
    check_linear_arguments(x, weight, bias)
    if x.data.dtype != weight.data.dtype:
        x = _linear_input("linear", x, weight)
    # Hint: y = x @ W.T + b with the Tensor operations of module 01; leave the bias out when it is
    # None (chapter 03, "Linear").
    ### BEGIN SOLUTION
    out = x @ weight.T
    if bias is not None:
        out = out + bias
    return out
    ### END SOLUTION


class Linear(Module):
    """A fully connected layer, `y = x @ weight.T + bias`, initialised as PyTorch does.

    >>> manual_seed(0)
    >>> layer = Linear(4, 2)
    >>> layer(Tensor(np.ones((3, 4)))).shape
    (3, 2)
    >>> [name for name, _ in layer.named_parameters()]
    ['weight', 'bias']
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        in_features = check_int("Linear in_features", in_features, 1)
        out_features = check_int("Linear out_features", out_features, 1)
        bias = check_bool("Linear bias", bias)
        if in_features * out_features > np.iinfo(np.intp).max // 8:
            raise ValueError(f"Linear in_features * out_features = {in_features} * {out_features} is more "
                             "elements than one array can hold")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Tensor(_init_rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32),
                             requires_grad=True)
        self.bias = (Tensor(_init_rng.uniform(-bound, bound, out_features).astype(np.float32), requires_grad=True)
                     if bias else None)

    def forward(self, x) -> Tensor:
        return linear(self.checked_input(x), self.weight, self.bias)

    def checked_input(self, x) -> Tensor:
        """`x` as a Tensor of the weight's dtype and width: the usual input passes one test; a list
        or array becomes a Tensor, integers are promoted, anything else is refused naming the layer."""
        if isinstance(x, Tensor) and x.data.dtype == self.weight.data.dtype and x.data.ndim \
                and x.data.shape[-1] == self.in_features:
            return x
        if not isinstance(x, Tensor):
            try:
                x = Tensor(x)
            except (TypeError, ValueError) as error:
                raise type(error)(f"Linear(in_features={self.in_features}) input: {error}") from None
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear(in_features={self.in_features}) got input of shape {x.shape}: "
                             f"last dimension must be {self.in_features}")
        return _linear_input(f"Linear(in_features={self.in_features}, out_features={self.out_features})",
                             x, self.weight)

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


Dense = Linear  # the older name some course material uses


# %%
def test_unit_linear():
    manual_seed(0)
    layer = Linear(3, 2)
    bound = 1 / np.sqrt(3)
    assert layer.weight.shape == (2, 3) and np.all(np.abs(layer.weight.data) <= bound)
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = layer(x)
    assert np.allclose(y.data, x.data @ layer.weight.data.T + layer.bias.data)
    y.backward(np.ones((2, 2), dtype=np.float32))
    assert np.allclose(layer.weight.grad, np.ones((2, 2)).T @ x.data)
    assert np.allclose(layer.bias.grad, [2, 2]) and np.allclose(x.grad, np.ones((2, 2)) @ layer.weight.data)
    try:
        layer(Tensor(np.ones((2, 5))))
        raise AssertionError("wrong input width must raise")
    except ValueError as e:
        assert "in_features" in str(e), "the message names the argument"
    print("Linear: ok")


if __name__ == "__main__":
    test_unit_linear()

# %% [markdown]
# ## Dropout
#
# During training, `Dropout(p)` zeroes each activation with probability `p` and scales the survivors
# by `1/(1-p)`, so the expected value of every activation is unchanged ("inverted" dropout). In
# evaluation mode it is the identity, and nothing needs rescaling at test time. The random mask comes
# from the layer's own generator, so a checkpoint can save and restore it and a resumed run drops
# exactly the units the uninterrupted run would have dropped.

# %%
#| export
class Dropout(Module):
    """Inverted dropout; the identity in evaluation mode.

    >>> drop = Dropout(0.5, seed=0)
    >>> y = drop(Tensor(np.ones((2, 4))))
    >>> sorted(set(y.data.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> drop.eval()(Tensor(np.ones(3))).data
    array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p: float = 0.5, seed: int = None):
        self.p = check_number("Dropout p", p, minimum=0.0, maximum=1.0)
        if seed is not None:
            seed = check_int("Dropout seed", seed, 0)
        self.rng = np.random.default_rng(seed if seed is not None else _init_rng.integers(2**63))

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("Dropout", x)
        if not self.training:
            return x                           # the identity, as in PyTorch: same tensor, same dtype
        x = as_float(x)                        # integer input: float32 out, scaled like any other
        if self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0                     # every unit dropped (1 / (1 - p) would divide by zero)
        # Hint: keep = self.rng.random(x.shape) >= p, a fresh draw from the layer's own generator; then
        # x * (keep / (1 - p)): a constant mask, so backward multiplies g by it (chapter 03, "API": Dropout).
        ### BEGIN SOLUTION
        keep = self.rng.random(x.shape) >= self.p
        return x * (keep / (1.0 - self.p))
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


# %%
def test_unit_dropout():
    drop = Dropout(0.25, seed=1)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    assert np.allclose(y.data[kept], 1 / 0.75)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert np.array_equal(x.grad != 0, kept), "gradient flows only through kept units"
    drop.eval()
    assert np.array_equal(drop(x).data, x.data), "the identity in evaluation mode"
    print("Dropout: ok")


if __name__ == "__main__":
    test_unit_dropout()

# %% [markdown]
# ## Flatten and Sequential
#
# `Flatten` turns `(batch, ...)` into `(batch, features)`, the bridge from images to `Linear`.
# `Sequential` chains layers: its output is the last layer's output. It accepts `Module`s and any
# other callable (the activation classes of module 02 are plain callables), and stores them in a
# list, so their parameters are named `layers.0.weight`, `layers.2.bias`, and so on.

# %%
#| export
class Flatten(Module):
    """Keep the first axis, merge the rest: `(N, C, H, W) -> (N, C*H*W)`."""

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("Flatten", x)
        if x.ndim == 0:
            raise ValueError("Flatten needs a batch axis, got a 0-d tensor")
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))   # not -1: an empty batch has 0 elements


class Sequential(Module):
    """Apply layers in order. `Sequential(a, b, c)` or `Sequential([a, b, c])`.

    >>> from tinytorch.core.activations import ReLU
    >>> manual_seed(0)
    >>> model = Sequential([Linear(4, 8), ReLU(), Linear(8, 3)])
    >>> model(Tensor(np.ones((5, 4)))).shape
    (5, 3)
    >>> [name for name, _ in model.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']
    """

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = layers[0]
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, expected a callable layer")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        if not isinstance(index, slice):
            index = check_int("Sequential index", index)
            if not -len(self.layers) <= index < len(self.layers):
                raise IndexError(f"Sequential index {index} is out of range for {len(self.layers)} layers")
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


# %%
def test_unit_sequential():
    manual_seed(0)
    model = Sequential(Linear(4, 3), Flatten(), Linear(3, 2))
    x = Tensor(np.ones((6, 4)))
    assert model(x).shape == (6, 2)
    assert len(model.parameters()) == 4
    model.eval()
    assert not model[0].training
    print("Sequential: ok")


if __name__ == "__main__":
    test_unit_sequential()
