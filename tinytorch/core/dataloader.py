# GENERATED FILE: DO NOT EDIT. Source: src/05_dataloader/05_dataloader.py
# Edit the source, then run `make export` to regenerate this file.

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
    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (the number of samples)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__ (sample number index)")


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
        if len({array.shape[0] for array in arrays}) != 1:
            shapes = ", ".join(str(array.shape) for array in arrays)
            raise ValueError(f"TensorDataset tensors must share their first dimension, got shapes {shapes}")
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        index = check_index(index, len(self))       # provided: an int, a slice or an index array
        # Hint: one fancy index per array, each result wrapped in a Tensor of the array's dtype
        # (chapter 05, "The cost: why the batch is one gather").
        return tuple(Tensor(array[index], dtype=array.dtype) for array in self.arrays)


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
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0                       # the epoch the next pass uses
        self.epoch_is_set = False            # True once set_epoch() drives the counter
        self.rng = np.random.default_rng()   # used only when seed is None

    def __len__(self) -> int:
        # Hint: ceil(N / batch_size) batches, or N // batch_size with drop_last (chapter 05, "API").
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch ``epoch`` (an integer >= 0); iterating stops advancing it."""
        epoch = check_int("DataLoader.set_epoch epoch", epoch, 0)
        # Hint: remember the epoch and that the caller now drives the counter (chapter 05,
        # "A worked example": resuming at epoch 3).
        self.epoch = epoch
        self.epoch_is_set = True

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of epoch ``epoch`` (default: the next one), in visiting order.

        With a seed this is a pure function of ``(seed, epoch)``; without one, each call draws a
        fresh permutation. Without shuffling it is ``arange(N)``.
        """
        epoch = self.epoch if epoch is None else check_int("DataLoader.order epoch", epoch, 0)
        # Hint: arange(N) without shuffling; otherwise default_rng([seed, epoch]).permutation(N), or
        # self.rng.permutation(N) when there is no seed (chapter 05, "A worked example").
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return self.rng.permutation(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        # Hint: this epoch's order; advance the counter now, before any batch, unless set_epoch drives
        # it; per chunk of batch_size indices yield dataset[indices] (a TensorDataset) or
        # collate(samples, indices) (chapter 05, "The cost: why the batch is one gather").
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
