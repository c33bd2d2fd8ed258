"""One training step of a small CNN (batch 64 of 1x28x28, conv 3x3 to 8 channels, ReLU, 2x2 max-pool,
linear to 10, cross-entropy, plain SGD, float32): tinytorch accelerated (`tinytorch.accelerate`,
module 11) vs PyTorch on the CPU (judged, <= 1.0); plain tinytorch vs PyTorch, and both vs the same
math written by hand in NumPy, shown for information.

The three are timed interleaved by `steps.time_interleaved` (a sample of each per round, many rounds,
median per step, CPU time) in one process, so that machine noise hits them alike; BLAS and PyTorch
run on one thread each.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import steps  # noqa: E402  (bench/steps.py: the shared thread pinning and interleaved timer)

steps.pin_threads()

import numpy as np  # noqa: E402

from tinytorch.core.acceleration import accelerate  # noqa: E402
from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Flatten, Linear, Sequential, manual_seed  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import SGD  # noqa: E402
from tinytorch.core.spatial import Conv2d, MaxPool2d  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

BATCH, SIDE, CHANNELS, KERNEL, CLASSES, LR = 64, 28, 8, 3, 10, 0.01
CONV_SIDE = SIDE - KERNEL + 1          # 26
POOLED = CONV_SIDE // 2                # 13
FEATURES = CHANNELS * POOLED * POOLED  # 1352
ROUNDS = 30


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 1, SIDE, SIDE), dtype=np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    return x, y


def tinytorch_step_fn(x, y, accelerated: bool = False):
    manual_seed(0)
    model = Sequential([Conv2d(1, CHANNELS, KERNEL), ReLU(), MaxPool2d(2), Flatten(),
                        Linear(FEATURES, CLASSES)])
    optimizer, loss_fn = SGD(model.parameters(), lr=LR), CrossEntropyLoss()
    if accelerated:
        model, optimizer, loss_fn = accelerate(model, optimizer, loss_fn)
    return steps.training_step(model, loss_fn, optimizer, Tensor(x), Tensor(y))


def numpy_step_fn(x, y):
    """The same math by hand: im2col by one sliding-window copy, max-pool as four strided slices."""
    rng = np.random.default_rng(0)
    conv_bound, fc_bound = 1 / np.sqrt(KERNEL * KERNEL), 1 / np.sqrt(FEATURES)
    params = [rng.uniform(-conv_bound, conv_bound, (CHANNELS, KERNEL * KERNEL)).astype(np.float32),
              rng.uniform(-conv_bound, conv_bound, CHANNELS).astype(np.float32),
              rng.uniform(-fc_bound, fc_bound, (CLASSES, FEATURES)).astype(np.float32),
              rng.uniform(-fc_bound, fc_bound, CLASSES).astype(np.float32)]
    rows = np.arange(BATCH)
    corners = [(i, j) for i in range(2) for j in range(2)]

    def step():
        wc, bc, wf, bf = params
        # patches: (9, N*26*26), one row per kernel offset (the input has a single channel)
        windows = np.lib.stride_tricks.sliding_window_view(x[:, 0], (KERNEL, KERNEL), axis=(1, 2))
        cols = np.ascontiguousarray(windows.transpose(3, 4, 0, 1, 2)).reshape(KERNEL * KERNEL, -1)
        conv = (wc @ cols + bc[:, None]).reshape(CHANNELS, BATCH, CONV_SIDE, CONV_SIDE)
        act = np.maximum(conv, 0)
        slices = [act[:, :, i::2, j::2] for i, j in corners]
        pooled = np.maximum(np.maximum(slices[0], slices[1]), np.maximum(slices[2], slices[3]))
        flat = pooled.transpose(1, 0, 2, 3).reshape(BATCH, FEATURES)
        z = flat @ wf.T + bf
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        sums = p.sum(axis=1, keepdims=True)
        loss = (np.log(sums[:, 0]) - z[rows, y]).mean()  # noqa: F841 (a step reports its loss)
        p /= sums
        p[rows, y] -= 1
        p /= BATCH
        gwf, gbf = p.T @ flat, p.sum(0)
        gpooled = (p @ wf).reshape(BATCH, CHANNELS, POOLED, POOLED).transpose(1, 0, 2, 3)
        gact = np.empty_like(act)     # 26 = 2 * 13: the four corners tile the map exactly
        pending = np.ones(pooled.shape, dtype=bool)
        for (i, j), part in zip(corners, slices):
            winner = part == pooled
            winner &= pending          # ties: the first maximum wins, as in PyTorch
            pending ^= winner
            np.multiply(gpooled, winner, out=gact[:, :, i::2, j::2])
        gact *= conv > 0
        gconv = gact.reshape(CHANNELS, -1)
        gwc, gbc = gconv @ cols.T, gconv.sum(1)
        for param, grad in zip(params, (gwc, gbc, gwf, gbf)):
            param -= LR * grad
    return step


def torch_step_fn(x, y):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, CHANNELS, KERNEL), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(FEATURES, CLASSES))
    return steps.training_step(model, torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR),
                               torch.from_numpy(x), torch.from_numpy(y))


def run(rounds: int = ROUNDS) -> list:
    """The rows above; `rounds` interleaved rounds (chapter 12 runs a shorter measurement)."""
    x, y = make_data()
    systems = {"tinytorch": tinytorch_step_fn(x, y), "accelerated": tinytorch_step_fn(x, y, accelerated=True),
               "numpy": numpy_step_fn(x, y)}
    try:
        systems["torch"] = torch_step_fn(x, y)
    except ImportError:
        pass
    us = {name: seconds * 1e6 for name, seconds in steps.time_interleaved(systems, rounds).items()}

    def row(figure, mine, reference, target=None):
        return {"figure": figure, "tinytorch": us[mine], "reference": us[reference],
                "ratio": us[mine] / us[reference], "target": target, "unit": "us"}
    label = "CNN conv3x3-8/pool/linear step"
    rows = []
    if "torch" in us:
        rows += [row(f"{label}, accelerated vs PyTorch CPU (us)", "accelerated", "torch", "<= 1.0"),
                 row(f"{label}, plain vs PyTorch CPU (us)", "tinytorch", "torch")]
    rows += [row(f"{label}, accelerated vs hand NumPy (us)", "accelerated", "numpy"),
             row(f"{label}, plain vs hand NumPy (us)", "tinytorch", "numpy")]
    if "torch" in us:
        rows.append(row("CNN step: hand NumPy vs PyTorch CPU (us)", "numpy", "torch"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
