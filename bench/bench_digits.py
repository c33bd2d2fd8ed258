"""One epoch of the digits-MLP milestone (chapter 10): tinytorch's Trainer vs the same epoch
written by hand in NumPy.

The data is the milestone's: the 1,438 training digits with their four one-pixel shifts
(7,190 images), standardised. Both sides run the 64-64-10 ReLU MLP with cross-entropy and SGD
(lr 0.2, momentum 0.9) over shuffled batches of 64, and both report the epoch's mean loss and
accuracy (the Trainer always does). Timed interleaved by `steps.time_interleaved`, median.

Shown, not judged: plain and accelerated (`tinytorch.accelerate`). On this network a batch's
arithmetic takes about 80 us, so the epoch measures the per-batch work around it: the learner's
Trainer loop with its checks, running means and rollback guard, the loader building two tensors
from the learner's TensorDataset, the learner's engine. The Trainer's own share is judged by the
training bench (a hand loop of the same calls), the framework's by bench_mlp's 8-8-8-2 row.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import steps  # noqa: E402  (bench/steps.py: the shared thread pinning and interleaved timer)

steps.pin_threads()

import numpy as np  # noqa: E402

from tinytorch.core.acceleration import accelerate  # noqa: E402
from tinytorch.core.dataloader import DataLoader, DigitsDataset, TensorDataset  # noqa: E402
from tinytorch.core.layers import manual_seed  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.metrics import Accuracy  # noqa: E402
from tinytorch.core.optimizers import SGD  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import Trainer  # noqa: E402
from tinytorch.milestones import mlp_model, shift_augment, standardize  # noqa: E402

BATCH, LR, MOMENTUM, ROUNDS = 64, 0.2, 0.9, 41


def make_data():
    train = DigitsDataset(train=True)
    images, labels = shift_augment(train.images.data, train.labels.data)
    (x,) = standardize(images.reshape(len(images), -1))
    return x, labels


def tinytorch_epoch_fn(x, y, accelerated: bool = False):
    manual_seed(0)
    model = mlp_model()
    optimizer, loss_fn = SGD(model.parameters(), lr=LR, momentum=MOMENTUM), CrossEntropyLoss()
    if accelerated:
        model, optimizer, loss_fn = accelerate(model, optimizer, loss_fn)
    trainer = Trainer(model, optimizer, loss_fn, metrics=[Accuracy()])
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=BATCH, shuffle=True, seed=0)

    def epoch():
        trainer.train_epoch(loader)
        return trainer.history["train_loss"][-1], trainer.history["train_accuracy"][-1]
    return epoch


def numpy_epoch_fn(x, y):
    """The same epoch by hand: what a careful NumPy programmer writes, no framework."""
    rng = np.random.default_rng(0)
    sizes = (64, 64, 10)
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        params += [rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                   rng.uniform(-bound, bound, n_out).astype(np.float32)]
    bufs = [np.zeros_like(p) for p in params]
    n = len(y)
    counter = [0]

    def epoch():
        order = np.random.default_rng([0, counter[0]]).permutation(n)
        counter[0] += 1
        total_loss, correct = 0.0, 0
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            xb, yb = x[idx], y[idx]
            rows = np.arange(len(idx))
            w1, b1, w2, b2 = params
            h = xb @ w1.T + b1
            a = np.maximum(h, 0)
            z = a @ w2.T + b2
            correct += int((z.argmax(axis=1) == yb).sum())
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            sums = p.sum(axis=1, keepdims=True)
            total_loss += float((np.log(sums[:, 0]) - z[rows, yb]).mean()) * len(idx)
            p /= sums
            p[rows, yb] -= 1
            p /= len(idx)
            gw2, gb2 = p.T @ a, p.sum(0)
            g = (p @ w2) * (h > 0)
            gw1, gb1 = g.T @ xb, g.sum(0)
            for param, buf, grad in zip(params, bufs, (gw1, gb1, gw2, gb2)):
                buf *= MOMENTUM
                buf += grad
                param -= LR * buf
        return total_loss / n, correct / n
    return epoch


def run() -> list:
    x, y = make_data()
    epochs = {"tinytorch": tinytorch_epoch_fn(x, y), "accelerated": tinytorch_epoch_fn(x, y, accelerated=True),
              "numpy": numpy_epoch_fn(x, y)}
    ms = {name: seconds * 1e3 for name, seconds in steps.time_interleaved(epochs, ROUNDS, warmup=1, settle=0).items()}
    return [{"figure": f"digits MLP epoch ({len(y):,} images), {kind} vs hand NumPy (ms)",
             "tinytorch": ms[system], "reference": ms["numpy"], "ratio": ms[system] / ms["numpy"],
             "target": None, "unit": "ms"}
            for kind, system in (("plain", "tinytorch"), ("accelerated", "accelerated"))]


if __name__ == "__main__":
    for row in run():
        print(row)
