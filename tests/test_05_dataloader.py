"""Tests for tinytorch.core.dataloader (module 05, graded): batching, shuffling, replayable epochs,
state, SimpleDataset. Behaviour only, through the taught API: batch values, sizes and dtypes, the
visiting order, `state_dict`, and an error's type and the argument it names. White-box checks of the
reference (which route builds a batch, exact messages of the provided checks) are in
tests/internals/test_batching.py."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.dataloader import DataLoader, Dataset, SimpleDataset, TensorDataset
from tinytorch.core.tensor import Tensor


def make_data(n, features=3):
    """Row i of x is [i, i + 0.5, ...] and y[i] = i, so every batch reveals which samples it holds."""
    x = np.arange(n, dtype=np.float32)[:, None] + np.linspace(0, 0.5, features, dtype=np.float32)
    return TensorDataset(Tensor(x), Tensor(np.arange(n, dtype=np.int64)))


def visited(loader):
    """The sample ids of one pass over the loader, in visiting order."""
    return np.concatenate([targets.data for _, targets in loader]) if len(loader) else np.array([], int)


class ListDataset(Dataset):
    """A generic dataset (no `arrays`): forces the per-sample fallback path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_vectorized_batches_are_copies_with_the_arrays_dtypes():
    x, y = np.arange(20, dtype=np.float64).reshape(10, 2), np.arange(10, dtype=np.int32)
    data = TensorDataset(Tensor(x, dtype=np.float64), Tensor(y))
    inputs, targets = next(iter(DataLoader(data, batch_size=4)))
    assert inputs.dtype == np.float64 and targets.dtype == np.int32 and not inputs.requires_grad
    inputs.data[:] = -1                      # a batch is a copy: the dataset is untouched
    np.testing.assert_array_equal(data.arrays[0], x)


# ---------------------------------------------------------------- batch counts and sizes

@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (12, 4, False, [4, 4, 4]),
    (12, 4, True, [4, 4, 4]),
    (3, 5, False, [3]),
    (3, 5, True, []),
    (7, 1, False, [1] * 7),
    (0, 4, False, []),
])
def test_batch_count_and_last_batch_size(n, batch_size, drop_last, sizes):
    loader = DataLoader(make_data(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [x.shape[0] for x, _ in batches] == sizes
    assert [y.shape[0] for _, y in batches] == sizes


def test_default_batch_size_is_32():
    loader = DataLoader(make_data(100))
    assert loader.batch_size == 32 and len(loader) == 4
    assert [y.shape[0] for _, y in loader] == [32, 32, 32, 4]


def test_unshuffled_batches_keep_dataset_order_and_dtypes():
    loader = DataLoader(make_data(10), batch_size=4)
    assert visited(loader).tolist() == list(range(10))
    x, y = next(iter(loader))
    assert x.shape == (4, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x.data[:, 0], np.arange(4, dtype=np.float32))


def test_shuffled_batches_keep_features_aligned_with_targets():
    for x, y in DataLoader(make_data(50), batch_size=7, shuffle=True, seed=3):
        assert np.array_equal(x.data[:, 0], y.data.astype(np.float32))


def test_every_sample_appears_exactly_once_per_shuffled_epoch():
    loader = DataLoader(make_data(103), batch_size=10, shuffle=True, seed=0)
    orders = [visited(loader) for _ in range(4)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(103))
    assert not np.array_equal(orders[0], np.arange(103))   # it really shuffled


def test_drop_last_with_shuffle_drops_a_different_tail_each_epoch():
    loader = DataLoader(make_data(10), batch_size=4, shuffle=True, drop_last=True, seed=1)
    kept = [visited(loader) for _ in range(6)]
    for order in kept:
        assert len(order) == 8 and len(set(order.tolist())) == 8
    assert len({frozenset(order.tolist()) for order in kept}) > 1


# ---------------------------------------------------------------- order as a function of (seed, epoch)

def test_order_is_the_documented_pure_function_of_seed_and_epoch():
    loader = DataLoader(make_data(40), batch_size=8, shuffle=True, seed=11)
    for epoch in (0, 1, 5):
        loader.set_epoch(epoch)
        expected = np.random.default_rng([11, epoch]).permutation(40)
        assert np.array_equal(visited(loader), expected)


def test_same_seed_and_epoch_give_the_same_order_different_epoch_or_seed_do_not():
    def order(seed, epoch):
        loader = DataLoader(make_data(60), batch_size=16, shuffle=True, seed=seed)
        loader.set_epoch(epoch)
        return visited(loader)

    assert np.array_equal(order(5, 2), order(5, 2))
    assert not np.array_equal(order(5, 2), order(5, 3))
    assert not np.array_equal(order(5, 2), order(6, 2))


def test_without_set_epoch_each_iteration_advances_the_epoch():
    loader = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=2)
    assert loader.epoch == 0
    first, second = visited(loader), visited(loader)
    assert loader.epoch == 2
    assert not np.array_equal(first, second)
    assert np.array_equal(first, np.random.default_rng([2, 0]).permutation(30))
    assert np.array_equal(second, np.random.default_rng([2, 1]).permutation(30))


def test_iter_commits_the_epoch_even_if_the_loop_stops_early():
    loader = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=2)
    for _ in loader:
        break
    assert loader.epoch == 1
    assert np.array_equal(visited(loader), np.random.default_rng([2, 1]).permutation(30))


def test_set_epoch_pins_the_epoch_and_a_fresh_loader_replays_it():
    original = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=9)
    epochs = [visited(original) for _ in range(4)]            # epochs 0..3, auto-advanced
    resumed = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=9)
    resumed.set_epoch(2)
    assert np.array_equal(visited(resumed), epochs[2])
    assert np.array_equal(visited(resumed), epochs[2])       # pinned: iterating does not advance
    assert resumed.epoch == 2
    resumed.set_epoch(3)
    assert np.array_equal(visited(resumed), epochs[3])


def test_without_a_seed_every_epoch_is_a_new_permutation():
    loader = DataLoader(make_data(50), batch_size=50, shuffle=True)
    a, b = visited(loader), visited(loader)
    assert sorted(a.tolist()) == sorted(b.tolist()) == list(range(50))
    assert not np.array_equal(a, b)                           # equal with probability 1/50!
    other = DataLoader(make_data(50), batch_size=50, shuffle=True)
    assert not np.array_equal(visited(other), a)


def test_shuffling_never_touches_numpys_global_random_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for seed in (None, 4):
        loader = DataLoader(make_data(20), batch_size=6, shuffle=True, seed=seed)
        visited(loader)
        loader.order(3)
    assert np.array_equal(np.random.get_state()[1], before)


def test_shuffle_false_ignores_seed_and_epoch():
    loader = DataLoader(make_data(9), batch_size=4, seed=4)
    loader.set_epoch(7)
    assert visited(loader).tolist() == list(range(9))


# ---------------------------------------------------------------- state_dict

def test_state_dict_is_plain_json_and_round_trips():
    loader = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=np.int64(21))
    visited(loader)
    visited(loader)
    state = loader.state_dict()
    assert state == {"seed": 21, "epoch": 2, "epoch_is_set": False}
    assert type(state["seed"]) is int and type(state["epoch"]) is int
    state = json.loads(json.dumps(state))
    expected_next = visited(loader)                           # what epoch 2 looks like

    fresh = DataLoader(make_data(30), batch_size=8, shuffle=True, seed=0)
    fresh.load_state_dict(state)
    assert fresh.seed == 21 and fresh.epoch == 2
    assert np.array_equal(visited(fresh), expected_next)


def test_state_dict_without_seed():
    loader = DataLoader(make_data(5), batch_size=2, shuffle=True)
    assert loader.state_dict() == {"seed": None, "epoch": 0, "epoch_is_set": False}
    assert json.loads(json.dumps(loader.state_dict())) == {"seed": None, "epoch": 0, "epoch_is_set": False}


@pytest.mark.parametrize("state, error, words", [
    ({"seed": 1}, ValueError, "state"),
    ({"seed": 1, "epoch": 0, "extra": 2}, ValueError, "state"),
    ([("seed", 1), ("epoch", 0)], TypeError, "state"),
    (None, TypeError, "state"),
    ({"seed": 1, "epoch": -1}, ValueError, "epoch"),
    ({"seed": 1, "epoch": 1.5}, TypeError, "epoch"),
    ({"seed": 1, "epoch": "3"}, TypeError, "epoch"),
    ({"seed": -4, "epoch": 3}, ValueError, "seed"),
    ({"seed": 2.0, "epoch": 3}, TypeError, "seed"),
    ({"seed": 1, "epoch": True}, TypeError, "epoch"),
    ({"seed": [1, 2], "epoch": 3}, TypeError, "seed"),
    ({1: 2, "epoch": 3}, ValueError, "state"),
    ({"seed": 1, "epoch": 3, "epoch_is_set": 1}, TypeError, "epoch_is_set"),
])
def test_load_state_dict_validates_before_changing_anything(state, error, words):
    loader = DataLoader(make_data(10), batch_size=3, shuffle=True, seed=5)
    loader.set_epoch(4)
    with pytest.raises(error, match=words):
        loader.load_state_dict(state)
    assert loader.state_dict() == {"seed": 5, "epoch": 4, "epoch_is_set": True}


def test_restoring_a_state_undoes_set_epoch():
    # a caller (the Trainer) that calls set_epoch and then fails restores the loader as it was:
    # iterating advances the counter again, as it did before set_epoch
    loader = DataLoader(make_data(10), batch_size=3, shuffle=True, seed=5)
    before = loader.state_dict()
    loader.set_epoch(7)
    loader.load_state_dict(before)
    visited(loader)
    assert loader.epoch == 1
    # and a state written before the flag existed means "not set"
    loader.set_epoch(2)
    loader.load_state_dict({"seed": 5, "epoch": 2})
    visited(loader)
    assert loader.epoch == 3


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                               ("4", TypeError), (True, TypeError), (None, TypeError),
                                               (np.float64(8.0), TypeError)])
def test_bad_batch_size_raises_naming_batch_size(batch_size, error):
    # the shared convention (tinytorch.utils.validation): a wrong type is a TypeError, a bad value a ValueError
    with pytest.raises(error, match="batch_size"):
        DataLoader(make_data(10), batch_size=batch_size)


def test_numpy_integer_batch_size_is_accepted():
    loader = DataLoader(make_data(10), batch_size=np.int32(4))
    assert type(loader.batch_size) is int and len(loader) == 3


@pytest.mark.parametrize("kwargs, error, words", [
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"drop_last": 1}, TypeError, "drop_last"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
])
def test_bad_loader_arguments_raise_naming_them(kwargs, error, words):
    with pytest.raises(error, match=words):
        DataLoader(make_data(10), **kwargs)


def test_dataset_without_len_or_getitem_is_rejected():
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(5)


@pytest.mark.parametrize("epoch, error", [(-1, ValueError), (2.0, TypeError), ("1", TypeError), (None, TypeError)])
def test_bad_epoch_raises_and_changes_nothing(epoch, error):
    loader = DataLoader(make_data(10), shuffle=True, seed=1)
    with pytest.raises(error, match="epoch"):
        loader.set_epoch(epoch)
    assert loader.epoch == 0
    visited(loader)
    assert loader.epoch == 1                                   # still auto-advancing


def test_base_dataset_must_be_subclassed():
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


# ---------------------------------------------------------------- TensorDataset

def test_tensor_dataset_mismatched_first_dimensions_are_a_value_error():
    with pytest.raises(ValueError):
        TensorDataset(Tensor(np.zeros((4, 2))), Tensor(np.zeros(4)), Tensor(np.zeros((3, 1))))
    with pytest.raises(ValueError):
        TensorDataset(Tensor(np.zeros((3, 1))), Tensor(np.zeros(4)))


def test_tensor_dataset_rejects_no_tensors_scalars_and_other_types():
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset()
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset(Tensor(np.zeros(3)), Tensor(np.float32(1.0)))
    with pytest.raises(TypeError, match="TensorDataset"):
        TensorDataset([1.0, 2.0])


def test_tensor_dataset_indexing_by_int_negative_int_array_and_slice():
    data = make_data(6, features=2)
    x, y = data[2]
    assert x.data.tolist() == [2.0, 2.5] and int(y.data) == 2
    assert int(data[-1][1].data) == 5
    xs, ys = data[[4, 0, 4]]
    assert xs.shape == (3, 2) and ys.data.tolist() == [4, 0, 4]
    assert data[1:3][1].data.tolist() == [1, 2]
    with pytest.raises(IndexError, match="index"):
        data[6]
    with pytest.raises(TypeError, match="index"):                  # a wrong kind of index: TypeError
        data[np.array([0.5, 1.0])]
    with pytest.raises(IndexError, match="ind"):
        data[[0, 9]]


def test_tensor_dataset_accepts_ndarrays_with_tensor_dtype_rules():
    data = TensorDataset(np.ones((3, 2)), np.array([0, 1, 2]))
    assert data.arrays[0].dtype == np.float32                  # float64 array -> float32, like Tensor
    assert np.issubdtype(data.arrays[1].dtype, np.integer)     # labels stay integers


def test_tensor_dataset_with_three_tensors_yields_three_tuples():
    data = TensorDataset(Tensor(np.zeros((5, 2))), Tensor(np.arange(5)), Tensor(np.ones(5)))
    batches = list(DataLoader(data, batch_size=2))
    assert [len(batch) for batch in batches] == [3, 3, 3]
    assert batches[-1][2].shape == (1,)


def test_batches_are_copies_not_views_of_the_dataset():
    data = make_data(8)
    before = data.arrays[0].copy()
    for x, _ in DataLoader(data, batch_size=3):
        x.data[...] = -1.0
    assert np.array_equal(data.arrays[0], before)


# ---------------------------------------------------------------- TensorDataset batches vs generic datasets

def test_generic_dataset_fallback_matches_the_vectorized_path():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((23, 3)).astype(np.float32), rng.integers(0, 4, 23)
    fast = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=5, shuffle=True, seed=8)
    slow = DataLoader(ListDataset(x, y), batch_size=5, shuffle=True, seed=8)
    assert len(fast) == len(slow) == 5
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        assert fx.dtype == sx.dtype == np.float32
        assert np.issubdtype(sy.dtype, np.integer)
        assert np.array_equal(fx.data, sx.data) and np.array_equal(fy.data, sy.data)


def test_generic_dataset_of_single_items_yields_single_tensors():
    class Numbers(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return float(i)

    batches = list(DataLoader(Numbers(), batch_size=2))
    assert all(isinstance(batch, Tensor) for batch in batches)
    assert [b.data.tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    assert batches[0].dtype == np.float32


# ---------------------------------------------------------------- SimpleDataset

def test_simple_dataset_shapes_dtypes_and_balance():
    data = SimpleDataset(size=1000, num_features=4, num_classes=3)   # the older seed's call
    assert len(data) == 1000 and data.num_features == 4 and data.num_classes == 3
    assert data.features.shape == (1000, 4) and data.features.dtype == np.float32
    assert data.labels.shape == (1000,) and data.labels.dtype == np.int64
    assert np.bincount(data.labels.data).tolist() == [334, 333, 333]
    assert np.array_equal(data.arrays[0], data.features.data) and np.array_equal(data.arrays[1], data.labels.data)


def test_simple_dataset_is_deterministic_given_seed():
    a, b = SimpleDataset(200, 5, 4, seed=3), SimpleDataset(200, 5, 4, seed=3)
    assert np.array_equal(a.features.data, b.features.data)
    assert np.array_equal(a.labels.data, b.labels.data)
    c = SimpleDataset(200, 5, 4, seed=4)
    assert not np.array_equal(a.features.data, c.features.data)
    d, e = SimpleDataset(200, 5, 4), SimpleDataset(200, 5, 4)
    assert not np.array_equal(d.features.data, e.features.data)


def test_simple_dataset_is_learnable_by_a_small_mlp_trained_from_the_loader():
    """A 4-16-3 MLP in plain NumPy, fed by the DataLoader, beats chance (1/3) by a wide margin."""
    train = SimpleDataset(size=1000, num_features=4, num_classes=3, seed=0)
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(0, 0.5, (4, 16)), np.zeros(16)
    w2, b2 = rng.normal(0, 0.5, (16, 3)), np.zeros(3)

    def forward(x):
        h = np.maximum(x @ w1 + b1, 0.0)
        return h, h @ w2 + b2

    loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
    for _ in range(10):
        for x, y in loader:
            x, y = x.data.astype(np.float64), y.data
            h, logits = forward(x)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(y)), y] -= 1.0
            g = p / len(y)
            gh = (g @ w2.T) * (h > 0)
            w2 -= 0.1 * h.T @ g
            b2 -= 0.1 * g.sum(axis=0)
            w1 -= 0.1 * x.T @ gh
            b1 -= 0.1 * gh.sum(axis=0)

    # Same seed and a different size: the same class centres, a new draw of samples around them.
    test = SimpleDataset(size=2000, num_features=4, num_classes=3, seed=0)
    assert np.array_equal(test.centres, train.centres)
    assert not np.array_equal(test.features.data[:1000], train.features.data)
    test_x, test_y = test.features.data, test.labels.data
    accuracy = (forward(test_x)[1].argmax(axis=1) == test_y).mean()
    assert accuracy > 0.8, accuracy


@pytest.mark.parametrize("kwargs, words", [
    ({"size": 0, "num_features": 4, "num_classes": 3}, "size"),
    ({"size": 10, "num_features": 0, "num_classes": 3}, "num_features"),
    ({"size": 10, "num_features": 4, "num_classes": 1}, "num_classes"),
    ({"size": 10, "num_features": 4, "num_classes": 3, "seed": -2}, "seed"),
])
def test_simple_dataset_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        SimpleDataset(**kwargs)


def test_simple_dataset_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="size"):
        SimpleDataset(size=10.0, num_features=4, num_classes=3)


# ---------------------------------------------------------------- properties

@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 200), batch_size=st.integers(1, 70), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_batching_properties(n, batch_size, drop_last, shuffle, seed):
    loader = DataLoader(make_data(n, features=2), batch_size=batch_size, shuffle=shuffle,
                        drop_last=drop_last, seed=seed)
    expected_batches = n // batch_size if drop_last else math.ceil(n / batch_size)
    batches = list(loader)
    assert len(loader) == len(batches) == expected_batches
    sizes = [y.shape[0] for _, y in batches]
    assert all(size == batch_size for size in sizes[:-1])
    if sizes:
        assert sizes[-1] == (batch_size if drop_last or n % batch_size == 0 else n % batch_size)
    order = visited_from(batches)
    assert len(set(order)) == len(order) == (expected_batches * batch_size if drop_last else n)
    assert set(order) <= set(range(n))
    if not shuffle:
        assert order == list(range(len(order)))
    for x, y in batches:
        assert np.array_equal(x.data[:, 0], y.data.astype(np.float32))


def visited_from(batches):
    return [int(i) for _, y in batches for i in y.data]


# ---------------------------------------------------------------- PyTorch parity (oracle only)

@pytest.mark.torch
@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (64, 64, True),
                                                      (65, 64, False), (65, 64, True), (1, 8, False)])
def test_batch_counts_match_pytorch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchLoader, TensorDataset as TorchDataset

    theirs = TorchLoader(TorchDataset(torch.arange(n)), batch_size=batch_size, drop_last=drop_last)
    ours = DataLoader(make_data(n), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [y.shape[0] for _, y in ours] == [len(b[0]) for b in theirs]
