"""Every chapter runs top to bottom as a plain notebook, outside the book build.

That is what a Binder reader does: jupytext opens the .md as a notebook and they press "run all".
Each chapter is copied into its own temporary folder first, so whatever it writes (checkpoints,
figures) lands there, never in the repository, and tests can run in parallel. The `>>>` examples
of a chapter's plain-text snippets run as doctests (see below).

A reader of the site sees only the visible cells, and may copy them into a notebook of their own.
For the chapters listed in VISIBLE_ONLY, the visible cells alone, in order, must run: a cell
tagged `remove-cell` or `remove-input` (hidden code: glue, figures, checks) is dropped before
running, so no visible cell may need a name that only a hidden one defines.
"""
from __future__ import annotations

import doctest
import io
import os
import shutil
from pathlib import Path

import pytest
from myst_text import blank_blocks

REPO_ROOT = Path(__file__).resolve().parent.parent
INTRO = REPO_ROOT / "book" / "intro.md"
CHAPTERS = sorted((REPO_ROOT / "book" / "chapters").glob("*.md"))
APPENDICES = sorted((REPO_ROOT / "book").glob("appendix_*.md"))
HIDDEN = {"remove-cell", "remove-input"}
# The chapters whose visible cells are checked on their own (module 08's three and its appendix;
# add a chapter here once its visible cells stand alone).
VISIBLE_ONLY = [path for path in (*CHAPTERS, *APPENDICES)
                if path.name.startswith("08_") or path.name == "appendix_training.md"]


def has_code_cells(path: Path) -> bool:
    return "```{code-cell}" in path.read_text()


RUNNABLE = [path for path in (INTRO, *CHAPTERS, *APPENDICES) if has_code_cells(path)]


def test_every_chapter_is_collected():
    assert CHAPTERS, "no chapters in book/chapters/"
    without_code = [path.name for path in CHAPTERS if not has_code_cells(path)]
    assert not without_code, f"chapters with no code cell (nothing is computed in them): {without_code}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", RUNNABLE, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_chapter_runs_as_a_notebook(chapter: Path, execute_chapter, tmp_path: Path):
    copy = tmp_path / chapter.name
    shutil.copy(chapter, copy)
    notebook = execute_chapter(copy, timeout=180)   # a failing cell raises CellExecutionError
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{chapter.name}: no code cells found by jupytext"
    unrun = [index for index, cell in enumerate(code) if cell.get("execution_count") is None
             and cell.source.strip()]
    assert not unrun, f"{chapter.name}: code cells {unrun} did not run"
    errors = [output for cell in code for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors, f"{chapter.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"


def visible_copy(chapter: Path, folder: Path) -> Path:
    """The chapter as a notebook of its visible cells only, written into `folder`."""
    import jupytext

    notebook = jupytext.read(chapter)
    notebook.cells = [cell for cell in notebook.cells
                      if not (cell.cell_type == "code" and HIDDEN & set(cell.metadata.get("tags", [])))]
    copy = folder / f"{chapter.stem}.visible.ipynb"
    jupytext.write(notebook, copy)
    return copy


def test_visible_copy_drops_the_hidden_cells(tmp_path: Path):
    chapter = tmp_path / "c.md"
    chapter.write_text("---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n# C\n\n"
                       "```{code-cell} python3\n:tags: [remove-cell]\nhidden = 1\n```\n\n"
                       "```{code-cell} python3\n:tags: [remove-input]\nshown_output = 2\n```\n\n"
                       "```{code-cell} python3\n:tags: [remove-output]\nvisible = 3\n```\n\n"
                       "```{code-cell} python3\nprint(visible)\n```\n")
    import jupytext

    cells = [cell.source for cell in jupytext.read(visible_copy(chapter, tmp_path)).cells
             if cell.cell_type == "code"]
    assert cells == ["visible = 3", "print(visible)"]


def test_the_visible_only_chapters_exist():
    names = {path.name for path in VISIBLE_ONLY}
    assert {"08_training.md", "08_training_stability.md", "08_training_state.md",
            "appendix_training.md"} <= names, names


@pytest.mark.slow
@pytest.mark.parametrize("chapter", VISIBLE_ONLY, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_visible_cells_run_in_order_in_a_fresh_notebook(chapter: Path, execute_chapter, tmp_path: Path):
    notebook = execute_chapter(visible_copy(chapter, tmp_path), timeout=180)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{chapter.name}: no visible code cell"
    unrun = [index for index, cell in enumerate(code) if cell.get("execution_count") is None
             and cell.source.strip()]
    assert not unrun, f"{chapter.name}: visible cells {unrun} did not run"


# `>>>` examples in a chapter's prose or plain code blocks (API snippets that are not code cells)
# run as doctests. pytest's own --doctest-glob=*.md would read a MyST closing fence right after an
# example's output as part of the expected output, so the fences are blanked first (line numbers
# are kept, so a failure points at the right line of the chapter). Code cells are not doctests:
# they run as cells above.
def doctest_text(text: str) -> str:
    return blank_blocks(text, lambda fence, info: info.startswith("{code-cell}"))


def run_doctests(name: str, text: str, cwd: Path) -> tuple[int, int, str]:
    """(examples, failures, report) of the `>>>` examples in a chapter's text."""
    test = doctest.DocTestParser().get_doctest(doctest_text(text), {"__name__": name}, name, name, 0)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.run(test, out=report.write)
    finally:
        os.chdir(old)
    return result.attempted, result.failed, report.getvalue()


@pytest.mark.parametrize("chapter", [INTRO, *CHAPTERS, *APPENDICES],
                         ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_chapter_doctests(chapter: Path, tmp_path: Path):
    attempted, failed, report = run_doctests(chapter.name, chapter.read_text(), tmp_path)
    assert not failed, f"{chapter.name}: {failed} of {attempted} `>>>` examples failed:\n{report}"


def test_doctests_run_the_examples_outside_code_cells(tmp_path: Path):
    text = ("# T\n\n```{code-cell} ipython3\n>>> this is a code cell, not a doctest\n```\n\n"
            "```python\n>>> from tinytorch.core.training import CosineSchedule\n"
            ">>> round(CosineSchedule(0.1, 0.01, 100).get_lr(25), 4)\n0.0868\n```\n\n"
            "Prose: \n\n>>> 1 + 1\n2\n")
    assert run_doctests("t.md", text, tmp_path)[:2] == (3, 0)
    attempted, failed, report = run_doctests("t.md", text.replace("0.0868", "0.0999"), tmp_path)
    assert (attempted, failed) == (3, 1) and "0.0999" in report
