"""INSTRUCTORS.md's tables say what the course's files say: the week-by-week schedule is the one
computed from book/modules.yml's hours, and the rubric table is classroom/rubric.yml's."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from tito.rubric import load

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
WEEK_HOURS = 8            # the guide's rule: at most this many hours (upper estimates) in a week


def table(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading` (header and rule left out)."""
    text = GUIDE.split(heading, 1)[1]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    first = text.splitlines().index(lines[0])
    rows = []
    for line in text.splitlines()[first:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[2:]


def hours(text: str) -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    return numbers[0], numbers[-1]


def schedule() -> list[tuple[list[str], int, int]]:
    """Modules in order; a week takes the next module while the upper hours stay within WEEK_HOURS."""
    rows = yaml.safe_load((ROOT / "book" / "modules.yml").read_text(encoding="utf-8"))["modules"]
    weeks: list[tuple[list[str], int, int]] = []
    for folder, row in rows.items():
        low, high = hours(row["time"])
        if weeks and weeks[-1][2] + high <= WEEK_HOURS:
            names, lo, hi = weeks[-1]
            weeks[-1] = (names + [folder], lo + low, hi + high)
        else:
            weeks.append(([folder], low, high))
    return weeks


def test_the_schedule_is_computed_from_the_modules_hours():
    expected = [[str(week), ", ".join(names), f"{low}-{high}"]
                for week, (names, low, high) in enumerate(schedule(), start=1)]
    assert table("## A week-by-week schedule") == expected


def test_the_rubric_table_is_the_rubric():
    rubric = load(ROOT)
    expected = [[folder, str(len(entry.checks)), f"{entry.code_points:g}",
                 str(len(entry.questions)) if entry.questions else "-",
                 f"{entry.question_points:g}" if entry.questions else "-"]
                for folder, entry in rubric.items() if entry.graded()]
    assert table("## The rubric") == expected


def test_every_instructor_command_is_in_the_guide():
    for command in ("setup", "release", "collect", "autograde", "feedback", "grades", "status"):
        assert f"tito class {command}" in GUIDE, command
    assert "tito module submit" in GUIDE and "tito module update" in GUIDE


def test_no_score_depends_on_pytorch():
    """Tests marked `torch` (skipped where PyTorch is missing) are in no check of the rubric, so a
    learner's score is the same on a machine with PyTorch and one without."""
    from tito.rubric import parity_tests

    marked = {f"{path.name}::{name}" for path in (ROOT / "tests").glob("test_*.py") for name in parity_tests(path)}
    assert "test_07_optimizers.py::test_sgd_trajectory_matches_torch" in marked
    graded = {test for module in load(ROOT).values() for check in module.checks.values() for test in check.tests}
    assert not marked & graded
