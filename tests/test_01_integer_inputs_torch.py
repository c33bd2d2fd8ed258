"""The integer rule against PyTorch: for every operation of test_01_integer_inputs.OPS and every input
dtype, our result has the dtype PyTorch's has, or PyTorch refuses the input and the operation is one
where we promote on purpose (listed in PROMOTED_WHERE_PYTORCH_REFUSES, documented in DESIGN.md)."""
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the parity tests against it were skipped "
                    "(pip install torch==2.13.0 to run them)")
F = torch.nn.functional

from test_01_integer_inputs import BASE, DTYPES, OPS, make  # noqa: E402

pytestmark = pytest.mark.torch

TORCH_DTYPES = {np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32,
                np.dtype(np.bool_): torch.bool, np.dtype(np.float32): torch.float32}


def _torch_linear(x):
    return torch.nn.Linear(3, 2)(x)


TORCH_OPS = {
    "add": lambda x: x + x,
    "add a Python int": lambda x: x + 1,
    "mul": lambda x: x * x,
    "mul a Python float": lambda x: x * 2.5,
    "sub": lambda x: x - x,
    "neg": lambda x: -x,
    "true division": lambda x: x / 2,
    "reverse true division": lambda x: 2.0 / (x + 1),
    "power 2": lambda x: x ** 2,
    "power 0.5": lambda x: x ** 0.5,
    "matmul": lambda x: x @ x.T,
    "exp": torch.exp,
    "log": lambda x: torch.log(x + 1),
    "sqrt": torch.sqrt,
    "sum": torch.sum,
    "sum(axis=1)": lambda x: x.sum(dim=1),
    "mean": torch.mean,
    "mean(axis=0)": lambda x: x.mean(dim=0),
    "max": lambda x: x.amax(dim=1),
    "reshape": lambda x: x.reshape(3, 2),
    "transpose": lambda x: x.transpose(0, 1),
    "T": lambda x: x.T,
    "getitem": lambda x: x[torch.tensor([1, 0])],
    "concat": lambda x: torch.cat([x, x], dim=1),
    "stack": lambda x: torch.stack([x, x]),
    "relu": torch.relu,
    "ReLU": torch.nn.ReLU(),
    "sigmoid": torch.sigmoid,
    "Sigmoid": torch.nn.Sigmoid(),
    "tanh": torch.tanh,
    "Tanh": torch.nn.Tanh(),
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "GELU": torch.nn.GELU(approximate="tanh"),
    "softmax": lambda x: torch.softmax(x, -1),
    "Softmax": torch.nn.Softmax(-1),
    "log_softmax": lambda x: torch.log_softmax(x, -1),
    "LogSoftmax": torch.nn.LogSoftmax(-1),
    "Linear": _torch_linear,
    "linear": _torch_linear,
    "Dropout (training)": lambda x: F.dropout(x, 0.5, training=True),
    "Flatten": lambda x: torch.nn.Flatten()(x),
    "Sequential(Linear, ReLU)": lambda x: torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())(x),
    "mse_loss": lambda x: F.mse_loss(x, torch.ones(x.shape)),
    "MSELoss": lambda x: torch.nn.MSELoss()(x, torch.ones(x.shape)),
    "cross_entropy": lambda x: F.cross_entropy(x, torch.tensor([0, 2])),
    "CrossEntropyLoss": lambda x: torch.nn.CrossEntropyLoss()(x, torch.tensor([0, 2])),
    "binary_cross_entropy": lambda x: F.binary_cross_entropy(x.clip(0, 1), torch.ones(x.shape)),
    "BCELoss": lambda x: torch.nn.BCELoss()(x.clip(0, 1), torch.zeros(x.shape)),
    "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(x, torch.ones(x.shape)),
    "BCEWithLogitsLoss": lambda x: torch.nn.BCEWithLogitsLoss()(x, torch.ones(x.shape)),
}

# Where PyTorch refuses integer or bool input and TinyTorch promotes it to float32 on purpose
# (DESIGN.md, "Integer inputs"): a learner's integer data should reach a float op, not crash.
PROMOTED_WHERE_PYTORCH_REFUSES = {
    "mean", "mean(axis=0)", "gelu", "GELU", "softmax", "Softmax", "log_softmax", "LogSoftmax",
    "Linear", "linear", "Dropout (training)", "Sequential(Linear, ReLU)", "mse_loss", "MSELoss",
    "cross_entropy", "CrossEntropyLoss", "binary_cross_entropy", "BCELoss",
    "binary_cross_entropy_with_logits", "BCEWithLogitsLoss", "relu", "ReLU",
}


def test_the_two_tables_name_the_same_operations():
    assert set(TORCH_OPS) == set(OPS)
    assert PROMOTED_WHERE_PYTORCH_REFUSES <= set(OPS)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(OPS))
def test_result_dtype_matches_pytorch(name, dtype):
    ours_fn, _ = OPS[name]
    x = make(dtype)
    t = torch.tensor(BASE.astype(dtype))
    try:
        expected = TORCH_OPS[name](t)
    except (RuntimeError, NotImplementedError) as torch_error:
        try:
            with np.errstate(divide="ignore"):               # the log of a 0 prediction is fine here
                ours = ours_fn(x)
        except TypeError:
            return                                   # refused by both
        assert name in PROMOTED_WHERE_PYTORCH_REFUSES, f"PyTorch refuses {name} on {t.dtype}: {torch_error}"
        assert ours.dtype == np.float32
        return
    with np.errstate(divide="ignore"):
        ours = ours_fn(x)
    assert TORCH_DTYPES[ours.dtype] == expected.dtype, f"{name}: {ours.dtype} vs torch {expected.dtype}"
    if name not in {"Linear", "linear", "Sequential(Linear, ReLU)", "Dropout (training)"}:   # random
        np.testing.assert_allclose(ours.data, expected.detach().numpy(), rtol=1e-6, atol=1e-6)
