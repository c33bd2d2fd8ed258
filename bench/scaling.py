"""How the step time grows: tinytorch, hand-written NumPy and PyTorch (when installed) over batch
sizes and hidden widths, for the MLP 784-W-W-10 of bench/steps.py.

    python bench/scaling.py             # the full grid (`make bench-scaling`): about a minute
    python bench/scaling.py --quick     # a coarse grid, for a smoke test

Writes _build/bench/scaling.json (rows + machine), scaling.csv (one row per configuration and
system) and scaling.png (log-log, one panel per width, one line per system). The book page "How
fast is it?" uses `measure` and `plot` from here on a smaller grid.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import steps  # noqa: E402  (bench/steps.py, next to this file)

steps.pin_threads()

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "_build" / "bench"
BATCHES = (16, 32, 64, 128, 256, 512, 1024)
WIDTHS = (64, 128, 256, 512, 1024)
SYSTEMS = ("tinytorch", "accelerated", "numpy", "numpy_kernels", "torch")
LABELS = {"tinytorch": "tinytorch, plain", "accelerated": "tinytorch, accelerated",
          "numpy": "hand-written NumPy", "numpy_kernels": "hand-written NumPy, same kernels",
          "torch": "PyTorch (CPU)"}


def sizes_for(width: int) -> tuple:
    return (784, width, width, 10)


def measure(shapes, batches=BATCHES, rounds: int = 7, sample_seconds: float = 0.02,
            with_torch: bool = True, progress=None, accelerated: bool = True) -> list:
    """One row per (shape, batch): median microseconds per step of each system, interleaved.
    `shapes` are layer sizes such as (784, 128, 64, 10); a row's width is the first hidden size.
    `accelerated`: also tinytorch after `accelerate` and hand NumPy with the same kernels."""
    rows = []
    for shape in shapes:
        for batch in batches:
            seconds = steps.time_interleaved(steps.steps_for(shape, batch, with_torch, accelerated), rounds,
                                             sample_seconds, warmup=2)
            rows.append({"width": shape[1], "batch": batch, "sizes": list(shape),
                         **{f"{system}_us": seconds[system] * 1e6 for system in seconds}})
            if progress:
                progress(rows[-1])
    return rows


def measure_in_processes(shapes, batches, processes: int = 3, rounds: int = 5,
                         sample_seconds: float = 0.01, with_torch: bool = True) -> list:
    """`measure` in `processes` fresh Python processes, one after another (a process's memory layout
    moves a ratio by a percent or two, however long it measures: bench/run.py). One row per
    (shape, batch): each system's median microseconds over the processes, and for every system
    its ratio to hand-written NumPy in each process, `<system>_ratios` (lowest to highest)."""
    import subprocess
    if steps.quick():
        processes = 1
    request = json.dumps({"shapes": [list(s) for s in shapes], "batches": list(batches),
                          "rounds": rounds, "sample_seconds": sample_seconds, "with_torch": with_torch})
    runs = []
    for _ in range(processes):
        done = subprocess.run([sys.executable, __file__, "--worker", request], capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout))
    combined = []
    for at, first in enumerate(runs[0]):
        rows = [run[at] for run in runs]
        row = {key: first[key] for key in ("width", "batch", "sizes")}
        for system in SYSTEMS:
            key = f"{system}_us"
            if all(key in r for r in rows):
                row[key] = sorted(r[key] for r in rows)[len(rows) // 2]
                row[f"{system}_ratios"] = sorted(r[key] / r["numpy_us"] for r in rows)
        combined.append(row)
    return combined


def systems_in(rows: list) -> list:
    return [s for s in SYSTEMS if all(f"{s}_us" in row for row in rows)]


def write(rows: list, folder: Path = OUT_DIR) -> dict:
    """scaling.json and scaling.csv in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "scaling.json", "csv": folder / "scaling.csv"}
    paths["json"].write_text(json.dumps({"machine": steps.machine(), "rows": rows}, indent=1))
    with paths["csv"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["width", "batch", "system", "step_us", "ratio_to_numpy"])
        for row in rows:
            for system in systems_in(rows):
                us = row[f"{system}_us"]
                out.writerow([row["width"], row["batch"], system, f"{us:.1f}",
                              f"{us / row['numpy_us']:.4f}"])
    return paths


def plot(rows: list, axes=None):
    """Log-log step time against batch size, one panel per width, one line per system."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator
    widths = sorted({row["width"] for row in rows})
    if axes is None:
        fig, axes = plt.subplots(1, len(widths), figsize=(3.2 * len(widths), 3.2),
                                 sharey=True, squeeze=False)
        axes = axes[0]
    for ax, width in zip(axes, widths):
        mine = sorted((r for r in rows if r["width"] == width), key=lambda r: r["batch"])
        batches = [r["batch"] for r in mine]
        for system in systems_in(rows):
            ax.plot(batches, [r[f"{system}_us"] for r in mine], marker="o", label=LABELS[system])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.minorticks_off()
        # 1, 2 and 5 of every decade, in plain numbers: a span under a decade still gets labels
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.set_xlabel("batch size")
        ax.set_title(f"MLP {'-'.join(map(str, mine[0]['sizes']))}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("time per training step (µs)")
    axes[0].legend(fontsize=8)
    axes[0].figure.tight_layout()
    return axes[0].figure


def main(args: list) -> int:
    if args[:1] == ["--worker"]:         # one process of measure_in_processes: rows as JSON
        request = json.loads(args[1])
        rows = measure([tuple(s) for s in request["shapes"]], request["batches"], request["rounds"],
                       request["sample_seconds"], request["with_torch"])
        print(json.dumps(rows))
        return 0
    import matplotlib
    matplotlib.use("Agg")    # a file, no window
    quick = "--quick" in args
    batches, widths = ((16, 128, 1024), (64, 1024)) if quick else (BATCHES, WIDTHS)

    def progress(row):
        cells = "  ".join(f"{s} {row[f'{s}_us']:10,.1f} us" for s in SYSTEMS if f"{s}_us" in row)
        print(f"width {row['width']:5d} batch {row['batch']:5d}  {cells}", flush=True)

    rows = measure([sizes_for(w) for w in widths], batches, progress=progress)
    paths = write(rows)
    figure = plot(rows)
    paths["png"] = OUT_DIR / "scaling.png"
    figure.savefig(paths["png"], dpi=120)
    for kind, path in paths.items():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
