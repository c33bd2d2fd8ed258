"""The course's one rubric, `classroom/rubric.yml`: what each module's nbgrader assignment awards.

Per module:
- `checks`: one entry per function the learner writes (the owner of its solution blocks, as
  `tito.cells` names it): its `points`, and its `tests`, the graded tests (`tests/test_NN_*.py`, never
  `tests/internals/`, never the PyTorch parity files) that call it. A test calls a function when it
  fails once that function is a stub and everything else is the course's code; `tools/rubric.py
  --derive` finds them so (and keeps the points); nobody types them.
- `untested`: the graded tests that call no function of the module (they check provided code).
- `questions`: the chapter's "Check your understanding" questions, answered in the notebook and
  graded by hand: `id`, `title`, `points` and the `criteria` a grader awards them for.

`load` checks the table against the course: every solution block's owner has a check and every check
an owner, points are positive, and every test it names exists in its file.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

RUBRIC = Path("classroom") / "rubric.yml"
# libyaml's safe loader where PyYAML was built with it (the same result, ten times quicker)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RubricError(ValueError):
    """classroom/rubric.yml does not match the course: the message says where."""


@dataclass
class Check:
    owner: str                 # "clip_grad_norm", "Trainer.train_epoch"
    points: float
    tests: list[str]           # "test_08_training.py::test_name" (every parametrization of it)


@dataclass
class Question:
    id: str                    # "q1"
    title: str
    points: float
    criteria: list[str]


@dataclass
class ModuleRubric:
    folder: str
    checks: dict[str, Check] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def code_points(self) -> float:
        return sum(c.points for c in self.checks.values())

    @property
    def question_points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def total(self) -> float:
        return self.code_points + self.question_points

    def graded(self) -> bool:
        return bool(self.checks or self.questions)


def graded_files(root: Path, module) -> list[Path]:
    """The module's graded test files that grading uses: its tests/test_NN_*.py and range files
    (`Module.test_files` leaves out the PyTorch parity files: an instructor's machine may not have
    PyTorch)."""
    return [p for p in module.test_files() if re.match(r"test_\d\d_", p.name)]


def _tests(path: Path) -> list[tuple[str, list]]:
    """(`test_x` or `TestY::test_x`, its decorators and its class's) of a test file, in file order
    (read, not imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found.append((node.name, node.decorator_list))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found += [(f"{node.name}::{item.name}", node.decorator_list + item.decorator_list) for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")]
    return found


def test_names(path: Path) -> list[str]:
    """`test_x` and `TestY::test_x` of a test file, in file order (read, not imported)."""
    return [name for name, _ in _tests(path)]


def parity_tests(path: Path) -> set[str]:
    """The tests of a file marked `@pytest.mark.torch` (read, not imported): they compare with
    PyTorch and are skipped where it is not installed, so they grade nothing. Left out of every
    check whichever machine derives the rubric, so that a score never depends on PyTorch."""
    def is_torch(decorator) -> bool:
        return ast.unparse(decorator.func if isinstance(decorator, ast.Call) else decorator) == "pytest.mark.torch"

    return {name for name, decorators in _tests(path) if any(map(is_torch, decorators))}


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RubricError(f"{where}: points must be a positive number, not {value!r}")
    return float(value)


def read(root: Path) -> dict:
    path = root / RUBRIC
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except OSError as error:
        raise RubricError(f"{RUBRIC}: {error}") from None
    if not isinstance(data.get("modules"), dict):
        raise RubricError(f"{RUBRIC}: no `modules:` table")
    return data


def load(root: Path, check_tests: bool = True) -> dict[str, ModuleRubric]:
    """{module folder: its rubric}, for every module of the course, checked against it."""
    from tito import cells as nb
    from tito import solutions
    from tito.workspace import modules

    data = read(root)["modules"]
    result: dict[str, ModuleRubric] = {}
    course = modules(root)
    unknown = sorted(set(data) - {m.folder for m in course})
    if unknown:
        raise RubricError(f"{RUBRIC}: no module {', '.join(unknown)} in src/")
    for module in course:
        entry = data.get(module.folder) or {}
        where = f"{RUBRIC}, {module.folder}"
        owners = list(dict.fromkeys(b.owner for b in nb.solution_blocks(solutions.course_cells(module), module.number)))
        checks_data = entry.get("checks") or {}
        missing = [o for o in owners if o not in checks_data]
        extra = [o for o in checks_data if o not in owners]
        if missing or extra:
            raise RubricError(f"{where}: the checks must be the module's functions to write "
                              f"({', '.join(owners) or 'none'}); missing {missing or 'none'}, unknown {extra or 'none'}")
        rubric = ModuleRubric(module.folder)
        files = {p.name: p for p in graded_files(root, module)}
        known = {f"{name}::{test}" for name, path in files.items() for test in test_names(path)} if check_tests else set()
        for owner in owners:
            item = checks_data[owner] or {}
            tests = list(item.get("tests") or [])
            if not tests:
                raise RubricError(f"{where}, {owner}: no tests (run `python tools/rubric.py --derive`)")
            rubric.checks[owner] = Check(owner, _number(item.get("points"), f"{where}, {owner}"), tests)
        rubric.untested = list(entry.get("untested") or [])
        if check_tests:
            named = [t for c in rubric.checks.values() for t in c.tests] + rubric.untested
            stale = sorted(set(named) - known)
            if stale:
                raise RubricError(f"{where}: no such graded test {', '.join(stale[:5])} "
                                  "(run `python tools/rubric.py --derive`)")
            unnamed = sorted(known - set(named))
            if unnamed:
                raise RubricError(f"{where}: graded test(s) {', '.join(unnamed[:5])} are in no check and not "
                                  "`untested` (run `python tools/rubric.py --derive`)")
        seen = set()
        for index, item in enumerate(entry.get("questions") or [], start=1):
            qid = str(item.get("id") or "")
            if not re.fullmatch(r"q\d+", qid) or qid in seen:
                raise RubricError(f"{where}: question {index} needs a unique id q1, q2, ... (got {qid!r})")
            seen.add(qid)
            criteria = item.get("criteria") or []
            if not item.get("title") or not criteria:
                raise RubricError(f"{where}, {qid}: a question needs a title and its criteria")
            rubric.questions.append(Question(qid, str(item["title"]), _number(item.get("points"), f"{where}, {qid}"),
                                             [str(c) for c in criteria]))
        result[module.folder] = rubric
    return result
