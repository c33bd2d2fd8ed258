"""A class of three, graded with nbgrader through `tito class`: for module 08 through the exchange
(fetch and submit as the Assignments tab does), for module 03 through `tito module submit` zips;
release, submit, collect, autograde, feedback, CSV and status, with exact scores. One more learner
edits and deletes graded cells: nbgrader's checksums catch it, the cells are restored, it is
reported. The gate over every module is tests/test_classroom_gate.py; the hub, test_classroom_hub.py.
"""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from typer.testing import CliRunner

from classroom_helpers import (ROOT, check_release, fetch_and_submit, fetch_feedback, module, reference, small_clone,
                               textbook, tito, with_wrong)
from tito import classroom
from tito.rubric import load

pytestmark = pytest.mark.slow
RUBRIC = load(ROOT)
COURSE_ID = "tinytorch"


def tito_class(args: list[str]):
    """`tito class ...` in this process (typer's runner): nbgrader is imported once for the file."""
    return tito_here(["class", *args])


def tito_here(args: list[str], env: dict | None = None) -> str:
    from tito.cli import app

    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    exchange = base / "exchange"
    tito_class(["setup", str(base / "course"), "--exchange", str(exchange), "--timeout", "300", "--memory-mb", "3072"])
    assert (base / "course" / "source" / "08_training" / "08_training.ipynb").is_file()
    return classroom.open_course(base / "course", ROOT), exchange, base


def test_class_help_lists_every_instructor_command():
    result = tito(["class", "--help"], ROOT)             # the real command, as an instructor types it
    assert result.returncode == 0, result.stderr
    for command in ("setup", "release", "collect", "autograde", "feedback", "grades", "status"):
        assert f"tito class {command}" in result.stdout and f"  {command} " in result.stdout, command
    assert "tito module submit" in tito_here(["--help"])


def test_module_08_through_the_exchange(course):
    """ada hands in the reference (and answers a question), bob the reference with a wrong
    clip_grad_norm, cy the untouched release: module 08's case of the gate too."""
    the_course, exchange, base = course
    folder, rubric = "08_training", RUBRIC["08_training"]
    released = classroom.release(the_course, folder)
    assert released["exchange"] and (exchange / COURSE_ID / "outbound" / folder / f"{folder}.ipynb").is_file()
    check_release(the_course.root, folder)
    mod = module(folder)

    def answer_q1(data: dict) -> dict:
        for cell in data["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer-q1":
                cell["source"] = "Adam: parameters, gradients and two moments, four copies of the model."
        return data

    homes = {sid: base / "home" / sid for sid in ("ada", "bob", "cy")}
    fetch_and_submit(exchange, COURSE_ID, "ada", homes["ada"], folder, reference(mod), edit=answer_q1)
    fetch_and_submit(exchange, COURSE_ID, "bob", homes["bob"], folder,
                     with_wrong(reference(mod), folder, "clip_grad_norm"))
    fetch_and_submit(exchange, COURSE_ID, "cy", homes["cy"], folder, None)
    assert classroom.collect(the_course, folder) == ["ada", "bob", "cy"]
    scores = {s.student: s for s in classroom.autograde(the_course, folder, jobs=1)}
    full, clip = rubric.code_points, rubric.checks["clip_grad_norm"].points
    assert (scores["ada"].code, scores["bob"].code, scores["cy"].code) == (full, full - clip, 0)
    assert all(s.max_code == full and s.max_written == rubric.question_points for s in scores.values())
    assert scores["ada"].needs_manual and scores["ada"].written == 0        # an answer waits for a grader
    assert not scores["cy"].needs_manual and scores["cy"].written == 0      # unanswered: 0, nothing to grade
    assert not any(s.problems for s in scores.values())
    graded = json.loads((the_course.root / "autograded" / "bob" / folder / f"{folder}.ipynb").read_text())
    outputs = {c["metadata"]["nbgrader"]["grade_id"]: c.get("outputs", []) for c in graded["cells"]
               if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}
    clip_error = [o for o in outputs["check-clip_grad_norm"] if o["output_type"] == "error"]
    assert clip_error and "clip_grad_norm" in clip_error[0]["evalue"] and "got:" in clip_error[0]["evalue"]
    assert not any(o["output_type"] == "error" for o in outputs["check-Trainer_train_epoch"])

    result = classroom.feedback(the_course, folder)
    assert result["exchange"] and len(result["pages"]) == 3
    pages = fetch_feedback(exchange, COURSE_ID, "bob", homes["bob"], folder)
    assert pages and "clip_grad_norm" in pages[0].read_text(encoding="utf-8")

    table = classroom.status(the_course)
    assert table[1]["bob"][folder].startswith(f"{full - clip:g}/{rubric.total:g}")
    assert "to grade by hand" in table[1]["ada"][folder]
    rows = _csv(the_course)
    assert {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in rows if r["assignment"] == folder} == {
        ("ada", folder): full, ("bob", folder): full - clip, ("cy", folder): 0.0}


def _csv(the_course) -> list[dict]:
    target = classroom.export_csv(the_course, the_course.root / "grades.csv")
    with open(target, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_module_03_through_tito_module_submit_zips(course, tmp_path):
    """In tito's notebook: ada writes the reference, bob the textbook learner's code with a wrong
    linear (so his functions whose tests call linear are graded again alone, on the course's code),
    cy nothing: module 03's case of the gate too."""
    the_course, exchange, base = course
    folder, rubric = "03_layers", RUBRIC["03_layers"]
    mod = module(folder)
    classroom.release(the_course, folder)
    check_release(the_course.root, folder)
    clone = small_clone(tmp_path / "clone")
    zips = tmp_path / "zips"
    learner = {"TINYTORCH_ROOT": str(clone), "TITO_KERNEL_DIR": str(tmp_path / "kernels")}
    tito_here(["module", "start", "03", "--no-open"], learner)
    copy = clone / "workspace" / "modules" / folder / f"{folder}.ipynb"
    pristine = json.loads(copy.read_text())
    for name, bodies in (("ada", reference(mod)), ("bob", with_wrong(textbook(mod), folder, "linear")),
                            ("cy", None)):
        copy.write_text(json.dumps(pristine if bodies is None else classroom.fill(pristine, bodies, folder)))
        tito_here(["module", "submit", "03", "--name", name, "--out", str(zips)], learner)
    with zipfile.ZipFile(zips / f"{folder}-bob.zip") as archive:
        assert sorted(archive.namelist()) == [f"{folder}.ipynb", "tito-status.json"]
        status = json.loads(archive.read("tito-status.json"))
    assert status["module"] == folder and status["learner"] == "bob" and status["status"] == "in progress"
    assert status["your_code"] == "reference" and status["submitted"].endswith("UTC")

    # A fourth learner hands in the release itself, with a wrong linear, and edits its graded cell
    # to pass and deletes the one of Dropout.forward: restored, graded as released, reported.
    release = json.loads((the_course.root / "release" / folder / f"{folder}.ipynb").read_text())
    eve = classroom.fill(release, with_wrong(reference(mod), folder, "linear"), folder)
    for cell in eve["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check-linear":
            cell["source"] = "print('all good')"
    eve["cells"] = [c for c in eve["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "check-Dropout_forward"]
    with zipfile.ZipFile(zips / f"{folder}-eve.zip", "w") as archive:
        archive.writestr(f"{folder}.ipynb", json.dumps(eve))

    collected = tito_class(["collect", "03", "--zips", str(zips), "--course", str(the_course.root)])
    assert "ada, bob, cy, eve" in collected
    graded = tito_class(["autograde", "03", "--course", str(the_course.root)])
    scores = {s.student: s for s in classroom.scores(the_course, folder)}
    full, linear = rubric.code_points, rubric.checks["linear"].points
    assert {sid: s.code for sid, s in scores.items()} == {"ada": full, "bob": full - linear, "cy": 0,
                                                          "eve": full - linear}
    assert scores["eve"].problems == ["graded cell check-linear (2 points) was edited",
                                      "graded cell check-Dropout_forward (2 points) was deleted"]
    assert not scores["ada"].problems and not scores["bob"].problems
    assert "check-linear (2 points) was edited" in graded and "restored" in graded

    returned = tito_class(["feedback", "03", "--course", str(the_course.root)])
    assert "4 feedback page(s) of 03_layers" in returned and "feedback/STUDENT/MODULE/" in returned
    shown = tito_class(["status", "--course", str(the_course.root)])
    assert "03_layers" in shown and f"{full - linear:g}/{rubric.total:g} ! cells changed" in shown
    rows = _csv(the_course)
    assert {r["student_id"]: float(r["raw_score"]) for r in rows if r["assignment"] == folder} == {
        "ada": full, "bob": full - linear, "cy": 0.0, "eve": full - linear}


def test_a_notebook_over_its_memory_limit_fails_its_cell_not_the_grader(course, tmp_path):
    """The grading kernel runs under tito.limits: an allocation past the limit is a MemoryError in
    the learner's cell (and its children inherit the limit); the notebook is still graded."""
    from nbclient import NotebookClient
    import nbformat

    the_course, _, _ = course
    limited, _ = classroom.grading_classes()
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nbig = np.ones(2 * 1024 ** 3, dtype=np.uint8)"),
        nbformat.v4.new_code_cell("import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] // 2 ** 20)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    manager = limited(kernel_name="python3")
    manager.memory_mb = 1024
    client = NotebookClient(notebook, km=manager, timeout=120, allow_errors=True)
    client.execute()
    first, second = notebook.cells
    assert first.outputs[-1]["ename"] == "MemoryError"
    assert second.outputs[0]["text"].strip() == "1024"


def test_a_notebook_has_one_time_budget_for_all_its_cells():
    """GradingExecute gives each cell at most what is left of the notebook's budget."""
    import time

    _, grading_execute = classroom.grading_classes()
    execute = grading_execute(timeout=600, notebook_timeout=30)
    execute._deadline = time.monotonic() + 12
    assert 10 <= execute._get_timeout(None) <= 12
    execute._deadline = time.monotonic() - 5                  # spent: the next cell still gets a second
    assert execute._get_timeout(None) == 1


def test_collect_names_each_bad_zip_and_keeps_the_good_ones_and_autograde_names_an_unreadable_notebook(
        course, tmp_path):
    the_course, exchange, base = course
    folder = "03_layers"
    classroom.release(the_course, folder)
    release = json.loads((the_course.root / "release" / folder / f"{folder}.ipynb").read_text())
    zips = tmp_path / "zips"
    zips.mkdir()
    with zipfile.ZipFile(zips / f"{folder}-good.zip", "w") as archive:
        archive.writestr(f"{folder}.ipynb", json.dumps(release))
    with zipfile.ZipFile(zips / f"{folder}-cut.zip", "w") as archive:
        archive.writestr(f"{folder}.ipynb", json.dumps(release)[:500])
    with zipfile.ZipFile(zips / f"{folder}-other.zip", "w") as archive:
        archive.writestr(f"{folder}.ipynb", json.dumps(release))
        archive.writestr("tito-status.json", json.dumps({"module": "11_acceleration", "learner": "other"}))
    (zips / f"{folder}-junk.zip").write_text("not a zip")
    with pytest.raises(classroom.ClassError) as refused:
        classroom.collect(the_course, folder, zips)
    message = str(refused.value)
    assert message.startswith("collected 1 (good); not collected: ")
    for name, why in (("cut", "not valid JSON"), ("other", "module 11_acceleration's notebook"),
                      ("junk", "not a zip file")):
        assert f"{folder}-{name}.zip: " in message and why in message, (name, message)
    assert (the_course.root / "submitted" / "good" / folder / f"{folder}.ipynb").is_file()
    # A submission whose notebook is no longer readable is named, and nothing is graded for it.
    broken = the_course.root / "submitted" / "zed" / folder
    broken.mkdir(parents=True)
    (broken / f"{folder}.ipynb").write_text('{"cells": [')
    (broken / "timestamp.txt").write_text("2026-12-06 12:00:00\n")
    with pytest.raises(classroom.ClassError, match=f"not graded: zed, whose submitted {folder}.ipynb"):
        classroom.autograde(the_course, folder, ["zed"])


def test_autograde_warns_when_the_clone_is_not_the_course_the_module_was_released_from(course):
    the_course, exchange, base = course
    classroom.release(the_course, "03_layers")
    assert classroom.release_drift(the_course, "03_layers") is None
    released = the_course.read_state("releases.json")
    saved = dict(released["03_layers"])
    released["03_layers"]["course"] = "0" * 64           # as if released from another commit
    the_course.write_state("releases.json", released)
    try:
        drift = classroom.release_drift(the_course, "03_layers")
        assert "03_layers was released from another version of the course" in drift
        assert "the graded cells run this clone's tests" in drift
    finally:
        released["03_layers"] = saved
        the_course.write_state("releases.json", released)
    with pytest.raises(classroom.ClassError, match="--course FOLDER or TITO_COURSE=FOLDER"):
        classroom.open_course(base, ROOT)


def test_setup_names_the_next_module_to_release(tmp_path):
    """Run again on a course with releases, setup's last line names the first module not released."""
    first = tito_class(["setup", str(tmp_path / "course")])
    assert "tito class release 01 " in first
    sources = sorted(p.name for p in (tmp_path / "course" / "source").iterdir())
    the_course = classroom.open_course(tmp_path / "course", ROOT)
    the_course.write_state("releases.json", {folder: {} for folder in sources[:2]})     # as release records them
    again = tito_class(["setup", str(tmp_path / "course")])
    assert f"tito class release {sources[2][:2]} " in again and "release 01 " not in again
    the_course.write_state("releases.json", {folder: {} for folder in sources})
    assert "Every module is released" in tito_class(["setup", str(tmp_path / "course")])


def test_answers_written_in_the_workspace_reach_the_release_answer_cells(course, tmp_path):
    """A learner in tito's notebook answers a module's questions in workspace/answers/: start writes
    the file, submit packs it, collect --zips puts each answer into its answer cell."""
    from tito import answers

    the_course, _, _ = course
    folder = "11_acceleration"
    asked = RUBRIC[folder].questions
    assert asked, "module 11 has questions"
    classroom.release(the_course, folder)
    clone = small_clone(tmp_path / "clone")
    learner = {"TINYTORCH_ROOT": str(clone), "TITO_KERNEL_DIR": str(tmp_path / "kernels")}
    started = tito_here(["module", "start", "11", "--no-open"], learner)
    written = clone / "workspace" / "answers" / f"{folder}.md"
    assert written.is_file() and "workspace/answers" in started
    assert "Q1 of book/chapters/12_acceleration.md" in written.read_text()
    assert answers.parse(written.read_text(), [q.id for q in asked]) == ({}, [])   # headings, placeholders
    text = written.read_text().replace(answers.PLACEHOLDER, "The rule is elementwise.\n\nSecond line.", 1)
    written.write_text(text)
    zips = tmp_path / "zips"
    submitted = tito_here(["module", "submit", "11", "--name", "ada", "--out", str(zips)], learner)
    assert f"1 of its {len(asked)} questions" in submitted
    with zipfile.ZipFile(zips / f"{folder}-ada.zip") as archive:
        assert answers.FILE_IN_ZIP in archive.namelist()
        assert json.loads(archive.read("tito-status.json"))["answers"] == ["q1"]
    tito_here(["module", "start", "11", "--no-open"], learner)       # never overwrites the answers
    assert written.read_text() == text
    # a heading that would put an answer in no cell, or over another: refused, nothing packed
    from typer.testing import CliRunner
    from tito.cli import app

    written.write_text(text + "\n## Question 9: mine\n\nlost\n")
    refused = CliRunner().invoke(app, ["module", "submit", "11", "--name", "bo", "--out", str(zips)], env=learner)
    assert refused.exit_code == 1 and "Question 9" in refused.output and not (zips / f"{folder}-bo.zip").exists()
    written.write_text(text)
    # a module without questions packs no answers file, even if one lies there
    stray = clone / "workspace" / "answers" / "03_layers.md"
    stray.write_text("## Question 1: x\n\nanswer\n")
    tito_here(["module", "start", "03", "--no-open"], learner)
    packed = tito_here(["module", "submit", "03", "--name", "ada", "--out", str(tmp_path / "other")], learner)
    assert "Your answers" not in packed
    with zipfile.ZipFile(tmp_path / "other" / "03_layers-ada.zip") as archive:
        assert answers.FILE_IN_ZIP not in archive.namelist()
    written.rename(tmp_path / "kept.md")                             # a folder where the file goes: one line
    written.mkdir()
    for command in (["module", "start", "11", "--no-open"], ["module", "submit", "11", "--out", str(zips)]):
        result = CliRunner().invoke(app, command, env=learner)
        assert result.exit_code == 1 and "is not a file: move it away" in result.output, result.output
        assert "Traceback" not in result.output
    written.rmdir()
    (tmp_path / "kept.md").rename(written)
    tito_class(["collect", "11", "--zips", str(zips), "--course", str(the_course.root)])
    graded = json.loads((the_course.root / "submitted" / "ada" / folder / f"{folder}.ipynb").read_text())
    release = json.loads((the_course.root / "release" / folder / f"{folder}.ipynb").read_text())
    cells = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in graded["cells"]
             if "nbgrader" in c["metadata"]}
    released = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in release["cells"]
                if "nbgrader" in c["metadata"]}
    assert cells["answer-q1"] == "The rule is elementwise.\n\nSecond line."
    assert all(cells[f"answer-{q.id}"] == released[f"answer-{q.id}"] for q in asked[1:])
    (score,) = classroom.autograde(the_course, folder, ["ada"], jobs=1)
    assert score.needs_manual and score.from_tito          # the answer waits for its grader
