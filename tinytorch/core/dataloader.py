# GENERATED FILE: DO NOT EDIT. Source: src/05_dataloader/05_dataloader.py
# Edit the source, then run `make export` to regenerate this file.

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
    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (the number of samples)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__ (sample number index)")


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
        if len({array.shape[0] for array in arrays}) != 1:
            shapes = ", ".join(str(array.shape) for array in arrays)
            raise ValueError(f"TensorDataset tensors must share their first dimension, got shapes {shapes}")
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        index = _check_index(index, len(self))
        # Hint: one fancy index per array, each result wrapped in a Tensor of the array's dtype
        # (chapter 05, "The cost: why the batch is one gather").
        return tuple(Tensor(array[index], dtype=array.dtype) for array in self.arrays)


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
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0                      # the epoch the next iteration uses
        self._epoch_is_set = False          # True once set_epoch() drives the counter
        self._rng = np.random.default_rng() # used only when seed is None

    def __len__(self) -> int:
        # Hint: ceil(N / batch_size) batches, or N // batch_size with drop_last (chapter 05, "API").
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch ``epoch`` (an integer >= 0); iterating stops advancing it."""
        epoch = check_int("DataLoader.set_epoch epoch", epoch, 0)
        # Hint: remember the epoch and that the caller now drives the counter (chapter 05,
        # "A worked example": resuming at epoch 3).
        self.epoch = epoch
        self._epoch_is_set = True

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of epoch ``epoch`` (default: the next one), in visiting order.

        With a seed this is a pure function of ``(seed, epoch)``; without one, each call draws a
        fresh permutation. Without shuffling it is ``arange(N)``.
        """
        epoch = self.epoch if epoch is None else check_int("DataLoader.order epoch", epoch, 0)
        # Hint: arange(N) without shuffling; otherwise default_rng([seed, epoch]).permutation(N), or
        # the loader's own generator when there is no seed (chapter 05, "A worked example").
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return self._rng.permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        # Hint: fix this epoch's order now, then advance the counter unless set_epoch drives it
        # (chapter 05, "A worked example").
        order = self.order(self.epoch)      # computed now, so iter(loader) commits to this epoch
        if not self._epoch_is_set:
            self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray):
        # Hint: slice the order into batch_size chunks; gather each array with the chunk, or fetch the
        # samples one by one and collate them (chapter 05, "The cost: why the batch is one gather").
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
        rng = np.random.default_rng(seed)
        centres = rng.normal(0.0, 2.0, size=(num_classes, num_features))
        labels = rng.permutation(np.arange(size) % num_classes).astype(np.int64)
        features = (centres[labels] + rng.standard_normal((size, num_features))).astype(np.float32)
        self.centres = centres.astype(np.float32)
        self.num_features, self.num_classes, self.seed = num_features, num_classes, seed
        self.features = Tensor(features, dtype=np.float32)
        self.labels = Tensor(labels, dtype=np.int64)
        super().__init__(self.features, self.labels)

    def __repr__(self) -> str:
        return (f"SimpleDataset(size={len(self)}, num_features={self.num_features}, "
                f"num_classes={self.num_classes}, seed={self.seed})")


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
