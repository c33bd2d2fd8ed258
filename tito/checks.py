"""The checks tito runs on a learner's code: compile, the notebook's own checks, the module's tests.

Each check that runs code runs it in a fresh process whose `import tinytorch` is a given learner
package (`learner_env`), started with `python -P` so the clone's own `tinytorch/` folder (the
reference) can never shadow it, and in a temporary folder so nothing it writes lands in the clone.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tito.cells import Cell
from tito.workspace import learner_env


@dataclass
class CompileError:
    cell: int            # 1-based position in the notebook (markdown cells count)
    line: int
    message: str
    text: str


def compile_errors(cells: list[Cell]) -> list[CompileError]:
    """Every code cell that is not valid Python (IPython magics are allowed), with cell and line."""
    from tito.notebook_runner import _ipython_to_python

    errors = []
    for number, cell in enumerate(cells, start=1):
        if cell.kind != "code":
            continue
        try:
            ast.parse(_ipython_to_python(cell.source), filename=f"<cell {number}>")
        except SyntaxError as error:
            text = (error.text or "").rstrip("\n")
            errors.append(CompileError(number, error.lineno or 0, error.msg, text.strip()))
    return errors


@dataclass
class Outcome:
    ok: bool
    passed: int = 0
    failures: list[dict] = field(default_factory=list)
    output: str = ""
    notes: list[str] = field(default_factory=list)
    passed_by_file: dict[str, int] = field(default_factory=dict)


def run_notebook(notebook: Path, package: Path, timeout: float = 900) -> Outcome:
    """The notebook's cells and inline checks, against `package`."""
    with tempfile.TemporaryDirectory(prefix="tito-run-") as folder:
        report_path = Path(folder) / "report.json"
        result = subprocess.run([sys.executable, "-P", "-m", "tito.notebook_runner", str(notebook),
                                 str(report_path)], cwd=folder, env=learner_env(package),
                                capture_output=True, text=True, timeout=timeout)
        if not report_path.exists():
            return Outcome(False, failures=[{"error": "the check run crashed", "message":
                                             (result.stderr or result.stdout)[-3000:]}],
                           output=result.stdout + result.stderr)
        report = json.loads(report_path.read_text(encoding="utf-8"))
    failures = report.get("failures") or ([report["failure"]] if report.get("failure") else [])
    return Outcome(bool(report["ok"]), passed=len(report["checks"]), failures=failures,
                   output=report.get("output", "") + result.stderr, notes=report["checks"])


def _unused_plugins(test_files: list[Path], root: Path) -> list[str]:
    """`-p no:NAME` for installed pytest plugins these tests do not use: tito runs the tests in one
    process (no xdist), and the Hypothesis and AnyIO plugins cost a second of imports to a run that
    has no test of theirs."""
    texts = []
    for path in [*test_files, root / "tests" / "conftest.py"]:
        if not path.exists():
            continue
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            texts.append("hypothesis anyio")        # unreadable: keep every plugin
    blocked = ["xdist", "xdist.looponfail"]
    blocked += [] if any("hypothesis" in text for text in texts) else ["hypothesispytest"]
    blocked += [] if any("anyio" in text for text in texts) else ["anyio"]
    return [option for name in blocked for option in ("-p", f"no:{name}")]


def run_tests(test_files: list[Path], package: Path, root: Path, verbose: bool = False,
              timeout: float = 1800) -> Outcome:
    """pytest on `test_files` against `package`, with tito's guard and failure summaries."""
    if not test_files:
        return Outcome(True, notes=["no test files"])
    with tempfile.TemporaryDirectory(prefix="tito-test-") as folder:
        report_path = Path(folder) / "report.json"
        env = learner_env(package)
        env["TITO_REPORT"] = str(report_path)
        # `-m "not torch"`: a graded file's PyTorch parity tests grade nothing either (Module.test_files).
        command = [sys.executable, "-P", "-m", "pytest", "-p", "tito.pytest_plugin", "-p", "no:cacheprovider",
                   *_unused_plugins(test_files, root), "-m", "not torch",
                   "--rootdir", str(root), "-c", str(root / "pyproject.toml"),
                   *(["--tb=long", "-v"] if verbose else ["-q", "--tb=no", "--no-header", "-rN"]),
                   *map(str, test_files)]
        result = subprocess.run(command, cwd=folder, env=env, capture_output=not verbose, text=True,
                                timeout=timeout)
        if not report_path.exists():
            output = (result.stdout or "") + (result.stderr or "")
            return Outcome(False, failures=[{"error": "pytest did not run", "message": output[-3000:]}],
                           output=output)
        report = json.loads(report_path.read_text(encoding="utf-8"))
    counts = report["counts"]
    ok = result.returncode == 0 and counts["failed"] == 0 and counts["error"] == 0
    if not ok and not report["failures"]:
        output = (result.stdout or "") + (result.stderr or "")
        report["failures"].append({"error": f"pytest stopped (exit {result.returncode})",
                                   "message": output.strip()[-1500:]})
    notes = [f"{counts['skipped']} skipped"] if counts["skipped"] else []
    return Outcome(ok, passed=counts["passed"], failures=report["failures"],
                   output=(result.stdout or "") + (result.stderr or ""), notes=notes,
                   passed_by_file=report["passed_by_file"])
