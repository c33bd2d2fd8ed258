"""pytest plugin for `tito test` / `tito module complete`: guard the package, summarise failures.

Loaded with `-p tito.pytest_plugin`. Before any test runs it checks that `import tinytorch` is the
package named by $TITO_EXPECT_PACKAGE (the learner's), and stops the session otherwise: a check that
quietly ran against the reference would call wrong code right. For each failing test it records a
few lines (the test, the failing line, the values compared, the learner's function where it broke)
and writes them, with the counts, as JSON to $TITO_REPORT. Values are summarised as in the
notebook checks (`tito.report`): an array is its shape, dtype and a few values, never a dump.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from tito.report import compared, difference, explained_pair, install_summaries, short_lines, summarise

_FAILURES: list[dict] = []
_COUNTS = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
_SKIPS: list[str] = []
_PASSED_BY_FILE: dict[str, int] = {}


def pytest_configure(config) -> None:
    install_summaries()


def pytest_sessionstart(session) -> None:
    expected = os.environ.get("TITO_EXPECT_PACKAGE")
    if not expected:
        return
    import tinytorch

    actual = Path(tinytorch.__file__).resolve().parent
    if actual != Path(expected).resolve():
        raise pytest.UsageError(f"`import tinytorch` gives {actual}, not the learner's package "
                                f"{expected}: refusing to run the checks against the wrong code")


def _what_it_checks(item, most: int = 240) -> str:
    """The first paragraph of the test's docstring on one line (what the test checks, in the
    course's words), shortened to `most` characters; empty when it has none."""
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return paragraph if len(paragraph) <= most else paragraph[:most - 3].rstrip() + "..."


UNRELIABLE = ("failed once, then passed on the same input: the result changes from run to run\n"
              "(an np.empty array read before it is filled? something kept from an earlier call?); "
              "the first run:")


def _first_raised(excinfo):
    """(excinfo, unreliable): a group of exceptions (hypothesis reports a check that failed once and
    then passed on the same input as a FlakyFailure holding what was raised) is told by its first
    member, which says where and with what values; `unreliable` when the group is hypothesis's."""
    value = excinfo.value
    if isinstance(value, BaseExceptionGroup) and value.exceptions and value.exceptions[0].__traceback__:
        return pytest.ExceptionInfo.from_exception(value.exceptions[0]), type(value).__name__.startswith("Flaky")
    return excinfo, False


def _summary(item, excinfo, when: str) -> dict:
    excinfo, unreliable = _first_raised(excinfo)
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
        "message": short_lines("\n".join(([UNRELIABLE] if unreliable else []) + lines).strip("\n"), 10),
    }
    about = _what_it_checks(item)
    if about:
        summary["about"] = about
    if in_test:
        entry = in_test[-1]
        summary["line"] = f"{Path(test_path).name}:{entry.lineno + 1}: {str(entry.statement).strip()}"
    if in_package:
        # The innermost frame in a function the learner writes is where their code broke; when the
        # error itself came from provided code deeper down, that frame is shown as well.
        root = str(item.config.rootpath)
        learners = _learner_functions(root)
        theirs = [e for e in in_package if _owner(e) in learners]
        entry = theirs[-1] if theirs else in_package[-1]
        summary["where"] = _frame_text(entry, reference, learners, root)
        if entry is not in_package[-1]:
            summary["raised"] = _frame_text(in_package[-1], reference, learners, root)
    pair = explained_pair("\n".join(lines))
    if pair:
        summary["got"], summary["expected"] = pair
    values = _values(in_test[-1]) if in_test else None
    if values is not None:
        got, expected = values
        summary["got"], summary["expected"] = summarise(got), summarise(expected)
        summary["difference"] = difference(got, expected)
    summary["where_lines"] = [l.strip() for l in lines[1:] if l.strip().startswith("+")][:4]
    return summary


@functools.lru_cache(maxsize=4)
def _learner_functions(root: str) -> frozenset:
    """The functions a learner writes (every solution block's owner, "Class.method" or "function"),
    from the course's sources; empty when they cannot be read (the report then says less)."""
    try:
        from tito import grading
        from tito.workspace import modules
        return frozenset(body.owner for module in modules(Path(root)) for body in grading.course_bodies(module))
    except Exception:
        return frozenset()


def _owner(entry) -> str:
    """The frame's function as a solution block's owner names it: a rule defined inside a learner's
    function (a backward closure) belongs to that function."""
    code = entry.frame.code.raw
    return getattr(code, "co_qualname", code.co_name).split(".<locals>", 1)[0]


def _provided_lines(root: str, owner: str) -> frozenset:
    """The lines (stripped) of `owner`'s function in the course's source that lie outside its
    solution blocks: the course's code around the learner's (checks, hand-offs, returns)."""
    return _provided_by_function(root).get(owner, frozenset())


@functools.lru_cache(maxsize=4)
def _provided_by_function(root: str) -> dict:
    """{qualified name: `_provided_lines`} for every function of the course's sources, read once
    per course (the first module that defines a name wins); empty when the sources cannot be read
    (every line of a learner's function is then called theirs)."""
    import ast

    from tito import cells as nb
    found: dict = {}
    try:
        from tito.workspace import modules
        for module in modules(Path(root)):
            source = module.source.read_text(encoding="utf-8")
            lines = source.splitlines()
            for node, qualname in _functions(ast.parse(source)):
                provided, inside = set(), False
                for line in lines[node.lineno - 1:node.end_lineno]:
                    text = line.strip()
                    if text in (nb.BEGIN, nb.END):
                        inside = text == nb.BEGIN
                    elif text and not inside:
                        provided.add(text)
                found.setdefault(qualname, frozenset(provided))
    except Exception:
        return {}
    return found


def _functions(tree, prefix: str = ""):
    """(node, qualified name) of every function and method defined at module or class level."""
    import ast

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, prefix + node.name
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def _frame_text(entry, reference: str, learners: frozenset, root: str) -> str:
    path = Path(str(entry.path))
    owner = _owner(entry)
    statement = (str(entry.statement).strip().splitlines() or [""])[0].strip()
    if not reference:                      # the checks run on the course's own package
        whose = "reference"
    elif owner in learners and str(path.resolve()).startswith(reference) \
            and statement not in _provided_lines(root, owner):
        whose = "yours"
    else:                                  # the course's code, in the learner's package or linked to it
        whose = "provided"
    return (f"{entry.name} in tinytorch/{'/'.join(path.parts[path.parts.index('tinytorch') + 1:])}"
            f":{entry.lineno + 1} ({whose}): {str(entry.statement).strip()}")


def _values(entry):
    """(got, expected) of the failing line of the test, read back from its frame (tito.report)."""
    try:
        source = Path(str(entry.path)).read_text(encoding="utf-8")
        return compared(entry.frame.raw, entry.lineno + 1, source)
    except Exception:
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None:
        _FAILURES.append(_summary(item, call.excinfo, call.when))


def pytest_collectreport(report) -> None:
    """A test file that cannot even be imported is a failure of its own (named by its file)."""
    if report.failed:
        _COUNTS["error"] += 1
        text = str(report.longrepr)
        _FAILURES.append({"test": Path(report.nodeid.split("::", 1)[0]).name or report.nodeid,
                          "stage": "collect", "error": "the test file could not be imported",
                          "message": short_lines(text.strip()[-2000:], 10)})


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
