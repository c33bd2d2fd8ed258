"""The cells of a module, whichever file holds them: what gets exported, and what a learner writes.

A module is a list of cells, read from its jupytext source (`src/NN_name/NN_name.py`) or from a
notebook (the student notebook in `modules/`, or the learner's working copy). The same rules apply
to all three, so the reference package (`make export`) and the learner's package (`tito module
complete`) are built by one function, `export_code`:

- `#| default_exp core.name` (once) names the default target; cells starting with `#| export` go
  there, `#| export core.other` sends one cell elsewhere;
- `### BEGIN SOLUTION` / `### END SOLUTION` fence what a learner writes. Immediately above each
  `### BEGIN SOLUTION` sit one to three comment lines, the first starting with `# Hint:`, naming the
  chapter section that explains it: `(chapter 08, "Cosine schedule")`.

`student_cells` replaces each fenced block by a one-line stub that raises NotImplementedError naming
the function and that section; the fences and the hint stay, so the learner sees where to write.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "# Hint:"
# Every stub's message contains this, so a stub left in a learner's notebook can be recognised.
STUB_MARK = "is yours to write"
_HINT_REFERENCE = re.compile(r"""chapter\s+(\d+)\s*,\s*["\u201c]([^"\u201d]+)["\u201d]""", re.IGNORECASE)
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)")
_CLASS = re.compile(r"^(\s*)class\s+([A-Za-z_]\w*)")
_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$")
_STUB = re.compile(r"""raise NotImplementedError\((['"])(.*?) """ + STUB_MARK)


@dataclass
class Cell:
    kind: str                  # "code" or "markdown"
    source: str
    metadata: dict = field(default_factory=dict)


@dataclass
class Block:
    """One `### BEGIN SOLUTION` ... `### END SOLUTION` block of a code cell."""
    cell: int                  # index into the cell list
    begin: int                 # line index of the BEGIN fence within the cell
    end: int                   # line index of the END fence
    indent: str
    body: list[str]            # the lines between the fences
    owner: str                 # "CosineSchedule.get_lr", "clip_grad_norm", or "cell N" at top level
    hint: list[str]            # the hint comment lines (stripped), empty when there is none
    chapter: str               # "08"
    section: str               # "Cosine schedule"

    @property
    def hint_text(self) -> str:
        """The hint as one line: comment markers dropped, continuation lines joined."""
        return " ".join(line.lstrip("#").strip() for line in self.hint)

    def stub(self) -> str:
        message = f'{self.owner} {STUB_MARK}: chapter {self.chapter}, section "{self.section}"'
        return f"{self.indent}raise NotImplementedError({message!r})"


# ---------------------------------------------------------------- reading

def read_source(path: Path) -> list[Cell]:
    """Cells of a jupytext percent file (src/NN_name/NN_name.py)."""
    import jupytext

    notebook = jupytext.read(path, fmt="py:percent")
    return [Cell(c.cell_type, c.source, dict(c.metadata)) for c in notebook.cells
            if c.cell_type in ("code", "markdown")]


def read_notebook(path: Path) -> list[Cell]:
    """Cells of an .ipynb file (read as plain JSON: any nbformat 4 minor version)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = []
    for cell in data.get("cells", []):
        if cell.get("cell_type") not in ("code", "markdown"):
            continue
        source = cell.get("source", "")
        cells.append(Cell(cell["cell_type"], "".join(source) if isinstance(source, list) else source,
                          dict(cell.get("metadata", {}))))
    return cells


# ---------------------------------------------------------------- export

def directive(line: str) -> tuple[str, str] | None:
    """`#| export core.x` -> ("export", "core.x"); None for any other line."""
    stripped = line.strip()
    if not stripped.startswith("#|"):
        return None
    name, _, arg = stripped[2:].strip().partition(" ")
    return name, arg.strip()


def export_code(cells: list[Cell], label: str) -> dict[str, str]:
    """{dotted target (e.g. "core.training"): code} from the `#| export` cells, in cell order.

    The fences are dropped and everything between them kept. `label` names the file in errors."""
    default, chunks = None, []
    for cell in cells:
        if cell.kind != "code":
            continue
        lines = cell.source.splitlines()
        directives = [d for d in map(directive, lines) if d]
        for name, arg in directives:
            if name == "default_exp":
                if default is not None:
                    raise ValueError(f"{label}: `#| default_exp` appears more than once")
                default = arg
        exports = [arg for name, arg in directives if name == "export"]
        if not exports:
            continue
        body = [l for l in lines if directive(l) is None and l.strip() not in (BEGIN, END)]
        chunks.append((exports[0] or None, "\n".join(body).strip("\n")))
    if default is None:
        raise ValueError(f"{label}: no `#| default_exp core.name` line")
    if not chunks:
        raise ValueError(f"{label}: no `#| export` cell")
    by_target: dict[str, list[str]] = {}
    for target, code in chunks:
        by_target.setdefault(target or default, []).append(code)
    return {target: "\n\n\n".join(codes) + "\n" for target, codes in by_target.items()}


def target_path(target: str) -> Path:
    """"core.training" -> Path("tinytorch/core/training.py")."""
    return Path("tinytorch", *target.split(".")).with_suffix(".py")


# ---------------------------------------------------------------- solution blocks

def _owner(lines: list[str], begin: int, indent: int, cell_number: int) -> str:
    """Qualified name of the function around line `begin` ("Class.method" or "function")."""
    names, limit = [], indent
    for line in reversed(lines[:begin]):
        for pattern in (_DEF, _CLASS):
            match = pattern.match(line)
            if match and len(match[1]) < limit:
                names.append(match[2])
                limit = len(match[1])
                break
        if limit == 0:
            break
    return ".".join(reversed(names)) if names else f"the code of cell {cell_number}"


def _hint_above(lines: list[str], begin: int, indent: str) -> list[str]:
    """The one to three comment lines right above the BEGIN fence, if the first is a `# Hint:`."""
    comments, index = [], begin - 1
    while index >= 0 and len(comments) < 3:
        line = lines[index]
        if not line.startswith(indent + "#") or line.strip().startswith("#|"):
            break
        comments.insert(0, line.strip())
        if line.strip().startswith(HINT):
            return comments
        index -= 1
    return []


def solution_blocks(cells: list[Cell], chapter: str) -> list[Block]:
    """Every fenced block, with its owner and the section its hint names.

    Without a hint (or one that names no section) the section is the nearest markdown heading
    above the block and the chapter is the module's own."""
    blocks, heading = [], "the chapter"
    for index, cell in enumerate(cells):
        if cell.kind == "markdown":
            for line in cell.source.splitlines():
                match = _HEADING.match(line)
                if match:
                    heading = match[1]
            continue
        lines = cell.source.splitlines()
        begin = None
        for number, line in enumerate(lines):
            stripped = line.strip()
            if stripped == BEGIN:
                if begin is not None:
                    raise ValueError(f"cell {index + 1}: {_unclosed(lines, begin, index)} before the next "
                                     f"`{BEGIN}` (line {number + 1})")
                begin = number
            elif stripped == END:
                if begin is None:
                    raise ValueError(f"cell {index + 1}: `{END}` without a `{BEGIN}` above it")
                indent = lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]
                hint = _hint_above(lines, begin, indent)
                match = _HINT_REFERENCE.search(" ".join(line.lstrip("#").strip() for line in hint))
                blocks.append(Block(
                    cell=index, begin=begin, end=number, indent=indent, body=lines[begin + 1:number],
                    owner=_owner(lines, begin, len(indent), index + 1), hint=hint,
                    chapter=match[1].zfill(2) if match else chapter,
                    section=match[2].strip().rstrip(".") if match else heading))
                begin = None
        if begin is not None:
            raise ValueError(f"cell {index + 1}: {_unclosed(lines, begin, index)} in the cell")
    return blocks


def _unclosed(lines: list[str], begin: int, index: int) -> str:
    """Names a block whose `### END SOLUTION` is missing: its function and the line it opens at."""
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    return f"the block of {_owner(lines, begin, indent, index + 1)} (line {begin + 1}) has no `{END}`"


def student_cells(cells: list[Cell], chapter: str) -> list[Cell]:
    """The cells with every solution block's body replaced by its stub (fences and hints kept)."""
    by_cell: dict[int, list[Block]] = {}
    for block in solution_blocks(cells, chapter):
        by_cell.setdefault(block.cell, []).append(block)
    result = []
    for index, cell in enumerate(cells):
        if index not in by_cell:
            result.append(Cell(cell.kind, cell.source, dict(cell.metadata)))
            continue
        lines = cell.source.splitlines()
        for block in reversed(by_cell[index]):
            lines[block.begin + 1:block.end] = [block.stub()]
        result.append(Cell(cell.kind, "\n".join(lines), dict(cell.metadata)))
    return result


def stubs_left(cells: list[Cell]) -> list[str]:
    """Owners of the stubs still in the cells (what the learner has not written yet), in order."""
    owners = []
    for cell in cells:
        if cell.kind == "code":
            for match in _STUB.finditer(cell.source):
                if match[2] not in owners:
                    owners.append(match[2])
    return owners


# ---------------------------------------------------------------- notebooks

def notebook_json(cells: list[Cell], metadata: dict) -> str:
    """An nbformat 4.4 notebook as text, byte-for-byte the same for the same input (no ids, no
    timestamps, no outputs), so the committed student notebooks can be compared with the export."""
    out = []
    for cell in cells:
        entry = {"cell_type": cell.kind, "metadata": cell.metadata, "source": cell.source.splitlines(keepends=True)}
        if cell.kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    notebook = {"cells": out, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
