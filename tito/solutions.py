"""The learner's code: the bodies of their solution blocks, stored per module, spliced into the course.

When a module is completed, the body of each of its `### BEGIN SOLUTION` blocks is stored in
`workspace/solutions/NN_name.json`, keyed by the block's owner and ordinal ("Tensor.__add__#0": the
first block of `Tensor.__add__`), with the signature of the function around it (its def line, or
its class line, normalised: `def add(a, b, out=None)`). Nothing else of the learner's notebook is
kept: the package is the current course with those bodies in place of the reference's.

Splicing a stored body into a (possibly newer) course: a block whose key is in both and whose
signature did not change gets the learner's body (re-indented to the block's indentation). Every
other case is a `Conflict`, and the block keeps the course's own body:

- "changed": the def line around the block changed (new or renamed arguments, ...);
- "gone": the learner wrote a block the course no longer has;
- "new": the course has a block the learner never wrote (it appeared after they completed);
- "unwritten": the stored body is still a stub (only after moving an old workspace, see package.py).
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

from tito import cells as nb
from tito.workspace import Module, TitoError, now, workspace, write_atomic

FORMAT = 1
_STUB = re.compile(r"raise NotImplementedError\((['\"]).*? " + nb.STUB_MARK)


@dataclass
class Body:
    key: str                   # "Tensor.__add__#0"
    owner: str                 # "Tensor.__add__"
    ordinal: int               # 0 for the first block of that owner
    signature: str | None      # "def __add__(self, other)"; None for a block outside any def or class
    indent: str                # indentation of the fences
    lines: list[str]           # the lines between the fences, as written

    def is_stub(self) -> bool:
        """True when the body is (only) the stub the student notebook has."""
        code = [line for line in self.lines if line.strip() and not line.strip().startswith("#")]
        return not code or (len(code) == 1 and bool(_STUB.search(code[0])))

    def reindented(self, indent: str) -> list[str]:
        """The lines, moved from this body's indentation to `indent`."""
        if indent == self.indent:
            return list(self.lines)
        return [indent + line[len(self.indent):] if line.startswith(self.indent) else line
                for line in self.lines]


# ---------------------------------------------------------------- signatures and bodies

_HEADER = re.compile(r"^(\s*)(?:async\s+def|def|class)\s+[A-Za-z_]\w*")


def _header_line(lines: list[str], begin: int, indent: int) -> int | None:
    """Index of the def/class line that encloses line `begin` (indented less than `indent`)."""
    for index in range(begin - 1, -1, -1):
        match = _HEADER.match(lines[index])
        if match and len(match[1]) < indent:
            return index
    return None


def signature(lines: list[str], begin: int, indent: int) -> str | None:
    """The normalised def (or class) line around line `begin`: what a body is written against.
    Whitespace, line breaks and comments do not count; names, arguments, defaults, annotations do."""
    start = _header_line(lines, begin, indent)
    if start is None:
        return None
    for end in range(start, min(start + 30, begin)):
        text = textwrap.dedent("\n".join(lines[start:end + 1]))
        try:
            node = ast.parse(text + "\n    pass\n").body[0]
        except SyntaxError:
            continue
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
            return f"class {node.name}" + (f"({', '.join(bases)})" if bases else "")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
            return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"
    return " ".join(lines[start].split())


TOP_LEVEL = "top-level code"


def bodies(cells: list[nb.Cell], chapter: str = "00") -> list[Body]:
    """Every solution block of the cells, in order, as a Body."""
    found, seen = [], {}
    for block in nb.solution_blocks(cells, chapter):
        # A block outside any def or class is named after its cell, whose number differs between a
        # source and its notebook (the Colab cell): such blocks are keyed by their order instead.
        owner = TOP_LEVEL if block.owner.startswith("the code of cell ") else block.owner
        ordinal = seen.get(owner, 0)
        seen[owner] = ordinal + 1
        lines = cells[block.cell].source.splitlines()
        found.append(Body(key=f"{owner}#{ordinal}", owner=owner, ordinal=ordinal,
                          signature=signature(lines, block.begin, len(block.indent)),
                          indent=block.indent, lines=list(block.body)))
    return found


# ---------------------------------------------------------------- the course's cells, read fast

_MARKER = re.compile(r"^# %%(?:\s|$)")


def _percent_cells(text: str) -> list[nb.Cell]:
    """The cells of a jupytext percent file, read without jupytext (whose imports cost ~2 s of CPU
    in every tito command that builds a package): `# %%` lines start cells, `[markdown]` cells are
    un-commented, blank lines around a cell dropped, the `# ---` header skipped."""
    lines = text.splitlines()
    start = 0
    if lines and lines[0].rstrip() == "# ---":
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "# ---"), None)
        start = 0 if end is None else end + 1
    raw: list[tuple[str, list[str]]] = []
    current = None
    for line in lines[start:]:
        if _MARKER.match(line):
            if current is not None:
                raw.append(current)
            current = ("markdown" if re.search(r"\[(markdown|md)\]", line) else "code", [])
        elif current is None:
            if line.strip():
                current = ("code", [line])
        else:
            current[1].append(line)
    if current is not None:
        raw.append(current)
    cells = []
    for kind, body in raw:
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if kind == "markdown":
            body = [line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line for line in body]
        cells.append(nb.Cell(kind, "\n".join(body), {}))
    return cells


def _agrees(module: Module, cells: list[nb.Cell]) -> bool:
    """True when `cells` export to exactly the course's generated files and student notebook, the
    outputs of `make export` (which reads the source with jupytext)."""
    try:
        exported = nb.export_code(cells, "check")
        student = [(c.kind, c.source) for c in nb.student_cells(cells, module.number)]
        notebook = [(c.kind, c.source) for c in nb.read_notebook(module.student_notebook)]
    except (ValueError, OSError, KeyError, TypeError, AttributeError):
        return False
    if not student or notebook[-len(student):] != student:
        return False
    for target, code in exported.items():
        path = module.root / nb.target_path(target)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return False
        if not text.startswith("# GENERATED FILE") or not text.endswith("\n" + code):
            return False
    return True


def course_cells(module: Module) -> list[nb.Cell]:
    """The cells of the module's source: read fast when that reading gives exactly what `make export`
    wrote from it, else with jupytext, as the exporter reads it."""
    cells = _percent_cells(module.source.read_text(encoding="utf-8"))
    return cells if _agrees(module, cells) else nb.read_source(module.source)


# ---------------------------------------------------------------- conflicts

@dataclass
class Conflict:
    module: str                # "01_tensor"
    owner: str
    kind: str                  # "changed", "gone", "new", "unwritten"
    key: str = ""
    old: str | None = None     # the signature the learner's body was written against
    new: str | None = None     # the course's signature now

    def describe(self) -> str:
        """One line: what happened to the block and what runs in its place."""
        number = self.module[:2]
        if self.kind == "changed":
            return (f"{self.owner} (module {number}): its def line changed (was `{self.old}`, now `{self.new}`); "
                    f"the course's code runs there until you write it again and complete module {number}")
        if self.kind == "gone":
            return (f"{self.owner} (module {number}): the course no longer has this block; your code for it "
                    f"is not used")
        if self.kind == "new":
            return (f"{self.owner} (module {number}): new in the course; the course's code runs there until "
                    f"you write it and complete module {number}")
        return (f"{self.owner} (module {number}): your notebook had no code for it (a stub); the course's "
                f"code runs there until you write it and complete module {number}")

    @classmethod
    def from_dict(cls, data: dict) -> "Conflict":
        return cls(**{k: data.get(k) for k in ("module", "owner", "kind", "key", "old", "new")})


def match(module: str, mine: list[Body], course: list[Body]) -> tuple[dict[str, Body], list[Conflict]]:
    """({key: the learner's body to use}, conflicts) for the learner's bodies against the course's blocks."""
    by_key = {body.key: body for body in mine}
    use, conflicts = {}, []
    for block in course:
        body = by_key.get(block.key)
        if body is None:
            conflicts.append(Conflict(module, block.owner, "new", block.key, None, block.signature))
        elif body.signature != block.signature:
            conflicts.append(Conflict(module, block.owner, "changed", block.key, body.signature, block.signature))
        elif body.is_stub():
            conflicts.append(Conflict(module, block.owner, "unwritten", block.key, body.signature, block.signature))
        else:
            use[block.key] = body
    keys = {block.key for block in course}
    conflicts += [Conflict(module, body.owner, "gone", body.key, body.signature, None)
                  for body in mine if body.key not in keys and not body.is_stub()]
    return use, conflicts


def splice(cells: list[nb.Cell], chapter: str, use: dict[str, Body]) -> list[nb.Cell]:
    """The cells with each block whose key is in `use` holding that body instead of its own."""
    course = bodies(cells, chapter)
    blocks = nb.solution_blocks(cells, chapter)
    by_cell: dict[int, list[tuple[nb.Block, Body]]] = {}
    for block, body in zip(blocks, course):
        if body.key in use:
            by_cell.setdefault(block.cell, []).append((block, use[body.key]))
    result = []
    for index, cell in enumerate(cells):
        if index not in by_cell:
            result.append(nb.Cell(cell.kind, cell.source, dict(cell.metadata)))
            continue
        lines = cell.source.splitlines()
        for block, body in reversed(by_cell[index]):
            lines[block.begin + 1:block.end] = body.reindented(block.indent)
        result.append(nb.Cell(cell.kind, "\n".join(lines), dict(cell.metadata)))
    return result


HEADER = ("# GENERATED FILE: DO NOT EDIT. Built by `tito` from {source},\n"
          "# with your solution blocks ({store}) in place of the reference's.\n")


def render(module: Module, mine: list[Body]) -> tuple[dict[Path, str], list[Conflict], int]:
    """({package path: text}, conflicts, number of blocks that are the learner's) of one completed
    module: its current source with the learner's bodies spliced in, exported as `make export` does."""
    chapter = module.number
    cells = course_cells(module)
    use, conflicts = match(module.folder, mine, bodies(cells, chapter))
    label = module.source.relative_to(module.root).as_posix()
    try:
        exported = nb.export_code(splice(cells, chapter, use), label)
    except ValueError as error:
        raise TitoError(str(error)) from None
    header = HEADER.format(source=label, store=store_path(module).relative_to(module.root).as_posix())
    return {nb.target_path(target): header + "\n" + code for target, code in exported.items()}, conflicts, len(use)


# ---------------------------------------------------------------- the store

def store_folder(root: Path) -> Path:
    return workspace(root) / "solutions"


def store_path(module: Module) -> Path:
    return store_folder(module.root) / f"{module.folder}.json"


def save(module: Module, mine: list[Body], origin: str) -> None:
    data = {"format": FORMAT, "module": module.folder, "saved": now(), "origin": origin,
            "blocks": [asdict(body) for body in mine]}
    write_atomic(store_path(module), json.dumps(data, indent=1, ensure_ascii=False) + "\n")


class Damaged(TitoError):
    """A stored-solutions file that cannot be read: the message names it and the way out."""


def way_out(module: Module) -> str:
    return (f"`tito module complete {module.number}` stores your code again from your notebook, or "
            f"`tito module reset {module.number} --package` takes module {module.number} out of your package")


def load(module: Module) -> list[Body] | None:
    """The stored bodies of a module; None when it was never completed. Damaged if unreadable."""
    path = store_path(module)
    if not path.exists():
        return None
    name = path.relative_to(module.root).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a file of stored solutions")
        found = [Body(key=b["key"], owner=b["owner"], ordinal=int(b["ordinal"]), signature=b["signature"],
                      indent=b["indent"], lines=[str(line) for line in b["lines"]]) for b in data["blocks"]]
    except json.JSONDecodeError as error:
        raise Damaged(f"{name} is damaged (not valid JSON: {error}): {way_out(module)}") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise Damaged(f"{name} is damaged ({error}): {way_out(module)}") from None
    return found


def digest(module: Module) -> str | None:
    path = store_path(module)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def stored_folders(root: Path) -> list[str]:
    """Folder names of every module with stored solutions (whether or not the course still has it)."""
    folder = store_folder(root)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


# ---------------------------------------------------------------- the learner's notebook, refreshed

def refresh_cells(student: list[nb.Cell], chapter: str, module: str, theirs: list[Body],
                  when: str) -> tuple[list[nb.Cell], list[Conflict], list[Body]]:
    """The student notebook's cells with the learner's bodies in their blocks.

    A body whose block changed signature is kept as comments under the new stub (so `complete`
    still names the block as not written); a body whose block is gone is returned for a note.
    Bodies that are stubs are not conflicts: there was nothing to keep."""
    course = bodies(student, chapter)
    use, conflicts = match(module, theirs, course)
    by_key = {b.key: b for b in theirs}
    conflicts = [c for c in conflicts if c.kind in ("new", "gone")
                 or (c.kind == "changed" and not by_key[c.key].is_stub())]
    changed = {c.key for c in conflicts if c.kind == "changed"}
    cells = splice(student, chapter, use)
    blocks = nb.solution_blocks(cells, chapter)
    additions: dict[int, list[tuple[nb.Block, list[str]]]] = {}
    for block, body in zip(blocks, bodies(cells, chapter)):
        old = by_key.get(body.key)
        if body.key in changed and old is not None:
            note = [f"{block.indent}# `tito module update` ({when}): the def line of {block.owner} changed",
                    f"{block.indent}# (was `{old.signature}`). Your code from before, to adapt: uncomment it,",
                    f"{block.indent}# then delete the `raise NotImplementedError` line above.",
                    *[f"{block.indent}# {line[len(old.indent):] if line.startswith(old.indent) else line.strip()}"
                      for line in old.lines]]
            additions.setdefault(block.cell, []).append((block, note))
    for index, items in additions.items():
        lines = cells[index].source.splitlines()
        for block, note in sorted(items, key=lambda item: item[0].begin, reverse=True):
            lines[block.end:block.end] = note
        cells[index] = nb.Cell(cells[index].kind, "\n".join(lines), dict(cells[index].metadata))
    gone = [b for b in theirs if b.key not in {c.key for c in course} and not b.is_stub()]
    return cells, conflicts, gone
