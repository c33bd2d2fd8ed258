"""One training step of an MLP 784-128-64-10 (batch 64, ReLU, cross-entropy, SGD momentum 0.9,
float32): tinytorch vs the same math written by hand in NumPy vs PyTorch on the CPU.

The three are timed interleaved (a round of each, many rounds, median per step) in one process, so
that machine noise hits them alike. Also checked: the bytes held after a step equal the textbook
count, and repeated steps do not grow memory.
"""
import os
import statistics
import time
import tracemalloc

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.layers import Linear, Sequential, manual_seed  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import SGD  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import training_memory  # noqa: E402

SIZES, BATCH, LR, MOMENTUM = (784, 128, 64, 10), 64, 0.01, 0.9
STEPS_PER_ROUND, ROUNDS = 20, 40


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return x, y


def tinytorch_step_fn(x, y):
    manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        layers += [Linear(n_in, n_out)] + ([ReLU()] if i < len(SIZES) - 2 else [])
    model = Sequential(layers)
    loss_fn, opt = CrossEntropyLoss(), SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = Tensor(x), Tensor(y)

    def step():
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step, model, opt


def numpy_step_fn(x, y):
    """The same math by hand: what a careful NumPy programmer writes, no framework."""
    rng = np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(n_in)
        params += [rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                   rng.uniform(-bound, bound, n_out).astype(np.float32)]
    bufs = [np.zeros_like(p) for p in params]
    rows = np.arange(BATCH)

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h1 = x @ w1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ w3.T + b3
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        sums = p.sum(axis=1, keepdims=True)
        loss = (np.log(sums[:, 0]) - z[rows, y]).mean()  # noqa: F841 (a step reports its loss)
        p /= sums
        g = p
        g[rows, y] -= 1
        g /= BATCH
        gw3, gb3 = g.T @ a2, g.sum(0)
        g = (g @ w3) * (h2 > 0)
        gw2, gb2 = g.T @ a1, g.sum(0)
        g = (g @ w2) * (h1 > 0)
        gw1, gb1 = g.T @ x, g.sum(0)
        for param, buf, grad in zip(params, bufs, (gw1, gb1, gw2, gb2, gw3, gb3)):
            buf *= MOMENTUM
            buf += grad
            param -= LR * buf
    return step


def torch_step_fn(x, y):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def time_interleaved(steps: dict) -> dict:
    for step in steps.values():   # warm up caches, allocators and lazy state
        for _ in range(5):
            step()
    samples = {name: [] for name in steps}
    for _ in range(ROUNDS):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(STEPS_PER_ROUND):
                step()
            samples[name].append((time.perf_counter() - start) / STEPS_PER_ROUND)
    return {name: statistics.median(times) * 1e6 for name, times in samples.items()}


def memory_rows(x, y):
    step, model, opt = tinytorch_step_fn(x, y)
    step()
    held = training_memory(model, opt)
    params, grads, state = held["parameters"], held["gradients"], held["optimizer_state"]
    tracemalloc.start()
    for _ in range(5):
        step()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100):
        step()
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    textbook = 3 * params  # parameters + gradients + one momentum buffer
    return [
        {"figure": "MLP step: params+grads+momentum bytes / textbook 3x params",
         "tinytorch": params + grads + state, "reference": textbook,
         "ratio": (params + grads + state) / textbook, "target": "== 1", "unit": "B"},
        {"figure": "MLP step: memory growth over 100 steps (bytes, ratio to params)",
         "tinytorch": growth, "reference": params, "ratio": max(growth, 0) / params,
         "target": "<= 0.01", "unit": "B"},
    ]


def run() -> list:
    x, y = make_data()
    steps = {"tinytorch": tinytorch_step_fn(x, y)[0], "numpy": numpy_step_fn(x, y)}
    try:
        steps["torch"] = torch_step_fn(x, y)
    except ImportError:
        pass
    us = time_interleaved(steps)
    rows = [{"figure": "MLP 784-128-64-10 step vs hand NumPy (us)", "tinytorch": us["tinytorch"],
             "reference": us["numpy"], "ratio": us["tinytorch"] / us["numpy"], "target": "<= 1.3", "unit": "us"}]
    if "torch" in us:
        rows.append({"figure": "MLP 784-128-64-10 step vs PyTorch CPU (us)", "tinytorch": us["tinytorch"],
                     "reference": us["torch"], "ratio": us["tinytorch"] / us["torch"], "target": "<= 0.9",
                     "unit": "us"})
    return rows + memory_rows(x, y)


if __name__ == "__main__":
    for row in run():
        print(row)
