"""Grading a module one function at a time: the graded tests that call a function decide its points.

A module's nbgrader assignment has one graded cell per function the learner writes
(`classroom/rubric.yml`, `tito/rubric.py`). The cell calls `check("08_training", "clip_grad_norm")`,
which

1. reads the learner's solution blocks from the cells the kernel ran (a cell run twice counts once,
   its last run), keyed as `tito module complete` keys them;
2. grades them (`grade`), each function on its own tests, the rubric's `tests` (the graded tests
   that call it), run with pytest in a separate process on a package built as tito builds a
   learner's (`tito/package.py`): the course's package with the learner's bodies in its blocks;
3. prints what passed or failed and, if the function failed, raises `CheckFailed`: nbgrader gives
   the cell 0 points, else all of its points.

The rule (`grade`): a function not written (its stub) or whose def line changed earns nothing, and
nothing runs for it (its tests are, by the rubric's definition, those that fail on its stub). The
written functions run together, on the package with all of them in it; a function whose tests all
pass there earns its points; a function with failing tests has those run again on the course's
package with only it the learner's, and earns its points if they pass there. So every test of a
function passes with the learner's code, or with only that function theirs: a wrong function loses
exactly its points, never those of the functions that call it, and a complete notebook costs one
pytest run.

The learner's code never runs in the grader's process: nbgrader runs the notebook in a kernel, the
tests run in a child of that kernel. The first graded cell grades every function of the module and
the verdicts are kept for the kernel's life, keyed by each function's code; the other cells print
theirs. Runs of functions graded alone go `jobs` at a time (`TITO_GRADE_JOBS`, default: the cores).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tito import cells as nb
from tito import package, solutions
from tito.report import short_lines
from tito.workspace import Module, find_module, find_root, learner_env

PER_RUN_TIMEOUT = float(os.environ.get("TITO_GRADE_TIMEOUT", "600"))


class CheckFailed(AssertionError):
    """A graded function failed its checks (the message says which and how)."""


@dataclass
class Verdict:
    owner: str
    ok: bool
    tests: int = 0                     # tests selected for it
    failures: list[dict] = field(default_factory=list)
    reason: str = ""                   # why it was not run: not written, def line changed, ...
    seconds: float = 0.0

    def report(self, points: float | None = None) -> str:
        worth = f" ({_points(points)} point{'s' if points != 1 else ''})" if points is not None else ""
        if self.ok:
            return f"{self.owner}{worth}: the {self.tests} graded test(s) that call it pass on your code."
        if self.reason:
            return f"{self.owner}{worth}: {self.reason}"
        lines = [f"{self.owner}{worth}: {len(self.failures)} of the {self.tests} graded test(s) that call it "
                 "fail on your code:"]
        for failure in self.failures[:6]:
            lines.append(f"  x {failure.get('test') or failure.get('stage') or 'pytest'}")
            if failure.get("line"):
                lines.append(f"      check:    {failure['line']}")
            if failure.get("got") is not None:
                lines.append(f"      got:      {failure['got']}")
                lines.append(f"      expected: {failure.get('expected')}")
            message = (failure.get("message") or "").strip().splitlines()
            lines.append(f"      error:    {failure.get('error', '')}: {message[0] if message else ''}")
            for line in message[1:3]:
                lines.append(f"                {line}")
            if failure.get("where"):
                lines.append(f"      in:       {failure['where']}")
            if failure.get("raised"):
                lines.append(f"      raised:   {failure['raised']}")
        if len(self.failures) > 6:
            lines.append(f"  ... and {len(self.failures) - 6} more")
        return "\n".join(lines)


def _points(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------- the learner's blocks

def course_bodies(module: Module) -> list[solutions.Body]:
    return solutions.bodies(solutions.course_cells(module), module.number)


def bodies_from_sources(sources: list[str], chapter: str) -> list[solutions.Body]:
    """The solution blocks of cells given as their sources, in order. A cell seen more than once
    (the same blocks, as when a cell is run again) counts once, in its place, with its last version."""
    latest: dict[tuple[str, ...], str] = {}
    for source in sources:
        try:
            owners = tuple(b.owner for b in nb.solution_blocks([nb.Cell("code", source)], chapter))
        except ValueError:
            continue                       # unbalanced fences: this cell's blocks cannot be read
        if owners:
            latest.pop(owners, None)        # keep the order of the last run
            latest[owners] = source
    return solutions.bodies([nb.Cell("code", s) for s in latest.values()], chapter)


def kernel_sources() -> list[str]:
    """The sources of the cells this IPython kernel ran, in order."""
    try:
        ip = get_ipython()                 # noqa: F821 (defined inside IPython)
    except NameError:
        ip = None
    if ip is None:
        raise RuntimeError("graded checks run in a Jupyter kernel (nbgrader, JupyterLab)")
    return [s for s in ip.history_manager.input_hist_raw if s]


def bodies_of(owner: str, bodies: list[solutions.Body]) -> list[solutions.Body]:
    return [b for b in bodies if b.owner == owner]


def _digest(bodies: list[solutions.Body]) -> str:
    text = json.dumps([[b.key, b.signature, [line.rstrip() for line in b.reindented("")]] for b in bodies])
    return hashlib.sha256(text.encode()).hexdigest()


def _same_code(mine: list[solutions.Body], course: list[solutions.Body]) -> bool:
    def norm(body: solutions.Body) -> list[str]:
        lines = [line.rstrip() for line in body.reindented("")]
        return [line for line in lines if line]
    return len(mine) == len(course) and all(a.key == b.key and a.signature == b.signature and norm(a) == norm(b)
                                            for a, b in zip(mine, course))


# ---------------------------------------------------------------- packages and pytest runs

def build_package(root: Path, module: Module, bodies: list[solutions.Body] | None, destination: Path) -> Path:
    """`destination/tinytorch`: the course's package with `bodies` in the module's blocks (none: the
    course's own code). Returns `destination`, the folder to put first on sys.path."""
    stored = {module.folder: bodies} if bodies else {}
    result = package.build(root, stored)
    package.materialize(result, destination)
    return destination


_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


def _stop_all() -> None:
    with _LOCK:
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def run_tests(root: Path, folder: Path, tests: list[str], timeout: float = PER_RUN_TIMEOUT) -> dict:
    """pytest on `tests` ("test_x.py::test_y") against the package in `folder`, in a new process
    group; the report of tito's pytest plugin: counts, failures (test, line, got/expected)."""
    report_path = folder / "report.json"
    env = learner_env(folder)
    env.update(TITO_REPORT=str(report_path), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    work = folder / "run"
    work.mkdir(exist_ok=True)
    command = [sys.executable, "-P", "-m", "pytest", "-p", "tito.pytest_plugin", "-p", "no:cacheprovider",
               "--rootdir", str(root), "-c", str(root / "pyproject.toml"), "-q", "--tb=no", "--no-header", "-rN",
               *[str(root / "tests" / test) for test in tests]]
    process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    with _LOCK:
        _RUNNING.add(process)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.communicate()
        return {"counts": {"passed": 0, "failed": 0}, "failures": [
            {"stage": "timeout", "error": "TimeoutError", "message": f"the tests did not finish in {timeout:.0f} s"}]}
    finally:
        with _LOCK:
            _RUNNING.discard(process)
    if not report_path.exists():
        return {"counts": {"passed": 0, "failed": 0}, "failures": [
            {"stage": "pytest", "error": "pytest did not run", "message": short_lines(output.strip()[-1500:], 10)}]}
    report = json.loads(report_path.read_text(encoding="utf-8"))
    if process.returncode not in (0, 1) and not report["failures"]:
        report["failures"].append({"stage": "pytest", "error": f"pytest stopped (exit {process.returncode})",
                                   "message": short_lines(output.strip()[-1500:], 10)})
    return report


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        process.kill()


def function_id(test: str) -> str:
    """"test_x.py::test_y[3-a]" -> "test_x.py::test_y"."""
    return re.sub(r"\[.*\]$", "", test)


# ---------------------------------------------------------------- grading

def grade(root: Path, module: Module, mine: list[solutions.Body], checks: dict, jobs: int | None = None,
          owners: list[str] | None = None) -> dict[str, Verdict]:
    """{owner: Verdict} for `owners` (default: every check of the module's rubric `checks`, owner:
    tito.rubric.Check) given the learner's bodies `mine`.

    A function not written (a stub) or whose def line changed gets 0 points, and nothing runs for
    it. The written ones are graded together first: their tests on the package with all of them in
    it (and the course's code in every other block), one pytest run. A function whose tests all
    pass there earns its points. For a function with failing tests, those tests run again on the
    course's package with only that function the learner's (one run per function; those whose code
    is the course's own share one run on the course's package): it earns its points if they pass
    there. So a mistake in one function never costs another function its points."""
    owners = list(checks) if owners is None else owners
    course = course_bodies(module)
    verdicts: dict[str, Verdict] = {}
    written: dict[str, list[solutions.Body]] = {}
    for owner in checks:
        theirs, ours = bodies_of(owner, mine), bodies_of(owner, course)
        use, conflicts = solutions.match(module.folder, theirs, ours)
        if len(use) == len(ours):
            written[owner] = theirs
            continue
        if owner not in owners:
            continue
        kinds = {c.kind for c in conflicts if c.owner == owner}
        if "changed" in kinds:
            reason = ("its def line differs from the course's (only the code between the fences is yours: put the "
                      "def line back as the notebook had it). Not graded: 0 points.")
        elif "unwritten" in kinds:
            reason = "not written yet (its block is still the stub). 0 points."
        else:
            reason = "its block is not in your notebook (or its cell never ran). 0 points."
        verdicts[owner] = Verdict(owner, False, len(checks[owner].tests), reason=reason)
    due = [o for o in owners if o in written]
    if not due:
        return verdicts
    scratch = Path(tempfile.mkdtemp(prefix="tito-grade-"))
    counter = iter(range(10 ** 6))

    def run(selection: dict[str, list[str]], bodies: list[solutions.Body] | None) -> dict[str, list[dict]]:
        """{owner: its failing tests} of one pytest run of {owner: tests} on a package."""
        folder = build_package(root, module, bodies, scratch / f"run{next(counter)}")
        tests = list(dict.fromkeys(t for names in selection.values() for t in names))
        failures = run_tests(root, folder, tests).get("failures", [])
        return {owner: [f for f in failures if _concerns(f, names)] for owner, names in selection.items()}

    def failed_tests(owner: str) -> list[str]:
        """The tests of `owner` that failed in the run together (all of them if the run broke)."""
        names = [function_id(f["test"]) for f in together[owner] if "::" in (f.get("test") or "")]
        if len(names) < len(together[owner]):
            return list(checks[owner].tests)
        return [t for t in checks[owner].tests if t in set(names)]

    try:
        started = time.monotonic()
        together = run({o: checks[o].tests for o in due}, [b for owner in due for b in written[owner]])
        again = [o for o in due if together[o]]
        for owner in due:
            if not together[owner]:
                verdicts[owner] = Verdict(owner, True, len(checks[owner].tests), seconds=time.monotonic() - started)
        others_are_course = lambda owner: all(_same_code(written[o], bodies_of(o, course))  # noqa: E731
                                              for o in due if o != owner)
        runs: list[tuple[dict[str, list[str]], list[solutions.Body] | None]] = []
        as_course = [o for o in again if _same_code(written[o], bodies_of(o, course))]
        for owner in again:
            if others_are_course(owner):        # the package of that run was already this one alone
                verdicts[owner] = Verdict(owner, False, len(checks[owner].tests), together[owner])
            elif owner not in as_course:
                runs.append(({owner: failed_tests(owner)}, written[owner]))
        if as_course and not all(o in verdicts for o in as_course):
            runs.append(({o: failed_tests(o) for o in as_course if o not in verdicts}, None))

        def alone(selection: dict[str, list[str]], bodies: list[solutions.Body] | None) -> None:
            began = time.monotonic()
            for owner, failures in run(selection, bodies).items():
                verdicts[owner] = Verdict(owner, not failures, len(checks[owner].tests), failures,
                                          seconds=time.monotonic() - began)

        if runs:
            with ThreadPoolExecutor(max_workers=max(1, min(len(runs), jobs or default_jobs()))) as pool:
                for future in [pool.submit(alone, group, bodies) for group, bodies in runs]:
                    future.result()
    except BaseException:
        _stop_all()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {o: verdicts[o] for o in owners if o in verdicts}


def _concerns(failure: dict, tests: list[str]) -> bool:
    """Whether a failure of a run counts against a function graded by `tests`."""
    test = failure.get("test")
    if not test:                                  # pytest or the package itself did not run
        return True
    if "::" not in test:                          # a test file that could not be collected
        return any(t.split("::", 1)[0] == test for t in tests)
    return function_id(test) in set(tests)


def default_jobs() -> int:
    try:
        return max(1, int(os.environ.get("TITO_GRADE_JOBS", "")))
    except ValueError:
        return max(1, min(4, os.cpu_count() or 1))


# ---------------------------------------------------------------- the graded cells

_RESULTS: dict[tuple[str, str, str], Verdict] = {}


_RUBRICS: dict = {}                      # course root -> its rubric, for the kernel's life


def check(module: str, owner: str) -> None:
    """The body of a graded cell: grade `owner` of `module` on the code this kernel ran; print the
    result; raise CheckFailed (0 points) unless every graded test that calls it passed."""
    __tracebackhide__ = True               # IPython shows the message, not this function's frames
    from tito.rubric import load

    root = find_root()
    mod = find_module(root, module)
    if root not in _RUBRICS:                # read once per kernel: every graded cell needs it
        _RUBRICS[root] = load(root, check_tests=False)
    rubric = _RUBRICS[root][mod.folder]
    if owner not in rubric.checks:
        raise CheckFailed(f"{owner} is not graded in module {mod.folder} (classroom/rubric.yml)")
    mine = bodies_from_sources(kernel_sources(), mod.number)
    key = {o: (mod.folder, o, _digest(bodies_of(o, mine))) for o in rubric.checks}
    if key[owner] not in _RESULTS:
        due = [o for o in rubric.checks if key[o] not in _RESULTS]
        for name, verdict in grade(root, mod, mine, rubric.checks, owners=due).items():
            _RESULTS[key[name]] = verdict
    verdict = _RESULTS[key[owner]]
    text = verdict.report(rubric.checks[owner].points)
    if verdict.ok:
        print(text)
        return
    raise CheckFailed(text)
