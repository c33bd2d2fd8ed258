"""Run a learner's notebook as its own check: every code cell in order, as `__main__`, as Jupyter would.

    python -P -m tito.notebook_runner NOTEBOOK REPORT.json

`tito module complete` starts this in a fresh process whose `import tinytorch` is the learner's
staged package (PYTHONPATH; `-P` keeps the current folder off sys.path). The notebook's inline checks
run under `if __name__ == "__main__":`, exactly as in Jupyter. Asserts are rewritten the way pytest
does it, with values summarised (`tito.report`), so a failing check reports what it compared.

Every failure is reported, not just the first: a cell that fails is recorded and the run goes on
with the next cell, and every `test_unit_*` function the notebook defines runs once (those never
called, or never reached because an earlier line of their cell failed, are called at the end). A
later failure may only follow from an earlier one (a cell that failed defines nothing after the
failing line), so the report keeps them in order and the first is marked. The JSON report: ok,
checks (the test_unit_* names that passed), failures (each: cell, check, error, message, got,
expected, difference, the check's line, the learner's line where it happened), failure (the first,
or null), output (what the cells printed).
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import json
import linecache
import os
import re
import sys
import traceback
from pathlib import Path

from tito.cells import read_notebook
from tito.report import compared, difference, explained_pair, install_summaries, short_lines, summarise

CHECK_PREFIX = "test_unit_"
_DECORATOR = "__tito_check__"


def got_expected(message: str) -> tuple[str, str] | None:
    """("got", "expected") from a rewritten assert's message, else None (see tito.report)."""
    return explained_pair(message)


_IPYTHON_SYNTAX = re.compile(r"^\s*[%!]|\?\s*$|^\s*\w+\s*=\s*[%!]", re.MULTILINE)


def _ipython_to_python(source: str) -> str:
    """Cell source with IPython syntax (magics, `!cmd`, `x?`) turned into plain Python, when IPython
    is here (and imported only for a cell that may have such syntax: the import costs a second)."""
    if not _IPYTHON_SYNTAX.search(source):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def _check_names(tree: ast.Module) -> list[str]:
    """The test_unit_* functions a cell defines, each decorated so that its outcome is recorded."""
    defined = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith(CHECK_PREFIX):
            defined.append(node.name)
            node.decorator_list.insert(0, ast.Name(id=_DECORATOR, ctx=ast.Load()))
    ast.fix_missing_locations(tree)
    return defined


def _values(error: BaseException) -> dict:
    """got / expected / difference, read back from the innermost cell frame whose failing line
    compared two values (a helper's assert, else the check's own line)."""
    frames, tb = [], error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<cell "):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    for frame, lineno in reversed(frames):
        lines = linecache.getlines(frame.f_code.co_filename)
        pair = compared(frame, lineno, "".join(lines)) if lines else None
        if pair is not None:
            got, expected = pair
            return {"got": summarise(got), "expected": summarise(expected),
                    "difference": difference(got, expected)}
    return {}


def _frame_text(frame) -> str:
    return f"{frame.name} ({frame.filename.strip('<>')}, line {frame.lineno}): {frame.line}"


def describe_failure(error: BaseException, cell: int | None, package: str | None) -> dict:
    """What a learner needs: which check, what it compared, where in their code it broke."""
    frames = traceback.extract_tb(error.__traceback__)
    check = next((f for f in reversed(frames) if f.name.startswith(CHECK_PREFIX)), None)
    in_cells = [f for f in frames if f.filename.startswith("<cell ")]
    theirs = [f for f in frames if f.filename.startswith("<cell ")
              or (package and os.path.abspath(f.filename).startswith(package))]
    deepest = theirs[-1] if theirs else (frames[-1] if frames else None)
    # The notebook's code is the learner's: its innermost frame is where their code broke; an error
    # raised deeper, in the package (a Tensor operation it called), is shown as well.
    where = in_cells[-1] if in_cells else deepest
    message = short_lines(str(error).strip())
    compared_text = got_expected(message)
    failure = {
        "got": compared_text[0] if compared_text else None,
        "expected": compared_text[1] if compared_text else None,
        "difference": None,
        "cell": cell,
        "check": check.name if check else None,
        "check_line": f"{check.filename.strip('<>')}, line {check.lineno}: {check.line}" if check else None,
        "error": type(error).__name__,
        "message": message,
        "where": _frame_text(where) if where else None,
        "raised": _frame_text(deepest) if deepest is not None and deepest is not where else None,
        "traceback": "".join(traceback.format_exception(error))[-6000:],
    }
    try:
        failure.update({k: v for k, v in _values(error).items() if v is not None})
    except Exception:       # reading the values back must never hide the failure itself
        pass
    return failure


class _Recorder:
    """Outcome of every test_unit_* call: the decorator the runner adds to each check's def."""

    def __init__(self, package: str | None):
        self.package = package
        self.passed: list[str] = []
        self.failed: dict[str, dict] = {}
        self.failures: list[dict] = []
        self.errors: list[BaseException] = []      # kept alive: ids of dead objects are reused
        self.cell: int | None = None
        self.defined_in: dict[str, int] = {}

    def seen(self, error: BaseException) -> bool:
        return any(error is known for known in self.errors)

    def decorate(self, function):
        @functools.wraps(function)
        def check(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                if function.__name__ not in self.failed and not self.seen(error):
                    self.record(error, self.cell or self.defined_in.get(function.__name__))
                    self.failed[function.__name__] = self.failures[-1]
                raise
            if function.__name__ not in self.passed and function.__name__ not in self.failed:
                self.passed.append(function.__name__)
            return result
        return check

    def record(self, error: BaseException, cell: int | None) -> None:
        self.errors.append(error)
        failure = describe_failure(error, cell, self.package)
        failure["first"] = not self.failures
        self.failures.append(failure)


def run(notebook: Path) -> dict:
    report: dict = {"ok": False, "checks": [], "failures": [], "failure": None, "cells_run": 0,
                    "cells_failed": 0, "package": None}
    package = os.environ.get("TITO_EXPECT_PACKAGE")
    try:
        import tinytorch
    except BaseException as error:  # the learner's package may not even import
        failure = describe_failure(error, None, package)
        failure.update(stage="import tinytorch", first=True)
        report["failures"] = [failure]
        report["failure"] = failure
        return report
    report["package"] = os.path.dirname(os.path.abspath(tinytorch.__file__))
    if package and os.path.abspath(package) != report["package"]:
        raise SystemExit(f"refusing to check: `import tinytorch` gives {report['package']}, "
                         f"not the learner's package {package}")

    from _pytest.assertion.rewrite import rewrite_asserts

    install_summaries()
    recorder = _Recorder(package)
    namespace = {"__name__": "__main__", "__builtins__": builtins, _DECORATOR: recorder.decorate}
    defined: list[str] = []
    for number, cell in enumerate(read_notebook(notebook), start=1):
        if cell.kind != "code" or not cell.source.strip():
            continue
        filename = f"<cell {number}>"
        source = _ipython_to_python(cell.source)
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        recorder.cell = number
        try:
            tree = ast.parse(source, filename=filename)
            for name in _check_names(tree):
                recorder.defined_in.setdefault(name, number)
                if name not in defined:
                    defined.append(name)
            rewrite_asserts(tree, source.encode(), None, None)
            exec(compile(tree, filename, "exec"), namespace)
        except BaseException as error:
            if not recorder.seen(error):
                recorder.record(error, number)
            report["cells_failed"] += 1
            continue
        report["cells_run"] += 1
    recorder.cell = None
    for name in defined:        # checks never called, or not reached because their cell failed first
        if name not in recorder.passed and name not in recorder.failed and callable(namespace.get(name)):
            try:
                namespace[name]()
            except BaseException as error:
                if not recorder.seen(error):
                    recorder.record(error, recorder.defined_in.get(name))
    report["checks"] = list(recorder.passed)
    report["failures"] = recorder.failures
    report["failure"] = recorder.failures[0] if recorder.failures else None
    report["ok"] = not recorder.failures
    return report


def main(argv: list[str] | None = None) -> int:
    notebook, destination = (argv if argv is not None else sys.argv[1:])
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        report = run(Path(notebook))
    report["output"] = output.getvalue()[-20000:]
    Path(destination).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
