"""One training step of an MLP, three ways, and the interleaved timer that compares them.

Shared by bench/bench_mlp.py (`make bench`), bench/scaling.py (`make bench-scaling`) and the book
chapter 12, "Acceleration" (book/chapters/12_acceleration.md), so all three measure exactly the same code.
Not a bench module itself (the runner collects `bench_*.py` only).

A step is: forward through Linear/ReLU layers, softmax cross-entropy on integer labels, zero the
gradients, backward, SGD with momentum; float32 throughout. The versions are
- `tinytorch_step`: the framework, called the way a learner calls it: plain (modules 01-10 as the
  chapters teach them), or with `accelerated=True` after `tinytorch.accelerate` (module 11);
- `numpy_step`: the same arithmetic written by hand in NumPy, no graph and no framework: what a
  careful NumPy programmer writes (it allocates its temporaries, as ordinary NumPy code does);
  with `kernels=True` it takes the same faster routes as accelerated tinytorch
  (`tinytorch.core.kernels`, and weights stored by columns where `accelerate` stores them so),
  so that accelerated tinytorch minus it is the framework's cost alone;
- `torch_step`: PyTorch on the CPU (None when PyTorch is not installed).

Threads: call `pin_threads()` before NumPy is imported anywhere (BLAS reads its thread count
once, at import). With one thread per library no idle worker spins on the other's core, and each
library does the same work on the same core, so the ratios compare frameworks, not thread pools.

TINYTORCH_QUICK=1 (set by tests/test_book_visible_cells.py, which runs the book's visible cells to
prove they run, not to measure) makes every timing here one short round, and
`scaling.measure_in_processes` one process: the code paths are the same, the numbers meaningless.
The book build and `make bench` never set it.
"""
from __future__ import annotations

import os
import platform
import statistics
import time

LR, MOMENTUM = 0.01, 0.9
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS")


def quick() -> bool:
    """True under TINYTORCH_QUICK=1: time everything once, briefly (see the module's docstring)."""
    return os.environ.get("TINYTORCH_QUICK", "").strip() not in ("", "0")


def pin_threads() -> None:
    """One BLAS / OpenMP thread per library; must run before NumPy (or PyTorch) is imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"


def make_data(sizes: tuple, batch: int, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    return x, y


def training_step(model, loss_fn, optimizer, inputs, targets):
    """step(): one training step (forward, loss, zero_grad, backward, update). tinytorch and
    PyTorch spell these calls the same way, so both frameworks' steps are this closure."""
    def step():
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def tinytorch_model(sizes: tuple, seed: int = 0):
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential, manual_seed
    manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [Linear(n_in, n_out)] + ([ReLU()] if i < len(sizes) - 2 else [])
    return Sequential(layers)


def tinytorch_step(sizes: tuple, batch: int, accelerated: bool = False):
    """(step, model, optimizer): step() runs one training step on a fixed batch; `accelerated`:
    after `accelerate(model, optimizer, loss_fn)` (module 11)."""
    from tinytorch.core.acceleration import accelerate
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor
    x, y = make_data(sizes, batch)
    model = tinytorch_model(sizes)
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    if accelerated:
        model, optimizer, loss_fn = accelerate(model, optimizer, loss_fn)
    step = training_step(model, loss_fn, optimizer, Tensor(x), Tensor(y))
    return step, model, optimizer


def numpy_step(sizes: tuple, batch: int, kernels: bool = False, accumulate: bool = False):
    """The same step by hand: forward keeping what backward needs, then the chain rule, then SGD.
    `kernels`: the products and reductions by the routes of `tinytorch.core.kernels`, the weights
    stored by columns (F order) where `accelerate` stores them so (parameters that fit in
    `MAX_END_TO_END_BYTES`, the one-call update's limit).
    `accumulate`: the gradients kept as a framework keeps them, in arrays that live from step to
    step (end to end in one buffer, laid out like the weights), set to zero with one call before
    the backward pass and each new gradient added into its array, as the learner's engine does
    (`.grad += ...`); the rest as without. It is the memory work a framework that runs the
    learner's `zero_grad` and engine cannot skip, with no framework code around it."""
    import numpy as np
    x, y = make_data(sizes, batch)
    rng = np.random.default_rng(0)
    weights, biases = [], []
    for n_in, n_out in zip(sizes, sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        weights.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        biases.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    if kernels:
        from tinytorch.core.acceleration import MAX_END_TO_END_BYTES
        if sum(w.nbytes + b.nbytes for w, b in zip(weights, biases)) <= MAX_END_TO_END_BYTES:
            weights = [np.asfortranarray(w) for w in weights]
    params = [p for pair in zip(weights, biases) for p in pair]
    buffers = [np.zeros_like(p) for p in params]
    if accumulate:
        from tinytorch.core.flat import end_to_end, lay_end_to_end
        accumulated = lay_end_to_end(buffers)       # each in its own order, as zeros_like made it
        all_gradients = end_to_end(accumulated)
    rows = np.arange(batch)
    last = len(weights) - 1
    if kernels:
        from tinytorch.core.kernels import (affine, column_sums, input_gradient, row_max, row_sums,
                                            weight_gradient)
    else:
        def affine(a, w, b):
            return a @ w.T + b

        def input_gradient(g, w, a):
            return g @ w

        def weight_gradient(g, a, w):
            return g.T @ a

        def column_sums(a):
            return a.sum(0)

        def row_max(a):
            return a.max(axis=1)

        def row_sums(a):
            return a.sum(axis=1)

    def step():
        inputs, pre = [x], []                  # layer inputs, and pre-activations for ReLU's mask
        a = x
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = affine(a, w, b)
            if i < last:
                pre.append(h)
                a = np.maximum(h, 0)
                inputs.append(a)
            else:
                z = h
        z = z - row_max(z)[:, None]
        p = np.exp(z)
        sums = row_sums(p)[:, None]
        loss = (np.log(sums[:, 0]) - z[rows, y]).mean()  # noqa: F841 (a step computes its loss)
        p /= sums
        g = p
        g[rows, y] -= 1
        g /= batch
        if accumulate:
            all_gradients.fill(0)
        grads = []
        for i in range(last, -1, -1):
            grads += [column_sums(g), weight_gradient(g, inputs[i], weights[i])]
            if i:
                g = input_gradient(g, weights[i], inputs[i]) * (pre[i - 1] > 0)
        grads.reverse()                         # w0, b0, w1, b1, ... like params
        if accumulate:
            for into, grad in zip(accumulated, grads):
                into += grad
            grads = accumulated
        for param, buf, grad in zip(params, buffers, grads):
            buf *= MOMENTUM
            buf += grad
            param -= LR * buf
    step.params = params                        # for tests: the arrays the step trains
    return step


def matmul_step(sizes: tuple, batch: int):
    """Only the matrix products of `numpy_step` (forward, and backward's weight and input
    gradients) on arrays of the same shapes: the part of a step that BLAS does."""
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    weights = [rng.standard_normal((n_out, n_in), dtype=np.float32)
               for n_in, n_out in zip(sizes, sizes[1:])]
    acts = [rng.standard_normal((batch, n), dtype=np.float32) for n in sizes]
    acts[0] = x

    def step():
        for i, w in enumerate(weights):
            acts[i] @ w.T                       # forward
        for i in range(len(weights) - 1, -1, -1):
            g = acts[i + 1]                     # stands in for the output gradient
            g.T @ acts[i]                       # weight gradient
            if i:
                g @ weights[i]                  # input gradient
    return step


def torch_step(sizes: tuple, batch: int):
    """The same step in PyTorch on the CPU, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = make_data(sizes, batch)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(n_in, n_out)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    return training_step(model, loss_fn, optimizer, torch.from_numpy(x), torch.from_numpy(y))


def steps_for(sizes: tuple, batch: int, with_torch: bool = True, accelerated: bool = False) -> dict:
    """{"tinytorch": step, "numpy": step[, "torch": step]} for one configuration; `accelerated`
    adds "accelerated" (tinytorch after `accelerate`) and "numpy_kernels" (by hand, same kernels)."""
    steps = {"tinytorch": tinytorch_step(sizes, batch)[0], "numpy": numpy_step(sizes, batch)}
    if accelerated:
        steps["accelerated"] = tinytorch_step(sizes, batch, accelerated=True)[0]
        steps["numpy_kernels"] = numpy_step(sizes, batch, kernels=True)
    if with_torch:
        torch = torch_step(sizes, batch)
        if torch is not None:
            steps["torch"] = torch
    return steps


def calls_per_sample(step, seconds: float, trials: int = 5, clock=time.process_time) -> int:
    """How many calls of `step` make one timed sample of about `seconds` (at least 1).

    Sized from the median of `trials` back-to-back calls, not from one: the first call after
    another system ran finds the caches cold and can take twice as long, and a sample sized from
    it would hold half the calls, so that one cold start would weigh twice as much in it."""
    times = []
    for _ in range(trials):
        start = clock()
        step()
        times.append(clock() - start)
    return max(1, int(seconds / max(statistics.median(times), 1e-7)))


def time_interleaved(steps: dict, rounds: int, sample_seconds: float = 0.01,
                     warmup: int = 3, clock=time.process_time, settle: int = 1) -> dict:
    """Median seconds per call of each step, over `rounds` rounds of one sample each.

    Interleaving (a sample of each system per round, the order rotating from round to round) makes
    a slow spell of a shared machine hit every system alike; the median ignores the spells that
    hit one sample only. Each sample repeats its step enough times to last `sample_seconds`.
    Before each sample the step runs `settle` times untimed. The first call after another system
    ran finds its arrays out of the caches and costs far more than the next ones (the MLP step at
    batch 64, measured a few times: a few hundred microseconds more for tinytorch, two to three
    times that for PyTorch). Counted in a 20 ms sample (bench_mlp's), that cold start makes every
    system look slower than a training loop that runs it back to back, and PyTorch by a few percent,
    more than tinytorch: a sample times the step warm.
    A sample of one long call (an epoch) or of disk-bound work gains nothing from it: `settle=0`.
    The clock is by default this process's CPU time (`time.process_time`): time during which other
    programs hold the core is not counted. With one thread per library it equals the wall time on
    an idle machine; a library that kept extra threads busy would be charged for them. Work that
    waits on the disk (fsync) needs the wall clock: pass `clock=time.perf_counter`.
    """
    if quick():
        rounds, warmup, sample_seconds = 1, 1, min(sample_seconds, 0.001)
    for step in steps.values():            # caches, allocator pools, lazily created state
        for _ in range(warmup):
            step()
    trials = 1 if quick() else 5
    repeats = {name: calls_per_sample(step, sample_seconds, trials, clock=clock) for name, step in steps.items()}
    samples = {name: [] for name in steps}
    order = list(steps)
    for round_ in range(rounds):
        shift = round_ % len(order)
        for name in order[shift:] + order[:shift]:
            step, n = steps[name], repeats[name]
            for _ in range(settle):
                step()
            start = clock()
            for _ in range(n):
                step()
            samples[name].append((clock() - start) / n)
    return {name: statistics.median(times) for name, times in samples.items()}


VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "neon", "asimd", "sve")


def cpu_info() -> dict:
    """From /proc/cpuinfo where there is one: the CPU's model name, its clock in MHz as the kernel
    reports it, the SIMD extensions it has (those of VECTOR_EXTENSIONS), and whether it runs under
    a hypervisor (a virtual machine, whose cores may be shared with other machines)."""
    info = {"cpu": platform.processor() or platform.machine(), "clock_mhz": None, "vector": [],
            "virtual": None}
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return info
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    info["cpu"] = fields.get("model name") or fields.get("hardware") or info["cpu"]
    try:
        info["clock_mhz"] = float(fields["cpu mhz"])
    except (KeyError, ValueError):
        pass
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    info["vector"] = [name for name in VECTOR_EXTENSIONS if name in flags]
    info["virtual"] = "hypervisor" in flags if flags else None
    return info


def machine() -> dict:
    """What the numbers were measured on: CPU (model, clock, vector extensions, virtual or not),
    cores, Python, NumPy and its BLAS, PyTorch."""
    import numpy as np
    blas = "unknown"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:   # the layout of show_config is not a stable API
        pass
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {**cpu_info(), "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas, "torch": torch_version,
            "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")) or None}
