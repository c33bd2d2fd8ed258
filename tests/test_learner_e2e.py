"""A learner, end to end, on a temporary copy of the repository (issue 9, "Proof").

1. start module 08, fill every stub with a learner's plain textbook code (tests/textbook_learner.py,
   written by hand, not the reference's): `tito module complete 08` passes and `status` shows it;
2. cosine written with sin: complete fails naming the schedule's check, the learner's package is
   byte-for-byte unchanged;
3. a syntax error: refused with the cell and line, nothing exported;
4. untouched stubs: the report names the unimplemented functions;
5. every other module completed with that learner's plain code (module 11's blocks, which it has no
   body for, with the reference text) in one command: every module's graded tests pass against the
   learner's package, the milestones' targets (module 10's tests) included;
6. the Trainer runs the learner's optimizer rule and engine (their source, once per parameter and
   step and once per batch) and gives the course's numbers, and a run resumed from a checkpoint
   continues exactly.

Then a course update (issue 19, "Done means"), on a second copy made OLDER by a synthetic edit (an
extra provided function exported by module 01, an extra hand-written package file), so that it
does not depend on what the modules hold: a learner completes module 01 there with their own code;
the copy is brought to the current tree (as `git pull` would); their work is kept, `tito test 01`
grades their code against the new reference, `tito test 03` passes, `status` tells the truth, and
`tito module update` refreshes their notebook with their code in it.

The steps of each copy share it and run in order. `tito` runs as a learner runs it: a subprocess in the
clone (`python -m tito`, the console script's code), with the clone found from the current folder.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tito import cells as nb
from tito.workspace import find_module, modules

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
    for ref, block in zip(reference, mine):            # in the notebook's order: edit sees blocks in order
        body = list(ref.body) if edit is None else edit(block.owner, list(ref.body))
        per_cell.setdefault(block.cell, []).append((body, block))
    raw = [c for c in data["cells"] if c["cell_type"] in ("code", "markdown")]
    for index, pairs in per_cell.items():
        lines = cells[index].source.splitlines()
        for body, block in reversed(pairs):
            lines[block.begin + 1:block.end] = body
        raw[index]["source"] = "\n".join(lines).splitlines(keepends=True)
    notebook.write_text(json.dumps(data, indent=1), encoding="utf-8")


def fill_with_textbook(notebook: Path, source: Path, folder: str) -> None:
    """Write the textbook learner's body (tests/textbook_learner.py: plain code written by hand, not
    the reference's) into each block of the learner's notebook; blocks it has no body for (module
    11's) get the reference text."""
    bodies = textbook_learner()._bodies_for(folder)
    used: dict[str, int] = {}

    def edit(owner, lines):
        if owner not in bodies:
            return lines
        position = used.get(owner, 0)
        used[owner] = position + 1
        indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())] if lines else ""
        text = textwrap.dedent(bodies[owner][min(position, len(bodies[owner]) - 1)]).strip("\n")
        return [(indent + line) if line.strip() else "" for line in text.splitlines()]

    fill_with_reference(notebook, source, edit)


def tito_in(root: Path, kernels: Path):
    """tito(*args): `tito` run as a learner runs it, a subprocess in the copy `root` (its own kernel
    folder; no TINYTORCH_ROOT or PYTHONPATH of the test run leaks in)."""
    def tito(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = dict(os.environ, TITO_KERNEL_DIR=str(kernels), COLUMNS="160")
        env.pop("TINYTORCH_ROOT", None)
        env.pop("PYTHONPATH", None)
        return subprocess.run([sys.executable, "-m", "tito", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
    return tito


@pytest.fixture(scope="module")
def clone(tmp_path_factory, repo_root):
    root = copy_repository(repo_root, tmp_path_factory.mktemp("clone"))
    kernels = tmp_path_factory.mktemp("kernels")

    return root, tito_in(root, kernels)


def status_row(table: str, folder: str) -> dict[str, str]:
    """{column: value} of one module's row in `tito module status`'s table."""
    lines = table.splitlines()
    header = next(line for line in lines if "Module" in line and "Status" in line)
    names = [cell.strip() for cell in re.split(r"[┃│]", header)[1:-1]]
    row = next(line for line in lines if line.startswith("│") and f" {folder} " in line)
    return dict(zip(names, (cell.strip() for cell in row.split("│")[1:-1])))


def package_bytes(root: Path) -> dict[str, object]:
    """Every file's bytes and every link's target of the learner's package (caches left out)."""
    package = root / "workspace" / "package"
    found: dict[str, object] = {}
    for path in sorted(package.rglob("*")):
        if "__pycache__" in path.parts or any(p.is_symlink() for p in path.parents):
            continue
        if path.is_symlink():
            found[path.relative_to(package).as_posix()] = ("link", os.readlink(path))
        elif path.is_file():
            found[path.relative_to(package).as_posix()] = path.read_bytes()
    return found


def training(root: Path):
    return find_module(root, "training")


def test_step1_a_plain_learner_completes_module_08_and_status_shows_it(clone):
    root, tito = clone
    started = tito("module", "start", "08", "--no-open")
    assert started.returncode == 0, started.stdout + started.stderr
    module = training(root)
    assert Path(started.stdout.strip().splitlines()[-1]) == module.working_copy
    # Before any complete, the learner's package is the course's own package, file for file.
    training_py = root / "workspace" / "package" / "tinytorch" / "core" / "training.py"
    assert training_py.read_bytes() == (root / "tinytorch" / "core" / "training.py").read_bytes()
    fill_with_textbook(module.working_copy, module.source, module.folder)
    result = tito("module", "complete", "08")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Module 08 complete" in result.stdout
    # The learner's package holds the module's files: the course's source with the learner's blocks.
    exported = nb.export_code(nb.read_notebook(module.working_copy), "theirs")
    for target, code in exported.items():
        mine = (root / "workspace" / "package" / nb.target_path(target)).read_text(encoding="utf-8")
        assert "Built by `tito` from src/08_training/08_training.py" in mine.splitlines()[0]
        assert mine.endswith(code)
    status = tito("module", "status")
    assert status.returncode == 0, status.stderr
    columns = status_row(status.stdout, module.folder)
    assert columns["Status"] == "complete", columns
    assert int(columns["Tests passed"]) > 0, columns
    blocks = len(nb.solution_blocks(nb.read_source(module.source), "08"))
    assert columns["Your code"] == f"{blocks} of {blocks} blocks", columns
    other = status_row(status.stdout, modules(root)[0].folder)
    assert other["Status"] == "not started" and other["Your code"] == "reference", other
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


def test_step5_a_plain_learner_completes_every_module_and_passes_every_test(clone):
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
        fill_with_textbook(module.working_copy, module.source, module.folder)
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
    # Every generated file of the reference is built with the learner's blocks; every other file of
    # the package is the reference's own (hand-written files copied, data folders linked).
    reference = {p.relative_to(root).as_posix() for p in (root / "tinytorch").rglob("*.py")
                 if p.read_text(encoding="utf-8").startswith("# GENERATED FILE")}
    package = package_bytes(root)
    mine = {name for name, data in package.items() if isinstance(data, bytes) and b"Built by `tito`" in data[:200]}
    assert mine == reference
    for name, data in package.items():
        if name not in mine and isinstance(data, bytes):
            assert data == (root / name).read_bytes(), name
    # The package is the reference's generated files, each exported from the learner's notebook:
    # what the completes tested, nothing more and nothing less.
    for module in modules(root):
        # (module 08's notebook was reset in step 4; its package kept the code of step 1)
        cells = (textbook_learner().substituted_cells(module.source, module.folder) if module == training_module
                 else nb.read_notebook(module.working_copy))
        for target, code in nb.export_code(cells, "mine").items():
            text = (root / "workspace" / "package" / nb.target_path(target)).read_text(encoding="utf-8")
            assert text.endswith(code)
    STEP_ORDER.append(5)


TRAINING_RUN = r"""
import inspect, json, sys
import numpy as np
import tinytorch
from tinytorch import CrossEntropyLoss, DataLoader, Linear, ReLU, SGD, Sequential, TensorDataset, Trainer
from tinytorch import manual_seed
from tinytorch.core import autograd, optimizers

calls = {"update": 0, "backward": 0}
watched = {optimizers.SGD.update.__code__: "update", autograd.backward.__code__: "backward"}

def count(frame, event, arg):
    if event == "call" and frame.f_code in watched:
        calls[watched[frame.f_code]] += 1

def trainer():
    manual_seed(0)
    model = Sequential(Linear(6, 12), ReLU(), Linear(12, 3))
    return Trainer(model, SGD(model.parameters(), lr=0.1, momentum=0.9), CrossEntropyLoss())

rng = np.random.default_rng(0)
data = TensorDataset(rng.standard_normal((64, 6)).astype(np.float32), rng.integers(0, 3, 64))
loader = DataLoader(data, batch_size=16, shuffle=True, seed=1)
straight = trainer()
sys.setprofile(count)
losses = [straight.train_epoch(loader) for _ in range(4)]
sys.setprofile(None)
interrupted = trainer()
for _ in range(2):
    interrupted.train_epoch(loader)
interrupted.save_checkpoint("half.safetensors")
resumed = trainer()
resumed.load_checkpoint("half.safetensors")
for _ in range(2):
    resumed.train_epoch(loader)
print(json.dumps({
    "package": tinytorch.__file__, "calls": calls, "losses": losses,
    "weights": [p.data.tolist() for p in straight.model.parameters()],
    "resumed_exactly": all(np.array_equal(a.data, b.data) for a, b in
                           zip(straight.model.parameters(), resumed.model.parameters())),
    "update_source": inspect.getsource(optimizers.SGD.update),
    "backward_source": inspect.getsource(autograd.backward)}))
"""


def test_step6_the_trainer_runs_the_learners_optimizer_and_engine_with_the_references_numbers(clone, tmp_path):
    root, _ = clone
    assert STEP_ORDER == [1, 2, 3, 4, 5]
    from tito.workspace import learner_env, package_dir

    def run(env, folder):
        folder.mkdir()
        done = subprocess.run([sys.executable, "-P", "-c", TRAINING_RUN], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    theirs = run(learner_env(package_dir(root)), tmp_path / "theirs")
    course = run({k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, tmp_path / "course")
    assert theirs["package"].startswith(str(package_dir(root)))
    # Their code ran: the rule and the engine the Trainer called are the ones they wrote ...
    bodies = textbook_learner()._bodies_for
    assert 'state["momentum_buffer"] = buf' in theirs["update_source"]
    assert 'grads[parent] = grads[parent] + parent_grad' in theirs["backward_source"]
    assert bodies("07_optimizers") and bodies("06_autograd")
    # ... once per parameter and step, and once per batch: 4 epochs of 4 batches, 4 parameters
    assert theirs["calls"] == {"update": 4 * 4 * 4, "backward": 4 * 4}
    # ... and gave the course's numbers, and a run resumed from a checkpoint continues exactly.
    np.testing.assert_allclose(theirs["losses"], course["losses"], rtol=1e-5)
    for mine, reference in zip(theirs["weights"], course["weights"]):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-6)
    assert theirs["resumed_exactly"] and course["resumed_exactly"]
    STEP_ORDER.append(6)


# ---------------------------------------------------------------- a course update

UPGRADE_ORDER: list[int] = []
OLDER_CELL = '\n\n# %%\n#| export\ndef _older_course_helper():\n    """Provided code of the older course."""\n    return "older"\n'
OLDER_FILE = "tinytorch/_older_course.py"
MARK = "# my own code"


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory, repo_root):
    """A copy of the repository made older (see the module's docstring), and a `tito` for it."""
    root = copy_repository(repo_root, tmp_path_factory.mktemp("older"))
    source = find_module(root, "01").source
    source.write_text(source.read_text(encoding="utf-8").rstrip("\n") + "\n" + OLDER_CELL, encoding="utf-8")
    (root / OLDER_FILE).write_text('"""Hand-written, of the older course."""\nOLDER = True\n', encoding="utf-8")
    spec = importlib.util.spec_from_file_location("_older_export", repo_root / "tools" / "export.py")
    exporter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(exporter)
    exporter.write(root)                # `make export` of the older copy (in this process: its imports are paid)
    kernels = tmp_path_factory.mktemp("kernels-older")

    return root, tito_in(root, kernels)


def textbook_learner():
    """tests/textbook_learner.py: a learner's plain bodies, written by hand (not the reference's)."""
    spec = importlib.util.spec_from_file_location("_textbook", Path(__file__).with_name("textbook_learner.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def targets_of(root: Path, number: str) -> list[Path]:
    """The package files a module's source exports, relative to the package folder."""
    return [nb.target_path(t) for t in nb.export_code(nb.read_source(find_module(root, number).source), "x")]


def test_upgrade1_a_learner_completes_module_01_on_the_older_course(upgrade):
    root, tito = upgrade
    module = find_module(root, "01")
    assert tito("module", "start", "01", "--no-open").returncode == 0
    assert "_older_course_helper" in module.working_copy.read_text(encoding="utf-8")
    # Their own plain code: the textbook learner's bodies (tests/textbook_learner.py: plain code,
    # not the reference's), each opened by a line of their own.
    theirs = textbook_learner()._bodies_for(module.folder)
    seen: dict[str, int] = {}

    def own(owner: str, lines: list[str]) -> list[str]:
        indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())] if lines else ""
        ordinal = seen[owner] = seen.get(owner, -1) + 1
        if owner in theirs:
            text = textwrap.dedent(theirs[owner][min(ordinal, len(theirs[owner]) - 1)]).strip("\n")
            lines = [indent + line if line.strip() else "" for line in text.splitlines()]
        return [indent + MARK, *lines]

    fill_with_reference(module.working_copy, module.source, edit=own)
    result = tito("module", "complete", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    package = root / "workspace" / "package"
    assert "_older_course_helper" in "".join((package / t).read_text(encoding="utf-8") for t in targets_of(root, "01"))
    assert (package / OLDER_FILE).exists()
    UPGRADE_ORDER.append(1)


def test_upgrade2_after_the_pull_their_code_is_graded_against_the_new_reference(upgrade, repo_root):
    root, tito = upgrade
    assert UPGRADE_ORDER == [1]
    # `git pull`: the copy becomes the current tree (the older additions are gone).
    (root / OLDER_FILE).unlink()
    copy_repository(repo_root, root)
    module = find_module(root, "01")
    blocks = len(nb.solution_blocks(nb.read_source(module.source), "01"))
    result = tito("test", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The course changed since your package was built: it was rebuilt from the course, with your code " \
           "for module(s) 01." in result.stdout
    assert f"Module 01 {module.title()}: yours" in result.stdout
    # The package is the new course's, with their bodies: nothing of the older provided code is left.
    package = package_bytes(root)
    assert not any("_older_course" in name for name in package)
    mine = "".join(package[t.as_posix()].decode() for t in targets_of(root, "01"))
    assert mine.count(MARK) == blocks and "_older_course_helper" not in mine
    # Exactly their code in the new course: the current source exported with their bodies.
    theirs = nb.export_code(textbook_learner().substituted_cells(module.source, module.folder), "theirs")
    for target, code in theirs.items():
        text = package[nb.target_path(target).as_posix()].decode()
        assert "\n".join(line for line in text.split("\n", 3)[3].split("\n") if line.strip() != MARK) == code
    for name, data in package.items():
        if isinstance(data, bytes) and Path(name) not in targets_of(root, "01"):
            assert data == (root / name).read_bytes(), name           # the new reference, byte for byte
    # Module 03 (not completed) runs on their module 01, and its tests pass; nothing is re-checked
    # again (`tito test 01` recorded module 01's result for this course).
    result = tito("test", "03")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the reference (not completed)" in result.stdout and "Checking your module" not in result.stdout
    status = tito("module", "status")
    columns = status_row(status.stdout, module.folder)
    assert columns["Status"] == "complete" and columns["Your code"] == f"{blocks} of {blocks} blocks", columns
    assert "Your notebook(s) of module(s) 01 are from an older version of the course" in status.stdout
    UPGRADE_ORDER.append(2)


def test_upgrade3_update_refreshes_their_notebook_with_their_code(upgrade):
    root, tito = upgrade
    assert UPGRADE_ORDER == [1, 2]
    module = find_module(root, "01")
    before = module.working_copy.read_text(encoding="utf-8")
    result = tito("module", "update", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "module 01: your notebook is refreshed from the course, with your code in its blocks" in result.stdout
    assert "Checking your module" not in result.stdout
    backups = list((root / "workspace" / "backups").glob("01_*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == before
    cells = nb.read_notebook(module.working_copy)
    blocks = nb.solution_blocks(cells, "01")
    assert all(block.body and block.body[0].strip() == MARK for block in blocks)
    assert "_older_course_helper" not in module.working_copy.read_text(encoding="utf-8")
    assert nb.stubs_left(cells) == []
    status = tito("module", "status").stdout
    assert status_row(status, module.folder)["Status"] == "complete" and "older version" not in status
