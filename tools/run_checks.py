"""Run every check of `make test`, each even when an earlier one failed, and print one summary.

    python tools/run_checks.py

Parts, in this order (pytest last, because some tests read the built site in _build/html):
  export  tools/export.py --check        tinytorch/ is what `make export` would write from src/
  book    tools/build_book.py            strict build: cache cleared, every chapter executed, -W -n
  pytest  pytest tests/ + doctests of tinytorch/
Exit status: 0 only when every part passed.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def torch_available() -> bool:
    probe = subprocess.run([PY, "-c", "import torch"], capture_output=True, cwd=ROOT)
    return probe.returncode == 0


def parts() -> list[tuple[str, list[str]]]:
    return [
        ("export check", [PY, "tools/export.py", "--check"]),
        ("book build (strict)", [PY, "tools/build_book.py"]),
        ("pytest + doctests", [PY, "-m", "pytest", "--doctest-modules", "tests", "tinytorch"]),
    ]


def main() -> int:
    results = []
    for name, command in parts():
        print(f"\n=== make test: {name}: {' '.join(command[1:])}", flush=True)
        start = time.monotonic()
        status = subprocess.run(command, cwd=ROOT).returncode
        results.append((name, status, time.monotonic() - start))

    failed = [name for name, status, _ in results if status != 0]
    print("\n=== make test summary")
    for name, status, seconds in results:
        verdict = "PASS" if status == 0 else f"FAIL (exit {status})"
        print(f"  {verdict:<14} {name:<22} {seconds:6.1f} s")
    if torch_available():
        print("  PyTorch parity tests: run (torch is importable)")
    else:
        print("  PyTorch parity tests: SKIPPED (torch is not importable here; "
              "`.venv/bin/pip install torch==2.13.0` runs them, as CI does)")
    if failed:
        print("  failed: " + ", ".join(failed) + " (see its output above)")
    print(f"make test: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
