"""tito's parts, each on its own: module names, the overlay package, compile errors, the CLI surface,
reset's backup, the learner's Jupyter kernel, doctor. The whole journey is tests/test_learner_e2e.py."""
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
from tito import checks
from tito import workspace as ws

ROOT = Path(__file__).resolve().parent.parent
MODULES = ws.modules(ROOT)


def run(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def clone(tmp_path):
    """A minimal clone: src/, modules/, tests/, tinytorch/, book/, tools/export.py, pyproject.toml."""
    root = tmp_path / "clone"
    for name in ("src", "modules", "tinytorch", "tests", "book"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tools").mkdir()
    shutil.copy2(ROOT / "tools" / "export.py", root / "tools" / "export.py")
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYTORCH_ROOT")}
    env["TITO_KERNEL_DIR"] = str(tmp_path / "kernels")     # Jupyter finds it with JUPYTER_PATH=tmp_path
    return root, env


def test_modules_come_from_src_and_are_found_by_number_name_or_folder():
    assert [m.folder for m in MODULES] == sorted(p.name for p in (ROOT / "src").iterdir()
                                                if re.match(r"\d\d_", p.name))
    training = next(m for m in MODULES if m.name == "training")
    for key in (training.number, str(int(training.number)), "training", training.folder, "TRAINING"):
        assert ws.find_module(ROOT, key) == training
    tensor = ws.find_module(ROOT, "tensor")                 # the seeds' `tito test tensor`
    assert tensor.number == "01"
    with pytest.raises(ws.TitoError, match=r"no module 'networks': the modules are 01 \(tensor\)"):
        ws.find_module(ROOT, "networks")


def test_a_module_owns_its_tests_and_the_shared_range_files():
    for module in MODULES:
        files = [p.name for p in module.test_files()]
        assert files, f"module {module.folder} has no tests/test_{module.number}_*.py nor test_{module.name}*.py"
        assert all(re.match(rf"test_({module.number}_|\d\d_\d\d_|{module.name}(_|\.py))", name)
                   for name in files), files
    layers = ws.find_module(ROOT, "layers")
    shared = [p.name for p in layers.test_files() if re.match(r"test_\d\d_\d\d_", p.name)]
    low_high = [re.match(r"test_(\d\d)_(\d\d)_", n).groups() for n in shared]
    assert all(int(low) <= 3 <= int(high) for low, high in low_high)


def test_overlay_package_takes_the_learners_file_and_the_reference_for_the_rest(tmp_path):
    """A learner package holding one module: that one is theirs, everything else is the reference,
    and `import tinytorch` is theirs only where the environment says so."""
    package = tmp_path / "package"
    mine = "# mine\nfrom tinytorch.core.tensor import Tensor\n\ndef relu(x):\n    return 'learner relu'\n"
    (package / "tinytorch" / "core").mkdir(parents=True)
    (package / "tinytorch" / "core" / "activations.py").write_text(mine)
    ws.write_overlays(package, ROOT)
    probe = ("import tinytorch, tinytorch.core.activations as a, tinytorch.core.layers as l; "
             "print(tinytorch.__file__); print(a.__file__); print(l.__file__); print(a.relu(1)); "
             "print(tinytorch.Linear.__module__)")
    result = subprocess.run([sys.executable, "-P", "-c", probe], env=ws.learner_env(package), cwd=tmp_path,
                            capture_output=True, text=True)
    # The reference __init__ re-exports ReLU from activations: this learner file lacks it, and the
    # import says so (proof that the learner's file, not the reference's, was imported).
    assert result.returncode != 0
    assert "cannot import name" in result.stderr and str(package / "tinytorch" / "core" / "activations.py") in result.stderr
    (package / "tinytorch" / "core" / "activations.py").write_text(
        (ROOT / "tinytorch" / "core" / "activations.py").read_text() + "\n\ndef relu(x):\n    return 'learner relu'\n")
    result = subprocess.run([sys.executable, "-P", "-c", probe], env=ws.learner_env(package), cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    top, activations, layers, relu, linear = result.stdout.split("\n")[:5]
    assert Path(top) == package / "tinytorch" / "__init__.py"
    assert Path(activations) == package / "tinytorch" / "core" / "activations.py"
    assert Path(layers) == ROOT / "tinytorch" / "core" / "layers.py"
    assert relu == "learner relu" and linear == "tinytorch.core.layers"
    # Without the learner's environment (make test, the book): the reference.
    plain = subprocess.run([sys.executable, "-P", "-c", "import tinytorch; print(tinytorch.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert Path(plain.stdout.strip()) == ROOT / "tinytorch" / "__init__.py"


def test_compile_errors_name_cell_and_line_and_accept_magics():
    cells = [nb.Cell("markdown", "# Title"), nb.Cell("code", "%matplotlib inline\nx = 1\n!echo hi"),
             nb.Cell("code", "def f(:\n    pass"), nb.Cell("code", "y = 2\nz = (3 +\n")]
    errors = checks.compile_errors(cells)
    assert [(e.cell, e.line) for e in errors] == [(3, 1), (4, 2)]
    assert "never closed" in errors[1].message


def test_stubs_are_recognised_and_a_written_block_is_not():
    source = ("def f(x):\n    # Hint: double it (chapter 01, \"Doubling\").\n    ### BEGIN SOLUTION\n"
              "    return 2 * x\n    ### END SOLUTION\n\n"
              "class A:\n    def g(self):\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n")
    cells = [nb.Cell("markdown", "## Gee"), nb.Cell("code", source)]
    student = nb.student_cells(cells, "01")
    assert nb.stubs_left(student) == ["f", "A.g"]
    assert 'f is yours to write: chapter 01, section "Doubling"' in student[1].source
    assert 'A.g is yours to write: chapter 01, section "Gee"' in student[1].source   # no hint: heading
    assert "# Hint: double it" in student[1].source and "return 2 * x" not in student[1].source
    assert nb.stubs_left(cells) == []
    namespace: dict = {}
    exec(student[1].source, namespace)
    with pytest.raises(NotImplementedError, match=r"f is yours to write"):
        namespace["f"](1)


def test_help_lists_every_command():
    result = run(["--help"], ROOT)
    assert result.returncode == 0, result.stderr
    for command in ("module start", "module complete", "test", "module status", "module reset",
                    "system doctor", "milestone run", "export"):
        assert f"tito {command}" in result.stdout or f"{command.split()[0]} " in result.stdout, command
    for group, commands in (("module", ("start", "complete", "status", "reset")), ("system", ("doctor",)),
                            ("milestone", ("run",))):
        listed = run([group, "--help"], ROOT).stdout
        assert all(re.search(rf"^\s+{c}\s", listed, re.M) for c in commands), listed
    assert "--no-open" in run(["module", "start", "--help"], ROOT).stdout
    assert "--module" in run(["test", "--help"], ROOT).stdout
    assert "--verbose" in run(["test", "--help"], ROOT).stdout


def test_start_reset_and_status_in_a_clone(clone):
    root, env = clone
    module = ws.find_module(root, "losses")
    started = run(["module", "start", "losses", "--no-open"], root, env)
    assert started.returncode == 0, started.stderr
    copy = Path(started.stdout.strip().splitlines()[-1])
    assert copy == module.working_copy
    data = json.loads(copy.read_text())
    assert data["metadata"]["kernelspec"]["name"] == ws.KERNEL_NAME
    assert data["cells"] == json.loads(module.student_notebook.read_text())["cells"]
    assert (Path(env["TITO_KERNEL_DIR"]) / ws.KERNEL_NAME / "kernel.json").exists()
    # A learner's edit survives a second start; reset keeps it as a timestamped backup.
    copy.write_text(copy.read_text().replace(nb.STUB_MARK, "my edit", 1))
    assert run(["module", "start", module.number, "--no-open"], root, env).returncode == 0
    assert "my edit" in copy.read_text()
    status = run(["module", "status"], root, env).stdout
    assert re.search(rf"{module.folder}\s+│\s+in progress", status), status
    reset = run(["module", "reset", module.number], root, env)
    assert reset.returncode == 0, reset.stderr
    backups = list((root / "workspace" / "backups").glob(f"{module.folder}-*.ipynb"))
    assert len(backups) == 1 and "my edit" in backups[0].read_text()
    assert re.fullmatch(rf"{module.folder}-\d{{8}}-\d{{6}}-\d+\.ipynb", backups[0].name)
    assert "my edit" not in copy.read_text() and nb.STUB_MARK in copy.read_text()
    # Nothing in the clone's committed folders changed.
    for name in ("src", "modules", "tinytorch"):
        assert not subprocess.run(["diff", "-rq", "-x", "__pycache__", str(ROOT / name), str(root / name)],
                                  capture_output=True).stdout


def test_unknown_module_and_unstarted_complete_say_what_to_do(clone):
    root, env = clone
    result = run(["test", "networks"], root, env)
    assert result.returncode == 1 and "no module 'networks'" in result.stdout
    result = run(["module", "complete", "02"], root, env)
    assert result.returncode == 1 and "tito module start 02" in result.stdout
    result = run(["export", "--module", "training"], root, env)      # the older spelling
    number = ws.find_module(root, "training").number
    assert result.returncode == 1 and f"tito module start {number}" in result.stdout


def test_tito_test_by_name_and_by_option_runs_against_the_learner_package(clone):
    root, env = clone
    losses = ws.find_module(root, "losses")
    # A learner package whose losses module is broken: `tito test` must see it (not the reference).
    package = root / "workspace" / "package"
    broken = (root / "tinytorch" / "core" / "losses.py").read_text().replace(
        "def mse_loss(", "def _unused(", 1) + "\n\ndef mse_loss(*args, **kwargs):\n    raise RuntimeError('a learner bug')\n"
    (package / "tinytorch" / "core").mkdir(parents=True)
    (package / "tinytorch" / "core" / "losses.py").write_text(broken)
    (root / "workspace" / "progress.json").write_text(json.dumps({losses.folder: {"status": "complete"}}))
    for args in (["test", "--module", "losses"], ["test", losses.number]):
        result = run(args, root, env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"Module {losses.number} {losses.title()}: yours" in result.stdout
        assert re.search(r"\d+ failed, \d+ passed", result.stdout)
        assert re.search(r"x test_04_\w+\.py::test_\w+", result.stdout), result.stdout
        assert "RuntimeError: a learner bug" in result.stdout
        assert "in:       mse_loss in tinytorch/core/losses.py" in result.stdout
        assert "(yours)" in result.stdout                       # the failing frame is the learner's file
    (package / "tinytorch" / "core" / "losses.py").unlink()
    result = run(["test", "losses"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\d+ passed", result.stdout)


def test_learner_kernel_imports_the_learner_package(clone, tmp_path):
    """The kernel `tito module start` installs: in a notebook of the workspace, `import tinytorch`
    is the learner's package; the book's python3 kernel keeps the reference."""
    import nbclient
    import nbformat

    root, env = clone
    assert run(["module", "start", "01", "--no-open"], root, env).returncode == 0
    folder = root / "workspace" / "modules" / "01_tensor"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import tinytorch, tinytorch.core.layers as l; print(tinytorch.__file__); print(l.__file__)")])
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(Path(env["TITO_KERNEL_DIR"]).parent)
    try:
        nbclient.NotebookClient(notebook, timeout=120, kernel_name=ws.KERNEL_NAME,
                                resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = old
    top, layers = notebook.cells[0].outputs[0]["text"].split()
    assert Path(top) == root / "workspace" / "package" / "tinytorch" / "__init__.py"
    assert Path(layers) == root / "tinytorch" / "core" / "layers.py"     # not completed: reference


def test_doctor_reports_each_check(clone):
    root, env = clone
    result = run(["system", "doctor"], root, env)
    for check in ("Python", "Virtual environment", "Pinned packages", "Jupyter kernel 'TinyTorch (yours)'",
                  "import tinytorch under tito", "import tinytorch elsewhere"):
        assert check in result.stdout, result.stdout
    assert "run `tito module start NN` once" in result.stdout       # the kernel is not installed yet
    assert result.returncode == 1
    assert run(["module", "start", "01", "--no-open"], root, env).returncode == 0
    result = run(["system", "doctor"], root, env)
    assert "workspace/package/tinytorch" in result.stdout


def test_milestone_run_says_when_there_are_no_milestones(clone):
    root, env = clone
    has_milestones = (ROOT / "tinytorch" / "milestones").exists() or (ROOT / "tinytorch" / "milestones.py").exists()
    result = run(["milestone", "run", "mlp"], root, env, timeout=900)
    if not has_milestones:
        assert result.returncode == 1 and "no tinytorch.milestones" in result.stdout
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"accuracy", result.stdout, re.I)


def test_notebook_runner_reports_the_failing_check_with_got_and_expected(tmp_path):
    """A learner's notebook runs as in Jupyter (`__main__`, cell by cell); a failing inline check is
    named with its cell, what it compared and the learner's line."""
    cells = [nb.Cell("markdown", "# Demo"),
             nb.Cell("code", "def double(x):\n    return x + x + 1\n"),
             nb.Cell("code", "def test_unit_double():\n    assert double(2) == 4\n\n"
                             "if __name__ == \"__main__\":\n    test_unit_double()\n")]
    notebook = tmp_path / "demo.ipynb"
    notebook.write_text(nb.notebook_json(cells, {}))
    report_path = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-P", "-m", "tito.notebook_runner", str(notebook), str(report_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    failure = json.loads(report_path.read_text())["failure"]
    assert failure["cell"] == 3 and failure["check"] == "test_unit_double"
    assert (failure["got"], failure["expected"]) == ("5", "4")
    assert "double(2)" in failure["message"]                      # the input, from the rewritten assert
    assert failure["check_line"] == "cell 3, line 2: assert double(2) == 4"
    cells[1] = nb.Cell("code", "def double(x):\n    return x + x\n")
    notebook.write_text(nb.notebook_json(cells, {}))
    result = subprocess.run([sys.executable, "-P", "-m", "tito.notebook_runner", str(notebook), str(report_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    report = json.loads(report_path.read_text())
    assert result.returncode == 0 and report["ok"] and report["checks"] == ["test_unit_double"]
