"""Run every bench/bench_*.py and print one table: figure, tinytorch, reference, ratio, target.

Each bench module exposes `run() -> list[dict]` with keys figure, tinytorch, reference, ratio,
target (a string such as "<= 1.30", or None for a figure shown but not judged) and unit; reference
and ratio may be None for a figure that is a single number. Exit status 1 when any target is missed.

    python bench/run.py                 # every bench module (what `make bench` runs)
    python bench/run.py mlp training    # only the modules whose name contains one of the words
    python bench/run.py --scaling       # the scaling sweep instead (bench/scaling.py)

BLAS and PyTorch are pinned to one thread each before they are imported: on 2 cores their idle
worker threads spin and steal the cores from whichever library runs next, distorting every ratio.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import importlib.util  # noqa: E402
import operator  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
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


def main(names: list[str]) -> int:
    if "--scaling" in names:
        return load(HERE / "scaling.py").main([n for n in names if n != "--scaling"])
    paths = sorted(HERE.glob("bench_*.py"))
    if names:
        paths = [p for p in paths if any(n in p.stem for n in names)]
    rows = []
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        rows.extend(load(path).run())
    header = ("figure", "tinytorch", "reference", "ratio", "target", "")
    table = [header] + [(r["figure"], fmt(r["tinytorch"], r.get("unit", "")), fmt(r["reference"], r.get("unit", "")),
                         "-" if r["ratio"] is None else f"{r['ratio']:.3f}", r["target"] or "info", "" if r["target"] is None
                         else "ok" if meets(r["ratio"], r["target"]) else "MISSED")
                        for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    missed = [r["figure"] for r in rows if not meets(r["ratio"], r["target"])]
    if missed:
        print(f"\n{len(missed)} target(s) missed: {', '.join(missed)}")
        return 1
    print(f"\nall {sum(r['target'] is not None for r in rows)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
