# GENERATED FILE: DO NOT EDIT. Source: src/10_milestones/10_milestones.py
# Edit the source, then run `make export` to regenerate this file.

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dataloader import DataLoader, DigitsDataset, TensorDataset
from tinytorch.core.layers import Flatten, Linear, Sequential, manual_seed
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.metrics import Accuracy
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer
from tinytorch.utils.validation import check_bool, check_int, check_number, describe

__all__ = ["MilestoneResult", "shift_augment", "standardize", "mlp_model", "cnn_model",
           "train_mlp", "train_cnn", "MILESTONES", "main"]

SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))   # (rows, columns): the original, then 4 moves


def shift_augment(images: np.ndarray, labels: np.ndarray) -> tuple:
    """``(images, labels)`` five times over: the originals, then each shifted one pixel up, down,
    left and right (blank pixels enter). ``images`` is ``(N, C, H, W)``.

    >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    >>> big, y = shift_augment(x, np.array([7]))
    >>> big.shape, y.tolist()
    ((5, 1, 2, 2), [7, 7, 7, 7, 7])
    >>> big[1, 0].tolist()          # moved up one row: the bottom row is blank
    [[2.0, 3.0], [0.0, 0.0]]
    """
    if not isinstance(images, np.ndarray) or images.dtype.kind not in "biuf" or images.ndim != 4:
        raise TypeError(f"shift_augment images must be an array of numbers of shape (N, C, H, W), "
                        f"got {describe(images)}")
    if not isinstance(labels, np.ndarray) or labels.shape != images.shape[:1]:
        raise (ValueError if isinstance(labels, np.ndarray) else TypeError)(
            f"shift_augment labels must be an array of shape ({images.shape[0]},), one per image, "
            f"got {describe(labels)}")
    height, width = images.shape[-2:]
    copies = []
    for dy, dx in SHIFTS:
        moved = np.zeros_like(images)
        # moved[r + dy, c + dx] = images[r, c] wherever both are inside the image
        moved[..., max(dy, 0):height - max(-dy, 0), max(dx, 0):width - max(-dx, 0)] = \
            images[..., max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
        copies.append(moved)
    return np.concatenate(copies), np.tile(labels, len(SHIFTS))


def standardize(train_images: np.ndarray, *others: np.ndarray, eps: float = 0.1) -> list:
    """``[(x - mean) / (std + eps) for x in (train_images, *others)]`` with the per-pixel mean and
    standard deviation of ``train_images`` only, as float32."""
    eps = check_number("standardize eps", eps, positive=True)
    for position, x in enumerate((train_images, *others)):
        name = "train_images" if position == 0 else f"others[{position - 1}]"
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf" or x.ndim == 0:
            raise TypeError(f"standardize {name} must be an array of numbers with a sample axis, got {describe(x)}")
        if x.shape[1:] != train_images.shape[1:]:
            raise ValueError(f"standardize {name} has samples of shape {x.shape[1:]}, train_images "
                             f"{train_images.shape[1:]}")
    if len(train_images) == 0:
        raise ValueError("standardize train_images is empty: its mean is undefined")
    mean = train_images.mean(axis=0)
    scale = train_images.std(axis=0) + np.float32(eps)
    return [((x - mean) / scale).astype(np.float32) for x in (train_images, *others)]


@dataclass
class MilestoneResult:
    """What one milestone run produced. ``images`` are the raw test images ``(N, 8, 8)`` in
    ``[0, 1]``; ``labels`` and ``predictions`` are int64 ``(N,)``; ``settings`` holds the
    training hyperparameters (``lr``, ``min_lr``, ``momentum``, ``batch_size``)."""
    name: str
    target: float
    test_accuracy: float
    seconds: float
    epochs: int
    seed: int
    num_parameters: int
    train_samples: int
    settings: dict = field(repr=False)
    history: dict = field(repr=False)
    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    predictions: np.ndarray = field(repr=False)
    model: object = field(repr=False)

    @property
    def reached(self) -> bool:
        return self.test_accuracy >= self.target

    @property
    def errors(self) -> int:
        return int((self.predictions != self.labels).sum())


def _train_on_digits(name, model, target, seed, epochs, lr, batch_size, flat, verbose):
    train, test = DigitsDataset(train=True), DigitsDataset(train=False)
    images, labels = shift_augment(train.images.data, train.labels.data)
    shape = (-1, 64) if flat else (-1, 1, 8, 8)          # standardise per pixel, then restore
    train_x, test_x = (x.reshape(shape) for x in standardize(
        images.reshape(len(images), -1), test.images.data.reshape(len(test), -1)))
    train_loader = DataLoader(TensorDataset(Tensor(train_x), Tensor(labels)),
                              batch_size=batch_size, shuffle=True, seed=seed)
    test_loader = DataLoader(TensorDataset(Tensor(test_x), test.labels), batch_size=512)
    settings = {"lr": lr, "min_lr": lr / 100, "momentum": 0.9, "batch_size": batch_size}
    trainer = Trainer(model, SGD(model.parameters(), lr=lr, momentum=settings["momentum"]),
                      CrossEntropyLoss(),
                      CosineSchedule(max_lr=lr, min_lr=settings["min_lr"], total_epochs=epochs),
                      metrics=[Accuracy()])
    start = time.perf_counter()
    history = trainer.fit(train_loader, test_loader, epochs=epochs, verbose=verbose)
    seconds = time.perf_counter() - start
    model.eval()
    with no_grad():
        predictions = model(Tensor(test_x)).data.argmax(axis=1)
    return MilestoneResult(
        name=name, target=target, test_accuracy=float(history["val_accuracy"][-1]),
        seconds=float(seconds), epochs=epochs, seed=seed,
        num_parameters=int(sum(p.data.size for p in model.parameters())),
        train_samples=int(len(labels)), settings=settings,
        history={k: list(v) for k, v in history.items()},
        images=test.images.data[:, 0].copy(), labels=test.labels.data.copy(),
        predictions=predictions.astype(np.int64), model=model)


def _check_run(who: str, seed, epochs, verbose) -> tuple:
    return (check_int(f"{who} seed", seed, 0), check_int(f"{who} epochs", epochs, 1),
            check_bool(f"{who} verbose", verbose))


def mlp_model() -> Sequential:
    """The milestone MLP: 64 pixels -> 64 hidden units (ReLU) -> 10 class scores."""
    return Sequential(Linear(64, 64), ReLU(), Linear(64, 10))


def train_mlp(seed: int = 0, epochs: int = 15, verbose: bool = False) -> MilestoneResult:
    """Milestone 1: train ``mlp_model()`` on the digits (SGD, lr 0.2, momentum 0.9, cosine to
    0.002, batches of 64); the target is 97% test accuracy."""
    seed, epochs, verbose = _check_run("train_mlp", seed, epochs, verbose)
    manual_seed(seed)
    return _train_on_digits("mlp", mlp_model(), 0.97, seed, epochs, lr=0.2, batch_size=64,
                            flat=True, verbose=verbose)


def cnn_model() -> Sequential:
    """The milestone CNN: conv 1->16 (3x3, padding 1), ReLU, 2x2 max-pool, flatten,
    256 -> 64 (ReLU) -> 10."""
    return Sequential(Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(16 * 4 * 4, 64), ReLU(), Linear(64, 10))


def train_cnn(seed: int = 0, epochs: int = 10, verbose: bool = False) -> MilestoneResult:
    """Milestone 2: train ``cnn_model()`` on the digits (SGD, lr 0.05, momentum 0.9, cosine to
    0.0005, batches of 64); the target is 98% test accuracy."""
    seed, epochs, verbose = _check_run("train_cnn", seed, epochs, verbose)
    manual_seed(seed)
    return _train_on_digits("cnn", cnn_model(), 0.98, seed, epochs, lr=0.05, batch_size=64,
                            flat=False, verbose=verbose)


MILESTONES = {"mlp": train_mlp, "cnn": train_cnn}


def main(argv=None) -> int:
    """``python -m tinytorch.milestones {mlp,cnn} [--seed S] [--epochs E]``."""
    if argv is not None and (not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"main argv must be None or a list of str (a command line), got {describe(argv)}")
    parser = argparse.ArgumentParser(prog="python -m tinytorch.milestones",
                                     description="Train a milestone on the shipped digits and "
                                                 "print its test accuracy.")
    parser.add_argument("name", choices=sorted(MILESTONES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: the milestone's own")
    args = parser.parse_args(argv)
    options = {"seed": args.seed} if args.epochs is None else {"seed": args.seed, "epochs": args.epochs}
    result = MILESTONES[args.name](**options)
    verdict = "reached" if result.reached else "NOT reached"
    print(f"milestone {result.name}: test accuracy {result.test_accuracy:.4f} "
          f"({len(result.labels) - result.errors}/{len(result.labels)} test digits) after "
          f"{result.epochs} epochs in {result.seconds:.1f} s; target {result.target:.2f} {verdict}")
    return 0 if result.reached else 1


# `python -m tinytorch.milestones` runs this; running the source file itself (where __package__ is
# empty) runs the checks above instead.
if __name__ == "__main__" and __package__:
    sys.exit(main())
