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
# # 05. DataLoader: feeding the model in batches
#
# A model learns from many examples, but it does not look at them one at a time and it does not
# look at all of them at once. It looks at *mini-batches*: 32, 64 or 256 samples stacked into one
# array, so that one matrix multiply handles the whole batch. This module builds the three pieces
# that turn a pile of samples into that stream of batches:
#
# - `Dataset`: anything with a length and an index, the one question a loader asks of data.
# - `TensorDataset`: a dataset made of aligned arrays (features, labels), which can hand out a whole
#   batch with one fancy-indexing operation per array.
# - `DataLoader`: splits a dataset into batches, reshuffles every epoch, and does it
#   *reproducibly*: with a seed, the order of epoch `k` is a pure function of `(seed, k)`, so a run
#   that stops halfway can be resumed and see exactly the same batches.
#
# We finish with `SimpleDataset`, a small synthetic classification problem that later modules use
# to check that training really learns.

# %%
#| default_exp core.dataloader

# %% [markdown]
# ## The dataset protocol
#
# A loader needs two things from its data: how many samples there are (`len(dataset)`) and sample
# number `i` (`dataset[i]`). Those two methods are the whole `Dataset` interface; anything that has
# them, a list of tuples included, can be batched. The base class exists to name the contract and to
# fail with a clear message when a subclass forgets half of it.

# %%
#| export
from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["Dataset", "TensorDataset", "DataLoader", "SimpleDataset"]


class Dataset:
    """Abstract dataset: a length and an index, nothing more.

    Subclasses implement ``__len__`` (the number of samples) and ``__getitem__(i)`` (sample ``i``,
    usually a tuple such as ``(features, label)``).

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return (float(i), i * i)
    >>> len(Squares()), Squares()[3]
    (4, (3.0, 9))
    """

    # Hint: both methods raise NotImplementedError naming the subclass that forgot them
    # (chapter 05, "API").
    ### BEGIN SOLUTION
    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (the number of samples)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__ (sample number index)")
    ### END SOLUTION


# %%
def test_unit_dataset_protocol():
    class Pairs(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return (i, 2 * i)

    assert len(Pairs()) == 3 and Pairs()[2] == (2, 4)
    for call in (lambda: len(Dataset()), lambda: Dataset()[0]):
        try:
            call()
        except NotImplementedError as error:
            assert "Dataset must implement" in str(error)
        else:
            raise AssertionError("the bare Dataset must refuse to be used")
    print("dataset protocol: ok")


if __name__ == "__main__":
    test_unit_dataset_protocol()

# %% [markdown]
# ## A dataset of aligned arrays
#
# Most training data is a few arrays that share their first dimension: `X` of shape `(N, features)`
# and `y` of shape `(N,)`. Row `i` of each is sample `i`. `TensorDataset` keeps those arrays and
# checks once, at construction, that they really do have the same number of rows: a mismatch found
# here is a clear error; found later it is a silently misaligned label.
#
# Its index accepts one integer *or* a whole array of indices. `X[[5, 2, 9]]` is NumPy fancy indexing:
# a single C-level gather that copies three rows into a new `(3, features)` array. That is the
# operation the loader uses to build a batch, so building a batch of 64 costs one call per array,
# not 64 Python-level lookups followed by a stack.

# %%
#| export
def _as_array(value, position: int) -> np.ndarray:
    """The ndarray behind a Tensor or an ndarray (plain arrays follow Tensor's dtype rules), with at
    least one dimension to index samples by."""
    if isinstance(value, Tensor):
        array = value.data
    elif isinstance(value, np.ndarray):
        try:
            array = Tensor(value).data
        except (TypeError, ValueError) as error:
            raise type(error)(f"TensorDataset argument {position}: {error}") from None
    else:
        raise TypeError(f"TensorDataset argument {position} must be a Tensor or a numpy array, "
                        f"got {describe(value)}")
    if array.ndim == 0:
        raise ValueError(f"TensorDataset argument {position} is a scalar (shape ()): "
                         f"every tensor needs a first dimension that indexes samples")
    return array


def _check_index(index, n: int):
    """A sample index for `n` samples: an int in range, a slice, or a 1-D array of ints in range.
    Out of range is an IndexError (Python's sequence protocol); anything else a TypeError."""
    if isinstance(index, numbers.Integral) and not isinstance(index, (bool, np.bool_)):
        if not -n <= index < n:
            raise IndexError(f"TensorDataset index {index} is out of range for {n} samples")
        return index
    if isinstance(index, slice):
        return index
    try:
        array = np.asarray(index)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"TensorDataset index must be an int, a slice or a 1-D sequence of ints, "
                        f"got {describe(index)}")
    if array.size and (array.min() < -n or array.max() >= n):
        raise IndexError(f"TensorDataset indices must be in range for {n} samples, got values in "
                         f"[{array.min()}, {array.max()}]")
    return array


class TensorDataset(Dataset):
    """Samples stored as aligned arrays: sample ``i`` is row ``i`` of every array.

    ``dataset[i]`` returns a tuple with one Tensor per array; ``dataset[indices]`` (a list or array of
    integers, or a slice) returns the same tuple with a leading batch dimension, built by one fancy
    index per array. ``dataset.arrays`` holds the underlying ndarrays.

    >>> x = Tensor(np.arange(12.0).reshape(6, 2))
    >>> y = Tensor(np.array([0, 1, 0, 1, 1, 0]))
    >>> data = TensorDataset(x, y)
    >>> len(data)
    6
    >>> features, label = data[1]
    >>> features.data.tolist(), int(label.data)
    ([2.0, 3.0], 1)
    >>> features, labels = data[[5, 0]]
    >>> features.shape, labels.data.tolist()
    ((2, 2), [0, 0])
    >>> TensorDataset(x, Tensor(np.zeros(5)))
    Traceback (most recent call last):
    ...
    ValueError: TensorDataset tensors must share their first dimension, got shapes (6, 2), (5,)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor, got none")
        arrays = tuple(_as_array(t, position) for position, t in enumerate(tensors))
        # Hint: every array must have the same number of rows, or a label would silently belong to
        # the wrong sample (chapter 05, "API").
        ### BEGIN SOLUTION
        if len({array.shape[0] for array in arrays}) != 1:
            shapes = ", ".join(str(array.shape) for array in arrays)
            raise ValueError(f"TensorDataset tensors must share their first dimension, got shapes {shapes}")
        self.arrays = arrays
        ### END SOLUTION

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        index = _check_index(index, len(self))
        # Hint: one fancy index per array, each result wrapped in a Tensor of the array's dtype
        # (chapter 05, "The cost: why the batch is one gather").
        ### BEGIN SOLUTION
        return tuple(Tensor(array[index], dtype=array.dtype) for array in self.arrays)
        ### END SOLUTION


# %%
def test_unit_tensor_dataset():
    x = Tensor(np.arange(20.0).reshape(10, 2))
    y = Tensor(np.arange(10) % 3)
    data = TensorDataset(x, y)
    assert len(data) == 10
    features, label = data[4]
    assert features.data.tolist() == [8.0, 9.0] and int(label.data) == 1
    features, labels = data[np.array([9, 0, 3])]
    assert features.shape == (3, 2) and labels.data.tolist() == [0, 0, 0]
    assert labels.dtype == y.dtype and features.dtype == np.float32
    try:
        TensorDataset(x, Tensor(np.zeros(7)))
    except ValueError as error:
        assert "(10, 2)" in str(error) and "(7,)" in str(error)
    else:
        raise AssertionError("mismatched first dimensions must raise")
    print("tensor dataset: ok")


if __name__ == "__main__":
    test_unit_tensor_dataset()

# %% [markdown]
# ## The loader: batches, shuffling, and epochs you can replay
#
# One *epoch* is one pass over the dataset. The loader splits the sample indices `0..N-1` into
# consecutive chunks of `batch_size`; the number of batches is
#
# $$\text{len(loader)} = \lceil N / B \rceil \quad\text{or}\quad \lfloor N / B \rfloor \text{ with } \texttt{drop\_last},$$
#
# because the final chunk holds only `N mod B` samples. `drop_last=True` throws that short batch away,
# which keeps every step's batch statistics comparable at the price of never seeing a few samples
# in that epoch.
#
# **Shuffling.** Stochastic gradient descent assumes each batch is a fair random draw. If the data
# is sorted by class, unshuffled batches would each contain a single class and the gradient would
# swing from one class to the next. So with `shuffle=True` every epoch visits the samples in a new
# random order: a permutation, so each sample still appears exactly once.
#
# **Reproducibility.** Where does that order come from? If the loader held one random generator
# and drew from it every epoch, the order of epoch 7 would depend on everything drawn before it;
# restarting a crashed run at epoch 7 would produce a different epoch 7. Instead the order is a
# *pure function* of `(seed, epoch)`:
#
# ```python
# order = np.random.default_rng([seed, epoch]).permutation(N)
# ```
#
# `default_rng` accepts a list of integers and mixes them into an independent stream, so epochs
# don't overlap, and anyone holding the two numbers can rebuild the order. `set_epoch(k)` says
# which epoch comes next; `state_dict()` saves `{"seed", "epoch"}` and whether `set_epoch` drives
# the counter, which is all a checkpoint needs.
# Without a seed the loader draws from its own generator seeded by the operating system: every
# epoch is different and no run can be replayed.
#
# If you never call `set_epoch`, each new iteration (each `for batch in loader`) uses the current
# epoch and then advances the counter, so two successive loops see two different orders. Once you
# call `set_epoch`, you drive the counter and iterating no longer changes it.
#
# **Cost.** For a `TensorDataset` the batch is `array[indices]` for each array: one gather in C.
# The fallback for any other dataset calls `dataset[i]` once per sample and stacks the results,
# which costs a Python function call, a tuple and a small array per sample. With 64 samples of 784
# features that per-sample overhead is several times the cost of the copy itself, which is why the
# loader looks for `arrays` first.

# %%
#| export
def _sample_fields(sample, index: int):
    """A generic sample as a tuple of ndarrays (Tensors keep their dtype, other values follow Tensor's rules)."""
    fields = sample if isinstance(sample, (tuple, list)) else (sample,)
    try:
        return tuple(field.data if isinstance(field, Tensor) else Tensor(field).data for field in fields)
    except (TypeError, ValueError) as error:
        raise type(error)(f"DataLoader: sample {index} of the dataset: {error}") from None


def _vectorizable_arrays(dataset):
    """The dataset's ``arrays`` when they can be batched by one gather each (a tuple or list of
    numeric ndarrays sharing their first dimension, as ``TensorDataset`` keeps), else None. Checked
    once per epoch, so that every batch can be wrapped without checking it again."""
    arrays = getattr(dataset, "arrays", None)
    if not isinstance(arrays, (tuple, list)) or not arrays or not all(
            type(a) is np.ndarray and a.ndim and a.dtype.kind in "biuf" and a.shape[0] == arrays[0].shape[0]
            for a in arrays):
        return None
    return arrays


def _collate(samples: list, indices) -> tuple:
    """Stack samples field by field into one batch tuple; a sample whose structure or shapes differ
    from the first one's is a ValueError naming both sample indices and their shapes."""
    fields = [_sample_fields(sample, int(i)) for sample, i in zip(samples, indices)]
    first = fields[0]
    for sample_fields, i in zip(fields, indices):
        if len(sample_fields) != len(first) or any(a.shape != b.shape for a, b in zip(sample_fields, first)):
            raise ValueError(f"DataLoader: samples in a batch need the same structure and shapes: sample "
                             f"{int(i)} has shapes {[a.shape for a in sample_fields]}, sample {int(indices[0])} "
                             f"has {[a.shape for a in first]}")
    stacked = [np.stack(column) for column in zip(*fields)]
    return tuple(Tensor(array, dtype=array.dtype) for array in stacked)


class DataLoader:
    """Iterate over a dataset in batches of Tensors, optionally reshuffled each epoch.

    Each batch has the structure of one sample with a leading batch dimension: for a
    ``TensorDataset(x, y)`` it is the tuple ``(inputs, targets)``. A ``TensorDataset`` (or any
    dataset with an ``arrays`` attribute) is batched by one fancy index per array; any other
    ``Dataset`` by calling ``dataset[i]`` per sample and stacking.

    ``len(loader)`` is the number of batches: ``ceil(N / batch_size)``, or ``N // batch_size``
    with ``drop_last=True``.

    Shuffling: with a ``seed`` the order of epoch ``e`` is
    ``np.random.default_rng([seed, e]).permutation(N)``, a pure function of ``(seed, e)``.
    ``set_epoch(e)`` chooses the epoch of the next iteration; if it is never called, every new
    iteration uses the current epoch and then advances it by one, so successive loops differ.
    Without a seed the order comes from the loader's own entropy-seeded generator and cannot be
    replayed. ``state_dict()`` holds ``{"seed", "epoch", "epoch_is_set"}`` (the epoch the next iteration uses,
    and whether ``set_epoch`` drives it).

    >>> data = TensorDataset(Tensor(np.arange(10.0).reshape(5, 2)), Tensor(np.arange(5)))
    >>> loader = DataLoader(data, batch_size=2)
    >>> len(loader)
    3
    >>> [targets.data.tolist() for inputs, targets in loader]
    [[0, 1], [2, 3], [4]]
    >>> len(DataLoader(data, batch_size=2, drop_last=True))
    2
    >>> shuffled = DataLoader(data, batch_size=5, shuffle=True, seed=0)
    >>> shuffled.set_epoch(3)
    >>> first = [t.data.tolist() for _, t in shuffled]
    >>> replay = DataLoader(data, batch_size=5, shuffle=True, seed=0)
    >>> replay.set_epoch(3)
    >>> [t.data.tolist() for _, t in replay] == first
    True
    >>> sorted(first[0])
    [0, 1, 2, 3, 4]
    >>> DataLoader(data, batch_size=0)
    Traceback (most recent call last):
    ...
    ValueError: DataLoader batch_size must be an integer >= 1, got 0
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader dataset must have __len__ and __getitem__, got {describe(dataset)}")
        batch_size = check_int("DataLoader batch_size", batch_size, 1)
        shuffle = check_bool("DataLoader shuffle", shuffle)
        drop_last = check_bool("DataLoader drop_last", drop_last)
        if seed is not None:
            seed = check_int("DataLoader seed", seed, 0)
        # Hint: keep the settings, start at epoch 0, and own a generator for unseeded shuffles
        # (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0                      # the epoch the next iteration uses
        self._epoch_is_set = False          # True once set_epoch() drives the counter
        self._rng = np.random.default_rng() # used only when seed is None
        ### END SOLUTION

    def __len__(self) -> int:
        # Hint: ceil(N / batch_size) batches, or N // batch_size with drop_last (chapter 05, "API").
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        ### END SOLUTION

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch ``epoch`` (an integer >= 0); iterating stops advancing it."""
        epoch = check_int("DataLoader.set_epoch epoch", epoch, 0)
        # Hint: remember the epoch and that the caller now drives the counter (chapter 05,
        # "A worked example": resuming at epoch 3).
        ### BEGIN SOLUTION
        self.epoch = epoch
        self._epoch_is_set = True
        ### END SOLUTION

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of epoch ``epoch`` (default: the next one), in visiting order.

        With a seed this is a pure function of ``(seed, epoch)``; without one, each call draws a
        fresh permutation. Without shuffling it is ``arange(N)``.
        """
        epoch = self.epoch if epoch is None else check_int("DataLoader.order epoch", epoch, 0)
        # Hint: arange(N) without shuffling; otherwise default_rng([seed, epoch]).permutation(N), or
        # the loader's own generator when there is no seed (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return self._rng.permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)
        ### END SOLUTION

    def __iter__(self):
        # Hint: fix this epoch's order now, then advance the counter unless set_epoch drives it
        # (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        order = self.order(self.epoch)      # computed now, so iter(loader) commits to this epoch
        if not self._epoch_is_set:
            self.epoch += 1
        return self._batches(order)
        ### END SOLUTION

    def _batches(self, order: np.ndarray):
        # Hint: slice the order into batch_size chunks; gather each array with the chunk, or fetch the
        # samples one by one and collate them (chapter 05, "The cost: why the batch is one gather").
        ### BEGIN SOLUTION
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        arrays = _vectorizable_arrays(self.dataset)     # provided above: None when not plain arrays
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            if arrays is not None:          # vectorized: one gather per array
                # take(axis=0) is array[indices] in a third of the time; the arrays were checked, so
                # each gather is wrapped the way an operation's result is
                yield tuple([Tensor.record(array.take(indices, axis=0), (), None) for array in arrays])
                continue
            samples = [self.dataset[int(i)] for i in indices]   # generic fallback
            batch = _collate(samples, indices)
            yield batch if isinstance(samples[0], (tuple, list)) else batch[0]
        ### END SOLUTION

    def state_dict(self) -> dict:
        """``{"seed": int | None, "epoch": int, "epoch_is_set": bool}``: plain, JSON-able values.

        ``epoch_is_set`` says whether ``set_epoch`` drives the counter (iterating then does not
        advance it); it is part of the state so that restoring a state undoes a ``set_epoch``.
        """
        return {"seed": self.seed, "epoch": self.epoch, "epoch_is_set": self._epoch_is_set}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``seed``, ``epoch`` and ``epoch_is_set`` from ``state_dict()``; validated before
        anything changes. A state without ``epoch_is_set`` (written before it existed) means False."""
        expected = "['epoch', 'seed'] and optionally 'epoch_is_set'"
        if not isinstance(state, dict):
            raise TypeError(f"DataLoader.load_state_dict state must be a dict with keys "
                            f"{expected}, got {describe(state)}")
        if not {"seed", "epoch"} <= set(state) <= {"seed", "epoch", "epoch_is_set"}:
            raise ValueError(f"DataLoader.load_state_dict state must be a dict with keys "
                             f"{expected}, got {describe(sorted(state, key=str))}")
        seed = state["seed"]
        if seed is not None:
            seed = check_int("DataLoader state_dict['seed']", seed, 0)
        epoch = check_int("DataLoader state_dict['epoch']", state["epoch"], 0)
        epoch_is_set = check_bool("DataLoader state_dict['epoch_is_set']", state.get("epoch_is_set", False))
        self.seed, self.epoch, self._epoch_is_set = seed, epoch, epoch_is_set

    def __repr__(self) -> str:
        return (f"DataLoader(batches={len(self)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed}, epoch={self.epoch})")


# %%
def test_unit_dataloader_batches():
    data = TensorDataset(Tensor(np.arange(20.0).reshape(10, 2)), Tensor(np.arange(10)))
    loader = DataLoader(data, batch_size=4)
    assert len(loader) == 3
    sizes = [targets.shape[0] for _, targets in loader]
    assert sizes == [4, 4, 2]
    assert len(DataLoader(data, batch_size=4, drop_last=True)) == 2
    assert [t.shape[0] for _, t in DataLoader(data, batch_size=4, drop_last=True)] == [4, 4]
    for bad, kind in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        try:
            DataLoader(data, batch_size=bad)
        except kind as error:
            assert "batch_size" in str(error)
        else:
            raise AssertionError(f"batch_size={bad!r} must raise")
    print("dataloader batches: ok")


def test_unit_dataloader_replay():
    data = TensorDataset(Tensor(np.arange(50.0).reshape(25, 2)), Tensor(np.arange(25)))

    def epoch_order(loader):
        return np.concatenate([t.data for _, t in loader])

    a = DataLoader(data, batch_size=8, shuffle=True, seed=7)
    first, second = epoch_order(a), epoch_order(a)   # no set_epoch: the counter advances by itself
    assert sorted(first.tolist()) == list(range(25)) and not np.array_equal(first, second)
    b = DataLoader(data, batch_size=8, shuffle=True, seed=7)
    b.set_epoch(1)
    assert np.array_equal(epoch_order(b), second)    # a fresh loader replays epoch 1
    assert np.array_equal(epoch_order(b), second)    # set_epoch pins the epoch
    c = DataLoader(data, batch_size=8, shuffle=True, seed=123)
    c.load_state_dict(a.state_dict())
    assert c.state_dict() == {"seed": 7, "epoch": 2, "epoch_is_set": False}
    print("dataloader replay: ok")


if __name__ == "__main__":
    test_unit_dataloader_batches()
    test_unit_dataloader_replay()

# %% [markdown]
# ## A synthetic problem that can be learned
#
# To check that a training loop learns, we want data with a known, learnable structure that costs
# nothing to download. `SimpleDataset` draws one random centre per class and scatters the samples of
# each class around it as a Gaussian blob:
#
# $$x = \mu_{y} + \varepsilon,\qquad \mu_c \sim \mathcal{N}(0, s^2 I),\quad \varepsilon \sim \mathcal{N}(0, I).$$
#
# With centre spread `s = 2` the blobs overlap a little in few dimensions, so a linear classifier or
# a small MLP does clearly better than the chance rate `1 / num_classes` without being handed a
# trivial problem. Labels are balanced (class `c` gets every `num_classes`-th sample before the
# shuffle), features are float32 and labels int64. Everything comes from one generator seeded by
# `seed`, so the same seed gives the same dataset. Because it is a `TensorDataset`, the loader
# batches it with the vectorized path.

# %%
#| export
class SimpleDataset(TensorDataset):
    """Gaussian blobs: ``size`` samples of ``num_features`` float32 features in ``num_classes`` classes.

    Each class has a centre drawn from ``N(0, 2**2)`` per feature; its samples are that centre plus
    ``N(0, 1)`` noise. Labels are int64 and balanced. The same ``seed`` gives the same data; with
    ``seed=None`` it is drawn from fresh entropy. ``features``, ``labels`` (Tensors) and ``centres``
    (ndarray) are exposed.

    >>> data = SimpleDataset(size=1000, num_features=4, num_classes=3, seed=0)
    >>> len(data), data.features.shape, str(data.features.dtype), str(data.labels.dtype)
    (1000, (1000, 4), 'float32', 'int64')
    >>> np.bincount(data.labels.data).tolist()
    [334, 333, 333]
    >>> bool(np.array_equal(data.features.data, SimpleDataset(1000, 4, 3, seed=0).features.data))
    True
    """

    def __init__(self, size, num_features, num_classes, seed=None):
        size = check_int("SimpleDataset size", size, 1)
        num_features = check_int("SimpleDataset num_features", num_features, 1)
        num_classes = check_int("SimpleDataset num_classes", num_classes, 2)
        if seed is not None:
            seed = check_int("SimpleDataset seed", seed, 0)
        if size * max(num_features, num_classes) > np.iinfo(np.intp).max // 8:
            raise ValueError(f"SimpleDataset size * max(num_features, num_classes) = {size} * "
                             f"{max(num_features, num_classes)} is more elements "
                             "than one array can hold")
        # Hint: one generator: class centres N(0, 2**2), balanced shuffled labels, features = centre +
        # N(0, 1) noise, float32 and int64 (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        rng = np.random.default_rng(seed)
        centres = rng.normal(0.0, 2.0, size=(num_classes, num_features))
        labels = rng.permutation(np.arange(size) % num_classes).astype(np.int64)
        features = (centres[labels] + rng.standard_normal((size, num_features))).astype(np.float32)
        self.centres = centres.astype(np.float32)
        self.num_features, self.num_classes, self.seed = num_features, num_classes, seed
        self.features = Tensor(features, dtype=np.float32)
        self.labels = Tensor(labels, dtype=np.int64)
        super().__init__(self.features, self.labels)
        ### END SOLUTION

    def __repr__(self) -> str:
        return (f"SimpleDataset(size={len(self)}, num_features={self.num_features}, "
                f"num_classes={self.num_classes}, seed={self.seed})")


# %%
def test_unit_simple_dataset():
    a = SimpleDataset(size=300, num_features=4, num_classes=3, seed=1)
    b = SimpleDataset(size=300, num_features=4, num_classes=3, seed=1)
    assert np.array_equal(a.features.data, b.features.data) and np.array_equal(a.labels.data, b.labels.data)
    assert a.features.dtype == np.float32 and a.labels.dtype == np.int64
    # Nearest-centre classification is the best a simple model can hope for: it must beat chance.
    distances = ((a.features.data[:, None, :] - a.centres[None]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == a.labels.data).mean()
    assert accuracy > 0.6, accuracy
    print(f"simple dataset: ok (nearest-centre accuracy {accuracy:.2f}, chance 0.33)")


if __name__ == "__main__":
    test_unit_simple_dataset()

# %% [markdown]
# ## Summary
#
# - A `Dataset` is a length and an index; a `TensorDataset` is aligned arrays whose batches are one
#   gather per array.
# - `DataLoader` yields `ceil(N / B)` batches (`floor` with `drop_last`), every sample once per epoch.
# - With a seed, epoch `e`'s order is `default_rng([seed, e]).permutation(N)`: save `{"seed",
#   "epoch"}` and any run can be resumed on exactly the same batches.

# %% [markdown]
# ## Real data: files on disk
#
# Synthetic blobs prove that a loop learns; real data proves that it learns something useful.
# Three real image sets are read by the same few lines of NumPy:
#
# - **Digits** (shipped inside the package, no download): the 8x8 UCI optical handwritten digits,
#   1,797 images whose 64 pixels are ink counts in `0..16`. Source: E. Alpaydin and C. Kaynak
#   (1998), UCI Machine Learning Repository, <https://doi.org/10.24432/C50P49>, licence CC BY 4.0;
#   `tinytorch/data/README.md` says where the file comes from and how it is checked.
# - **MNIST** (28x28 grey digits, 70,000 images) in its original *IDX* files, gzip-compressed.
# - **CIFAR-10** (32x32 colour photographs, 60,000 images) in its *binary* version.
#
# Both file formats are a few header bytes followed by raw pixels, so reading them is
# `np.frombuffer` plus a reshape: one copy from disk to an array, no Python loop over images.
#
# **IDX** (MNIST). Four bytes of magic: two zeros, a type code (`0x08` = unsigned bytes) and the
# number of dimensions `d`; then `d` big-endian 32-bit sizes; then the values, row-major, also
# big-endian. Images are `(N, 28, 28)` unsigned bytes, labels `(N,)`.
#
# **CIFAR-10 binary.** Each record is `1 + 3072` bytes: the label, then the red, green and blue
# 32x32 planes, row by row. Five training files of 10,000 records (`data_batch_1.bin` ...
# `data_batch_5.bin`) and one test file (`test_batch.bin`). Reshaping the records to
# `(N, 3073)` and slicing gives labels `[:, 0]` and images `[:, 1:].reshape(N, 3, 32, 32)`,
# which is already PyTorch's channels-first (NCHW) layout.
#
# **Damaged or missing files** are the usual failure with real data. The readers check what the
# format promises (the magic number, that the sizes in the header match the bytes that follow,
# that a CIFAR file is a whole number of records, that labels are digits 0..9) and name the file
# and the problem. gzip carries a CRC-32 of its content, so a corrupted `.gz` fails to decompress
# and is reported as damaged. Downloads (`download=True`, for machines with internet) fetch the
# official archives, check their published MD5 before anything is kept, and never run when the
# files are already there. This is provided scaffolding, not an exercise: the point of the
# chapter is the `Dataset` each set becomes.

# %%
#| export core.datafiles
"""Reading data files into NumPy arrays: the shipped digits, MNIST (IDX, gzip), CIFAR-10 (binary).

Knows nothing of `Dataset`: it returns arrays (images as uint8, labels as int64) and is imported
by `tinytorch.core.dataloader`, which wraps them in datasets.
"""
import functools
import gzip
import hashlib
import importlib.util
import io
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from tinytorch.utils.validation import check_bool, check_int, check_number, check_path, describe

__all__ = [
    "DIGITS_PATH", "DIGITS_SHA256", "DIGITS_SOURCE", "DIGITS_LICENCE", "MNIST_FILES", "MNIST_URLS",
    "CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_FOLDER", "CIFAR10_CLASSES",
    "read_idx", "read_cifar10_batch", "digits_arrays", "digits_split", "mnist_arrays",
    "cifar10_arrays", "download_url", "file_md5",
]

# Found from the package, not from __file__: a notebook cell (the student notebook) has no __file__.
DIGITS_PATH = Path(importlib.util.find_spec("tinytorch").origin).resolve().parent / "data" / "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_SOURCE = ("E. Alpaydin and C. Kaynak (1998), Optical Recognition of Handwritten Digits, "
                 "UCI Machine Learning Repository, https://doi.org/10.24432/C50P49")
DIGITS_LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"

# The official MNIST files and their published MD5s; the mirror first (the original site often
# refuses scripted downloads), the original second.
MNIST_FILES = {
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"      # the folder the archive unpacks to
CIFAR10_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_RECORD = 1 + 3 * 32 * 32             # label byte + three 32x32 colour planes

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _check_root(name: str, root) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or os.PathLike), got {describe(root)}")
    return check_path(name, root)


def _split(name: str, train) -> str:
    return "train" if check_bool(name, train) else "test"


def file_md5(path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks (the official archives publish MD5s)."""
    path = check_path("file_md5 path", path, exists=True, file=True)
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, destination, md5: str) -> Path:
    """Download ``url`` to ``destination``, keeping it only if its MD5 is ``md5``.

    The bytes go to a temporary file in the destination's folder and are renamed into place after
    the check, so an interrupted or damaged download never leaves a file that looks complete.
    """
    if not isinstance(url, str) or not url:
        raise TypeError(f"download_url url must be a non-empty str, got {describe(url)}")
    destination = check_path("download_url destination", destination, file=True)
    if not isinstance(md5, str) or len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5.lower()):
        raise (ValueError if isinstance(md5, str) else TypeError)(
            f"download_url md5 must be 32 hexadecimal digits, got {describe(md5)}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".",
                                         suffix=".part")
    digest = hashlib.md5()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as error:
                raise ConnectionError(f"could not download {url}: {error}. Without internet, copy "
                                      f"the file by hand to {destination}") from error
        if digest.hexdigest() != md5:
            raise ValueError(f"the download of {url} is damaged: MD5 {digest.hexdigest()}, expected "
                             f"{md5}; nothing was kept, try again")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return destination


def _read_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it ends in .gz; damage becomes a ValueError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is damaged: it is not a complete gzip file ({error}); "
                         f"delete it and fetch it again") from error


def read_idx(path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as an array in native byte order.

    IDX: two zero bytes, a type code, the number of dimensions ``d``, ``d`` big-endian uint32
    sizes, then the values row-major and big-endian.
    """
    path = check_path("read_idx path", path, exists=True, file=True)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file: it must start with two zero bytes and a type "
                         f"code in {sorted(_IDX_TYPES)}, got {data[:4]!r}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is damaged: its header promises {ndim} dimensions, but the file "
                         f"has only {len(data)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path} is damaged: its header says shape {shape} ({expected} bytes of "
                         f"values), but {len(data) - header} bytes follow the header")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))      # native order, and a writable copy


def _check_labels(path, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{path} is damaged: labels must be 0..{classes - 1}, found values "
                         f"{int(labels.min())}..{int(labels.max())}")
    return labels.astype(np.int64)


def read_cifar10_batch(path) -> tuple:
    """``(images, labels)`` of one CIFAR-10 binary file: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``."""
    path = check_path("read_cifar10_batch path", path, exists=True, file=True)
    data = path.read_bytes()
    if not data or len(data) % CIFAR10_RECORD:
        raise ValueError(f"{path} is damaged: {len(data)} bytes is not a whole, non-zero number of "
                         f"{CIFAR10_RECORD}-byte CIFAR-10 records (1 label byte + 3x32x32 pixels)")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, _check_labels(path, records[:, 0])


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    data = DIGITS_PATH.read_bytes() if DIGITS_PATH.exists() else None
    if data is None:
        raise FileNotFoundError(f"the digits file {DIGITS_PATH} is missing from the package: "
                                f"reinstall tinytorch (pip install -e .)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(f"{DIGITS_PATH} is damaged: SHA-256 {digest}, expected {DIGITS_SHA256}; "
                         f"restore it from the repository (git checkout -- {DIGITS_PATH.name})")
    table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.int64)
    table.setflags(write=False)
    return table


def digits_arrays() -> tuple:
    """The 1,797 shipped digits: uint8 images ``(1797, 8, 8)`` with values 0..16, int64 labels."""
    table = _digits_table()
    return table[:, :64].astype(np.uint8).reshape(-1, 8, 8), table[:, 64].copy()


def digits_split(labels, test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """``(train_indices, test_indices)``: a stratified split, the same for the same arguments.

    For each class ``c`` in order 0, 1, ..., its indices are permuted by one generator
    ``np.random.default_rng(seed)`` and the first ``round(test_fraction * count_c)`` go to the
    test set, so every class keeps its share in both sets. Both index arrays are sorted.
    """
    test_fraction = check_number("digits_split test_fraction", test_fraction, minimum=0.0, maximum=1.0)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"digits_split test_fraction must be strictly between 0 and 1, got {test_fraction}")
    seed = check_int("digits_split seed", seed, 0)
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray(None)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu":
        raise (ValueError if labels.dtype.kind in "iu" else TypeError)(
            f"digits_split labels must be a non-empty 1-D array of integer class labels, got {describe(labels)}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[:int(round(test_fraction * members.size))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(labels.size), test)
    return train, test


def _how_to_get(what: str, where: Path, url: str) -> str:
    return (f"put the {what} in {where}, or pass download=True to fetch them from {url} "
            f"(needs internet; the MD5 is checked)")


def mnist_arrays(root, train: bool = True, download: bool = False) -> tuple:
    """MNIST from the IDX files in ``root``: uint8 images ``(N, 28, 28)``, int64 labels.

    Reads ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz`` (or ``t10k-...`` with
    ``train=False``); an uncompressed copy (same name without ``.gz``) is read when the ``.gz`` is
    absent. A missing file is downloaded only with ``download=True``, and kept only if its MD5 is
    the published one.
    """
    root = _check_root("MNIST root", root)
    split = _split("MNIST train", train)
    download = check_bool("MNIST download", download)
    paths = []
    for name, md5 in MNIST_FILES[split]:
        path = root / name
        if not path.exists() and (root / name[:-3]).exists():
            path = root / name[:-3]
        if not path.exists():
            if not download:
                raise FileNotFoundError(f"MNIST file {path} not found: " + _how_to_get(
                    f"four MNIST files ({', '.join(n for s in MNIST_FILES.values() for n, _ in s)})",
                    root, MNIST_URLS[0]))
            _download_from_mirrors(name, path, md5)
        paths.append(path)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{paths[0]} is not an MNIST image file: expected unsigned bytes of shape "
                         f"(N, rows, columns), got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{paths[1]} does not match {paths[0]}: {labels.shape} labels for "
                         f"{images.shape[0]} images")
    return images, _check_labels(paths[1], labels)


def _download_from_mirrors(name: str, path: Path, md5: str) -> None:
    errors = []
    for base in MNIST_URLS:
        try:
            download_url(base + name, path, md5)
            return
        except ConnectionError as error:
            errors.append(str(error))
    raise ConnectionError(f"could not download {name} from any mirror: " + "; ".join(errors))


def _extract_cifar10(archive: Path, root: Path) -> None:
    """Unpack only the known CIFAR-10 files (no path from the archive is trusted)."""
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = [n for split in CIFAR10_FILES.values() for n in split] + ["batches.meta.txt"]
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in names:
                source = tar.extractfile(f"{CIFAR10_FOLDER}/{name}")
                target = folder / name
                with open(target.with_suffix(".part"), "wb") as out:
                    out.write(source.read())
                os.replace(target.with_suffix(".part"), target)
    except (tarfile.TarError, KeyError, EOFError, zlib.error) as error:
        raise ValueError(f"{archive} is damaged or is not the CIFAR-10 binary archive ({error}); "
                         f"delete it and fetch it again from {CIFAR10_URL}") from error


def cifar10_arrays(root, train: bool = True, download: bool = False) -> tuple:
    """CIFAR-10 (binary version) from ``root``: uint8 images ``(N, 3, 32, 32)``, int64 labels.

    The ``.bin`` files are looked for in ``root/cifar-10-batches-bin/`` (where the official
    archive unpacks) and else in ``root`` itself. When they are missing, the archive
    ``root/cifar-10-binary.tar.gz`` is unpacked if present, or, with ``download=True``, fetched
    first (162 MB); its MD5 is checked before it is unpacked.
    """
    root = _check_root("CIFAR10 root", root)
    split = _split("CIFAR10 train", train)
    download = check_bool("CIFAR10 download", download)
    names = CIFAR10_FILES[split]

    def folder_with_files():
        for folder in (root / CIFAR10_FOLDER, root):
            if all((folder / name).exists() for name in names):
                return folder
        return None

    folder = folder_with_files()
    if folder is None:
        archive = root / CIFAR10_ARCHIVE
        if not archive.exists() and download:
            download_url(CIFAR10_URL, archive, CIFAR10_MD5)
        elif archive.exists() and file_md5(archive) != CIFAR10_MD5:
            raise ValueError(f"{archive} is damaged: its MD5 is not the published {CIFAR10_MD5}; "
                             f"delete it and fetch it again from {CIFAR10_URL}")
        if archive.exists():
            _extract_cifar10(archive, root)
        folder = folder_with_files()
    if folder is None:
        missing = next(root / CIFAR10_FOLDER / name for name in names
                       if not (root / CIFAR10_FOLDER / name).exists())
        raise FileNotFoundError(f"CIFAR-10 file {missing} not found: " + _how_to_get(
            f"CIFAR-10 binary files ({', '.join(names)})", root / CIFAR10_FOLDER, CIFAR10_URL))
    parts = [read_cifar10_batch(folder / name) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

# %% [markdown]
# ## Real data as datasets
#
# Each set becomes a `TensorDataset` of two aligned arrays, so the loader batches it with one
# gather per array:
#
# - images as float32 in `[0, 1]`, channels first: digits `(N, 1, 8, 8)` (ink count / 16), MNIST
#   `(N, 1, 28, 28)` and CIFAR-10 `(N, 3, 32, 32)` (byte / 255). A multi-layer perceptron starts
#   with `Flatten()`; a convolutional network takes the images as they are.
# - labels as int64 class indices, what `CrossEntropyLoss` expects.
#
# **A train/test split you can trust.** The digits come as one file, so we split them ourselves.
# A test set must never be trained on, and it must look like the training data. We hold out 20% of
# *each class* (a *stratified* split): with ten classes of about 180 images, a plain random 20%
# could by chance give one digit a noticeably smaller share of the test set. The split is a pure
# function of `(test_fraction, seed)`: for each class in turn, one generator seeded with `seed`
# permutes its indices and the first `round(0.2 * count)` become test images. Same arguments,
# same split, on every machine.

# %%
#| export
from tinytorch.core.datafiles import CIFAR10_CLASSES, cifar10_arrays, digits_arrays, digits_split, mnist_arrays
from tinytorch.utils.validation import check_bool

__all__ += ["ImageDataset", "DigitsDataset", "MNISTDataset", "CIFAR10Dataset"]


class ImageDataset(TensorDataset):
    """Images and class labels as a ``TensorDataset``: ``dataset[i]`` is ``(image, label)``.

    ``images`` are float32 ``(N, C, H, W)``; ``labels`` int64 ``(N,)``; ``classes`` names the
    classes in label order.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes):
        try:
            images = Tensor(images, dtype=np.float32)
            labels = Tensor(labels)
        except (TypeError, ValueError) as error:
            raise type(error)(f"ImageDataset images and labels must be arrays of numbers: {error}") from None
        if images.ndim != 4:
            raise ValueError(f"ImageDataset images must have shape (N, C, H, W), got shape {images.shape}")
        if labels.data.dtype.kind not in "iu" or labels.shape != images.shape[:1]:
            raise ValueError(f"ImageDataset labels must be {images.shape[0]} integer class labels (one per "
                             f"image), got dtype {labels.data.dtype} and shape {labels.shape}")
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
            raise TypeError(f"ImageDataset classes must be a sequence of class names, got {describe(classes)}")
        classes = tuple(classes)
        if labels.size and not 0 <= labels.data.min() <= labels.data.max() < len(classes):
            raise ValueError(f"ImageDataset labels must be in 0..{len(classes) - 1} (one per class in "
                             f"classes), got values in [{labels.data.min()}, {labels.data.max()}]")
        self.images, self.labels, self.classes = images, Tensor(labels.data, dtype=np.int64), classes
        super().__init__(self.images, self.labels)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(samples={len(self)}, image_shape={self.images.shape[1:]}, "
                f"classes={len(self.classes)})")


class DigitsDataset(ImageDataset):
    """The 8x8 UCI handwritten digits shipped with TinyTorch, split into train and test sets.

    1,797 images in all; ``train=False`` gives the held-out ``test_fraction`` of each class
    (``digits_split``). Images are float32 ``(N, 1, 8, 8)`` with values ``count / 16`` in ``[0, 1]``.
    Source: Alpaydin and Kaynak (1998), UCI, https://doi.org/10.24432/C50P49, licence CC BY 4.0.

    >>> train, test = DigitsDataset(train=True), DigitsDataset(train=False)
    >>> len(train) + len(test), train.images.shape[1:], str(train.images.dtype)
    (1797, (1, 8, 8), 'float32')
    >>> float(train.images.data.max()), sorted(set(test.labels.data.tolist())) == list(range(10))
    (1.0, True)
    """

    def __init__(self, train=True, test_fraction=0.2, seed=0):
        train = check_bool("DigitsDataset train", train)
        images, labels = digits_arrays()
        train_indices, test_indices = digits_split(labels, test_fraction, seed)
        chosen = train_indices if train else test_indices
        pixels = images[chosen, None].astype(np.float32) / np.float32(16)
        self.train, self.test_fraction, self.seed = train, float(test_fraction), seed
        super().__init__(pixels, labels[chosen], [str(d) for d in range(10)])


class MNISTDataset(ImageDataset):
    """MNIST from its IDX files in ``root`` (see ``mnist_arrays``): float32 ``(N, 1, 28, 28)`` in
    ``[0, 1]`` and int64 labels. ``download=True`` fetches missing files (MD5 checked)."""

    def __init__(self, root, train=True, download=False):
        images, labels = mnist_arrays(root, train, download)
        self.root, self.train = root, bool(train)
        super().__init__(images[:, None].astype(np.float32) / np.float32(255), labels,
                         [str(d) for d in range(10)])


class CIFAR10Dataset(ImageDataset):
    """CIFAR-10 (binary version) from ``root`` (see ``cifar10_arrays``): float32
    ``(N, 3, 32, 32)`` in ``[0, 1]`` and int64 labels; ``classes`` are the ten names.
    ``download=True`` fetches the archive when the files are missing (MD5 checked)."""

    def __init__(self, root, train=True, download=False):
        images, labels = cifar10_arrays(root, train, download)
        self.root, self.train = root, bool(train)
        super().__init__(images.astype(np.float32) / np.float32(255), labels, CIFAR10_CLASSES)


# %%
def test_unit_real_datasets():
    train, test = DigitsDataset(train=True), DigitsDataset(train=False)
    assert len(train) + len(test) == 1797
    assert train.images.shape[1:] == (1, 8, 8) and train.labels.dtype == np.int64
    assert 0.0 <= train.images.data.min() and train.images.data.max() <= 1.0
    # stratified: every class keeps about the same share in the test set
    shares = np.bincount(test.labels.data) / np.bincount(np.concatenate([train.labels.data, test.labels.data]))
    assert np.all(np.abs(shares - 0.2) < 0.01), shares
    again = DigitsDataset(train=False)
    assert np.array_equal(again.images.data, test.images.data)   # deterministic
    inputs, targets = next(iter(DataLoader(train, batch_size=16)))
    assert inputs.shape == (16, 1, 8, 8) and targets.shape == (16,)
    print(f"real datasets: ok (digits: {len(train)} train, {len(test)} test)")


if __name__ == "__main__":
    test_unit_real_datasets()

# %% [markdown]
# `tinytorch.datasets` is the public home of these sets: `from tinytorch.datasets import
# DigitsDataset, MNISTDataset, CIFAR10Dataset`. The same classes are importable from
# `tinytorch.core.dataloader`, where older course material looks for them.

# %%
#| export datasets
"""Real data sets for TinyTorch: the shipped 8x8 digits, MNIST and CIFAR-10 from local files.

>>> from tinytorch.datasets import DigitsDataset
>>> len(DigitsDataset(train=True)), len(DigitsDataset(train=False))
(1438, 359)

The digits: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, licence CC BY 4.0 (see tinytorch/data/README.md).
"""
from tinytorch.core.dataloader import CIFAR10Dataset, DigitsDataset, ImageDataset, MNISTDataset
from tinytorch.core.datafiles import (CIFAR10_CLASSES, DIGITS_LICENCE, DIGITS_SOURCE, cifar10_arrays,
                                      digits_arrays, digits_split, mnist_arrays, read_cifar10_batch,
                                      read_idx)

__all__ = ["DigitsDataset", "MNISTDataset", "CIFAR10Dataset", "ImageDataset", "load_digits",
           "digits_arrays", "digits_split", "mnist_arrays", "cifar10_arrays", "read_idx",
           "read_cifar10_batch", "CIFAR10_CLASSES", "DIGITS_SOURCE", "DIGITS_LICENCE"]


def load_digits(test_fraction=0.2, seed=0) -> tuple:
    """``(train, test)``: the two ``DigitsDataset`` halves of one split."""
    return (DigitsDataset(True, test_fraction, seed), DigitsDataset(False, test_fraction, seed))
