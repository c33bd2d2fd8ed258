"""Derive the `tests` of every check in classroom/rubric.yml: the graded tests that call each function.

    python tools/rubric.py --derive            # rewrite the test lists (points and questions are kept)
    python tools/rubric.py --derive 08 03      # only these modules
    python tools/rubric.py --check             # the table matches the course (what `tito class` checks)

A graded test calls a function when it fails once that function's solution blocks raise
NotImplementedError and everything else is the course's code. For each function of each module
this builds that package (as tito builds a learner's, `tito/grading.py`), runs the module's graded
test files on it (not the PyTorch parity files), and lists the tests that failed, by name (every
parametrization of a test runs when it is graded). Tests that fail for no function are the module's
`untested`. Run it after changing a module's graded tests or its solution blocks; it takes a few
minutes. Points are the course's choice: edit them in the file, they survive a re-derive (a new
function gets 1 point).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tito import grading, rubric, solutions  # noqa: E402
from tito.workspace import find_module, modules  # noqa: E402

HEADER = """\
# The one rubric of the course: what each module's nbgrader assignment awards (`tito class`,
# INSTRUCTORS.md). Read by `make export` (the graded cells of classroom/source/) and by grading.
#
#   checks:    one per function the learner writes (a solution block's owner): its points, and the
#              graded tests that call it (those that fail when it is a stub). A graded cell runs
#              them on the course's package with only that function's code the learner's, so a
#              wrong function loses exactly its points. The test lists are derived, never typed:
#              `python tools/rubric.py --derive` (points and questions are kept).
#   untested:  the module's graded tests that call none of its functions (provided code).
#   questions: the chapter's "Check your understanding" questions, answered in the notebook and
#              graded by hand in formgrader: points, and what a full answer contains.
"""


def stub_of(body: solutions.Body) -> solutions.Body:
    line = f"{body.indent}raise NotImplementedError('stubbed by tools/rubric.py: {body.owner}')"
    return solutions.Body(body.key, body.owner, body.ordinal, body.signature, body.indent, [line])


def failing(module, owner: str | None, scratch: Path, index: int) -> set[str]:
    """Function-level ids of the graded tests that fail with `owner` stubbed (None: nothing)."""
    course = grading.course_bodies(module)
    bodies = [stub_of(b) if b.owner == owner else b for b in course] if owner else None
    folder = grading.build_package(ROOT, module, bodies, scratch / f"{module.folder}-{index}")
    tests = [p.name for p in rubric.graded_files(ROOT, module)]
    report = grading.run_tests(ROOT, folder, tests, timeout=900)
    failed = set()
    for failure in report.get("failures", []):
        test = failure.get("test")
        if test and "::" not in test and (ROOT / "tests" / test).is_file():
            failed.update(f"{test}::{name}" for name in rubric.test_names(ROOT / "tests" / test))
        elif not test:                  # the package does not even import: every test fails
            if owner is None:
                raise SystemExit(f"{module.folder}: the tests could not run on the course's code: {failure}")
            failed.update(f"{name}::{t}" for name in tests for t in rubric.test_names(ROOT / "tests" / name))
        else:
            failed.add(grading.function_id(test))
    return failed


def derive(selected: list[str], jobs: int) -> dict:
    data = rubric.read(ROOT) if (ROOT / rubric.RUBRIC).exists() else {"modules": {}}
    table = data["modules"]
    chosen = [find_module(ROOT, key) for key in selected] if selected else modules(ROOT)
    from tito import cells as nb
    with tempfile.TemporaryDirectory(prefix="tito-rubric-") as scratch_name:
        scratch = Path(scratch_name)
        for module in chosen:
            owners = list(dict.fromkeys(b.owner for b in nb.solution_blocks(solutions.course_cells(module),
                                                                            module.number)))
            entry = table.get(module.folder) or {}
            old = entry.get("checks") or {}
            if not owners:
                table[module.folder] = {k: v for k, v in entry.items() if k == "questions"}
                continue
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                baseline = pool.submit(failing, module, None, scratch, 0)
                runs = {owner: pool.submit(failing, module, owner, scratch, i + 1) for i, owner in enumerate(owners)}
                broken = baseline.result()
                if broken:
                    raise SystemExit(f"{module.folder}: graded tests fail on the course's own code: {sorted(broken)}")
                found = {owner: future.result() for owner, future in runs.items()}
            names = [f"{p.name}::{t}" for p in rubric.graded_files(ROOT, module) for t in rubric.test_names(p)]
            parity = {f"{p.name}::{t}" for p in rubric.graded_files(ROOT, module) for t in rubric.parity_tests(p)}
            checks = {}
            for owner in owners:
                tests = [t for t in names if t in found[owner] and t not in parity]
                if not tests:
                    raise SystemExit(f"{module.folder}: no graded test fails when {owner} is a stub: "
                                     "a function nothing checks cannot be graded; add a test")
                checks[owner] = {"points": (old.get(owner) or {}).get("points", 1), "tests": tests}
            new = {"checks": checks, "untested": [t for t in names if t in parity
                                                  or not any(t in f for f in found.values())]}
            if entry.get("questions"):
                new["questions"] = entry["questions"]
            table[module.folder] = new
            print(f"{module.folder}: " + ", ".join(f"{o} {len(c['tests'])}" for o, c in checks.items())
                  + f"; untested {len(new['untested'])}", flush=True)
    ordered = {m.folder: table.get(m.folder) or {} for m in modules(ROOT)}
    return {"modules": ordered}


def write(data: dict) -> None:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True)
    (ROOT / rubric.RUBRIC).parent.mkdir(parents=True, exist_ok=True)
    (ROOT / rubric.RUBRIC).write_text(HEADER + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--derive", action="store_true", help="rewrite the test lists")
    parser.add_argument("--check", action="store_true", help="only check the table against the course")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("modules", nargs="*", help="module numbers or names (default: all)")
    args = parser.parse_args(argv)
    if args.derive:
        write(derive(args.modules, args.jobs))
    try:
        table = rubric.load(ROOT)
    except rubric.RubricError as error:
        print(error, file=sys.stderr)
        return 1
    for folder, entry in table.items():
        if entry.graded():
            print(f"  {folder}: {len(entry.checks)} functions, {entry.code_points:g} points; "
                  f"{len(entry.questions)} questions, {entry.question_points:g} points")
    print("classroom/rubric.yml matches the course")
    return 0


if __name__ == "__main__":
    sys.exit(main())
