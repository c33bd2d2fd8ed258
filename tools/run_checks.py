"""Run every check of `make test`, each even when an earlier one failed, and print one summary.

    python tools/run_checks.py

Parts (the first four side by side; the site tests once the build is done):
  export  tools/export.py --check        tinytorch/ is what `make export` would write from src/
  src     tools/run_checks.py --src      every src/*/*.py run as a script: its test_unit_* checks
  book    tools/build_book.py            strict build: cache cleared, every chapter executed, -W -n
                                         (chapter 12 times one short round: TINYTORCH_QUICK=1)
  pytest  pytest tests/ + doctests of tinytorch/ (the tests not reading the site)
  site    pytest tests/ reading the built site in _build/html (marked needs_site), also after a
          build that failed on a warning (the site is written); not run when there is no site
Exit status: 0 only when every part passed. A failed build's reasons are the last lines printed.
"""
from __future__ import annotations

import os
import re
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


PYTEST = [PY, "-m", "pytest", "-p", "no:cacheprovider"]
def site_dir() -> Path:
    """Where the strict build writes the site (it deletes the old one first)."""
    return ROOT / "_build" / "html"


# The marker of the tests that read the built site (tests/conftest.py: they use the `site` fixture
# or live in a file of the build): they run once the build is done, every other test beside it.
NEEDS_SITE = "needs_site"


def parts() -> list[tuple[str, list[str]]]:
    """(name, command) of each part, in the order of the summary."""
    return [
        ("export check", [PY, "tools/export.py", "--check"]),
        ("src checks", [PY, "tools/run_checks.py", "--src"]),
        ("book build (strict)", [PY, "tools/build_book.py"]),
        # Test files are spread over the cores (pytest-xdist); a file's tests stay together in one
        # worker, so module-level fixtures and the files a test writes are never shared.
        ("pytest + doctests", [*PYTEST, "-n", "auto", "--dist", "loadfile", "-m", f"not {NEEDS_SITE}",
                               "--durations=12", "--doctest-modules", "tests", "tinytorch"]),
        # One process: it runs beside the other tests, and a worker more would collect them all again.
        ("pytest on the built site", [*PYTEST, "-m", NEEDS_SITE, "tests"]),
    ]


def base_env() -> dict:
    """Every part's environment: this one, except that Python may cache compiled modules. A machine
    that sets PYTHONDONTWRITEBYTECODE makes each of the few hundred processes the checks start
    compile tinytorch, tito and (pytest) every test file again; __pycache__ is ignored by git."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def one_blas_thread(env: dict) -> dict:
    """`env` with one BLAS thread per process (settings the caller made are kept). make test runs
    the build and a pytest worker per core side by side: BLAS threads on top would only contend for
    the same cores, and OpenBLAS's waiting threads spin (a chapter's visible cells ran 5x slower
    with them; the strict build alone takes a tenth less CPU with one thread)."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    return env


def build_env() -> dict:
    """The strict build's environment: speech by flite where it is installed (tools/overview.py,
    probe: the same pipeline and checks as Festival's voice, about ten times quicker to speak),
    TINYTORCH_QUICK=1, which chapter 12's timing code reads to time one short round instead of many
    (bench/steps.py, `quick()`): the same code runs, only fewer times; and one BLAS thread. Settings
    the caller made are kept; `make book` sets none of these, so the published pages have Festival's
    voice and full timings."""
    env = base_env()
    if "TINYTORCH_SPEECH" not in env and shutil.which("flite") and shutil.which("lame"):
        env["TINYTORCH_SPEECH"] = "flite"
    env.setdefault("TINYTORCH_QUICK", "1")
    return one_blas_thread(env)


def test_env() -> dict:
    """The environment of every part but the build: one BLAS thread per process (pytest already runs
    a worker per core, and the src checks run beside it and the build)."""
    return one_blas_thread(base_env())


def start(name: str, command: list[str], log: Path, env=None) -> tuple:
    print(f"=== make test: {name}: {' '.join(command[1:])} (started; output below when it ends)", flush=True)
    handle = log.open("w", encoding="utf-8")
    return name, subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env), \
        handle, log, time.monotonic()


def finish(running: tuple) -> tuple[str, int, float]:
    name, process, handle, log, started = running
    status = process.wait()
    handle.close()
    seconds = time.monotonic() - started           # its own time: call it when the part has just ended
    print(f"\n=== make test: {name}: {'done' if status == 0 else f'FAILED (exit {status})'} in {seconds:.0f} s",
          flush=True)
    print(log.read_text(encoding="utf-8", errors="replace"), flush=True)
    return name, status, seconds


# What says why a part failed, in its log: Sphinx's warnings and errors (-W makes each one fail the
# build), a cell's exception and the line it raised at (IPython's arrow), pytest's one-line
# summaries. The kernel's TCP notice is no problem; colour codes are dropped before matching.
WHY = re.compile(r"WARNING:|ERROR:|CRITICAL:|Exception occurred|Traceback|\b\w*(Error|Exception):|"
                 r"build finished with problems|^-+> \d+ |^(FAILED|ERROR) |^E  ")
NOT_WHY = re.compile(r"\[IPKernelApp\] WARNING")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def why_it_failed(log: Path, most: int = 30) -> list[str]:
    """The lines of a failed part's log that say why (WHY), the last `most` of them; the log's last
    lines when none matches. A CI log may keep only its end: this puts the reason there too."""
    text = COLOUR.sub("", log.read_text(encoding="utf-8", errors="replace"))
    lines = [line.rstrip() for line in text.splitlines()]
    reasons = [line for line in lines if WHY.search(line) and not NOT_WHY.search(line)]
    return (reasons or lines)[-most:]


def finish_as_they_end(runnings: list[tuple]) -> list[tuple[str, int, float]]:
    """`finish` each part as soon as it ends (so its time is its own, not the wait for another);
    the results in the order given."""
    pending, done = list(runnings), {}
    while pending:
        for running in [r for r in pending if r[1].poll() is not None]:
            done[running[0]] = finish(running)
            pending.remove(running)
        time.sleep(0.2)
    return [done[running[0]] for running in runnings]


def main() -> int:
    """The strict book build and the tests that do not read the site, side by side (the build
    executes its chapters one after another), with the export and src checks (seconds) beside them;
    then, once the site exists, the tests that read it."""
    (export, src, book, tests, site_tests) = parts()
    logs = ROOT / "_build" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    logs_of_parts = {book[0]: logs / "book.log", tests[0]: logs / "pytest.log",
                     site_tests[0]: logs / "pytest-site.log"}
    building = start(*book, logs_of_parts[book[0]], env=build_env())
    testing = start(*tests, logs_of_parts[tests[0]], env=test_env())
    results = []
    for name, command in (export, src):       # seconds each, beside the two long parts
        print(f"\n=== make test: {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        status = subprocess.run(command, cwd=ROOT, env=test_env()).returncode
        results.append((name, status, time.monotonic() - started))
    results.append(finish(building))
    # A build that failed on a warning (-W --keep-going) still wrote the whole site, and its tests
    # say what else is wrong with it; only without a site (a cell raised, npm failed) they cannot run.
    site_log = logs_of_parts[site_tests[0]]
    if (site_dir() / "index.html").exists():
        checking_site = start(*site_tests, site_log, env=test_env())
        results += finish_as_they_end([testing, checking_site])
    else:
        results += finish_as_they_end([testing])
        site_log.write_text("not run: the book build wrote no site\n", encoding="utf-8")
        print(f"\n=== make test: {site_tests[0]}: not run, the book build wrote no site", flush=True)
        results.append((site_tests[0], None, 0.0))

    failed = [name for name, status, _ in results if status not in (0, None)]
    not_run = [name for name, status, _ in results if status is None]
    print("\n=== make test summary")
    for name, status, seconds in results:
        verdict = "PASS" if status == 0 else "NOT RUN" if status is None else f"FAIL (exit {status})"
        print(f"  {verdict:<14} {name:<26} {seconds:6.1f} s")
    if torch_available():
        print("  PyTorch parity tests: run (torch is importable)")
    else:
        print("  PyTorch parity tests: SKIPPED (torch is not importable here; "
              "`.venv/bin/pip install torch==2.13.0` runs them, as CI does)")
    if failed:
        print("  failed: " + ", ".join(failed) + " (see its output above)")
    if not_run:
        print("  not run: " + ", ".join(not_run) + " (no site to read)")
    # The build's reasons come last: a CI log may keep only its end, and a failed build is often
    # the cause of what failed beside it.
    for name, log in sorted(logs_of_parts.items(), key=lambda item: item[0] == book[0]):
        if name in failed:
            print(f"\n=== why {name} failed ({log.relative_to(ROOT)}, the lines that say so):")
            most = 40 if name == book[0] else 12
            print("\n".join("  | " + line[:300] for line in why_it_failed(log, most)))
    failed += not_run
    print(f"make test: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_src_checks() if sys.argv[1:] == ["--src"] else main())
