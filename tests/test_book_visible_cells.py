"""Every visible cell runs when copied in order into a fresh notebook (issue 20).

A reader who copies a chapter's code from the page gets the cells the page shows, in order, and
nothing else. So for every chapter (and the landing page, when it has code) the cells a reader
cannot see are dropped: those tagged `remove-cell`, and `remove-input` too (their output may show,
but their code does not, so a copy-paste reader does not have it). The visible code cells then run
in order in a fresh kernel, in an empty temporary folder. A visible cell that uses a name only a
hidden cell defines (a helper, an import, a flag) fails here with the cell and the error.

Cheap on purpose: the kernel runs with TINYTORCH_QUICK=1, which chapters' heavy timing code may
read to time one short round instead of many (bench/steps.py does: `steps.quick()`), and the
milestones train one epoch (a cell the test puts first, which leaves no name behind, makes
`train_mlp` and `train_cnn` default to `epochs=1`: chapter 11 alone trains ten networks). The code
paths are the same; the book build sets neither, so the pages show full runs and measurements.
Cells tagged `hide-input` or `hide-cell` are visible (behind a click) and are kept.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = [path for path in (REPO_ROOT / "book" / "intro.md", *sorted((REPO_ROOT / "book" / "chapters").glob("*.md")),
                                  *sorted((REPO_ROOT / "book").glob("appendix_*.md")))
         if "```{code-cell}" in path.read_text(encoding="utf-8")]
HIDDEN = {"remove-cell", "remove-input", "remove_cell", "remove_input"}
QUICK = "TINYTORCH_QUICK"


def visible_notebook(path: Path):
    """The chapter as jupytext reads it, with only the cells a reader sees (markdown kept)."""
    import jupytext

    notebook = jupytext.read(path)
    notebook.cells = [cell for cell in notebook.cells
                      if cell.cell_type != "code" or not HIDDEN & set(cell.metadata.get("tags", []))]
    return notebook


ONE_EPOCH = """def _one_epoch():
    import functools
    import tinytorch.milestones as milestones
    for name in ("train_mlp", "train_cnn"):
        setattr(milestones, name, functools.partial(getattr(milestones, name), epochs=1))
_one_epoch()
del _one_epoch
"""


def run_visible(path: Path, folder: Path, timeout: int = 180, one_epoch: bool = False):
    """Execute the visible cells in a fresh kernel in `folder`; (notebook, None) or (notebook, message).
    `one_epoch`: the milestones train one epoch (a first cell, not counted among the page's)."""
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    notebook = visible_notebook(path)
    if one_epoch:
        notebook.cells.insert(0, nbformat.v4.new_code_cell(ONE_EPOCH, metadata={"tags": ["test-setup"]}))
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellExecutionError as error:
        code = [cell for cell in notebook.cells
                if cell.cell_type == "code" and "test-setup" not in cell.metadata.get("tags", [])]
        failed = next((i for i, cell in enumerate(code)
                       if any(o.get("output_type") == "error" for o in cell.get("outputs", []))), None)
        where = (f"visible code cell {failed + 1} of {len(code)}, which starts "
                 f"{code[failed].source.strip().splitlines()[0][:70]!r}") if failed is not None else "a cell"
        name = next((o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"), {})
        return notebook, f"{where}: {name.get('ename', type(error).__name__)}: {name.get('evalue', str(error)[-300:])}"
    return notebook, None


def test_hidden_cells_are_dropped_and_a_missing_name_is_caught(tmp_path, monkeypatch):
    monkeypatch.setenv(QUICK, "1")
    chapter = tmp_path / "chapter.md"
    chapter.write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                       "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
                       "# T\n\n```{code-cell} python3\n:tags: [remove-cell]\nhelper = 1\n```\n\n"
                       "```{code-cell} python3\n:tags: [remove-input]\nshown_output = 2\n```\n\n"
                       "```{code-cell} python3\n:tags: [hide-input]\nimport os\nquick = os.environ['" + QUICK + "']\n```\n\n"
                       "```{code-cell} python3\nprint(quick, helper)\n```\n")
    notebook = visible_notebook(chapter)
    assert [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "code"] == [
        "import os", "print(quick, helper)"]
    _, problem = run_visible(chapter, tmp_path, timeout=60)
    assert problem is not None and "NameError" in problem and "helper" in problem, problem
    assert "visible code cell 2 of 2" in problem, problem


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_visible_cells_run_in_order_in_a_fresh_notebook(page: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(QUICK, "1")
    notebook, problem = run_visible(page, tmp_path, one_epoch=True)
    assert problem is None, (
        f"{page.name}: copied from the page into a fresh notebook, the visible cells fail at {problem}. "
        "Define what a visible cell uses in a visible cell (or hide the cell that uses it too).")
    ran = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()
           and "test-setup" not in cell.metadata.get("tags", [])]
    assert ran, f"{page.name}: no visible code cell"
    assert all(cell.get("execution_count") is not None for cell in ran), f"{page.name}: a visible cell did not run"
