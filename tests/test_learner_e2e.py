"""A learner, end to end, on a temporary copy of the repository (issue 9, "Proof").

1. start module 08, fill every stub with the reference solution: `tito module complete 08` passes
   and `tito module status` shows it;
2. cosine written with sin: complete fails naming the schedule's check, the learner's package is
   byte-for-byte unchanged;
3. a syntax error: refused with the cell and line, nothing exported;
4. untouched stubs: the report names the unimplemented functions;
5. every module completed with the reference text: every module's tests pass against the learner's
   package (08's in step 1; all the others completed in one command, whose single test run covers
   their tests against a package holding every learner module).

The steps share one copy and run in order. `tito` runs as a learner runs it: a subprocess in the
clone (`python -m tito`, the console script's code), with the clone found from the current folder.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tito import cells as nb
from tito.workspace import find_module, learner_files, modules

pytestmark = pytest.mark.slow

STEP_ORDER: list[int] = []


def copy_repository(source: Path, destination: Path) -> Path:
    """The files git would hand a fresh clone (tracked and new, not ignored): no .venv, no _build."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=source, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        path = source / name
        if path.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return destination


def fill_with_reference(notebook: Path, source: Path, edit=None) -> None:
    """Write the reference solution of each block into the learner's notebook, as a learner would
    type it (the fences and hints stay); `edit(owner, lines)` may change a block's lines first."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    cells = nb.read_notebook(notebook)
    reference = nb.solution_blocks(nb.read_source(source), "00")
    mine = nb.solution_blocks(cells, "00")
    assert [b.owner for b in mine] == [b.owner for b in reference]
    per_cell: dict[int, list] = {}
    for ref, block in zip(reference, mine):
        per_cell.setdefault(block.cell, []).append((ref, block))
    raw = [c for c in data["cells"] if c["cell_type"] in ("code", "markdown")]
    for index, pairs in per_cell.items():
        lines = cells[index].source.splitlines()
        for ref, block in reversed(pairs):
            body = list(ref.body)
            if edit is not None:
                body = edit(block.owner, body)
            lines[block.begin + 1:block.end] = body
        raw[index]["source"] = "\n".join(lines).splitlines(keepends=True)
    notebook.write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def clone(tmp_path_factory, repo_root):
    root = copy_repository(repo_root, tmp_path_factory.mktemp("clone"))
    kernels = tmp_path_factory.mktemp("kernels")

    def tito(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = dict(os.environ, TITO_KERNEL_DIR=str(kernels), COLUMNS="160")
        env.pop("TINYTORCH_ROOT", None)
        env.pop("PYTHONPATH", None)
        return subprocess.run([sys.executable, "-m", "tito", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)

    return root, tito


def status_row(table: str, folder: str) -> dict[str, str]:
    """{column: value} of one module's row in `tito module status`'s table."""
    lines = table.splitlines()
    header = next(line for line in lines if "Module" in line and "Status" in line)
    names = [cell.strip() for cell in re.split(r"[┃│]", header)[1:-1]]
    row = next(line for line in lines if line.startswith("│") and f" {folder} " in line)
    return dict(zip(names, (cell.strip() for cell in row.split("│")[1:-1])))


def package_bytes(root: Path) -> dict[str, bytes]:
    return learner_files(root / "workspace" / "package")


def training(root: Path):
    return find_module(root, "training")


def test_step1_reference_solution_completes_and_status_shows_it(clone):
    root, tito = clone
    started = tito("module", "start", "08", "--no-open")
    assert started.returncode == 0, started.stdout + started.stderr
    module = training(root)
    assert Path(started.stdout.strip().splitlines()[-1]) == module.working_copy
    assert not (root / "workspace" / "package" / "tinytorch" / "core" / "training.py").exists()
    fill_with_reference(module.working_copy, module.source)
    result = tito("module", "complete", "08")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Module 08 complete" in result.stdout
    # The learner's package now holds the module's files, exported from the learner's notebook.
    exported = nb.export_code(nb.read_source(module.source), "reference")
    for target, code in exported.items():
        mine = (root / "workspace" / "package" / nb.target_path(target)).read_text(encoding="utf-8")
        assert "workspace/modules/08_training/08_training.ipynb (your notebook)" in mine.splitlines()[0]
        assert mine.endswith(code)
    status = tito("module", "status")
    assert status.returncode == 0, status.stderr
    columns = status_row(status.stdout, module.folder)
    assert columns["Status"] == "complete", columns
    assert int(columns["Checks passed"]) > 0, columns
    assert columns["Your files"] != "reference", columns
    other = status_row(status.stdout, modules(root)[0].folder)
    assert other["Status"] == "not started" and other["Your files"] == "reference", other
    STEP_ORDER.append(1)


def test_step2_cosine_with_sin_fails_naming_the_schedule_check(clone):
    root, tito = clone
    assert STEP_ORDER == [1]
    module = training(root)
    before = package_bytes(root)
    assert before

    def with_sin(owner, lines):
        if "schedule" in owner.lower() or owner.endswith("get_lr"):
            changed = [line.replace("cos(", "sin(") for line in lines]
            assert changed != lines, "the schedule's block should compute a cosine"
            return changed
        return lines

    fill_with_reference(module.working_copy, module.source, edit=with_sin)
    result = tito("module", "complete", "08")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"x test_unit_\w*(cosine|schedule)\w*", result.stdout), result.stdout
    assert "get_lr" in result.stdout            # the failing comparison names the call
    assert "Your package is unchanged" in result.stdout
    assert package_bytes(root) == before
    STEP_ORDER.append(2)


def test_step3_syntax_error_is_refused_with_cell_and_line(clone):
    root, tito = clone
    assert STEP_ORDER == [1, 2]
    module = training(root)
    before = package_bytes(root)
    fill_with_reference(module.working_copy, module.source)
    data = json.loads(module.working_copy.read_text(encoding="utf-8"))
    # A line with a bracket never closed, first in the first solution block.
    block = nb.solution_blocks(nb.read_notebook(module.working_copy), "00")[0]
    raw = [c for c in data["cells"] if c["cell_type"] in ("code", "markdown")][block.cell]
    lines = "".join(raw["source"]).splitlines()
    broken = block.begin + 1
    lines.insert(broken, block.indent + "total = (1 +")
    raw["source"] = "\n".join(lines).splitlines(keepends=True)
    module.working_copy.write_text(json.dumps(data, indent=1), encoding="utf-8")
    result = tito("module", "complete", "08")
    assert result.returncode == 1
    assert f"cell {block.cell + 1}, line {broken + 1}:" in result.stdout, result.stdout
    assert "Nothing was exported" in result.stdout
    assert "checking it" not in result.stdout       # refused before any export or check
    assert package_bytes(root) == before
    STEP_ORDER.append(3)


def test_step4_untouched_stubs_are_named(clone):
    root, tito = clone
    assert STEP_ORDER == [1, 2, 3]
    module = training(root)
    before = package_bytes(root)
    reset = tito("module", "reset", "08")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    backups = list((root / "workspace" / "backups").glob("08_training-*.ipynb"))
    assert len(backups) == 1 and "total = (1 +" in backups[0].read_text(encoding="utf-8")
    # Reset gives the pristine student notebook back (only the kernel differs).
    fresh = json.loads(module.working_copy.read_text(encoding="utf-8"))
    pristine = json.loads(module.student_notebook.read_text(encoding="utf-8"))
    assert fresh["cells"] == pristine["cells"]
    result = tito("module", "complete", "08")
    assert result.returncode == 1
    owners = [b.owner for b in nb.solution_blocks(nb.read_source(module.source), "08")]
    report = result.stdout
    assert "Not written yet" in report
    for owner in owners:
        assert owner in report, (owner, report)
    assert package_bytes(root) == before        # reset and the refused complete left it alone
    STEP_ORDER.append(4)


def test_step5_all_modules_completed_with_the_reference_pass_every_test(clone):
    root, tito = clone
    assert STEP_ORDER == [1, 2, 3, 4]
    # Module 08 is the learner's since step 1 (step 4 reset only its notebook; the package kept it,
    # and its tests passed then). Every other module is completed in one command: one pytest run
    # over all their tests, against a staged package that already holds the learner's 08 and then
    # all of the learner's modules, which the command commits unchanged (checked below). Running
    # module 08's ~200 tests a second time would cost ~20 s of the ~60 s this file may take.
    training_module = training(root)
    rest = [m for m in modules(root) if m != training_module]
    for module in rest:
        assert tito("module", "start", module.number, "--no-open").returncode == 0
        fill_with_reference(module.working_copy, module.source)
    result = tito("module", "complete", *(m.number for m in rest))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = re.search(r"ok (\d+) tests of (.+)", result.stdout)
    assert tested and int(tested[1]) > 0, result.stdout
    every_test_file = {p.name for m in rest for p in m.test_files()}
    assert set(tested[2].split(" (")[0].split(", ")) == every_test_file
    for module in rest:
        assert f"ok module {module.number}, the notebook's checks" in result.stdout
    status = tito("module", "status").stdout
    for module in modules(root):
        assert status_row(status, module.folder)["Status"] == "complete"
    # Every generated file of the reference has the learner's twin, and nothing else is the reference.
    reference = {p.relative_to(root).as_posix() for p in (root / "tinytorch").rglob("*.py")
                 if p.read_text(encoding="utf-8").startswith("# GENERATED FILE")}
    mine = {name for name, data in package_bytes(root).items() if b"(your notebook)" in data}
    assert mine == reference
    # The package is the reference's generated files, each exported from the learner's notebook
    # (module 08's from the reference text it was completed with in step 1): what the completes
    # tested, nothing more and nothing less.
    for module in modules(root):
        cells = nb.read_source(module.source) if module == training_module else nb.read_notebook(module.working_copy)
        for target, code in nb.export_code(cells, "mine").items():
            text = (root / "workspace" / "package" / nb.target_path(target)).read_text(encoding="utf-8")
            assert text.endswith(code)
