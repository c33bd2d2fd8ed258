"""Run every bench/bench_*.py and print one table: figure, tinytorch, reference, ratio, target.

Each bench module exposes `run() -> list[dict]` with keys figure, tinytorch, reference, ratio,
target (a string such as "<= 1.30", or None for a figure shown but not judged) and unit; reference
and ratio may be None for a figure that is a single number. Exit status 1 when any target is missed.

    python bench/run.py                 # every bench module (what `make bench` runs)
    python bench/run.py mlp training    # only the modules whose name contains one of the words
    python bench/run.py --processes 5   # each module in 5 fresh processes instead of 3
    python bench/run.py --scaling       # the scaling sweep instead (bench/scaling.py)

A module may set `PROCESSES = 1` at top level (bench_nbgrader.py: minutes of autograding) to run in
fewer processes than asked.

Each module runs in several fresh processes, one after another, and the table shows for every
figure the process whose ratio is the median (each process's own figure is already the median
over its interleaved rounds) and the range of the ratio over the processes. A process keeps its
memory layout (where the allocator and the kernel put arrays and their pages) for its whole life,
and that moves a ratio by a percent or two from one process to the next however many rounds it
times; more rounds in one process cannot average it out, more processes do (pyperf runs 20 for
the same reason).

BLAS and PyTorch are pinned to one thread each before they are imported: on 2 cores their idle
worker threads spin and steal the cores from whichever library runs next, distorting every ratio.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import importlib.util  # noqa: E402
import json  # noqa: E402
import operator  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
PROCESSES = 3
_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


def meets(ratio: float, target) -> bool:
    if target is None:   # a figure shown for information, not judged
        return True
    op, _, bound = target.partition(" ")
    return _COMPARE[op](ratio, float(bound))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f} {unit}".strip() if isinstance(value, float) else f"{value:,} {unit}".strip()


def processes_option(names: list[str]) -> tuple:
    """(names without `--processes N`, N): N fresh processes per bench module, an integer >= 1."""
    if "--processes" not in names:
        return names, PROCESSES
    at = names.index("--processes")
    value = names[at + 1] if at + 1 < len(names) else None
    if value is None or not value.isdigit() or int(value) < 1:
        raise SystemExit(f"bench/run.py: --processes needs a whole number of processes >= 1, got {value!r}")
    return names[:at] + names[at + 2:], int(value)


def module_processes(path: Path, processes: int) -> int:
    """A module may ask for fewer processes with a top-level `PROCESSES = N` (read, not imported):
    a figure minutes long, such as autograding a class, is not run three times."""
    import re

    found = re.search(r"^PROCESSES = (\d+)\b", path.read_text(encoding="utf-8"), re.M)
    return min(processes, int(found[1])) if found else processes


def run_in_processes(path: Path, processes: int) -> list:
    """`run()` of the bench module at `path` in `processes` fresh Python processes, one after another:
    a list with each process's rows."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(processes):
            print(f"running {path.name} (process {index + 1} of {processes}) ...", file=sys.stderr, flush=True)
            out = Path(folder) / f"{index}.json"
            done = subprocess.run([sys.executable, __file__, "--worker", str(path), str(out)])
            if done.returncode != 0:
                raise SystemExit(f"bench/run.py: {path.name} failed in process {index + 1} "
                                 f"(exit status {done.returncode}); its error is above")
            results.append(json.loads(out.read_text()))
    return results


def combine(results: list) -> list:
    """One row per figure from each process's rows: the row of the process whose ratio is the median
    (the higher middle one for an even count), so that its ratio is its tinytorch over its reference,
    with the ratio's lowest and highest over the processes (`ratio_range`); a single number (no
    ratio) is the median of the processes' numbers."""
    figures = [[row["figure"] for row in rows] for rows in results]
    if any(f != figures[0] for f in figures):
        raise ValueError(f"the processes reported different figures: {figures}")
    combined = []
    for at in range(len(figures[0])):
        rows = [result[at] for result in results]
        if rows[0]["ratio"] is None:
            combined.append({**rows[0], "tinytorch": statistics.median(row["tinytorch"] for row in rows),
                             "ratio_range": None})
            continue
        ranked = sorted(rows, key=lambda row: row["ratio"])
        combined.append({**ranked[len(ranked) // 2], "ratio_range": (ranked[0]["ratio"], ranked[-1]["ratio"])})
    return combined


def spread(row: dict) -> str:
    low_high = row.get("ratio_range")
    if low_high is None:
        return "-"
    return f"{low_high[0]:.3f}-{low_high[1]:.3f}"


def main(names: list[str]) -> int:
    if "--worker" in names:                 # one process of run_in_processes
        _, path, out = names
        Path(out).write_text(json.dumps(load(Path(path)).run()))
        return 0
    if "--scaling" in names:
        return load(HERE / "scaling.py").main([n for n in names if n != "--scaling"])
    names, processes = processes_option(names)
    paths = sorted(HERE.glob("bench_*.py"))
    if names:
        paths = [p for p in paths if any(n in p.stem for n in names)]
    rows = []
    for path in paths:
        rows.extend(combine(run_in_processes(path, module_processes(path, processes))))
    header = ("figure", "tinytorch", "reference", "ratio", f"ratio in {processes} processes", "target", "")
    table = [header] + [(r["figure"], fmt(r["tinytorch"], r.get("unit", "")), fmt(r["reference"], r.get("unit", "")),
                         "-" if r["ratio"] is None else f"{r['ratio']:.3f}", spread(r), r["target"] or "info",
                         "" if r["target"] is None else "ok" if meets(r["ratio"], r["target"]) else "MISSED")
                        for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    missed = [r["figure"] for r in rows if not meets(r["ratio"], r["target"])]
    if missed:
        print(f"\n{len(missed)} target(s) missed: {', '.join(missed)}")
        return 1
    print(f"\nall {sum(r['target'] is not None for r in rows)} targets met (the median of {processes} "
          f"processes each)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
