"""The exact texts of the reference's messages for hostile input to modules 01-05 (ungraded: tito
never runs them; the graded test_01_05_hostile_inputs.py checks the error type and the word that names
the argument or operation). These pin the seeds' wording: what was given and what was expected."""
import numpy as np
import pytest

from tinytorch.core.activations import LogSoftmax, Softmax, Tanh, relu, softmax
from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset
from tinytorch.core.layers import Dropout, Flatten, Linear, Sequential, manual_seed
from tinytorch.core.losses import BCELoss, binary_cross_entropy, cross_entropy, mse_loss
from tinytorch.core.tensor import Tensor, add, concat, reshape, stack


@pytest.mark.parametrize("data, error, words", [
    ("abc", TypeError, r"Tensor data must be numbers, got text 'abc'"),
    (b"abc", TypeError, r"Tensor data must be numbers, got text b'abc'"),
    ([[1.0, 2.0], [3.0]], ValueError, r"Tensor data must be .* rectangular shape; got \[\[1.0, 2.0\], \[3.0\]\]"),
    (np.array(["a", "b"]), TypeError, r"Tensor data must be numbers .* dtype <U1"),
    (np.array([1, None], dtype=object), TypeError, r"Tensor data must be numbers .* dtype object"),
    (None, TypeError, r"Tensor data must be numbers, got None"),
    ({"a": 1}, TypeError, r"Tensor data must be numbers .*'a'"),
    (1 + 2j, TypeError, r"Tensor data must be numbers .*complex"),
    (["1", 2], TypeError, r"Tensor data must be numbers"),
])
def test_tensor_refuses_data_that_is_not_numbers(data, error, words):
    with pytest.raises(error, match=words):
        Tensor(data)


def test_a_deprecated_numpy_dtype_name_gets_our_error_without_numpys_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # any warning fails the test
        with pytest.raises(TypeError, match="Tensor dtype must be bool, an integer or a floating dtype"):
            Tensor([1.0], dtype="a")               # "a" is NumPy's deprecated name for bytes
        with pytest.raises(TypeError, match="Tensor dtype must be bool, an integer or a floating dtype"):
            Tensor([1.0], dtype=b"a")
        with pytest.raises(TypeError, match="Tensor dtype must be"):
            Tensor([1.0], dtype=("a", "b"))
        assert Tensor([1], dtype="float32").data.dtype == np.float32


def test_tensor_refuses_non_numeric_dtypes_and_flags():
    with pytest.raises(TypeError, match="Tensor dtype must be bool, an integer or a floating dtype, got object"):
        Tensor([1, 2], dtype=object)
    with pytest.raises(TypeError, match="Tensor dtype must be .*, got <U1"):
        Tensor([1, 2], dtype="U1")
    with pytest.raises(TypeError, match="Tensor dtype must be a NumPy numeric dtype, got 'nonsense'"):
        Tensor([1, 2], dtype="nonsense")
    with pytest.raises(ValueError, match=r"Tensor data .*\['a'\]"):
        Tensor(["a"], dtype=np.float32)
    with pytest.raises(TypeError, match="Tensor requires_grad must be True or False, got 'yes'"):
        Tensor([1.0], requires_grad="yes")


@pytest.mark.parametrize("call, error, words", [
    (lambda x: x + np.array(["a", "b"]), TypeError, r"add: the other operand is not numeric"),
    (lambda x: x * "abc", TypeError, r"mul: the other operand is not numeric"),
    (lambda x: x / None, TypeError, r"div: the other operand is not numeric"),
    (lambda x: x ** "2", TypeError, r"power: the other operand is not numeric"),
    (lambda x: x @ np.array([object(), object()]), TypeError, r"matmul: the other operand is not numeric"),
    (lambda x: add(np.ones(2), x), TypeError, r"add: expected a Tensor, got array"),
    (lambda x: concat([x, np.array(["a", "b"])]), TypeError, r"concat: Tensor data must be numbers"),
    (lambda x: concat(x), TypeError, r"concat: tensors must be a list or tuple of tensors"),
    (lambda x: stack(5), TypeError, r"stack: tensors must be a list or tuple"),
    (lambda x: concat([x], axis="0"), TypeError, r"concat axis must be an integer"),
    (lambda x: stack([x, x], axis=3), ValueError, r"axis 3 is out of range"),
    (lambda x: x.sum(axis="a"), TypeError, r"axis must be an integer, got 'a'"),
    (lambda x: x.mean(axis=1.5), TypeError, r"axis must be an integer, got 1.5"),
    (lambda x: x.max(axis=(0, None)), TypeError, r"axis must be an integer, got None"),
    (lambda x: x.sum(keepdims="yes"), TypeError, r"sum keepdims must be True or False"),
    (lambda x: x.reshape("ab"), TypeError, r"reshape shape entry must be an integer >= -1, got 'ab'"),
    (lambda x: reshape(x, {2: 1}), TypeError, r"reshape: shape must be a tuple of integers, got \{2: 1\}"),
    (lambda x: x.reshape(2.0), TypeError, r"reshape shape entry must be an integer"),
    (lambda x: x.transpose(0, "a"), TypeError, r"transpose dim must be an integer"),
    (lambda x: x[1.5], TypeError, r"index 1.5 into a tensor of shape \(2,\)"),
    (lambda x: x[np.array([0.5])], TypeError, r"index array\(\[0.5\]\) .* into a tensor of shape \(2,\)"),
    (lambda x: relu([1.0]), TypeError, r"relu: expected a Tensor, got \[1.0\] \(list\)"),
    (lambda x: softmax(x, axis=1.0), TypeError, r"softmax axis must be an integer"),
    (lambda x: Tensor([True]) - Tensor([False]), TypeError, r"sub: not defined for bool tensors"),
    (lambda x: -Tensor([True]), TypeError, r"neg: not defined for bool tensors"),
])
def test_operations_name_themselves_and_the_bad_operand(call, error, words):
    x = Tensor([1.0, 2.0])
    with pytest.raises(error, match=words):
        call(x)


def test_out_of_range_index_stays_an_index_error_for_the_sequence_protocol():
    with pytest.raises(IndexError, match=r"shape \(2,\)"):
        Tensor([1.0, 2.0])[5]
    assert [t.item() for t in Tensor([1.0, 2.0])] == [1.0, 2.0], "iteration ends at the IndexError"


@pytest.mark.parametrize("call, error, words", [
    (lambda: Dropout("0.5"), TypeError, r"Dropout p must be a real number, got '0.5'"),
    (lambda: Dropout(None), TypeError, r"Dropout p must be a real number, got None"),
    (lambda: Dropout(float("nan")), ValueError, r"Dropout p must be finite"),
    (lambda: Dropout(-0.1), ValueError, r"Dropout p must be >= 0.0, got -0.1"),
    (lambda: Dropout(0.5, seed=-1), ValueError, r"Dropout seed must be an integer >= 0, got -1"),
    (lambda: Dropout(0.5, seed=1.5), TypeError, r"Dropout seed must be an integer >= 0, got 1.5"),
    (lambda: Linear(True, 3), TypeError, r"Linear in_features must be an integer >= 1, got True"),
    (lambda: Linear(3, 2.0), TypeError, r"Linear out_features must be an integer >= 1, got 2.0"),
    (lambda: Linear(0, 3), ValueError, r"Linear in_features must be an integer >= 1, got 0"),
    (lambda: Linear(3, 2, bias="no"), TypeError, r"Linear bias must be True or False, got 'no'"),
    (lambda: manual_seed(-1), ValueError, r"manual_seed seed must be an integer >= 0, got -1"),
    (lambda: manual_seed("0"), TypeError, r"manual_seed seed must be an integer >= 0, got '0'"),
    (lambda: Softmax(axis="1"), TypeError, r"Softmax axis must be an integer, got '1'"),
    (lambda: LogSoftmax(axis=None), TypeError, r"LogSoftmax axis must be an integer, got None"),
    (lambda: Tanh().train("yes"), TypeError, r"Tanh.train mode must be True or False"),
    (lambda: Sequential(Linear(2, 2)).train(1), TypeError, r"Sequential.train mode must be True or False"),
    (lambda: Flatten()(np.ones((2, 3))), TypeError, r"Flatten: expected a Tensor"),
    (lambda: Flatten()(Tensor(1.0)), ValueError, r"Flatten needs a batch axis"),
    (lambda: Dropout(0.5)([1.0]), TypeError, r"Dropout: expected a Tensor, got \[1.0\]"),
    (lambda: Linear(3, 2)(np.array([["a", "b", "c"]])), TypeError, r"Tensor data must be numbers"),
])
def test_layer_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_garbage_generator_state_is_refused_before_any_generator_changes():
    model = Sequential(Dropout(0.5, seed=1), Dropout(0.5, seed=2))
    good = model.random_state()
    garbage = dict(good)
    garbage["layers.1.rng"] = {"bit_generator": "PCG64", "state": "junk"}
    model.layers[0].rng.random(5)                       # move the first generator on
    moved = model.random_state()
    with pytest.raises(ValueError, match=r"'layers.1.rng' is not a valid PCG64 state"):
        model.set_random_state(garbage)
    assert model.random_state() == moved, "the first generator was not restored halfway"
    with pytest.raises(TypeError, match="states must be a dict, got"):
        model.set_random_state([("layers.0.rng", good["layers.0.rng"])])
    model.set_random_state(good)
    assert model.random_state() == good


def test_bce_refuses_nan_predictions_like_pytorch():
    with pytest.raises(ValueError, match=r"predictions must be probabilities in \[0, 1\].*including NaN"):
        binary_cross_entropy(Tensor([0.5, float("nan")]), [1.0, 0.0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        BCELoss()(Tensor([float("nan")]), [1.0])
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="between 0 and 1"):   # the behaviour we copy
        torch.nn.functional.binary_cross_entropy(torch.tensor([0.5, float("nan")]), torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize("call, error, words", [
    (lambda p: mse_loss(p, np.array(["a", "b"])), TypeError, r"mse_loss: targets must be numbers"),
    (lambda p: mse_loss(p, None), TypeError, r"mse_loss: targets must be numbers, got None"),
    (lambda p: mse_loss(p, [[1.0], [2.0, 3.0]]), ValueError, r"mse_loss: targets must be numbers in one "
                                                             r"rectangular shape"),
    (lambda p: cross_entropy(Tensor([[1.0, 2.0]]), ["a"]), TypeError, r"cross_entropy: targets must be numbers"),
    (lambda p: binary_cross_entropy(p, {"x": 1}), TypeError, r"binary_cross_entropy: targets must be numbers"),
])
def test_loss_targets_that_are_not_numbers(call, error, words):
    with pytest.raises(error, match=words):
        call(Tensor([0.5, 0.5]))


class RaggedSamples(Dataset):
    """Sample 2 has three features where every other sample has two."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.ones(3 if i == 2 else 2, dtype=np.float32), i


def test_ragged_samples_name_the_sample_and_the_shapes():
    with pytest.raises(ValueError, match=r"sample 2 has shapes \[\(3,\), \(\)\], sample 0 has \[\(2,\), \(\)\]"):
        list(DataLoader(RaggedSamples(), batch_size=4))
    batches = iter(DataLoader(RaggedSamples(), batch_size=2))
    assert next(batches)[0].shape == (2, 2), "a batch of equal samples is fine"
    with pytest.raises(ValueError, match=r"sample 3 has shapes \[\(2,\), \(\)\], sample 2 has \[\(3,\), \(\)\]"):
        next(batches)


def test_a_sample_that_is_not_numbers_names_its_index():
    class Texts(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return (np.ones(2), "label") if i == 1 else (np.ones(2), 0)

    with pytest.raises(TypeError, match=r"DataLoader: sample 1 of the dataset: Tensor data must be numbers"):
        list(DataLoader(Texts(), batch_size=3))


def test_a_sample_with_a_ragged_field_names_its_index():
    class Ragged(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (np.ones(2), [[1.0, 2.0], [3.0]] if i == 1 else [[1.0, 2.0], [3.0, 4.0]])

    with pytest.raises(ValueError, match=r"sample 1 of the dataset: Tensor data must be"):
        list(DataLoader(Ragged(), batch_size=2))


def test_tensor_dataset_refuses_string_arrays():
    with pytest.raises(TypeError, match=r"TensorDataset argument 1: Tensor data must be numbers"):
        TensorDataset(np.ones((2, 2)), np.array(["cat", "dog"]))
