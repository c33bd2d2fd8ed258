"""Real data sets for TinyTorch: the shipped 8x8 digits, MNIST and CIFAR-10 from local files.

>>> from tinytorch.datasets import DigitsDataset
>>> len(DigitsDataset(train=True)), len(DigitsDataset(train=False))
(1438, 359)

Hand-written (not generated): the public home of the data sets. The dataset classes are module 05's
(`tinytorch.core.dataloader`: each is a `TensorDataset` of images and labels); the file readers,
downloads and the digits' split are provided infrastructure (`tinytorch.utils.datafiles`).

The digits: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, licence CC BY 4.0 (see tinytorch/data/README.md).
"""
from tinytorch.core.dataloader import CIFAR10Dataset, DigitsDataset, ImageDataset, MNISTDataset
from tinytorch.utils.datafiles import (CIFAR10_CLASSES, DIGITS_LICENCE, DIGITS_SOURCE, cifar10_arrays,
                                       digits_arrays, digits_split, mnist_arrays, read_cifar10_batch,
                                       read_idx)

__all__ = ["DigitsDataset", "MNISTDataset", "CIFAR10Dataset", "ImageDataset", "load_digits",
           "digits_arrays", "digits_split", "mnist_arrays", "cifar10_arrays", "read_idx",
           "read_cifar10_batch", "CIFAR10_CLASSES", "DIGITS_SOURCE", "DIGITS_LICENCE"]


def load_digits(test_fraction=0.2, seed=0) -> tuple:
    """``(train, test)``: the two ``DigitsDataset`` halves of one split."""
    return (DigitsDataset(True, test_fraction, seed), DigitsDataset(False, test_fraction, seed))
