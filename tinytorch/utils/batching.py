"""What module 05's data sets and loader are given: the checks of their arguments, indices and saved
state, and `collate`, which stacks samples into a batch.

Hand-written provided infrastructure (no notebook exports it, no learner writes it; DESIGN.md,
"Provided infrastructure"). Every check raises before anything changes, with a message that names
the class, the argument and what was given. Imports only `tinytorch.core.tensor` (module 01) and
`tinytorch.utils.validation`. Tested in tests/internals/test_batching.py.
"""
from __future__ import annotations

import numbers

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["tensor_dataset_arrays", "check_index", "collate", "check_loader_state", "image_arrays"]


def tensor_dataset_arrays(tensors: tuple) -> tuple:
    """The ndarrays behind `TensorDataset(*tensors)`: a Tensor's own array, an ndarray converted by
    Tensor's dtype rules (floating becomes float32, integers stay integers). Each needs a first
    dimension that indexes samples. Does not compare the first dimensions (the learner's part)."""
    if not tensors:
        raise ValueError("TensorDataset needs at least one tensor, got none")
    arrays = []
    for position, value in enumerate(tensors):
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
        arrays.append(array)
    return tuple(arrays)


def check_index(index, n: int):
    """A sample index for `n` samples: an int in range, a slice, or a 1-D array of ints (returned
    as an ndarray). An int out of range is an IndexError naming it (Python's sequence protocol);
    anything else a TypeError. An array's range is left to NumPy's fancy index, which raises its own
    IndexError ("index 9 is out of bounds for axis 0 with size 6", as `Tensor` indexing does) before
    anything is built: checking it here would cost two reductions on every batch the loader makes."""
    if isinstance(index, numbers.Integral) and not isinstance(index, (bool, np.bool_)):
        if not -n <= index < n:
            raise IndexError(f"TensorDataset index {index} is out of range for {n} samples")
        return int(index)
    if isinstance(index, slice):
        return index
    try:
        array = np.asarray(index)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"TensorDataset index must be an int, a slice or a 1-D sequence of ints, "
                        f"got {describe(index)}")
    return array


def _sample_fields(sample, index: int) -> tuple:
    """A sample as a tuple of ndarrays (Tensors keep their dtype, other values follow Tensor's rules)."""
    fields = sample if isinstance(sample, (tuple, list)) else (sample,)
    try:
        return tuple(field.data if isinstance(field, Tensor) else Tensor(field).data for field in fields)
    except (TypeError, ValueError) as error:
        raise type(error)(f"DataLoader: sample {index} of the dataset: {error}") from None


def collate(samples: list, indices):
    """One batch from `samples` (the dataset's samples number `indices`, in order): each field
    stacked along a new first axis into a Tensor of that field's dtype.

    Samples that are tuples or lists give a tuple of Tensors, anything else one Tensor (as PyTorch's
    default collate does). A sample whose structure or shapes differ from the first one's is a
    ValueError naming both sample indices and their shapes.

    >>> batch = collate([(1.0, 0), (2.0, 1)], [7, 9])
    >>> batch[0].data.tolist(), batch[1].data.tolist()
    ([1.0, 2.0], [0, 1])
    """
    indices = [int(i) for i in indices]
    if len(samples) != len(indices) or not samples:
        raise ValueError(f"collate needs one index per sample and at least one sample, got "
                         f"{len(samples)} samples and {len(indices)} indices")
    fields = [_sample_fields(sample, i) for sample, i in zip(samples, indices)]
    first = fields[0]
    for sample_fields, i in zip(fields, indices):
        if len(sample_fields) != len(first) or any(a.shape != b.shape for a, b in zip(sample_fields, first)):
            raise ValueError(f"DataLoader: samples in a batch need the same structure and shapes: sample "
                             f"{i} has shapes {[a.shape for a in sample_fields]}, sample {indices[0]} "
                             f"has {[a.shape for a in first]}")
    batch = tuple(Tensor(np.stack(column), dtype=column[0].dtype) for column in zip(*fields))
    return batch if isinstance(samples[0], (tuple, list)) else batch[0]


def check_loader_state(state) -> tuple:
    """`(seed, epoch, epoch_is_set)` from a `DataLoader.state_dict()`, checked; a state without
    `epoch_is_set` (written before it existed) means False."""
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
    return seed, epoch, epoch_is_set


def image_arrays(images, labels, classes) -> tuple:
    """`(images, labels, classes)` of an `ImageDataset`, checked: float32 images of shape
    (N, C, H, W), N int64 labels in 0..len(classes) - 1, and the class names as a tuple."""
    try:
        images = Tensor(images, dtype=np.float32).data
        labels = Tensor(labels).data
    except (TypeError, ValueError) as error:
        raise type(error)(f"ImageDataset images and labels must be arrays of numbers: {error}") from None
    if images.ndim != 4:
        raise ValueError(f"ImageDataset images must have shape (N, C, H, W), got shape {images.shape}")
    if labels.dtype.kind not in "iu" or labels.shape != images.shape[:1]:
        raise ValueError(f"ImageDataset labels must be {images.shape[0]} integer class labels (one per "
                         f"image), got dtype {labels.dtype} and shape {labels.shape}")
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"ImageDataset classes must be a sequence of class names, got {describe(classes)}")
    classes = tuple(classes)
    if labels.size and not 0 <= labels.min() <= labels.max() < len(classes):
        raise ValueError(f"ImageDataset labels must be in 0..{len(classes) - 1} (one per class in "
                         f"classes), got values in [{labels.min()}, {labels.max()}]")
    return images, labels.astype(np.int64), classes
