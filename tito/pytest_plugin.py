"""pytest plugin for `tito test` / `tito module complete`: guard the package, summarise failures.

Loaded with `-p tito.pytest_plugin`. Before any test runs it checks that `import tinytorch` is the
package named by $TITO_EXPECT_PACKAGE (the learner's), and stops the session otherwise: a check that
quietly ran against the reference would call wrong code right. For each failing test it records a
few lines (the test, the failing line, the values compared, the learner's function where it broke)
and writes them, with the counts, as JSON to $TITO_REPORT.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tito.notebook_runner import got_expected

_FAILURES: list[dict] = []
_COUNTS = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
_SKIPS: list[str] = []
_PASSED_BY_FILE: dict[str, int] = {}


def pytest_sessionstart(session) -> None:
    expected = os.environ.get("TITO_EXPECT_PACKAGE")
    if not expected:
        return
    import tinytorch

    actual = Path(tinytorch.__file__).resolve().parent
    if actual != Path(expected).resolve():
        raise pytest.UsageError(f"`import tinytorch` gives {actual}, not the learner's package "
                                f"{expected}: refusing to run the checks against the wrong code")


def _summary(item, excinfo, when: str) -> dict:
    package = os.environ.get("TITO_EXPECT_PACKAGE", "")
    reference = str(Path(package).resolve()) if package else ""
    entries = list(excinfo.traceback)
    test_path = str(item.path)
    in_test = [e for e in entries if str(e.path) == test_path]
    in_package = [e for e in entries if "tinytorch" in Path(str(e.path)).parts]
    message = excinfo.exconly(tryshort=True)
    lines = message.splitlines()
    if lines and lines[0].startswith(excinfo.typename + ": "):
        lines[0] = lines[0][len(excinfo.typename) + 2:]
    summary = {
        "test": f"{item.path.name}::{item.nodeid.split('::', 1)[-1]}",
        "stage": when,
        "error": excinfo.typename,
        "message": "\n".join(lines[:10]),
    }
    if in_test:
        entry = in_test[-1]
        summary["line"] = f"{Path(test_path).name}:{entry.lineno + 1}: {str(entry.statement).strip()}"
    if in_package:
        entry = in_package[-1]
        path = Path(str(entry.path))
        whose = "yours" if reference and str(path.resolve()).startswith(reference) else "reference"
        summary["where"] = (f"{entry.name} in tinytorch/{'/'.join(path.parts[path.parts.index('tinytorch') + 1:])}"
                            f":{entry.lineno + 1} ({whose}): {str(entry.statement).strip()}")
    compared = got_expected("\n".join(lines))
    if compared:
        summary["got"], summary["expected"] = compared
    summary["where_lines"] = [l.strip() for l in lines[1:] if l.strip().startswith("+")][:4]
    return summary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None:
        _FAILURES.append(_summary(item, call.excinfo, call.when))


def pytest_runtest_logreport(report) -> None:
    if report.when == "call":
        if report.passed:
            _COUNTS["passed"] += 1
            name = Path(report.nodeid.split("::", 1)[0]).name
            _PASSED_BY_FILE[name] = _PASSED_BY_FILE.get(name, 0) + 1
        elif report.failed:
            _COUNTS["failed"] += 1
    elif report.failed:
        _COUNTS["error"] += 1
    if report.skipped:
        _COUNTS["skipped"] += 1
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPS.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus) -> None:
    destination = os.environ.get("TITO_REPORT")
    if destination:
        Path(destination).write_text(json.dumps({"counts": _COUNTS, "failures": _FAILURES,
                                                 "skips": _SKIPS[:50], "exit": int(exitstatus),
                                                 "passed_by_file": _PASSED_BY_FILE},
                                                indent=1), encoding="utf-8")
