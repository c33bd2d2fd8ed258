"""Every code and output line of the book fits the theme's code column: at most 76 characters.

In a 1280-px browser window (the page's table of contents beside the text) the theme's code column
holds 77 characters of its 14 px monospace font; a longer line is cut off behind a scroll bar, and
a reader who does not scroll sees half a call or half an error message. So (and
tests/test_browser.py checks the result in Chromium at 1280 px):

- in the chapters' sources, every line of a code cell and of a plain code block (```python,
  ```text, ...) is at most 76 characters, hidden cells included (they are what a Binder reader
  opens);
- on the built pages, every line of every `<pre>` (code shown and output printed, which the source
  cannot show: an error message, a list, a table a cell prints) is at most 76 characters;
- no code cell ends with a bare `model.train()` or `model.eval()`: both return the model, and a
  notebook prints the whole module's repr;
- no cell prints an unformatted float such as `0.05500000000000001` or `0.500000011920929` (a
  float32 value shown through float64): nine or more decimals in an output mean a missing format.

Diagrams and math are not code blocks and are not checked. The HTML test reads the site written by
the strict build (see test_book_html.py).
"""
from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from myst_text import walk_fences

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = [REPO_ROOT / "book" / "intro.md",
           *sorted((REPO_ROOT / "book" / "chapters").glob("*.md")),
           *sorted((REPO_ROOT / "book").glob("appendix_*.md"))]
MAX_COLUMNS = 76
NOT_CODE = ("{mermaid}", "{math}", "{raw}")
PRE = re.compile(r"<pre\b([^>]*)>(.*?)</pre>", re.DOTALL)


def code_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(info string, first line number, lines) of every code block, nested ones included.

    A code block is a backtick or tilde fence whose info string is empty, a language
    (```python) or a code directive ({code-cell}); colon fences are directives holding
    prose (admonitions, figures), whose nested code blocks are found too."""
    def is_code(fence, info):
        return fence[0] != ":" and not info.startswith(NOT_CODE) and (
            not info.startswith("{") or info.startswith(("{code-cell}", "{code-block}",
                                                         "{code}", "{sourcecode}")))

    blocks, current = [], None     # a code block holds no other block, so one is open at a time
    for number, line, event, stack in walk_fences(text, is_code):
        flagged = bool(stack) and stack[-1][2]
        if event == "open" and flagged:
            current = (stack[-1][1], number + 1, [])
        elif event == "close" and flagged:
            blocks.append(current)
        elif event == "text" and flagged:
            current[2].append(line)
    return blocks


def cell_code(lines: list[str]) -> str:
    """The Python of a code cell: its `:option: value` lines dropped."""
    body = list(lines)
    while body and re.match(r"^:[\w-]+:", body[0]):
        body.pop(0)
    return "\n".join(body)


def test_code_blocks_are_found():
    sample = ("text\n```{code-cell} python3\n:tags: [remove-cell]\nx = 1\n```\n"
              "::::{admonition} A\n```python\ny = 2\n```\n::::\n```{mermaid}\nflowchart LR\n```\n")
    found = code_blocks(sample)
    assert [(info, lines) for info, _, lines in found] == [
        ("{code-cell} python3", [":tags: [remove-cell]", "x = 1"]), ("python", ["y = 2"])]
    assert cell_code(found[0][2]) == "x = 1"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_code_lines_in_the_source_fit(source: Path):
    long = [f"{source.name}:{first + offset}: {len(line)} characters: {line.strip()[:50]}..."
            for _, first, lines in code_blocks(source.read_text())
            for offset, line in enumerate(lines) if len(line) > MAX_COLUMNS]
    assert not long, (f"code lines longer than {MAX_COLUMNS} characters (wrap them):\n"
                      + "\n".join(long))


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_no_cell_ends_by_returning_a_module(source: Path):
    bad = []
    for info, first, lines in code_blocks(source.read_text()):
        if not info.startswith("{code-cell}"):
            continue
        try:
            tree = ast.parse(cell_code(lines))
        except SyntaxError as error:
            bad.append(f"{source.name}:{first}: the cell does not parse: {error}")
            continue
        last = tree.body[-1] if tree.body else None
        if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and isinstance(last.value.func, ast.Attribute)
                and last.value.func.attr in ("train", "eval")):
            bad.append(f"{source.name}:{first}: the cell ends with .{last.value.func.attr}(), "
                       f"which prints the model's repr")
    assert not bad, "\n".join(bad)


def pre_lines(page: str) -> list[str]:
    """The text lines of every <pre> on a page except mermaid diagrams."""
    lines = []
    for attributes, body in PRE.findall(page):
        if "mermaid" in attributes:
            continue
        lines += html.unescape(re.sub(r"<[^>]+>", "", body)).splitlines()
    return lines


def test_pre_lines_are_read_from_the_markup():
    page = ('<pre class="mermaid">' + "x" * 100 + '</pre><div class="cell_output">'
            '<pre><span class="n">a</span> &lt; b\nsecond</pre></div>')
    assert pre_lines(page) == ["a < b", "second"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_code_and_output_lines_on_the_page_fit(site, source: Path):
    page = site / source.relative_to(REPO_ROOT).with_suffix(".html")
    assert page.exists(), f"no page for {source.name} at {page}"
    long = [f"{len(line)} characters: {line[:60]}..."
            for line in pre_lines(page.read_text(encoding="utf-8")) if len(line) > MAX_COLUMNS]
    assert not long, (f"{page.name}: code or output lines longer than {MAX_COLUMNS} characters "
                      "(wrap the code, or print shorter lines, e.g. with textwrap.fill):\n"
                      + "\n".join(long))


UNFORMATTED_FLOAT = re.compile(r"\d\.\d{9,}")
CELL_OUTPUT = re.compile(r'<div class="cell_output[^>]*>(.*?)</div>\s*</div>', re.DOTALL)


def output_text(page: str) -> str:
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", body)) for body in CELL_OUTPUT.findall(page))


def test_output_text_is_read_from_the_markup():
    page = ('<div class="cell_output docutils container"><div class="output stream highlight-myst-ansi">'
            '<pre><span></span>lr 0.05500000000000001</pre></div>\n</div>')
    assert UNFORMATTED_FLOAT.findall(output_text(page)) == ["0.05500000000000001"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_no_output_prints_an_unformatted_float(site, source: Path):
    page = site / source.relative_to(REPO_ROOT).with_suffix(".html")
    assert page.exists(), f"no page for {source.name} at {page}"
    text = output_text(page.read_text(encoding="utf-8"))
    found = [line.strip() for line in text.splitlines() if UNFORMATTED_FLOAT.search(line)]
    assert not found, (f"{page.name}: outputs print floats without a format (use f'{{x:.4f}}' or "
                       "similar):\n" + "\n".join(found))


def module_class_names() -> set[str]:
    """Names of every Module subclass the package defines (what a module's repr starts with)."""
    import tinytorch
    from tinytorch.core.layers import Module

    names, todo = set(), [Module]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return {name for name in names if not name.startswith("_")} | {
        name for name in dir(tinytorch) if isinstance(getattr(tinytorch, name), type)
        and issubclass(getattr(tinytorch, name), Module)}


def test_module_reprs_are_recognised():
    from tinytorch import Linear, ReLU, Sequential

    first_line = repr(Sequential(Linear(2, 3), ReLU())).splitlines()[0]
    assert re.match(r"(\w+)\(", first_line).group(1) in module_class_names()


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_no_output_is_a_module_repr(site, source: Path):
    """A line of output that starts like `Sequential(` or `Linear(in_features=...` is a model
    printed by accident (a cell ending in model.train(), or a print of the model)."""
    page = site / source.relative_to(REPO_ROOT).with_suffix(".html")
    assert page.exists(), f"no page for {source.name} at {page}"
    starts = re.compile(r"^\s*(?:%s)\(" % "|".join(sorted(module_class_names())))
    found = [line.strip() for line in output_text(page.read_text(encoding="utf-8")).splitlines()
             if starts.match(line)]
    assert not found, f"{page.name}: outputs print a module's repr:\n" + "\n".join(found)


def test_pages_shrink_the_code_padding(site):
    # the theme's 16 px side padding hides the last characters of a full line at 1280 px
    page = (site / "book" / "chapters" / "08_training.html").read_text(encoding="utf-8")
    assert "div.highlight pre, div.cell_output pre { padding-left: 8px; padding-right: 8px; }" in page
