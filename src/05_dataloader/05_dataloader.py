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
# Then two kinds of data to feed it: `SimpleDataset`, a small synthetic classification problem that
# later modules use to check that training really learns, and real handwritten digits (and MNIST,
# CIFAR-10), each a `TensorDataset` of images and labels.
#
# The argument checks, `collate` (which stacks samples of any dataset into a batch) and the readers
# of the data files are provided: they live in `tinytorch.utils.batching` and
# `tinytorch.utils.datafiles`, and this module calls them.

# %%
#| default_exp core.dataloader

# %% [markdown]
# ## The dataset protocol
#
# A loader needs two things from its data: how many samples there are (`len(dataset)`) and sample
# number `i` (`dataset[i]`). Those two methods are the whole `Dataset` interface; anything that has
# them, a list of tuples included, can be batched. The base class exists to name the contract and to
# fail with a clear message when a subclass forgets half of it: calling either method on a bare
# `Dataset` raises `NotImplementedError` naming the method to write.

# %%
#| export
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.batching import check_index, check_loader_state, collate, image_arrays, tensor_dataset_arrays
from tinytorch.utils.datafiles import CIFAR10_CLASSES, cifar10_arrays, digits_arrays, digits_split, mnist_arrays
from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["Dataset", "TensorDataset", "DataLoader", "SimpleDataset",
           "ImageDataset", "DigitsDataset", "MNISTDataset", "CIFAR10Dataset"]


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

    # Hint: both methods raise NotImplementedError naming the method (and the subclass) that is
    # missing (chapter 05, "API").
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
    for method, call in (("__len__", lambda: len(Dataset())), ("__getitem__", lambda: Dataset()[0])):
        try:
            call()
        except NotImplementedError as error:
            assert method in str(error), f"the error should name {method}, got: {error}"
        else:
            raise AssertionError(f"a bare Dataset must refuse {method}")
    print("dataset protocol: ok")


if __name__ == "__main__":
    test_unit_dataset_protocol()

# %% [markdown]
# ## A dataset of aligned arrays
#
# Most training data is a few arrays that share their first dimension: `X` of shape `(N, features)`
# and `y` of shape `(N,)`. Row `i` of each is sample `i`. `TensorDataset` keeps those arrays in
# `self.arrays` and checks once, at construction, that they really do have the same number of
# rows: a mismatch found here is a clear error (a `ValueError` that shows the shapes); found later
# it is a silently misaligned label.
#
# Its index accepts one integer *or* a whole array of indices. `X[[5, 2, 9]]` is NumPy fancy
# indexing: a single C-level gather that copies three rows into a new `(3, features)` array. That
# is the operation the loader uses to build a batch, so building a batch of 64 costs one call per
# array, not 64 Python-level lookups followed by a stack. Each result becomes a `Tensor` of the
# array's own dtype (`Tensor(rows, dtype=array.dtype)`): without `dtype`, a float64 array would
# become float32, and the dataset must hand back what it was given.
#
# Provided: `tensor_dataset_arrays` turns the arguments into ndarrays (refusing what is not a
# Tensor or an array), and `check_index` refuses an index that is out of range or not an integer.

# %%
#| export
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
    """

    def __init__(self, *tensors):
        arrays = tensor_dataset_arrays(tensors)      # provided: one ndarray per argument, checked
        # Hint: every array must have the same number of rows (else a ValueError showing the shapes),
        # then keep them as self.arrays (chapter 05, "API"; here, "A dataset of aligned arrays").
        ### BEGIN SOLUTION
        if len({array.shape[0] for array in arrays}) != 1:
            shapes = ", ".join(str(array.shape) for array in arrays)
            raise ValueError(f"TensorDataset tensors must share their first dimension, got shapes {shapes}")
        self.arrays = arrays
        ### END SOLUTION

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        index = check_index(index, len(self))       # provided: an int, a slice or an index array
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
    except ValueError:
        pass
    else:
        raise AssertionError("mismatched first dimensions must raise a ValueError")
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
# don't overlap, and anyone holding the two numbers can rebuild the order. Without a seed the
# loader draws from its own generator, `self.rng = np.random.default_rng()`, seeded by the
# operating system: every epoch is different and no run can be replayed. Never NumPy's global
# random state: the loader owns its randomness, so nothing else can disturb it.
#
# **The epoch counter.** `self.epoch` is the epoch the next pass uses. If you never call
# `set_epoch`, each pass (each `for batch in loader`) takes the current epoch and advances the counter
# as it starts, before its first batch, so two successive loops see two different orders, and a loop
# that stops early (a `break`) has still used its epoch. `set_epoch(k)` says which epoch comes
# next *and* takes the counter over (`self.epoch_is_set = True`): from then on iterating no longer
# changes it, because the caller (a training loop) says which epoch it is. `state_dict()` saves
# `{"seed", "epoch", "epoch_is_set"}`, which is all a checkpoint needs.
#
# **Building a batch.** For a `TensorDataset` the batch is `dataset[indices]`, one gather per
# array. Any other dataset is asked for one sample at a time, `dataset[int(i)]`, and the provided
# `collate(samples, indices)` stacks the samples field by field into Tensors (checking that they
# agree in structure and shape). That costs a Python call, a tuple and a small array per sample;
# with 64 samples of 784 features the per-sample overhead is several times the cost of the copy
# itself, which is why the loader asks a `TensorDataset` for the whole batch at once.

# %%
#| export
class DataLoader:
    """Iterate over a dataset in batches of Tensors, optionally reshuffled each epoch.

    Each batch has the structure of one sample with a leading batch dimension: for a
    ``TensorDataset(x, y)`` it is the tuple ``(inputs, targets)``. A ``TensorDataset`` is batched by
    one fancy index per array; any other dataset by calling ``dataset[i]`` per sample and stacking
    (``collate``).

    ``len(loader)`` is the number of batches: ``ceil(N / batch_size)``, or ``N // batch_size``
    with ``drop_last=True``.

    Shuffling: with a ``seed`` the order of epoch ``e`` is
    ``np.random.default_rng([seed, e]).permutation(N)``, a pure function of ``(seed, e)``.
    ``set_epoch(e)`` chooses the epoch of the next pass; if it is never called, every new pass
    takes the current epoch and advances it by one as it starts (a loop that stops early has used
    its epoch), so successive loops differ. Without a
    seed the order comes from the loader's own entropy-seeded generator and cannot be replayed.
    ``state_dict()`` holds ``{"seed", "epoch", "epoch_is_set"}`` (the epoch the next pass uses,
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
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader dataset must have __len__ and __getitem__, got {describe(dataset)}")
        batch_size = check_int("DataLoader batch_size", batch_size, 1)
        shuffle = check_bool("DataLoader shuffle", shuffle)
        drop_last = check_bool("DataLoader drop_last", drop_last)
        if seed is not None:
            seed = check_int("DataLoader seed", seed, 0)
        # Hint: keep the five arguments, start at epoch 0 with epoch_is_set False, and own a
        # generator (self.rng) for unseeded shuffles (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0                       # the epoch the next pass uses
        self.epoch_is_set = False            # True once set_epoch() drives the counter
        self.rng = np.random.default_rng()   # used only when seed is None
        ### END SOLUTION

    def __len__(self) -> int:
        # Hint: ceil(N / batch_size) batches, or N // batch_size with drop_last (chapter 05, "API").
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        ### END SOLUTION

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch ``epoch`` (an integer >= 0); iterating stops advancing it."""
        epoch = check_int("DataLoader.set_epoch epoch", epoch, 0)
        # Hint: remember the epoch and that the caller now drives the counter (chapter 05,
        # "A worked example": resuming at epoch 3).
        ### BEGIN SOLUTION
        self.epoch = epoch
        self.epoch_is_set = True
        ### END SOLUTION

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of epoch ``epoch`` (default: the next one), in visiting order.

        With a seed this is a pure function of ``(seed, epoch)``; without one, each call draws a
        fresh permutation. Without shuffling it is ``arange(N)``.
        """
        epoch = self.epoch if epoch is None else check_int("DataLoader.order epoch", epoch, 0)
        # Hint: arange(N) without shuffling; otherwise default_rng([seed, epoch]).permutation(N), or
        # self.rng.permutation(N) when there is no seed (chapter 05, "A worked example").
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return self.rng.permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)
        ### END SOLUTION

    def __iter__(self):
        # Hint: this epoch's order; advance the counter now, before any batch, unless set_epoch drives
        # it; per chunk of batch_size indices yield dataset[indices] (a TensorDataset) or
        # collate(samples, indices) (chapter 05, "The cost: why the batch is one gather").
        ### BEGIN SOLUTION
        order = self.order(self.epoch)
        if not self.epoch_is_set:
            self.epoch += 1
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):
                yield self.dataset[indices]                       # one gather per array
            else:
                samples = [self.dataset[int(i)] for i in indices]
                yield collate(samples, indices)                   # one call per sample, stacked
        ### END SOLUTION

    def state_dict(self) -> dict:
        """``{"seed": int | None, "epoch": int, "epoch_is_set": bool}``: plain, JSON-able values.

        ``epoch_is_set`` says whether ``set_epoch`` drives the counter (iterating then does not
        advance it); it is part of the state so that restoring a state undoes a ``set_epoch``.
        """
        return {"seed": self.seed, "epoch": self.epoch, "epoch_is_set": self.epoch_is_set}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``seed``, ``epoch`` and ``epoch_is_set`` from ``state_dict()``; checked before
        anything changes. A state without ``epoch_is_set`` (written before it existed) means False."""
        self.seed, self.epoch, self.epoch_is_set = check_loader_state(state)

    def __repr__(self) -> str:
        return (f"DataLoader(batches={len(self)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed}, epoch={self.epoch})")


# %%
def test_unit_dataloader_batches():
    data = TensorDataset(Tensor(np.arange(20.0).reshape(10, 2)), Tensor(np.arange(10)))
    loader = DataLoader(data, batch_size=4)
    assert len(loader) == 3
    sizes = [targets.shape[0] for _, targets in loader]
    assert sizes == [4, 4, 2], sizes
    assert len(DataLoader(data, batch_size=4, drop_last=True)) == 2
    assert [t.shape[0] for _, t in DataLoader(data, batch_size=4, drop_last=True)] == [4, 4]

    class Pairs(Dataset):                    # not a TensorDataset: one sample at a time
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full(2, float(i)), i

    inputs, targets = next(iter(DataLoader(Pairs(), batch_size=3)))
    assert inputs.shape == (3, 2) and targets.data.tolist() == [0, 1, 2]
    print("dataloader batches: ok")


def test_unit_dataloader_replay():
    data = TensorDataset(Tensor(np.arange(50.0).reshape(25, 2)), Tensor(np.arange(25)))

    def epoch_order(loader):
        return np.concatenate([t.data for _, t in loader])

    a = DataLoader(data, batch_size=8, shuffle=True, seed=7)
    first, second = epoch_order(a), epoch_order(a)   # no set_epoch: the counter advances by itself
    assert sorted(first.tolist()) == list(range(25)) and not np.array_equal(first, second)
    assert np.array_equal(first, np.random.default_rng([7, 0]).permutation(25))
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
# `seed`, drawn in a fixed order (centres, then the labels' permutation, then the noise), so the
# same seed gives the same dataset, and two sizes with one seed share their class centres.
# Because it is a `TensorDataset`, the loader batches it with one gather per array.

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
    """

    def __init__(self, size, num_features, num_classes, seed=None):
        size = check_int("SimpleDataset size", size, 1)
        num_features = check_int("SimpleDataset num_features", num_features, 1)
        num_classes = check_int("SimpleDataset num_classes", num_classes, 2)
        if seed is not None:
            seed = check_int("SimpleDataset seed", seed, 0)
        if size * max(num_features, num_classes) > np.iinfo(np.intp).max // 8:
            raise ValueError(f"SimpleDataset size * max(num_features, num_classes) = {size} * "
                             f"{max(num_features, num_classes)} is more elements than one array can hold")
        # Hint: one generator: class centres N(0, 2**2), balanced shuffled labels, features = centre +
        # N(0, 1) noise, float32 and int64, drawn in the order "A synthetic problem that can be
        # learned" above gives (chapter 05, "A worked example").
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
# ## Real data: images and labels
#
# Synthetic blobs prove that a loop learns; real data proves that it learns something useful.
# Three image sets become datasets here:
#
# - **Digits** (shipped inside the package, no download): the 8x8 UCI optical handwritten digits,
#   1,797 images whose 64 pixels are ink counts in `0..16`. Source: E. Alpaydin and C. Kaynak
#   (1998), UCI Machine Learning Repository, <https://doi.org/10.24432/C50P49>, licence CC BY 4.0;
#   `tinytorch/data/README.md` says where the file comes from and how it is checked.
# - **MNIST** (28x28 grey digits, 70,000 images) from its original IDX files.
# - **CIFAR-10** (32x32 colour photographs, 60,000 images) from its binary files.
#
# Reading the files is provided (`tinytorch.utils.datafiles`): each format is a few header bytes
# followed by raw pixels, so a reader is `np.frombuffer` plus a reshape, with checks that name the
# file when it is damaged, and downloads (`download=True`) that keep a file only if its published
# MD5 matches. The readers return plain arrays: uint8 images and int64 labels.
#
# What turns them into training data is the lesson of this module: each set is a `TensorDataset`
# of two aligned arrays, so the loader batches it with one gather per array.
#
# - images as float32 in `[0, 1]`, channels first: digits `(N, 1, 8, 8)` (ink count / 16), MNIST
#   `(N, 1, 28, 28)` and CIFAR-10 `(N, 3, 32, 32)` (byte / 255). A multi-layer perceptron starts
#   with `Flatten()`; a convolutional network takes the images as they are.
# - labels as int64 class indices, what `CrossEntropyLoss` expects.
#
# **A train/test split you can trust.** The digits come as one file, so they are split here. A
# test set must never be trained on, and it must look like the training data. `digits_split`
# holds out 20% of *each class* (a *stratified* split): with ten classes of about 180 images, a
# plain random 20% could by chance give one digit a noticeably smaller share of the test set. The
# split is a pure function of `(test_fraction, seed)`: same arguments, same split, on every machine.
#
# These classes are provided code (no exercise): `ImageDataset` checks its arrays
# (`image_arrays`) and hands them to your `TensorDataset`. `tinytorch.datasets` is their public
# home: `from tinytorch.datasets import DigitsDataset, load_digits`.

# %%
#| export
class ImageDataset(TensorDataset):
    """Images and class labels as a ``TensorDataset``: ``dataset[i]`` is ``(image, label)``.

    ``images`` are float32 ``(N, C, H, W)``; ``labels`` int64 ``(N,)``; ``classes`` names the
    classes in label order.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes):
        images, labels, classes = image_arrays(images, labels, classes)   # provided checks
        self.images, self.labels, self.classes = Tensor(images), Tensor(labels), classes
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
    """

    def __init__(self, train=True, test_fraction=0.2, seed=0):
        train = check_bool("DigitsDataset train", train)
        images, labels = digits_arrays()
        train_indices, test_indices = digits_split(labels, test_fraction, seed)
        chosen = train_indices if train else test_indices
        self.train, self.test_fraction, self.seed = train, float(test_fraction), seed
        super().__init__(images[chosen, None].astype(np.float32) / np.float32(16), labels[chosen],
                         [str(d) for d in range(10)])


class MNISTDataset(ImageDataset):
    """MNIST from its IDX files in ``root`` (see ``tinytorch.datasets.mnist_arrays``): float32
    ``(N, 1, 28, 28)`` in ``[0, 1]`` and int64 labels. ``download=True`` fetches missing files
    (MD5 checked)."""

    def __init__(self, root, train=True, download=False):
        images, labels = mnist_arrays(root, train, download)
        self.root, self.train = root, bool(train)
        super().__init__(images[:, None].astype(np.float32) / np.float32(255), labels,
                         [str(d) for d in range(10)])


class CIFAR10Dataset(ImageDataset):
    """CIFAR-10 (binary version) from ``root`` (see ``tinytorch.datasets.cifar10_arrays``): float32
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
    inputs, targets = next(iter(DataLoader(train, batch_size=16)))   # your loader, on real digits
    assert inputs.shape == (16, 1, 8, 8) and targets.shape == (16,)
    assert np.array_equal(inputs.data, train.images.data[:16])
    print(f"real datasets: ok (digits: {len(train)} train, {len(test)} test)")


if __name__ == "__main__":
    test_unit_real_datasets()

# %% [markdown]
# ## Summary
#
# - A `Dataset` is a length and an index; a `TensorDataset` is aligned arrays whose batches are one
#   gather per array.
# - `DataLoader` yields `ceil(N / B)` batches (`floor` with `drop_last`), every sample once per epoch.
# - With a seed, epoch `e`'s order is `default_rng([seed, e]).permutation(N)`: save the loader's
#   `state_dict()` (`{"seed", "epoch", "epoch_is_set"}`) and any run can be resumed on exactly the
#   same batches.
# - Real data sets are `TensorDataset`s too: float32 images in `[0, 1]`, channels first, and int64
#   labels, split once and reproducibly into training and test sets.
