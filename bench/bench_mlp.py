"""One training step of an MLP (ReLU, cross-entropy, SGD momentum 0.9, float32): tinytorch vs the
same math written by hand in NumPy vs PyTorch on the CPU. The three steps live in bench/steps.py.

Judged, each a ratio of medians over interleaved rounds in this one run:
- MLP 784-128-64-10 vs hand NumPy at batch 16, 64 and 256 (<= 1.25, 1.10, 1.03) and vs PyTorch
  at batch 64 (<= 0.65);
- MLP 784-512-512-512-10 at batch 64 vs hand NumPy (<= 1.03);
- memory: the bytes held after a step equal the textbook count (parameters + gradients + one
  momentum buffer), and 100 more steps do not grow it.
Shown, not judged: tinytorch minus hand NumPy in microseconds for each case. Since tinytorch takes
faster BLAS routes for some products and reductions (tinytorch.core.kernels), that difference is
the framework's cost less what those routes save, and can be negative. The framework's own cost is
shown on its own by a network too small for the arithmetic to matter (8-8-8-2 at batch 4).
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
# (sizes, batch, target vs hand NumPy, target vs PyTorch or None)
CASES = [(SMALL, 16, "<= 1.25", None), (SMALL, 64, "<= 1.10", "<= 0.65"),
         (SMALL, 256, "<= 1.03", None), (DEEP, 64, "<= 1.03", None)]
ROUNDS, SAMPLE_SECONDS = 41, 0.02


def name(sizes) -> str:
    return "-".join(map(str, sizes))


def timing_rows(sizes, batch, hand_target, torch_target) -> list:
    t = steps.time_interleaved(steps.steps_for(sizes, batch, with_torch=torch_target is not None),
                               ROUNDS, SAMPLE_SECONDS)
    us = {system: seconds * 1e6 for system, seconds in t.items()}
    label = f"MLP {name(sizes)} batch {batch} step"
    rows = [{"figure": f"{label} vs hand NumPy (us)", "tinytorch": us["tinytorch"],
             "reference": us["numpy"], "ratio": us["tinytorch"] / us["numpy"],
             "target": hand_target, "unit": "us"}]
    if "torch" in us:
        rows.append({"figure": f"{label} vs PyTorch CPU (us)", "tinytorch": us["tinytorch"],
                     "reference": us["torch"], "ratio": us["tinytorch"] / us["torch"],
                     "target": torch_target, "unit": "us"})
    rows.append({"figure": f"{label}: tinytorch minus hand NumPy (us)",
                 "tinytorch": us["tinytorch"] - us["numpy"], "reference": None, "ratio": None,
                 "target": None, "unit": "us"})
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


def framework_cost_row(sizes=TINY, batch=4) -> dict:
    """Framework cost per step: tinytorch minus hand NumPy on a network whose arithmetic is a few
    microseconds, so what is left is the Python work (layers, graph, engine, checks, optimizer)."""
    us = {system: seconds * 1e6 for system, seconds in steps.time_interleaved(
        steps.steps_for(sizes, batch, with_torch=False), ROUNDS, SAMPLE_SECONDS).items()}
    return {"figure": f"MLP {name(sizes)} batch {batch} step: framework cost, tinytorch minus hand NumPy (us)",
            "tinytorch": us["tinytorch"] - us["numpy"], "reference": None, "ratio": None,
            "target": None, "unit": "us"}


def run() -> list:
    rows = []
    for case in CASES:
        rows += timing_rows(*case)
    return rows + [framework_cost_row()] + memory_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
