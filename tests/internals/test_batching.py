"""The provided pieces of module 05 (tinytorch/utils/batching.py, hand-written, never graded): the
checks of TensorDataset's arguments and indices, of a loader's saved state and of ImageDataset's
arrays, and `collate`. Exact messages are checked here, not in the graded tests."""
import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.tensor import Tensor
from tinytorch.utils.batching import check_index, check_loader_state, collate, image_arrays, tensor_dataset_arrays


def test_tensor_dataset_arrays_follow_tensor_dtype_rules():
    x, y = tensor_dataset_arrays((np.ones((3, 2)), Tensor(np.arange(3))))
    assert x.dtype == np.float32 and np.issubdtype(y.dtype, np.integer)
    double = Tensor(np.ones(2), dtype=np.float64)
    (same,) = tensor_dataset_arrays((double,))
    assert same.dtype == np.float64                 # a Tensor's own array is kept as it is


@pytest.mark.parametrize("tensors, kind, message", [
    ((), ValueError, "TensorDataset needs at least one tensor, got none"),
    ((Tensor(np.zeros(3)), Tensor(np.float32(1.0))), ValueError,
     "TensorDataset argument 1 is a scalar (shape ()): every tensor needs a first dimension that indexes samples"),
    (([1.0, 2.0],), TypeError, "TensorDataset argument 0 must be a Tensor or a numpy array, got [1.0, 2.0] (list)"),
])
def test_tensor_dataset_arguments_are_refused_with_a_message_naming_the_argument(tensors, kind, message):
    with pytest.raises(kind) as error:
        tensor_dataset_arrays(tensors)
    assert str(error.value) == message
    with pytest.raises(kind):
        TensorDataset(*tensors)


def test_the_reference_names_both_shapes_when_first_dimensions_differ():
    with pytest.raises(ValueError, match=r"first dimension, got shapes \(4, 2\), \(4,\), \(3, 1\)"):
        TensorDataset(Tensor(np.zeros((4, 2))), Tensor(np.zeros(4)), Tensor(np.zeros((3, 1))))


def test_check_index():
    assert check_index(np.int64(-1), 6) == -1 and check_index(slice(1, 3), 6) == slice(1, 3)
    assert check_index([4, 0, 4], 6).tolist() == [4, 0, 4]
    assert check_index(np.array([], dtype=np.int64), 0).size == 0
    with pytest.raises(IndexError, match="^TensorDataset index 6 is out of range for 6 samples$"):
        check_index(6, 6)
    with pytest.raises(TypeError, match="int, a slice or a 1-D sequence of ints"):
        check_index(np.array([0.5, 1.0]), 6)
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        check_index(True, 6)
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        check_index([[0, 1]], 6)
    assert check_index([0, 9], 6).tolist() == [0, 9]           # the fancy index itself refuses it:
    data = TensorDataset(Tensor(np.zeros((6, 2))), Tensor(np.arange(6)))
    with pytest.raises(IndexError, match="index 9 is out of bounds"):
        data[[0, 9]]
    with pytest.raises(IndexError, match="out of bounds"):
        data[np.array([-7])]


def test_collate_stacks_fields_and_keeps_dtypes():
    x, y = collate([(np.ones(2, np.float64), 1), (np.zeros(2, np.float64), 2)], [5, 8])
    assert x.shape == (2, 2) and x.dtype == np.float32 and y.data.tolist() == [1, 2]
    single = collate([Tensor(np.ones(3), dtype=np.float64), Tensor(np.zeros(3), dtype=np.float64)], [0, 1])
    assert isinstance(single, Tensor) and single.dtype == np.float64 and single.shape == (2, 3)


def test_collate_names_the_samples_that_disagree():
    with pytest.raises(ValueError, match=r"sample 9 has shapes \[\(3,\), \(\)\], sample 4 has \[\(2,\), \(\)\]"):
        collate([(np.ones(2), 0), (np.ones(3), 1)], [4, 9])
    with pytest.raises(ValueError, match="same structure"):
        collate([(np.ones(2), 0), (np.ones(2),)], [0, 1])
    with pytest.raises(TypeError, match="DataLoader: sample 1 of the dataset: Tensor data must be numbers"):
        collate([(np.ones(2), 0), (np.ones(2), "cat")], [0, 1])
    with pytest.raises(ValueError, match="one index per sample"):
        collate([(np.ones(2), 0)], [0, 1])


def test_check_loader_state():
    assert check_loader_state({"seed": np.int64(3), "epoch": 2}) == (3, 2, False)
    assert check_loader_state({"seed": None, "epoch": 0, "epoch_is_set": True}) == (None, 0, True)
    with pytest.raises(TypeError, match=r"^DataLoader.load_state_dict state must be a dict with keys "
                                        r"\['epoch', 'seed'\] and optionally 'epoch_is_set', got None \(NoneType\)$"):
        check_loader_state(None)
    with pytest.raises(ValueError, match=r"must be a dict with keys .*got \['seed'\]"):
        check_loader_state({"seed": 1})
    with pytest.raises(ValueError, match=r"DataLoader state_dict\['epoch'\] must be an integer >= 0, got -1"):
        check_loader_state({"seed": 1, "epoch": -1})
    with pytest.raises(TypeError, match=r"DataLoader state_dict\['epoch_is_set'\] must be True or False"):
        check_loader_state({"seed": 1, "epoch": 1, "epoch_is_set": 1})


def test_image_arrays():
    images, labels, classes = image_arrays(np.zeros((2, 1, 3, 3), np.uint8), np.array([0, 1]), ["a", "b"])
    assert images.dtype == np.float32 and labels.dtype == np.int64 and classes == ("a", "b")
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\), got shape \(2, 3, 3\)"):
        image_arrays(np.zeros((2, 3, 3)), np.array([0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="labels must be 2 integer class labels"):
        image_arrays(np.zeros((2, 1, 3, 3)), np.array([0.0, 1.0]), ["a", "b"])
    with pytest.raises(ValueError, match=r"labels must be in 0..1 .*got values in \[0, 2\]"):
        image_arrays(np.zeros((2, 1, 3, 3)), np.array([0, 2]), ["a", "b"])
    with pytest.raises(TypeError, match="classes must be a sequence of class names"):
        image_arrays(np.zeros((2, 1, 3, 3)), np.array([0, 1]), "ab")
    with pytest.raises(TypeError, match="ImageDataset images and labels must be arrays of numbers"):
        image_arrays(np.array(["x"]), np.array([0]), ["a"])


# ---------------------------------------------------------------- the reference loader's route

class Counting(TensorDataset):
    """Records every index the loader asks for."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.asked = []

    def __getitem__(self, index):
        self.asked.append(index)
        return super().__getitem__(index)


def test_the_reference_asks_a_tensor_dataset_once_per_batch():
    data = Counting(Tensor(np.arange(20.0).reshape(10, 2)), Tensor(np.arange(10)))
    batches = list(DataLoader(data, batch_size=4, shuffle=True, seed=0))
    assert len(data.asked) == len(batches) == 3
    assert all(isinstance(index, np.ndarray) for index in data.asked)


def test_the_reference_batches_a_dataset_that_is_not_a_tensor_dataset_sample_by_sample():
    from tinytorch.core.dataloader import Dataset

    class ArraysOfLists(Dataset):
        """Has an `arrays` attribute but is no TensorDataset: asked one sample at a time."""

        def __init__(self, x, y):
            self.x, self.y = x, y
            self.arrays = (list(x), list(y))

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], int(self.y[i])

    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    batches = list(DataLoader(ArraysOfLists(x, y), batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)


def test_the_reference_loader_check_messages():
    data = TensorDataset(Tensor(np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"^DataLoader batch_size must be an integer >= 1, got 0$"):
        DataLoader(data, batch_size=0)
    with pytest.raises(TypeError, match="DataLoader shuffle must be True or False"):
        DataLoader(data, shuffle="yes")
    with pytest.raises(TypeError, match="DataLoader dataset must have __len__ and __getitem__, got 5"):
        DataLoader(5)
    with pytest.raises(ValueError, match="DataLoader.set_epoch epoch must be an integer >= 0"):
        DataLoader(data).set_epoch(-1)
