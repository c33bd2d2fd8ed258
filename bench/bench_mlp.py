"""One training step of an MLP (ReLU, cross-entropy, SGD momentum 0.9, float32): tinytorch, plain
(modules 01-10 as taught) and accelerated (`tinytorch.accelerate`, module 11), vs the same math
written by hand in NumPy vs PyTorch on the CPU. The steps live in bench/steps.py.

Judged, each a ratio of medians over interleaved rounds in one process:
- plain: MLP 784-128-64-10 at batch 64 vs hand NumPy (<= 1.30) and vs PyTorch (<= 0.90);
- accelerated: MLP 784-128-64-10 vs hand NumPy at batch 16 and 64 (<= 1.25, 1.10) and vs PyTorch
  at batch 64 (<= 0.65);
- memory: the bytes held after a step equal the textbook count (parameters + gradients + one
  momentum buffer), and 100 more steps do not grow it.
Shown, not judged: batch 256 and the MLP 784-512-512-512-10 at batch 64, where the arithmetic is
large and what is left is memory traffic the hand-written step does not have: zeroing the gradients
and adding each backward's gradient into them (the learner's engine accumulates, as PyTorch's does;
the hand-written step writes each gradient once). Accelerated tinytorch against hand NumPy that
takes the same faster routes (`tinytorch.core.kernels`), so that the difference is the framework's
cost alone; hand NumPy against PyTorch at batch 64 (the accelerated step meets 0.65 of PyTorch
only while it stays within 0.65 divided by that ratio of hand NumPy); at batch 64 also the floor
under any framework that runs the learner's `zero_grad` and engine: hand NumPy with the same
kernels that keeps its gradients from step to step, zeroes them with one call and adds each new
gradient into them, with no framework code around it, against PyTorch (what the 0.65 target
leaves for the framework's own Python is the distance from this row to 0.65); the framework's
cost on a network too small for the arithmetic to matter (8-8-8-2 at batch 4), plain and
accelerated.
Run alone with `python bench/bench_mlp.py`.
"""
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import steps  # noqa: E402  (bench/steps.py, next to this file)

steps.pin_threads()

from tinytorch.core.training import training_memory  # noqa: E402

SMALL, DEEP, TINY = (784, 128, 64, 10), (784, 512, 512, 512, 10), (8, 8, 8, 2)
# (sizes, batch, accelerated vs hand, accelerated vs PyTorch, plain vs hand, plain vs PyTorch);
# None: not timed against PyTorch
CASES = [(SMALL, 16, "<= 1.25", None, None, None),
         (SMALL, 64, "<= 1.10", "<= 0.65", "<= 1.30", "<= 0.90"),
         (SMALL, 256, None, None, None, None),
         (DEEP, 64, None, None, None, None)]
ROUNDS, SAMPLE_SECONDS = 41, 0.02


def name(sizes) -> str:
    return "-".join(map(str, sizes))


def row(figure: str, mine: float, reference: float, target) -> dict:
    return {"figure": figure, "tinytorch": mine, "reference": reference, "ratio": mine / reference,
            "target": target, "unit": "us"}


def timing_rows(sizes, batch, accelerated_hand, accelerated_torch, plain_hand, plain_torch) -> list:
    with_torch = accelerated_torch is not None
    systems = steps.steps_for(sizes, batch, with_torch=with_torch, accelerated=True)
    if "torch" in systems:      # the floor is shown against PyTorch only: timed only when it is
        systems["numpy_accumulating"] = steps.numpy_step(sizes, batch, kernels=True, accumulate=True)
    t = steps.time_interleaved(systems, ROUNDS, SAMPLE_SECONDS)
    us = {system: seconds * 1e6 for system, seconds in t.items()}
    label = f"MLP {name(sizes)} batch {batch} step"
    rows = [row(f"{label}, plain vs hand NumPy (us)", us["tinytorch"], us["numpy"], plain_hand)]
    if "torch" in us:
        rows.append(row(f"{label}, plain vs PyTorch CPU (us)", us["tinytorch"], us["torch"], plain_torch))
    rows.append(row(f"{label}, accelerated vs hand NumPy (us)", us["accelerated"], us["numpy"], accelerated_hand))
    if "torch" in us:
        rows.append(row(f"{label}, accelerated vs PyTorch CPU (us)", us["accelerated"], us["torch"],
                        accelerated_torch))
    rows.append(row(f"{label}, accelerated vs hand NumPy with the same kernels (us)", us["accelerated"],
                    us["numpy_kernels"], None))
    if "torch" in us:    # what the PyTorch targets leave for the framework: hand NumPy's own ratio
        rows.append(row(f"{label}: hand NumPy vs PyTorch CPU (us)", us["numpy"], us["torch"], None))
        rows.append(row(f"{label}: hand NumPy, same kernels, gradients zeroed and added into, vs PyTorch CPU (us)",
                        us["numpy_accumulating"], us["torch"], None))
    return rows


def memory_rows(sizes=SMALL, batch=64) -> list:
    step, model, optimizer = steps.tinytorch_step(sizes, batch)
    step()
    held = training_memory(model, optimizer)
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


def framework_cost_rows(sizes=TINY, batch=4) -> list:
    """Framework cost per step, plain and accelerated: tinytorch minus hand NumPy on a network whose
    arithmetic is a few microseconds, so what is left is the Python work (layers, graph, engine,
    checks, optimizer)."""
    us = {system: seconds * 1e6 for system, seconds in steps.time_interleaved(
        steps.steps_for(sizes, batch, with_torch=False, accelerated=True), ROUNDS, SAMPLE_SECONDS).items()}
    label = f"MLP {name(sizes)} batch {batch} step: framework cost"
    return [{"figure": f"{label}, plain tinytorch minus hand NumPy (us)", "tinytorch": us["tinytorch"] - us["numpy"],
             "reference": None, "ratio": None, "target": None, "unit": "us"},
            {"figure": f"{label}, accelerated minus hand NumPy with the same kernels (us)",
             "tinytorch": us["accelerated"] - us["numpy_kernels"], "reference": None, "ratio": None,
             "target": None, "unit": "us"}]


def run() -> list:
    rows = []
    for case in CASES:
        rows += timing_rows(*case)
    return rows + framework_cost_rows() + memory_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
