"""The student notebooks in modules/: generated from src/, no answers in them, and they work.

`make export` writes modules/NN_name/NN_name.ipynb for every src module; the export check
(tests/test_export.py::test_real_repository_is_in_sync, and `make test`'s first part) fails when one
differs from what the export writes. These tests pin what the export writes.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
import yaml

from tito import cells as nb

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for p in (ROOT / "src").glob("[0-9][0-9]_*/[0-9][0-9]_*.py") if p.stem == p.parent.name)
IDS = [p.stem for p in SOURCES]


def notebook_of(source: Path) -> Path:
    return ROOT / "modules" / source.stem / f"{source.stem}.ipynb"


def code_lines(cells: list[nb.Cell]) -> Counter:
    return Counter(line.strip() for cell in cells if cell.kind == "code" for line in cell.source.splitlines()
                   if line.strip())


def test_every_module_has_exactly_one_student_notebook():
    assert SOURCES, "no modules in src/"
    expected = {notebook_of(s) for s in SOURCES}
    assert set((ROOT / "modules").glob("*/*.ipynb")) == expected


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_no_line_of_a_solution_appears_in_the_student_notebook(source):
    """Counted line by line (stripped, blank lines aside): a solution line may appear in the student
    notebook only as often as the same line appears in the source's provided code, outside every
    block (for example a `def backward(g):` that the provided code also has). So nothing of a
    block's body survives, not even a closing bracket, beyond what the learner is given anyway."""
    cells = nb.read_source(source)
    blocks = nb.solution_blocks(cells, source.stem[:2])   # none in a module that only runs (milestones)
    inside = Counter(line.strip() for b in blocks for line in b.body if line.strip())
    everything = code_lines(cells)
    provided = everything - inside
    student = code_lines(nb.read_notebook(notebook_of(source)))
    leaked = {line: student[line] - provided[line] for line in inside if student[line] > provided[line]}
    assert not leaked, f"solution lines in {notebook_of(source).relative_to(ROOT)}: {leaked}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_markdown_provided_code_and_checks_stay(source):
    cells = nb.read_source(source)
    blocks = nb.solution_blocks(cells, source.stem[:2])
    student = nb.read_notebook(notebook_of(source))[1:]        # after the Colab cell
    assert [c.kind for c in student] == [c.kind for c in cells]
    in_block = {(b.cell, i) for b in blocks for i in range(b.begin + 1, b.end)}
    for index, (original, mine) in enumerate(zip(cells, student)):
        if original.kind == "markdown":
            assert mine.source == original.source
            continue
        kept = [line for i, line in enumerate(original.source.splitlines()) if (index, i) not in in_block]
        stub_lines = [line for line in mine.source.splitlines() if nb.STUB_MARK in line]
        assert [line for line in mine.source.splitlines() if line not in stub_lines] == kept
    checks = [c for c in student if c.kind == "code" and "def test_unit_" in c.source]
    assert checks, "the inline checks must stay in the student notebook"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_each_block_becomes_a_stub_naming_the_function_and_the_section(source):
    blocks = nb.solution_blocks(nb.read_source(source), source.stem[:2])
    student = nb.read_notebook(notebook_of(source))
    stubs = [line.strip() for c in student for line in c.source.splitlines() if nb.STUB_MARK in line]
    assert len(stubs) == len(blocks)
    for block, stub in zip(blocks, stubs):
        assert stub.startswith("raise NotImplementedError(")
        assert block.owner in stub and f'chapter {block.chapter}, section "{block.section}"' in stub
        # The hint survives, right above the fence, as in the source.
    student_text = "\n".join(c.source for c in student)
    for block in blocks:
        for line in block.hint:
            assert line in student_text
    assert nb.stubs_left(student) == list(dict.fromkeys(b.owner for b in blocks))


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_every_solution_block_has_a_hint_naming_a_section_of_its_chapter(source):
    """Rule 7 of the project: one to three comment lines right above `### BEGIN SOLUTION`, the first
    starting with `# Hint:`, naming the chapter section, e.g. (chapter 08, "Cosine schedule")."""
    for block in nb.solution_blocks(nb.read_source(source), source.stem[:2]):
        assert block.hint, f"{source.name}: {block.owner}: no `# Hint:` line above its solution block"
        assert re.search(r'chapter\s+\d+\s*,\s*"[^"]+"', block.hint_text), (
            f"{source.name}: {block.owner}: the hint names no section: {block.hint}")
        chapters = list((ROOT / "book" / "chapters").glob(f"{block.chapter}_*.md"))
        assert chapters, f"{source.name}: {block.owner}: the hint names chapter {block.chapter}, which does not exist"
        # A module may span several chapters of one number (module 08 has three): the section is
        # in exactly one of them.
        holders = [chapter for chapter in chapters
                   if block.section in {re.sub(r"^#+\s+", "", line).strip()
                                        for line in chapter.read_text(encoding="utf-8").splitlines()
                                        if re.match(r"#+\s", line)}]
        assert len(holders) == 1, (
            f"{source.name}: {block.owner}: section {block.section!r} is in {len(holders)} of the chapters "
            f"numbered {block.chapter}, not exactly one")


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_notebook_is_valid_deterministic_and_carries_no_outputs(source):
    path = notebook_of(source)
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    data = json.loads(text)
    assert (data["nbformat"], data["nbformat_minor"]) == (4, 4)
    assert all("id" not in cell for cell in data["cells"])           # ids would change on every export
    assert all(cell.get("outputs", []) == [] and cell.get("execution_count") is None
               for cell in data["cells"] if cell["cell_type"] == "code")
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    assert data["metadata"]["tinytorch"]["source"] == source.relative_to(ROOT).as_posix()
    assert text == text.strip() + "\n"


def test_export_writes_the_same_bytes_twice(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import export
    finally:
        sys.path.remove(str(ROOT / "tools"))
    first = {p: export.student_notebook(p, ROOT)[1] for p in SOURCES}
    second = {p: export.student_notebook(p, ROOT)[1] for p in SOURCES}
    assert first == second
    for source, text in first.items():
        assert notebook_of(source).read_text(encoding="utf-8") == text


def test_a_hand_edited_student_notebook_fails_the_export_check(run_export, tmp_path):
    root = tmp_path / "repo"
    source = SOURCES[0]
    (root / "src" / source.stem).mkdir(parents=True)
    (root / "src" / source.stem / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (root / "_config.yml").write_text((ROOT / "_config.yml").read_text(encoding="utf-8"), encoding="utf-8")
    assert run_export("--root", root).returncode == 0
    assert run_export("--root", root, "--check").returncode == 0
    student = root / "modules" / source.stem / f"{source.stem}.ipynb"
    student.write_text(student.read_text(encoding="utf-8").replace(nb.STUB_MARK, "was edited"), encoding="utf-8")
    result = run_export("--root", root, "--check")
    assert result.returncode == 1
    assert f"modules/{source.stem}/{source.stem}.ipynb differs from its source" in result.stderr
    stray = root / "modules" / "99_stray" / "99_stray.ipynb"
    stray.parent.mkdir()
    stray.write_text("{}")
    result = run_export("--root", root, "--check")
    assert "modules/99_stray/99_stray.ipynb is generated but no source exports it" in result.stderr
    assert run_export("--root", root).returncode == 0
    assert not stray.exists() and nb.STUB_MARK in student.read_text(encoding="utf-8")


def _first_cell(source: Path) -> str:
    return nb.read_notebook(notebook_of(source))[0].source


def test_first_cell_installs_tinytorch_from_the_repository_only_on_colab(monkeypatch):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    code = _first_cell(SOURCES[0])
    assert all(_first_cell(s) == code for s in SOURCES)
    assert f"git+{config['url'].rstrip('/')}@{config['branch']}" in code
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(code, "<first cell>", "exec"), {})
    assert calls == []                                              # Binder, a clone: nothing
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    exec(compile(code, "<first cell>", "exec"), {})
    assert len(calls) == 1
    command = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-1] == f"tinytorch @ git+{config['url'].rstrip('/')}@{config['branch']}"


def test_student_notebook_runs_until_the_first_stub_and_names_it(tmp_path):
    """Run as a learner would before writing anything: provided code runs, and the first cell that
    calls unwritten code stops with the stub's message (function and chapter section)."""
    source = next(s for s in reversed(SOURCES) if nb.solution_blocks(nb.read_source(s), s.stem[:2]))
    blocks = nb.solution_blocks(nb.read_source(source), source.stem[:2])
    report_path = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-P", "-m", "tito.notebook_runner", str(notebook_of(source)),
                             str(report_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    failure = json.loads(report_path.read_text())["failure"]
    assert failure["error"] == "NotImplementedError"
    assert nb.STUB_MARK in failure["message"]
    assert any(f"{b.owner} {nb.STUB_MARK}" in failure["message"] and f'"{b.section}"' in failure["message"]
               for b in blocks), failure
