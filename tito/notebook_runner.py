"""Run a learner's notebook as its own check: every code cell in order, as `__main__`, as Jupyter would.

    python -P -m tito.notebook_runner NOTEBOOK REPORT.json

`tito module complete` starts this in a fresh process whose `import tinytorch` is the learner's
staged package (PYTHONPATH; `-P` keeps the current folder off sys.path). The notebook's inline checks
run under `if __name__ == "__main__":`, exactly as in Jupyter; a `test_unit_*` function that the
notebook defines but never calls is called at the end. Asserts are rewritten the way pytest does it, so
a failing check reports the values it compared. The first failing cell stops the run (later cells
depend on it). The JSON report: ok, checks (the test_unit_* names that passed), failure (cell, check,
error, the check's line, the learner's line where it happened), output (what the cells printed).
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import linecache
import os
import re
import sys
import traceback
from pathlib import Path

from tito.cells import read_notebook

CHECK_PREFIX = "test_unit_"
_COMPARED = re.compile(r"^(?:AssertionError:\s*)?assert (.+?) == (.+)$")


def got_expected(message: str) -> tuple[str, str] | None:
    """("got", "expected") from a rewritten `assert got == expected` message, else None."""
    match = _COMPARED.match(message.strip().splitlines()[0]) if message.strip() else None
    return (match[1], match[2]) if match else None


def _ipython_to_python(source: str) -> str:
    """Cell source with IPython syntax (magics, `!cmd`) turned into plain Python, when IPython is here."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return source
    return TransformerManager().transform_cell(source)


def _check_names(tree: ast.Module) -> tuple[list[str], list[str]]:
    """(test_unit_* functions the cell defines, test_unit_* functions it calls)."""
    defined, called = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith(CHECK_PREFIX):
            defined.append(node.name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id.startswith(CHECK_PREFIX):
            called.append(node.func.id)
    return defined, called


def describe_failure(error: BaseException, cell: int | None, package: str | None) -> dict:
    """What a learner needs: which check, what it compared, where in their code it broke."""
    frames = traceback.extract_tb(error.__traceback__)
    check = next((f for f in reversed(frames) if f.name.startswith(CHECK_PREFIX)), None)
    theirs = [f for f in frames if f.filename.startswith("<cell ")
              or (package and os.path.abspath(f.filename).startswith(package))]
    where = theirs[-1] if theirs else (frames[-1] if frames else None)
    message = str(error).strip()
    compared = got_expected(message)
    return {
        "got": compared[0] if compared else None,
        "expected": compared[1] if compared else None,
        "cell": cell,
        "check": check.name if check else None,
        "check_line": f"{check.filename.strip('<>')}, line {check.lineno}: {check.line}" if check else None,
        "error": type(error).__name__,
        "message": "\n".join(message.splitlines()[:12]),
        "where": (f"{where.name} ({where.filename.strip('<>')}, line {where.lineno}): {where.line}"
                  if where else None),
        "traceback": "".join(traceback.format_exception(error)),
    }


def run(notebook: Path) -> dict:
    report: dict = {"ok": False, "checks": [], "failure": None, "cells_run": 0, "package": None}
    package = os.environ.get("TITO_EXPECT_PACKAGE")
    try:
        import tinytorch
    except BaseException as error:  # the learner's package may not even import
        report["failure"] = describe_failure(error, None, package)
        report["failure"]["stage"] = "import tinytorch"
        return report
    report["package"] = os.path.dirname(os.path.abspath(tinytorch.__file__))
    if package and os.path.abspath(package) != report["package"]:
        raise SystemExit(f"refusing to check: `import tinytorch` gives {report['package']}, "
                         f"not the learner's package {package}")

    from _pytest.assertion.rewrite import rewrite_asserts

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    defined: list[str] = []
    called: set[str] = set()
    for number, cell in enumerate(read_notebook(notebook), start=1):
        if cell.kind != "code" or not cell.source.strip():
            continue
        filename = f"<cell {number}>"
        source = _ipython_to_python(cell.source)
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        try:
            tree = ast.parse(source, filename=filename)
            cell_defines, cell_calls = _check_names(tree)
            rewrite_asserts(tree, source.encode(), None, None)
            exec(compile(tree, filename, "exec"), namespace)
        except BaseException as error:
            report["failure"] = describe_failure(error, number, package)
            return report
        report["cells_run"] += 1
        defined += [name for name in cell_defines if name not in defined]
        for name in cell_calls:
            if name not in called and name in defined:
                called.add(name)
                report["checks"].append(name)
    for name in defined:
        if name not in called and callable(namespace.get(name)):
            try:
                namespace[name]()
            except BaseException as error:
                report["failure"] = describe_failure(error, None, package)
                return report
            report["checks"].append(name)
    report["ok"] = True
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
