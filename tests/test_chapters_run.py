"""Every chapter has code cells, and the `>>>` examples of its plain-text snippets run as doctests.

That every chapter runs top to bottom is the strict book build's job (it executes every cell of
every chapter, a failing cell fails it); that the cells a reader sees run on their own, in order,
in a fresh notebook is tests/test_book_visible_cells.py's. Running every chapter a third time here
would only cost time.
"""
from __future__ import annotations

import doctest
import io
import os
from pathlib import Path

import pytest
from myst_text import blank_blocks

REPO_ROOT = Path(__file__).resolve().parent.parent
INTRO = REPO_ROOT / "book" / "intro.md"
CHAPTERS = sorted((REPO_ROOT / "book" / "chapters").glob("*.md"))
APPENDICES = sorted((REPO_ROOT / "book").glob("appendix_*.md"))


def has_code_cells(path: Path) -> bool:
    return "```{code-cell}" in path.read_text()




def test_every_chapter_is_collected():
    assert CHAPTERS, "no chapters in book/chapters/"
    without_code = [path.name for path in CHAPTERS if not has_code_cells(path)]
    assert not without_code, f"chapters with no code cell (nothing is computed in them): {without_code}"


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
