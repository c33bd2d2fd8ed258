"""TinyTorch: a small, fast, honest deep-learning framework in NumPy.

Hand-written (not generated): it only re-exports the public names of the generated modules in
`tinytorch.core`, so that `from tinytorch import Trainer, CosineSchedule, SGD, MSELoss` works.
Each concept lives in the module named after it: `tinytorch.core.tensor`, `.layers`, `.losses`, ...
(module 08 exports `.schedule`, `.clipping`, `.metrics`, `.training`; module 11 `.kernels`, `.flat`,
`.acceleration`). The checkpoint files, their retention and the memory accounting are provided
infrastructure in `tinytorch.utils`.
"""
from tinytorch.core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import is_grad_enabled, no_grad
from tinytorch.core.dataloader import (CIFAR10Dataset, DataLoader, Dataset, DigitsDataset, MNISTDataset, SimpleDataset,
                                      TensorDataset)
from tinytorch.core.layers import Dense, Dropout, Flatten, Linear, Module, Sequential, manual_seed
from tinytorch.core.losses import (BCELoss, BCEWithLogitsLoss, BinaryCrossEntropyLoss, CrossEntropyLoss,
                                   MeanSquaredError, MSELoss)
from tinytorch.core.metrics import Accuracy, MeanAbsoluteError
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.spatial import AvgPool2d, Conv2D, Conv2d, MaxPool2D, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.clipping import clip_grad_norm, grad_norm
from tinytorch.core.schedule import CosineSchedule
from tinytorch.core.training import Trainer
from tinytorch.core.acceleration import FusedCrossEntropyLoss, FusedLinear, accelerate
from tinytorch.utils.checkpoint_file import read_checkpoint, write_checkpoint
from tinytorch.utils.checkpoint_retention import CheckpointManager, retained_epochs
from tinytorch.utils.training_memory import memory_table, training_memory

__version__ = "0.1.0"

__all__ = [
    "Tensor", "no_grad", "is_grad_enabled",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "Module", "Linear", "Dense", "Dropout", "Flatten", "Sequential", "manual_seed",
    "MSELoss", "MeanSquaredError", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "Dataset", "TensorDataset", "DataLoader", "SimpleDataset", "DigitsDataset", "MNISTDataset", "CIFAR10Dataset",
    "Optimizer", "SGD", "Adam", "AdamW",
    "Accuracy", "MeanAbsoluteError",
    "Trainer", "CosineSchedule", "clip_grad_norm", "grad_norm", "CheckpointManager", "retained_epochs",
    "read_checkpoint", "write_checkpoint", "memory_table", "training_memory",
    "Conv2d", "Conv2D", "MaxPool2d", "MaxPool2D", "AvgPool2d",
    "accelerate", "FusedLinear", "FusedCrossEntropyLoss",
]
