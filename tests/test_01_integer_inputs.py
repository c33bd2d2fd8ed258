"""The integer rule (DESIGN.md, "Integer inputs"), tested on every public differentiable operation,
layer, activation and loss of modules 01-04, for int64, int32, bool and float32 input.

Each entry of OPS names the operation, calls it on a tensor `x`, and states the rule for the
result's dtype:
- "float": integer and bool input is promoted to float32 (float32 input stays float32), and the
  values equal the same operation on `x` converted to float32 first;
- "same": the result keeps the input's dtype (integer-valued operations, as in PyTorch);
- "same, bool refused": the same, but bool input is a TypeError naming the operation (PyTorch too);
- "sum": integer and bool sums are int64, float32 stays float32 (as in PyTorch);
- "relu": integers stay integers, bool becomes float32.
test_01_integer_inputs_torch.py checks the same table against PyTorch.
"""
import numpy as np
import pytest

from tinytorch.core.activations import (GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, gelu, log_softmax,
                                        relu, sigmoid, softmax, tanh)
from tinytorch.core.layers import Dropout, Flatten, Linear, Sequential, linear, manual_seed
from tinytorch.core.losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, binary_cross_entropy,
                                   binary_cross_entropy_with_logits, cross_entropy, mse_loss)
from tinytorch.core.tensor import Tensor, as_float, concat, stack

DTYPES = [np.int64, np.int32, np.bool_, np.float32]
BASE = np.array([[1, 0, 3], [2, 1, 0]])          # 0 and 1 only where bool matters: all dtypes share it


def make(dtype) -> Tensor:
    return Tensor(BASE.astype(dtype), dtype=dtype)


def _linear_layer():
    manual_seed(0)
    return Linear(3, 2)


def _dropout_train(x):
    return Dropout(0.5, seed=0)(x)


OPS = {
    # module 01: arithmetic
    "add": (lambda x: x + x, "same"),
    "add a Python int": (lambda x: x + 1, "same int"),
    "mul": (lambda x: x * x, "same"),
    "mul a Python float": (lambda x: x * 2.5, "float"),
    "sub": (lambda x: x - x, "same, bool refused"),
    "neg": (lambda x: -x, "same, bool refused"),
    "true division": (lambda x: x / 2, "float"),
    "reverse true division": (lambda x: 2.0 / (x + 1), "float"),
    "power 2": (lambda x: x ** 2, "power"),
    "power 0.5": (lambda x: x ** 0.5, "float"),
    "matmul": (lambda x: x @ x.T, "same, bool refused"),
    # module 01: elementwise functions and reductions
    "exp": (lambda x: x.exp(), "float"),
    "log": (lambda x: (x + 1).log(), "float"),
    "sqrt": (lambda x: x.sqrt(), "float"),
    "sum": (lambda x: x.sum(), "sum"),
    "sum(axis=1)": (lambda x: x.sum(axis=1), "sum"),
    "mean": (lambda x: x.mean(), "float"),
    "mean(axis=0)": (lambda x: x.mean(axis=0), "float"),
    "max": (lambda x: x.max(axis=1), "same"),
    # module 01: moving numbers around
    "reshape": (lambda x: x.reshape(3, 2), "same"),
    "transpose": (lambda x: x.transpose(0, 1), "same"),
    "T": (lambda x: x.T, "same"),
    "getitem": (lambda x: x[np.array([1, 0])], "same"),
    "concat": (lambda x: concat([x, x], axis=1), "same"),
    "stack": (lambda x: stack([x, x]), "same"),
    # module 02
    "relu": (relu, "relu"),
    "ReLU": (ReLU(), "relu"),
    "sigmoid": (sigmoid, "float"),
    "Sigmoid": (Sigmoid(), "float"),
    "tanh": (tanh, "float"),
    "Tanh": (Tanh(), "float"),
    "gelu": (gelu, "float"),
    "GELU": (GELU(), "float"),
    "softmax": (softmax, "float"),
    "Softmax": (Softmax(), "float"),
    "log_softmax": (log_softmax, "float"),
    "LogSoftmax": (LogSoftmax(), "float"),
    # module 03
    "Linear": (lambda x: _linear_layer()(x), "float"),
    "linear": (lambda x: linear(x, _linear_layer().weight, _linear_layer().bias), "float"),
    "Dropout (training)": (_dropout_train, "float"),
    "Flatten": (lambda x: Flatten()(x), "same"),
    "Sequential(Linear, ReLU)": (lambda x: Sequential(_linear_layer(), ReLU())(x), "float"),
    # module 04: integer predictions
    "mse_loss": (lambda x: mse_loss(x, np.ones(x.shape, np.float32)), "float"),
    "MSELoss": (lambda x: MSELoss()(x, np.ones(x.shape, np.float32)), "float"),
    "cross_entropy": (lambda x: cross_entropy(x, [0, 2]), "float"),
    "CrossEntropyLoss": (lambda x: CrossEntropyLoss()(x, [0, 2]), "float"),
    "binary_cross_entropy": (lambda x: binary_cross_entropy(Tensor(x.data.clip(0, 1), dtype=x.dtype),
                                                            np.ones(x.shape, np.float32)), "float"),
    "BCELoss": (lambda x: BCELoss()(Tensor(x.data.clip(0, 1), dtype=x.dtype), np.zeros(x.shape)), "float"),
    "binary_cross_entropy_with_logits": (lambda x: binary_cross_entropy_with_logits(x, np.ones(x.shape)), "float"),
    "BCEWithLogitsLoss": (lambda x: BCEWithLogitsLoss()(x, np.ones(x.shape)), "float"),
}


def expected_dtype(rule: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "f" or rule == "float":
        return np.dtype(np.float32)
    if rule == "sum":
        return np.dtype(np.int64)
    if rule == "relu":
        return np.dtype(np.float32) if dtype.kind == "b" else dtype
    if rule == "power":                   # bool ** 2 counts in integers, as in PyTorch
        return np.dtype(np.int64) if dtype.kind == "b" else dtype
    if rule == "same int":                # bool + 1 is an integer (int64), as in PyTorch
        return np.dtype(np.int64) if dtype.kind == "b" else dtype
    return dtype                          # "same", "same, bool refused"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(OPS))
def test_every_operation_follows_the_integer_rule(name, dtype):
    fn, rule = OPS[name]
    x = make(dtype)
    if rule == "same, bool refused" and np.dtype(dtype).kind == "b":
        with pytest.raises(TypeError, match="bool"):
            fn(x)
        return
    with np.errstate(divide="ignore"):                      # sqrt/log of a zero is fine here
        out = fn(x)
        reference = fn(Tensor(x.data, dtype=np.float32)) if rule == "float" else None
    assert isinstance(out, Tensor) and type(out.data) is np.ndarray
    assert out.dtype == expected_dtype(rule, dtype), f"{name} of {np.dtype(dtype)} gave {out.dtype}"
    if reference is not None:   # promotion changes the dtype, never the numbers
        np.testing.assert_array_equal(out.data, reference.data)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_integer_results_hold_the_exact_integer_values(dtype):
    x = make(dtype)
    ints = BASE.astype(np.int64)
    if np.dtype(dtype).kind != "b":
        np.testing.assert_array_equal((x * x).data, ints * ints)
        np.testing.assert_array_equal((x @ x.T).data, ints @ ints.T)
        np.testing.assert_array_equal(relu(x - 1).data, np.maximum(ints - 1, 0))
    np.testing.assert_array_equal(x.sum(axis=0).data, ints.astype(bool if dtype is np.bool_ else np.int64).sum(0))


def test_true_division_of_integers_is_float32_as_in_pytorch():
    out = Tensor([4, 5, 6]) / 2
    assert out.dtype == np.float32 and out.data.tolist() == [2.0, 2.5, 3.0]
    assert (Tensor([4, 5, 6], dtype=np.int32) / Tensor([2, 2, 4])).data.tolist() == [2.0, 2.5, 1.5]


def test_issue_examples_no_longer_crash_or_return_float64():
    # the calls that crashed inside NumPy or returned float64 before the integer rule
    for layer in (Sigmoid(), GELU(), LogSoftmax(), Tanh(), Softmax()):
        assert layer(Tensor([0, 1, -1])).dtype == np.float32
    manual_seed(0)
    assert Linear(3, 2)(Tensor(np.array([[1, 2, 3]]))).dtype == np.float32


def test_dropout_scales_integer_input_like_float_input():
    x = Tensor(np.full((50, 40), 3, dtype=np.int64))
    y = Dropout(0.25, seed=1)(x)
    y_float = Dropout(0.25, seed=1)(Tensor(x.data, dtype=np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, y_float.data)
    assert set(np.unique(y.data).tolist()) == {0.0, 4.0}, "survivors scaled by 1 / (1 - p)"
    out = Dropout(0.25, seed=1).eval()(x)
    assert out.dtype == x.dtype and np.array_equal(out.data, x.data), \
        "evaluation mode is the identity, dtype included (as in PyTorch)"


def test_float32_parameters_never_give_float64():
    manual_seed(0)
    layer = Linear(3, 2)
    with pytest.raises(TypeError, match=r"\bLinear\b"):
        layer(Tensor(np.ones((1, 3)), dtype=np.float64))
    with pytest.raises(TypeError, match=r"\blinear\b"):
        linear(Tensor(np.ones((1, 3)), dtype=np.float64), layer.weight, layer.bias)
    assert layer(np.ones((1, 3))).dtype == np.float32, "a float64 ndarray becomes a float32 Tensor first"
    for constant in (np.float64(2.0), np.ones(3), 2.5):
        x = Tensor([1.0, 2.0, 3.0])
        assert (x * constant).dtype == (x / constant).dtype == (x ** 2.0).dtype == np.float32


def test_integer_pow_negative_exponent_is_a_value_error():
    with pytest.raises(ValueError, match=r"\bpower\b"):
        Tensor([1, 2]) ** -1
    with pytest.raises(ValueError, match=r"\bpower\b"):
        Tensor([1, 2]) ** Tensor([-1, 1])
    assert (Tensor([1, 2]) ** -1.0).data.tolist() == [1.0, 0.5]


def test_as_float_promotes_integers_and_keeps_floating_tensors():
    x = Tensor([1.0, 2.0])
    assert as_float(x).dtype == np.float32 and as_float(x).data.tolist() == [1.0, 2.0]
    y = Tensor([1.0], dtype=np.float64)
    assert as_float(y).dtype == np.float64, "float64 is floating too: as_float never changes precision"
    promoted = as_float(Tensor([True, False]))
    assert promoted.dtype == np.float32 and promoted.data.tolist() == [1.0, 0.0]


def test_integer_input_to_a_graph_gives_float32_gradients():
    manual_seed(0)
    model = Sequential(Linear(3, 4), GELU(), Linear(4, 3))
    loss = CrossEntropyLoss()(model(Tensor(np.array([[1, 2, 3], [0, 1, 0]]))), [2, 0])
    loss.backward()
    assert loss.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
