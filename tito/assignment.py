"""A module as an nbgrader assignment: its source notebook, and how nbgrader makes the release from it.

`make export` writes, for every module the rubric grades (`classroom/rubric.yml`),
`classroom/source/NN_name/NN_name.ipynb`, nbgrader's *source* version of the module (the course
folder's `source/<assignment>/<notebook>.ipynb`):

- the student notebook's cells, in order, with the reference code in the solution blocks; each cell
  that holds `### BEGIN SOLUTION` / `### END SOLUTION` blocks (nbgrader's own markers) is an
  nbgrader solution cell (`solution: true`, a `grade_id`), graded through the cells below;
- then "Graded work": for each of the chapter's "Check your understanding" questions, a read-only
  question cell and a manually graded answer cell (its points and the rubric's criteria between the
  markers, which the release replaces by "YOUR ANSWER HERE"); and one read-only, autograded cell per
  function the learner writes, with the rubric's points, which runs `tito.grading.check` (the graded
  tests that call that function, on the course's package with only that function the learner's).

`nbgrader generate_assignment` turns it into the release. nbgrader's own ClearSolutions would put
its generic stub in place of each block and drop the fences; the course's `ClearSolutions` below
writes the course's stubs instead (`tito.cells`, as `make export` writes them: the hint and the
fences stay, the stub names the function and its chapter section), so the release's cells are
exactly the student notebook's (tests/test_classroom.py), followed by the graded work.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from tito import cells as nb
from tito import workspace as ws
from tito.rubric import ModuleRubric

SOURCE = Path("classroom") / "source"
HEADING = "## Graded work"


def source_path(root: Path, folder: str) -> Path:
    return root / SOURCE / folder / f"{folder}.ipynb"


def grade_id(kind: str, name: str) -> str:
    """nbgrader cell ids: letters, digits, `_` and `-` ("check-Trainer_train_epoch")."""
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _meta(grade_id_: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id_, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def question_source(root: Path, folder: str, question) -> tuple[str, int]:
    """(chapter file, number there) of one of the module's questions: the chapter whose "Check your
    understanding" asks `**Qn. Title.**` with the rubric's title (module 08's five come from its
    three chapters), else the module's last chapter and the rubric's own number (chapter 12 numbers
    its questions without titles)."""
    chapters = ws.chapters_of(root, folder)
    asked = re.compile(r"^\*\*Q(\d+)\. " + re.escape(question.title) + r"\.\*\*", re.M)
    for chapter in chapters:
        path = root / "book" / "chapters" / f"{chapter}.md"
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        found = asked.search(text[text.find("## Check your understanding"):]) if text else None
        if found:
            return chapter, int(found[1])
    return chapters[-1], int(question.id[1:])


def graded_cells(root: Path, folder: str, rubric: ModuleRubric) -> list[nb.Cell]:
    lines = [HEADING, "", "The cells below are what this module is graded on (`classroom/rubric.yml`):", ""]
    if rubric.questions:
        lines.append(f"- **Questions** ({rubric.question_points:g} points): answer each in the cell under it; "
                     "your instructor grades them by hand.")
    lines.append(f"- **Your functions** ({rubric.code_points:g} points): one cell per function you write. It runs "
                 "the course's graded tests that call that function on the course's code with only that function "
                 "yours, so each function earns its points on its own. Run them to see where you stand. They are "
                 "restored from the course before grading: editing or deleting one changes nothing, and is reported.")
    cells = [nb.Cell("markdown", "\n".join(lines), _meta(grade_id("text", "graded_work"), locked=True))]
    for question in rubric.questions:
        number = question.id[1:]
        chapter, there = question_source(root, folder, question)
        cells.append(nb.Cell("markdown", (
            f"### Question {number}: {question.title} ({question.points:g} points)\n\n"
            f"Answer question Q{there} of `book/chapters/{chapter}.md`, section \"Check your understanding\", "
            "in the cell below."),
            _meta(grade_id("text", f"{question.id}"), locked=True)))
        criteria = "\n".join(f"- {c}" for c in question.criteria)
        cells.append(nb.Cell("markdown", (
            "### BEGIN SOLUTION\n"
            f"Rubric ({question.points:g} points; `classroom/rubric.yml`). A full answer:\n\n{criteria}\n\n"
            f"The chapter's own answer is under the question in `book/chapters/{chapter}.md`.\n"
            "### END SOLUTION"),
            _meta(grade_id("answer", question.id), solution=True, grade=True, points=question.points)))
    for owner, check in rubric.checks.items():
        cells.append(nb.Cell("code", (
            f"# Graded: {owner} ({check.points:g} point{'s' if check.points != 1 else ''}). The graded tests that "
            f"call it ({len(check.tests)})\n"
            f"# run on the course's package with your {owner} in it, in a separate process.\n"
            "from tito.grading import check\n\n"
            f"check({folder!r}, {owner!r})"),
            _meta(grade_id("check", owner), grade=True, locked=True, points=check.points)))
    return cells


def source_cells(cells: list[nb.Cell], chapter: str) -> list[nb.Cell]:
    """The module's cells with nbgrader's solution metadata on each cell that holds solution blocks."""
    blocks: dict[int, list[str]] = {}
    for block in nb.solution_blocks(cells, chapter):
        blocks.setdefault(block.cell, []).append(block.owner)
    out = []
    for index, cell in enumerate(cells):
        meta = dict(cell.metadata)
        if index in blocks:
            meta.update(_meta(grade_id("code", "-".join(dict.fromkeys(blocks[index]))), solution=True))
        out.append(nb.Cell(cell.kind, cell.source, meta))
    return out


def source_notebook(root: Path, source: Path, rubric: ModuleRubric, first: nb.Cell | None,
                    metadata: dict) -> tuple[Path, str]:
    """(path, text) of a module's nbgrader source notebook."""
    folder = source.parent.name
    cells = source_cells(nb.read_source(source), folder[:2])
    meta = json.loads(json.dumps(metadata))
    meta["tinytorch"]["generated"] = ("by `make export` from the source and classroom/rubric.yml: nbgrader's "
                                      "source version of the module (`tito class release`)")
    return source_path(root, folder), nb.notebook_json(([first] if first else []) + cells
                                                       + graded_cells(root, folder, rubric), meta)


# ---------------------------------------------------------------- nbgrader's side

def _clear_solutions_class():
    from nbgrader.preprocessors import ClearSolutions as NbgraderClearSolutions

    class ClearSolutions(NbgraderClearSolutions):
        """nbgrader's ClearSolutions, with the course's stubs in code cells: each block's body
        becomes the stub `make export` writes into the student notebook (the hint and the fences
        stay), so the release's cells are the student notebook's. Markdown answers: nbgrader's."""

        def preprocess(self, notebook, resources):
            chapter = str(notebook.metadata.get("tinytorch", {}).get("module", "00"))[:2]
            cells = [nb.Cell(c.cell_type, c.source, {}) for c in notebook.cells]
            start = 1 if cells and cells[0].kind == "code" and "google.colab" in cells[0].source else 0
            self._student = {start + i: c.source for i, c in
                             enumerate(nb.student_cells(cells[start:], chapter))}
            return super().preprocess(notebook, resources)

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and nb.BEGIN in cell.source:
                from nbgrader import utils

                if not utils.is_solution(cell):
                    raise RuntimeError("Solution region detected in a non-solution cell")
                cell.source = self._student[index]
                return cell, resources
            return super().preprocess_cell(cell, resources, index)

    return ClearSolutions


_CACHE: dict = {}


def __getattr__(name: str):
    if name == "ClearSolutions":              # built on first use: nbgrader is imported only by its users
        if name not in _CACHE:
            _CACHE[name] = _clear_solutions_class()
        return _CACHE[name]
    raise AttributeError(name)
