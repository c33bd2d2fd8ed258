"""Hostile input to modules 01-05 (issue 8, section 4): every bad argument is a TypeError (wrong type)
or a ValueError (bad value) whose message names the argument or the operation, raised before
anything changed; never an AttributeError, an IndexError for a wrong type, or a NumPy internal error.

Graded: the error's type and the word that names the argument or operation. The exact texts of the
reference's messages (what was given, what was expected) are in internals/test_core_messages.py."""
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import LogSoftmax, Softmax, Tanh, relu, softmax
from tinytorch.core.dataloader import DataLoader, Dataset, SimpleDataset, TensorDataset
from tinytorch.core.layers import Dropout, Flatten, Linear, Sequential, manual_seed
from tinytorch.core.losses import (BCELoss, binary_cross_entropy, cross_entropy, mse_loss)
from tinytorch.core.tensor import Tensor, add, concat, reshape, stack


def raises_naming(error, word):
    """pytest.raises(error) whose message names `word` (as a whole word: "p" is not the p of "expected")."""
    return pytest.raises(error, match=rf"(?<![\w.]){re.escape(word)}(?![\w])")


# ---------------------------------------------------------------- Tensor data

@pytest.mark.parametrize("data, error", [
    ("abc", TypeError),
    (b"abc", TypeError),
    ([[1.0, 2.0], [3.0]], ValueError),
    (np.array(["a", "b"]), TypeError),
    (np.array([1, None], dtype=object), TypeError),
    (None, TypeError),
    ({"a": 1}, TypeError),
    (1 + 2j, TypeError),
    (["1", 2], TypeError),
])
def test_tensor_refuses_data_that_is_not_numbers(data, error):
    with raises_naming(error, "data"):
        Tensor(data)


def test_a_deprecated_numpy_dtype_name_gets_our_error_without_numpys_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # any warning fails the test
        for dtype in ("a", b"a", ("a", "b")):      # "a" is NumPy's deprecated name for bytes
            with raises_naming(TypeError, "dtype"):
                Tensor([1.0], dtype=dtype)
        assert Tensor([1], dtype="float32").data.dtype == np.float32


def test_tensor_refuses_non_numeric_dtypes_and_flags():
    for dtype in (object, "U1", "nonsense"):
        with raises_naming(TypeError, "dtype"):
            Tensor([1, 2], dtype=dtype)
    with raises_naming(ValueError, "data"):
        Tensor(["a"], dtype=np.float32)
    with raises_naming(TypeError, "requires_grad"):
        Tensor([1.0], requires_grad="yes")


# ---------------------------------------------------------------- operations

@pytest.mark.parametrize("call, error, word", [
    (lambda x: x + np.array(["a", "b"]), TypeError, "add"),
    (lambda x: x * "abc", TypeError, "mul"),
    (lambda x: x / None, TypeError, "div"),
    (lambda x: x ** "2", TypeError, "power"),
    (lambda x: x @ np.array([object(), object()]), TypeError, "matmul"),
    (lambda x: add(np.ones(2), x), TypeError, "add"),
    (lambda x: concat([x, np.array(["a", "b"])]), TypeError, "concat"),
    (lambda x: concat(x), TypeError, "concat"),
    (lambda x: stack(5), TypeError, "stack"),
    (lambda x: concat([x], axis="0"), TypeError, "axis"),
    (lambda x: stack([x, x], axis=3), ValueError, "axis"),
    (lambda x: x.sum(axis="a"), TypeError, "axis"),
    (lambda x: x.mean(axis=1.5), TypeError, "axis"),
    (lambda x: x.max(axis=(0, None)), TypeError, "axis"),
    (lambda x: x.sum(keepdims="yes"), TypeError, "keepdims"),
    (lambda x: x.reshape("ab"), TypeError, "reshape"),
    (lambda x: reshape(x, {2: 1}), TypeError, "reshape"),
    (lambda x: x.reshape(2.0), TypeError, "reshape"),
    (lambda x: x.transpose(0, "a"), TypeError, "transpose"),
    (lambda x: x[1.5], TypeError, "index"),
    (lambda x: x[np.array([0.5])], TypeError, "index"),
    (lambda x: relu([1.0]), TypeError, "relu"),
    (lambda x: softmax(x, axis=1.0), TypeError, "axis"),
    (lambda x: Tensor([True]) - Tensor([False]), TypeError, "sub"),
    (lambda x: -Tensor([True]), TypeError, "neg"),
])
def test_operations_name_themselves_or_the_bad_argument(call, error, word):
    x = Tensor([1.0, 2.0])
    with raises_naming(error, word):
        call(x)


def test_out_of_range_index_stays_an_index_error_for_the_sequence_protocol():
    with raises_naming(IndexError, "index"):
        Tensor([1.0, 2.0])[5]
    assert [t.item() for t in Tensor([1.0, 2.0])] == [1.0, 2.0], "iteration ends at the IndexError"


# ---------------------------------------------------------------- layers and activations

@pytest.mark.parametrize("call, error, word", [
    (lambda: Dropout("0.5"), TypeError, "p"),
    (lambda: Dropout(None), TypeError, "p"),
    (lambda: Dropout(float("nan")), ValueError, "p"),
    (lambda: Dropout(-0.1), ValueError, "p"),
    (lambda: Dropout(0.5, seed=-1), ValueError, "seed"),
    (lambda: Dropout(0.5, seed=1.5), TypeError, "seed"),
    (lambda: Linear(True, 3), TypeError, "in_features"),
    (lambda: Linear(3, 2.0), TypeError, "out_features"),
    (lambda: Linear(0, 3), ValueError, "in_features"),
    (lambda: Linear(3, 2, bias="no"), TypeError, "bias"),
    (lambda: manual_seed(-1), ValueError, "seed"),
    (lambda: manual_seed("0"), TypeError, "seed"),
    (lambda: Softmax(axis="1"), TypeError, "axis"),
    (lambda: LogSoftmax(axis=None), TypeError, "axis"),
    (lambda: Tanh().train("yes"), TypeError, "mode"),
    (lambda: Sequential(Linear(2, 2)).train(1), TypeError, "mode"),
    (lambda: Flatten()(np.ones((2, 3))), TypeError, "Flatten"),
    (lambda: Flatten()(Tensor(1.0)), ValueError, "Flatten"),
    (lambda: Dropout(0.5)([1.0]), TypeError, "Dropout"),
    (lambda: Linear(3, 2)(np.array([["a", "b", "c"]])), TypeError, "data"),
])
def test_layer_arguments_are_named(call, error, word):
    with raises_naming(error, word):
        call()


def test_a_refused_layer_draws_nothing_from_the_initialisation_generator():
    manual_seed(0)
    expected = Linear(3, 2).weight.data.copy()
    manual_seed(0)
    for bad in (lambda: Linear(True, 3), lambda: Linear(3, 2, bias=None), lambda: Dropout("0.5"),
                lambda: Dropout(0.5, seed=-1)):
        with pytest.raises((TypeError, ValueError)):
            bad()
    np.testing.assert_array_equal(Linear(3, 2).weight.data, expected)


def test_garbage_generator_state_is_refused_before_any_generator_changes():
    model = Sequential(Dropout(0.5, seed=1), Dropout(0.5, seed=2))
    good = model.random_state()
    garbage = dict(good)
    garbage["layers.1.rng"] = {"bit_generator": "PCG64", "state": "junk"}
    model.layers[0].rng.random(5)                       # move the first generator on
    moved = model.random_state()
    with raises_naming(ValueError, "layers.1.rng"):
        model.set_random_state(garbage)
    assert model.random_state() == moved, "the first generator was not restored halfway"
    with raises_naming(TypeError, "states"):
        model.set_random_state([("layers.0.rng", good["layers.0.rng"])])
    model.set_random_state(good)
    assert model.random_state() == good


# ---------------------------------------------------------------- losses

def test_bce_refuses_nan_predictions_like_pytorch():
    with raises_naming(ValueError, "predictions"):
        binary_cross_entropy(Tensor([0.5, float("nan")]), [1.0, 0.0])
    with raises_naming(ValueError, "predictions"):
        BCELoss()(Tensor([float("nan")]), [1.0])


@pytest.mark.parametrize("call, error", [
    (lambda p: mse_loss(p, np.array(["a", "b"])), TypeError),
    (lambda p: mse_loss(p, None), TypeError),
    (lambda p: mse_loss(p, [[1.0], [2.0, 3.0]]), ValueError),
    (lambda p: cross_entropy(Tensor([[1.0, 2.0]]), ["a"]), TypeError),
    (lambda p: binary_cross_entropy(p, {"x": 1}), TypeError),
])
def test_loss_targets_that_are_not_numbers(call, error):
    with raises_naming(error, "targets"):
        call(Tensor([0.5, 0.5]))


# ---------------------------------------------------------------- data loading

class RaggedSamples(Dataset):
    """Sample 2 has three features where every other sample has two."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.ones(3 if i == 2 else 2, dtype=np.float32), i


def test_ragged_samples_name_the_sample():
    with raises_naming(ValueError, "sample 2"):
        list(DataLoader(RaggedSamples(), batch_size=4))
    batches = iter(DataLoader(RaggedSamples(), batch_size=2))
    assert next(batches)[0].shape == (2, 2), "a batch of equal samples is fine"
    with raises_naming(ValueError, "sample 3"):
        next(batches)


def test_a_sample_that_is_not_numbers_names_its_index():
    class Texts(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return (np.ones(2), "label") if i == 1 else (np.ones(2), 0)

    with raises_naming(TypeError, "sample 1"):
        list(DataLoader(Texts(), batch_size=3))


def test_a_sample_with_a_ragged_field_names_its_index():
    class Ragged(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (np.ones(2), [[1.0, 2.0], [3.0]] if i == 1 else [[1.0, 2.0], [3.0, 4.0]])

    with raises_naming(ValueError, "sample 1"):
        list(DataLoader(Ragged(), batch_size=2))


def test_tensor_dataset_refuses_string_arrays():
    with raises_naming(TypeError, "TensorDataset"):
        TensorDataset(np.ones((2, 2)), np.array(["cat", "dog"]))


# ---------------------------------------------------------------- fuzz: every constructor and public function

JUNK = [None, "3", b"x", 2.5, float("nan"), float("inf"), -1, 0, True, [1, 2], {"a": 1}, object(), np.float64(1.0),
        np.array(["a"]), 2**70]

CONSTRUCTORS = {
    "Linear": (Linear, {"in_features": 3, "out_features": 2, "bias": True}),
    "Dropout": (Dropout, {"p": 0.5, "seed": 0}),
    "Softmax": (Softmax, {"axis": -1}),
    "DataLoader": (DataLoader, {"dataset": TensorDataset(np.ones((4, 2))), "batch_size": 2, "shuffle": False,
                                "drop_last": False, "seed": 0}),
    "SimpleDataset": (SimpleDataset, {"size": 6, "num_features": 2, "num_classes": 2, "seed": 0}),
    "Tensor": (Tensor, {"data": [1.0, 2.0], "requires_grad": False, "dtype": None}),
}
ALLOWED = (TypeError, ValueError)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(CONSTRUCTORS)), argument=st.data(), junk=st.sampled_from(JUNK))
def test_fuzz_constructors_raise_only_type_or_value_errors_naming_the_argument(name, argument, junk):
    cls, good = CONSTRUCTORS[name]
    key = argument.draw(st.sampled_from(sorted(good)))
    kwargs = dict(good, **{key: junk})
    try:
        cls(**kwargs)
    except ALLOWED as error:
        message = str(error)
        assert key in message or name in message, f"{name}({key}={junk!r}): {message}"
    except Exception as error:     # noqa: BLE001 - anything else is the bug this test looks for
        raise AssertionError(f"{name}({key}={junk!r}) raised {type(error).__name__}: {error}") from None


OPERATIONS = {
    "add": lambda x, v: x + v, "sub": lambda x, v: x - v, "mul": lambda x, v: x * v,
    "div": lambda x, v: x / v, "power": lambda x, v: x ** v, "matmul": lambda x, v: x @ v,
    "sum": lambda x, v: x.sum(axis=v), "mean": lambda x, v: x.mean(axis=v), "max": lambda x, v: x.max(axis=v),
    "reshape": lambda x, v: x.reshape(v), "transpose": lambda x, v: x.transpose(v, 0),
    "getitem": lambda x, v: x[v], "concat": lambda x, v: concat([x, v]), "softmax": lambda x, v: softmax(x, v),
    "mse_loss": lambda x, v: mse_loss(x, v), "cross_entropy": lambda x, v: cross_entropy(x, v),
    "binary_cross_entropy": lambda x, v: binary_cross_entropy(x * 0 + 0.5, v),
    "Linear.forward": lambda x, v: Linear(2, 2)(v),
}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(OPERATIONS)), junk=st.sampled_from(JUNK))
def test_fuzz_operations_raise_only_type_or_value_errors(name, junk):
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    before = x.data.copy()
    try:
        with np.errstate(all="ignore"):
            OPERATIONS[name](x, junk)
    except ALLOWED:
        pass
    except IndexError as error:                  # only an index out of range may be an IndexError
        assert name == "getitem", f"{name}({junk!r}): IndexError {error}"
    except Exception as error:     # noqa: BLE001
        raise AssertionError(f"{name}({junk!r}) raised {type(error).__name__}: {error}") from None
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None
    assert math.isfinite(float(before.sum()))
