"""The gate: for every graded module, nbgrader's release is the student notebook (plus the graded
work), its pristine release scores 0 points and the reference solutions score every autograded point
(the answers to the chapter's questions wait for a grader), each through nbgrader's autograde in one
course folder, one autograde run per module for both. The cases of modules 08 and 03 are played by
their classes in tests/test_classroom.py (ada hands in the reference, cy the untouched release,
and their releases are checked the same way), so they are not run twice."""
from __future__ import annotations


import pytest

from classroom_helpers import ROOT, check_release, put_submission, reference, module, submission
from tito import assignment, classroom
from tito.rubric import load

pytestmark = pytest.mark.slow
RUBRIC = load(ROOT)
GRADED = [folder for folder, entry in RUBRIC.items() if entry.graded()]
IN_CLASS = {"08_training", "03_layers"}         # gated by their classes in tests/test_classroom.py


def test_every_module_with_work_to_grade_is_graded():
    """Module 10 (the milestones) has no solution block and no question: it is no assignment."""
    for folder, entry in RUBRIC.items():
        has_blocks = bool(module(folder).source.read_text(encoding="utf-8").count("### BEGIN SOLUTION"))
        assert entry.graded() == has_blocks, folder
        assert assignment.source_path(ROOT, folder).is_file() == entry.graded(), folder
    assert len(GRADED) == 10 and "10_milestones" not in GRADED


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return classroom.setup(tmp_path_factory.mktemp("gate") / "course", ROOT, notebook_timeout=600)


@pytest.mark.parametrize("folder", [f for f in GRADED if f not in IN_CLASS])
def test_release_is_the_student_notebook_blank_scores_zero_and_the_reference_full_marks(course, folder):
    rubric = RUBRIC[folder]
    classroom.release(course, folder)
    check_release(course.root, folder)

    def answered(data: dict) -> dict:
        for cell in data["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id", "").startswith("answer-"):
                cell["source"] = "An answer."
        return data

    put_submission(course.root, folder, "blank", submission(course.root, folder, None))
    put_submission(course.root, folder, "reference", answered(submission(course.root, folder,
                                                                         reference(module(folder)))))
    scores = {s.student: s for s in classroom.autograde(course, folder, ["blank", "reference"], jobs=1)}
    blank, ref = scores["blank"], scores["reference"]
    assert (blank.code, blank.written, blank.needs_manual) == (0, 0, False)
    assert (ref.code, ref.max_code) == (rubric.code_points, rubric.code_points)
    assert ref.needs_manual == bool(rubric.questions) and ref.written == 0
    assert not blank.problems and not ref.problems
