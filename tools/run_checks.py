"""Run every check of `make test`, each even when an earlier one failed, and print one summary.

    python tools/run_checks.py

Parts, in this order (pytest last, because some tests read the built site in _build/html):
  export  tools/export.py --check        tinytorch/ is what `make export` would write from src/
  src     tools/run_checks.py --src      every src/*/*.py run as a script: its test_unit_* checks
  book    tools/build_book.py            strict build: cache cleared, every chapter executed, -W -n
  pytest  pytest tests/ + doctests of tinytorch/, while the book builds (tests not reading the site)
  site    pytest tests/ reading the built site (marked needs_site), once the build is done
Exit status: 0 only when every part passed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def torch_available() -> bool:
    probe = subprocess.run([PY, "-c", "import torch"], capture_output=True, cwd=ROOT)
    return probe.returncode == 0


def run_src_checks() -> int:
    """Run each src/NN_name/NN_name.py as a script (its `if __name__ == "__main__":` checks), in a
    fresh temporary folder so whatever it writes lands there, with the repository's package first
    on the path. Every file runs; the exit status is 1 when any of them failed."""
    failed = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "MPLBACKEND": "Agg"}
    for source in sorted((ROOT / "src").glob("*/*.py")):
        with tempfile.TemporaryDirectory() as folder:
            start = time.monotonic()
            result = subprocess.run([PY, str(source)], cwd=folder, env=env, capture_output=True, text=True)
        verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"  {source.relative_to(ROOT)}: {verdict} ({time.monotonic() - start:.1f} s)", flush=True)
        if result.returncode != 0:
            failed.append(source)
            print(textwrap.indent((result.stdout + result.stderr)[-3000:], "    | "), flush=True)
    print(f"src checks: {len(failed)} of the src files failed" if failed else "src checks: every src file passed")
    return 1 if failed else 0


PYTEST = [PY, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider"]
# The test files whose tests read the built site (the `site` fixture of tests/conftest.py, or files
# of the build): they run once the build is done. Every other file runs while the book builds.
NEEDS_SITE = "needs_site"


def parts() -> list[tuple[str, list[str]]]:
    """(name, command) of each part, in the order of the summary."""
    return [
        ("export check", [PY, "tools/export.py", "--check"]),
        ("src checks", [PY, "tools/run_checks.py", "--src"]),
        ("book build (strict)", [PY, "tools/build_book.py"]),
        # Test files are spread over the cores (pytest-xdist); a file's tests stay together in one
        # worker, so module-level fixtures and the files a test writes are never shared.
        ("pytest + doctests", [*PYTEST, "-m", f"not {NEEDS_SITE}", "--doctest-modules", "tests", "tinytorch"]),
        ("pytest on the built site", [*PYTEST, "-m", NEEDS_SITE, "tests"]),
    ]


def build_env() -> dict:
    """The strict build's environment: speech by flite where it is installed (tools/overview.py,
    probe: the same pipeline and checks as Festival's voice, about ten times quicker to speak), unless
    TINYTORCH_SPEECH already says which; `make book` keeps Festival."""
    env = dict(os.environ)
    if "TINYTORCH_SPEECH" not in env and shutil.which("flite") and shutil.which("lame"):
        env["TINYTORCH_SPEECH"] = "flite"
    return env


def start(name: str, command: list[str], log: Path, env=None) -> tuple:
    print(f"=== make test: {name}: {' '.join(command[1:])} (started; output below when it ends)", flush=True)
    handle = log.open("w", encoding="utf-8")
    return name, subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env), \
        handle, log, time.monotonic()


def finish(running: tuple) -> tuple[str, int, float]:
    name, process, handle, log, started = running
    status = process.wait()
    handle.close()
    seconds = time.monotonic() - started
    print(f"\n=== make test: {name}: {'done' if status == 0 else f'FAILED (exit {status})'} in {seconds:.0f} s",
          flush=True)
    print(log.read_text(encoding="utf-8", errors="replace"), flush=True)
    return name, status, seconds


def main() -> int:
    """The export and src checks first (seconds); then the strict book build and the tests that do
    not read the site, side by side (the build executes its chapters one after another, so it
    leaves a core free most of the time); then, once the site exists, the tests that read it."""
    (export, src, book, tests, site_tests) = parts()
    results = []
    for name, command in (export, src):
        print(f"\n=== make test: {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        status = subprocess.run(command, cwd=ROOT).returncode
        results.append((name, status, time.monotonic() - started))
    logs = ROOT / "_build" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    building = start(*book, logs / "book.log", env=build_env())
    testing = start(*tests, logs / "pytest.log")
    results.append(finish(building))
    checking_site = start(*site_tests, logs / "pytest-site.log")
    results.append(finish(testing))
    results.append(finish(checking_site))

    failed = [name for name, status, _ in results if status != 0]
    print("\n=== make test summary")
    for name, status, seconds in results:
        verdict = "PASS" if status == 0 else f"FAIL (exit {status})"
        print(f"  {verdict:<14} {name:<26} {seconds:6.1f} s")
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
    sys.exit(run_src_checks() if sys.argv[1:] == ["--src"] else main())
