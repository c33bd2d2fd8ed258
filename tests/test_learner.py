"""tito's parts, each on its own: module names, compile errors, the CLI surface, reset's backup, the
learner's Jupyter kernel, doctor, the notebook checks' reports; and, on a tiny synthetic course (two
modules, three test files, a hand-written helper and a data folder: nothing of the real modules),
the learner's package: built from the course and the learner's stored bodies, rebuilt and
re-checked after a course update, conflicts, damaged workspaces, a workspace of the older tito.
The whole journey on the real course is tests/test_learner_e2e.py."""
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
    # a chapter's number that is no module's: the module that chapter teaches is named
    numbered = {int(m.number) for m in MODULES}
    for module in MODULES:
        for chapter in ws.chapters_of(ROOT, module.folder):
            number = int(chapter.split("_")[0])
            if number not in numbered:
                with pytest.raises(ws.TitoError, match=rf"chapter {chapter} of the book is module {module.number}"):
                    ws.find_module(ROOT, str(number))


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


def test_a_block_without_its_end_fence_is_named_by_its_function_and_line():
    source = ("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n\n"
              "def g(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
    with pytest.raises(ValueError, match=r"cell 1: the block of f \(line 2\) has no `### END SOLUTION` before "
                                         r"the next `### BEGIN SOLUTION` \(line 6\)"):
        nb.solution_blocks([nb.Cell("code", source)], "01")
    with pytest.raises(ValueError, match=r"the block of g \(line 2\) has no `### END SOLUTION` in the cell"):
        nb.solution_blocks([nb.Cell("code", "def g(x):\n    ### BEGIN SOLUTION\n    return x\n")], "01")


def test_help_lists_every_command():
    result = run(["--help"], ROOT)
    assert result.returncode == 0, result.stderr
    for command in ("module start", "module complete", "test", "module status", "module update",
                    "module reset", "system doctor", "milestone run", "export"):
        assert f"tito {command}" in result.stdout or f"{command.split()[0]} " in result.stdout, command
    for group, commands in (("module", ("start", "complete", "status", "update", "reset")), ("system", ("doctor",)),
                            ("milestone", ("run",))):
        listed = run([group, "--help"], ROOT).stdout
        assert all(re.search(rf"^\s+{c}\s", listed, re.M) for c in commands), listed
    assert "--no-open" in run(["module", "start", "--help"], ROOT).stdout
    assert "--module" in run(["test", "--help"], ROOT).stdout
    assert "--verbose" in run(["test", "--help"], ROOT).stdout
    assert "--package" in run(["module", "reset", "--help"], ROOT).stdout


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
    assert run(["status"], root, env).stdout == status          # the short spelling
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
    # Not completed: the course's own file, copied into the learner's package.
    assert Path(layers) == root / "workspace" / "package" / "tinytorch" / "core" / "layers.py"
    assert Path(layers).read_bytes() == (root / "tinytorch" / "core" / "layers.py").read_bytes()


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


def test_milestone_run_takes_the_milestones_options_and_names_its_milestones(clone):
    root, env = clone
    result = run(["milestone", "run", "mlp", "--epochs", "2", "--seed", "1"], root, env, timeout=900)
    assert result.returncode in (0, 1), result.stdout + result.stderr       # 1: target not reached
    assert re.search(r"test accuracy 0\.\d{4} .* after 2 epochs", result.stdout), result.stdout
    result = run(["milestone", "run", "resnet"], root, env)
    assert result.returncode == 1 and "the milestones are mlp and cnn" in result.stdout
    assert "tito milestone run mlp" in result.stdout and "usage: python" not in result.stdout + result.stderr


def run_notebook(notebook: Path, report_path: Path) -> subprocess.CompletedProcess:
    """`tito.notebook_runner` on `notebook`, as `tito module complete` starts it, in its folder."""
    return subprocess.run([sys.executable, "-P", "-m", "tito.notebook_runner", str(notebook), str(report_path)],
                          cwd=notebook.parent, capture_output=True, text=True, timeout=120)


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
    result = run_notebook(notebook, report_path)
    assert result.returncode == 1, result.stderr
    failure = json.loads(report_path.read_text())["failure"]
    assert failure["cell"] == 3 and failure["check"] == "test_unit_double"
    assert (failure["got"], failure["expected"]) == ("5", "4")
    assert "double(2)" in failure["message"]                      # the input, from the rewritten assert
    assert failure["check_line"] == "cell 3, line 2: assert double(2) == 4"
    cells[1] = nb.Cell("code", "def double(x):\n    return x + x\n")
    notebook.write_text(nb.notebook_json(cells, {}))
    result = run_notebook(notebook, report_path)
    report = json.loads(report_path.read_text())
    assert result.returncode == 0 and report["ok"] and report["checks"] == ["test_unit_double"]


def test_notebook_runner_reports_every_failure_with_arrays_summarised(tmp_path):
    """Every check runs and every failure is reported (a failing cell does not stop the run), the
    first one marked; what was expected and what came are summarised (shape, dtype, a few values),
    never a 4,000-element dump; a cell that depends on a failed one fails too, after it."""
    cells = [nb.Cell("code", "import numpy as np\n\ndef scale(a):\n    return a * 3\n\ndef double(x):\n    return x + x + 1\n"),
             nb.Cell("code", "def test_unit_double():\n    assert double(2) == 4\n\n"
                             "def test_unit_scale():\n    x = np.arange(4000.0).reshape(40, 100)\n"
                             "    expected = x * 2\n    assert np.allclose(scale(x), expected)\n\n"
                             "if __name__ == \"__main__\":\n    test_unit_double()\n    test_unit_scale()\n"),
             nb.Cell("code", "y = scale(np.ones(3))\nassert y.sum() == 6\nz = 1\n"),
             nb.Cell("code", "def test_unit_float32():\n    w = np.ones((50, 80), np.float32)\n"
                             "    np.testing.assert_allclose(w, np.zeros((50, 80)))\n"),
             nb.Cell("code", "def test_unit_uses_z():\n    assert z == 1\n\ndef test_unit_fine():\n    assert double(0) == 1\n\n"
                             "if __name__ == \"__main__\":\n    test_unit_uses_z()\n    test_unit_fine()\n")]
    notebook = tmp_path / "demo.ipynb"
    notebook.write_text(nb.notebook_json(cells, {}))
    report_path = tmp_path / "report.json"
    result = run_notebook(notebook, report_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(report_path.read_text())
    failures = report["failures"]
    names = [f["check"] or f"cell {f['cell']}" for f in failures]
    assert set(names) == {"test_unit_double", "test_unit_scale", "cell 3", "test_unit_float32", "test_unit_uses_z"}
    assert names[0] == "test_unit_double" and [f["first"] for f in failures] == [True] + [False] * 4
    assert report["failure"] == failures[0]
    assert report["checks"] == ["test_unit_fine"]             # ran although the check before it failed
    by_name = dict(zip(names, failures))
    # Values the line compared, read back: an array is its shape, dtype and a few values.
    scale_failure = by_name["test_unit_scale"]
    assert scale_failure["got"] == "array(shape (40, 100), float64: [0, 3, 6, ..., 11994, 11997])"
    assert scale_failure["expected"] == "array(shape (40, 100), float64: [0, 2, 4, ..., 7996, 7998])"
    float32 = by_name["test_unit_float32"]
    assert float32["got"].startswith("array(shape (50, 80), float32: [1, 1, 1, ...")
    assert float32["expected"].startswith("array(shape (50, 80), float64: [0, 0, 0, ...")
    assert float32["difference"].startswith("4000 of 4000 values differ")
    assert by_name["cell 3"]["got"] == "9 (float64)" and by_name["cell 3"]["expected"] == "6"
    assert by_name["test_unit_uses_z"]["error"] == "NameError"     # follows from cell 3's failure
    for failure in failures:
        assert all(len(line) <= 200 for line in failure["message"].splitlines())
        assert len(failure["message"].splitlines()) <= 13
        assert "3999" not in failure["message"].replace("3998, 3999", "")   # no dump of the arrays


def plugin_failures(folder: Path, test_file: str, *options: str) -> list[dict]:
    """The failures tito's pytest plugin records for `test_file` in `folder` (run outside any
    learner's package, as the course's own checks run)."""
    report_path = folder / "report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("TITO_EXPECT_PACKAGE", "PYTHONPATH")}
    env["TITO_REPORT"] = str(report_path)
    subprocess.run([sys.executable, "-m", "pytest", "-p", "tito.pytest_plugin", "-p", "no:cacheprovider", "-q",
                    *options, "-p", "no:xdist", "-p", "no:anyio", "--tb=no", test_file], cwd=folder, env=env,
                   capture_output=True, text=True, timeout=120)
    return json.loads(report_path.read_text())["failures"]


def test_pytest_failures_summarise_arrays(tmp_path):
    """The plugin `tito test` runs pytest with: the values a failing test compared, summarised."""
    (tmp_path / "test_arrays.py").write_text(
        "import numpy as np\n\ndef scale(a):\n    return a * 3\n\n"
        "def test_assert_allclose():\n    got = scale(np.arange(4000.0))\n    expected = np.arange(4000.0) * 2\n"
        "    np.testing.assert_allclose(got, expected)\n\n"
        "def test_allclose_of_a_call():\n    assert np.allclose(scale(np.ones((50, 80))), np.ones((50, 80)))\n\n"
        "def test_and_whose_comparison_held():\n    grad, other = np.ones(1), np.ones(1)\n"
        "    assert np.array_equal(grad, [1.0]) and other is None\n\n"
        "def test_and_whose_comparison_failed():\n    grad, other = np.ones(1), None\n"
        "    assert np.array_equal(grad, [3.0]) and other is None\n")
    failures = {f["test"]: f for f in plugin_failures(tmp_path, "test_arrays.py", "-p", "no:hypothesispytest")}
    direct = failures["test_arrays.py::test_assert_allclose"]
    assert direct["got"] == "array(shape (4000,), float64: [0, 3, 6, ..., 11994, 11997])"
    assert direct["expected"] == "array(shape (4000,), float64: [0, 2, 4, ..., 7996, 7998])"
    assert direct["difference"].startswith("3999 of 4000 values differ; the largest difference is at 3999")
    call = failures["test_arrays.py::test_allclose_of_a_call"]
    assert call["got"] == "array(shape (50, 80), float64: [3, 3, 3, ..., 3, 3])"
    assert call["expected"] == "array(shape (50, 80), float64: [1, 1, 1, ..., 1, 1])"
    # in an `and`, the part that failed is shown, never a comparison that held
    assert "got" not in failures["test_arrays.py::test_and_whose_comparison_held"]
    failed = failures["test_arrays.py::test_and_whose_comparison_failed"]
    assert (failed["got"], failed["expected"]) == ("array(shape (1,), float64: [1])", "[3.0]")
    for failure in failures.values():
        assert all(len(line) <= 200 for line in failure["message"].splitlines())


# ---------------------------------------------------------------- a tiny course of its own

_JUPYTEXT = "# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n#       extension: .py\n" \
            "#       format_name: percent\n# ---\n\n"
TOY_SOURCE = _JUPYTEXT + '''# %% [markdown]
# # Module 01: Toy

# %%
#| default_exp core.toy

# %%
#| export
import numpy as np

from tinytorch.utils.helper import twice


def scale(x, factor):
    """x times factor, as float32."""
    # Hint: multiply (chapter 01, "Scaling").
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=np.float32) * factor
    ### END SOLUTION


class Counter:
    def __init__(self, start):
        # Hint: remember the start (chapter 01, "Counting").
        ### BEGIN SOLUTION
        self.count = start
        ### END SOLUTION

    def bump(self, by=1):
        # Hint: add (chapter 01, "Counting").
        ### BEGIN SOLUTION
        self.count += by
        return self.count
        ### END SOLUTION


def provided():
    return twice(21)

# %%
def test_unit_scale():
    assert np.allclose(scale(np.ones(3), 2), [2, 2, 2])


def test_unit_counter():
    counter = Counter(1)
    assert counter.bump() == 2


if __name__ == "__main__":
    test_unit_scale()
    test_unit_counter()
'''
TOY_MORE = _JUPYTEXT + '''# %% [markdown]
# # Module 02: More

# %%
#| default_exp core.more

# %%
#| export
from tinytorch.core.toy import scale


def double(x):
    # Hint: use scale (chapter 02, "Doubling").
    ### BEGIN SOLUTION
    return scale(x, 2)
    ### END SOLUTION
'''
TOY_TESTS = {
    "test_01_toy.py": "import numpy as np\nfrom tinytorch.core.toy import Counter, provided, scale\n\n\n"
                      "def test_scale():\n    assert np.allclose(scale([1, 2], 3), [3, 6])\n\n\n"
                      "def test_counter():\n    counter = Counter(2)\n    assert counter.bump() == 3 and counter.bump(2) == 5\n\n\n"
                      "def test_provided():\n    assert provided() == 42\n\n\n"
                      "def test_data_found_next_to_the_package():\n    from tinytorch.utils.helper import data_value\n"
                      "    assert data_value() == 7\n",
    "test_02_more.py": "from tinytorch.core.more import double\n\n\ndef test_double():\n    assert double(4) == 8\n",
    "test_01_02_shared.py": "def test_both():\n    from tinytorch import scale\n    from tinytorch.core.more import double\n"
                            "    assert double(1) == scale(1, 2)\n",
}
# The learner's own code: plain, each block marked so the package shows whose code it runs.
MINE = {"scale": ["# mine", "return np.asarray(x, dtype=np.float32) * factor"],
        "Counter.__init__": ["self.count = start  # mine"],
        "Counter.bump": ["# mine", "self.count = self.count + by", "return self.count"]}


def make_toy_course(root: Path) -> Path:
    for folder, text in (("01_toy", TOY_SOURCE), ("02_more", TOY_MORE)):
        (root / "src" / folder).mkdir(parents=True)
        (root / "src" / folder / f"{folder}.py").write_text(text)
    (root / "modules").mkdir()
    (root / "tools").mkdir()
    shutil.copy2(ROOT / "tools" / "export.py", root / "tools" / "export.py")
    (root / "tests" / "internals").mkdir(parents=True)
    for name, text in TOY_TESTS.items():
        (root / "tests" / name).write_text(text)
    # White-box tests are never the learner's to pass: tito must never run this one.
    (root / "tests" / "internals" / "test_01_white_box.py").write_text("def test_never_run_by_tito():\n    assert False\n")
    # Nor PyTorch parity tests (a file of them, or one marked in a graded file), which grade nothing:
    # whether a module is complete must not depend on whether PyTorch is installed.
    (root / "tests" / "test_01_toy_torch.py").write_text("def test_parity_never_run_by_tito():\n    assert False\n")
    with (root / "tests" / "test_01_toy.py").open("a") as graded:
        graded.write("\n\nimport pytest\n\n\n@pytest.mark.torch\ndef test_marked_parity_never_run_by_tito():\n"
                     "    assert False\n")
    package = root / "tinytorch"
    for folder in ("core", "utils", "data"):
        (package / folder).mkdir(parents=True)
    (package / "__init__.py").write_text('"""A toy course."""\nfrom tinytorch.core.toy import scale\n')
    (package / "core" / "__init__.py").write_text("")
    (package / "utils" / "__init__.py").write_text("")
    (package / "utils" / "helper.py").write_text(            # hand-written, provided: no notebook exports it
        "from pathlib import Path\n\n\ndef twice(x):\n    return 2 * x\n\n\ndef data_value():\n"
        "    return int((Path(__file__).resolve().parent.parent / 'data' / 'value.txt').read_text())\n")
    (package / "data" / "value.txt").write_text("7\n")
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-ra"\n')
    export(root)
    return root


def export(root: Path) -> None:
    """`make export` of the toy course (after an edit of its src/: a course update), in this process
    (the exporter's imports cost seconds; paid once)."""
    import importlib.util

    if "_toy_export" not in globals():
        spec = importlib.util.spec_from_file_location("_toy_export", ROOT / "tools" / "export.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        globals()["_toy_export"] = module
    globals()["_toy_export"].write(root)


def edit_source(root: Path, folder: str, old: str, new: str) -> None:
    path = root / "src" / folder / f"{folder}.py"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def write_blocks(notebook: Path, bodies: dict[str, list[str]]) -> None:
    """Type `bodies` ({owner: lines, indented by the block}) into the blocks of a learner's notebook."""
    data = json.loads(notebook.read_text())
    cells = nb.read_notebook(notebook)
    raw = [c for c in data["cells"] if c["cell_type"] in ("code", "markdown")]
    for block in reversed(nb.solution_blocks(cells, "00")):
        if block.owner in bodies:
            lines = cells[block.cell].source.splitlines()
            lines[block.begin + 1:block.end] = [block.indent + line for line in bodies[block.owner]]
            cells[block.cell].source = "\n".join(lines)
            raw[block.cell]["source"] = cells[block.cell].source.splitlines(keepends=True)
    notebook.write_text(json.dumps(data, indent=1))


def snapshot(folder: Path) -> dict[str, object]:
    """Every file's bytes and every link's target under `folder` (caches left out)."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            found[path.relative_to(folder).as_posix()] = ("link", os.readlink(path))
        elif path.is_file() and not any(p.is_symlink() for p in path.parents):
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    """The single `error:` line of a refused command, which names `words`; never a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and not result.stderr.strip(), output
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert result.stdout.strip().splitlines()[-1] == errors[0], output
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def toy_template(tmp_path_factory):
    return make_toy_course(tmp_path_factory.mktemp("toy") / "course")


@pytest.fixture
def toy(tmp_path, toy_template):
    """(root, tito) of a fresh copy of the toy course; tito(*args) runs the command as a learner does."""
    root = tmp_path / "toy"
    shutil.copytree(toy_template, root)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYTORCH_ROOT")}
    env["TITO_KERNEL_DIR"] = str(tmp_path / "kernels")

    def tito(*args: str) -> subprocess.CompletedProcess:
        return run(list(args), root, env)

    return root, tito


def complete_toy(root: Path, tito, bodies=MINE) -> subprocess.CompletedProcess:
    assert tito("module", "start", "01", "--no-open").returncode == 0
    write_blocks(ws.find_module(root, "01").working_copy, bodies)
    result = tito("module", "complete", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def status_of(status: str, folder: str) -> list[str]:
    """The cells of one module's row in `tito module status`'s table."""
    row = next(line for line in status.splitlines() if line.startswith("│") and f" {folder} " in line)
    return [cell.strip() for cell in row.split("│")[1:-1]]


def test_the_package_is_the_course_with_the_learners_bodies(toy):
    root, tito = toy
    result = complete_toy(root, tito)
    assert "Module 01 complete" in result.stdout
    package = root / "workspace" / "package" / "tinytorch"
    # The stored bodies: by owner and ordinal, with the def line each was written against.
    stored = json.loads((root / "workspace" / "solutions" / "01_toy.json").read_text())
    blocks = {b["key"]: b for b in stored["blocks"]}
    assert set(blocks) == {"scale#0", "Counter.__init__#0", "Counter.bump#0"}
    assert blocks["Counter.bump#0"]["signature"] == "def bump(self, by=1)"
    assert blocks["Counter.bump#0"]["lines"] == ["        " + line for line in MINE["Counter.bump"]]
    # The package: every file of the course's package; the completed module's file is the current
    # source exported with the learner's bodies; everything else is a byte-for-byte copy.
    mine = (package / "core" / "toy.py").read_text()
    assert mine.startswith("# GENERATED FILE: DO NOT EDIT. Built by `tito` from src/01_toy/01_toy.py")
    assert mine.count("# mine") == 3 and "def provided():\n    return twice(21)" in mine
    cells = nb.read_source(ws.find_module(root, "01").source)
    for block in reversed(nb.solution_blocks(cells, "01")):           # the learner's bodies, by hand
        lines = cells[block.cell].source.splitlines()
        lines[block.begin + 1:block.end] = [block.indent + line for line in MINE[block.owner]]
        cells[block.cell].source = "\n".join(lines)
    assert mine.split("\n", 3)[3] == nb.export_code(cells, "mine")["core.toy"]
    for name in ("__init__.py", "core/__init__.py", "core/more.py", "utils/__init__.py", "utils/helper.py"):
        assert (package / name).read_bytes() == (root / "tinytorch" / name).read_bytes(), name
        assert not (package / name).is_symlink()
    assert (package / "data").is_symlink() and (package / "data").resolve() == (root / "tinytorch" / "data")
    # `import tinytorch` under tito is the learner's package (the guard holds), data files are found
    # next to it, module 02 (not completed) runs on the learner's module 01, and tests/internals/ is
    # never run (its only test fails).
    result = tito("test", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Module 01 Toy: yours" in result.stdout
    assert re.search(r"5 passed: test_01_02_shared\.py, test_01_toy\.py$", result.stdout.strip())
    probe = subprocess.run([sys.executable, "-P", "-c", "import tinytorch, tinytorch.core.toy as t; "
                            "print(tinytorch.__file__); print(t.scale.__code__.co_filename)"],
                           env=ws.learner_env(package.parent), capture_output=True, text=True, cwd=root)
    assert probe.stdout.split() == [str(package / "__init__.py"), str(package / "core" / "toy.py")]
    status = tito("module", "status").stdout
    assert status_of(status, "01_toy")[1:2] == ["complete"] and status_of(status, "01_toy")[4] == "3 of 3 blocks"
    assert status_of(status, "02_more")[1] == "not started" and status_of(status, "02_more")[4] == "reference"
    # A lost notebook of a completed module comes back from `start` with the learner's code in it.
    ws.find_module(root, "01").working_copy.unlink()
    started = tito("module", "start", "01", "--no-open")
    assert "created, with the code you completed it with" in started.stdout
    assert [b.body for b in nb.solution_blocks(nb.read_notebook(ws.find_module(root, "01").working_copy), "01")] == \
        [[block.indent + line for line in MINE[block.owner]] for block in nb.solution_blocks(
            nb.read_source(ws.find_module(root, "01").source), "01")]


def test_a_failed_complete_leaves_the_package_byte_for_byte(toy):
    """Two wrong bodies: both inline checks fail and are reported, values summarised, and nothing of
    the workspace but the progress's last attempt changes."""
    root, tito = toy
    complete_toy(root, tito)
    before = snapshot(root / "workspace" / "package"), snapshot(root / "workspace" / "solutions"), \
        (root / "workspace" / "build.json").read_bytes()
    write_blocks(ws.find_module(root, "01").working_copy,
                 {"scale": ["return np.asarray(x, dtype=np.float32) * factor + 1"],
                  "Counter.bump": ["self.count += 2 * by", "return self.count"]})
    result = tito("module", "complete", "01")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "the notebook's checks failed (2 failure(s), 0 check(s) passed)" in out
    assert re.search(r"x test_unit_scale \(cell \d+\)  \(the first failure\)", out), out
    assert re.search(r"x test_unit_counter \(cell \d+\)\n", out), out
    assert "got:      array(shape (3,), float32: [3, 3, 3])" in out
    assert "expected: [2, 2, 2]" in out
    assert "got:      3\n      expected: 2" in out
    assert "fix the first one first" in out and "Your package is unchanged" in out
    after = snapshot(root / "workspace" / "package"), snapshot(root / "workspace" / "solutions"), \
        (root / "workspace" / "build.json").read_bytes()
    assert after == before


def test_update_as_the_first_command_after_a_pull_refreshes_without_telling_to_run_itself(toy):
    root, tito = toy
    complete_toy(root, tito)
    edit_source(root, "01_toy", "    return twice(21)", "    return twice(20) + 2")
    export(root)
    result = tito("module", "update")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The course changed since your package was built" in result.stdout
    assert "module 01: your notebook is refreshed from the course" in result.stdout
    assert "are from the older course" not in result.stdout      # no advice to run what is running


def test_a_course_update_rebuilds_rechecks_and_status_tells_the_truth(toy):
    root, tito = toy
    complete_toy(root, tito, bodies={**MINE, "scale": ["return np.asarray(x) * factor  # mine"]})
    # The course moves on: provided code and a hand-written file change, and a new test asks for
    # float32 results, which this learner's scale (no dtype) does not give for integer input.
    edit_source(root, "01_toy", "    return twice(21)", "    return twice(20) + 2")
    helper = root / "tinytorch" / "utils" / "helper.py"
    helper.write_text(helper.read_text() + "\n\ndef thrice(x):\n    return 3 * x\n")
    (root / "tests" / "test_01_toy_dtype.py").write_text(
        "import numpy as np\nfrom tinytorch.core.toy import scale\n\n\n"
        "def test_scale_keeps_float32():\n    \"\"\"Integer input scaled gives float32,\n    as the chapter says.\n\n"
        "    Not this paragraph.\"\"\"\n    assert scale([1, 2], 3).dtype == np.float32\n")
    export(root)
    status = tito("module", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    out = status.stdout
    assert "The course changed since your package was built: it was rebuilt from the course, with your code " \
           "for module(s) 01." in out
    assert "Checking your module(s) 01 against the current course" in out
    assert re.search(r"x module 01: 1 test\(s\) fail on your code \(test_01_toy_dtype\.py::test_scale_keeps_float32\)",
                     out), out
    row = status_of(out, "01_toy")
    assert row[1] == "failing" and row[3] == "5 (1 failing)", row
    assert "`tito test 01` shows why" in out
    assert "Your notebook(s) of module(s) 01 are from the older course: `tito module update`" in out
    package = root / "workspace" / "package" / "tinytorch"
    assert "return twice(20) + 2" in (package / "core" / "toy.py").read_text()       # the new provided code
    assert (package / "core" / "toy.py").read_text().count("# mine") == 3             # the learner's bodies
    assert (package / "utils" / "helper.py").read_bytes() == helper.read_bytes()
    # The result is recorded: the next command does not run the tests again; `tito test` agrees.
    again = tito("module", "status")
    assert "Checking your module" not in again.stdout and status_of(again.stdout, "01_toy")[1] == "failing"
    # A course with a rubric (which graded tests need which function) names the function to look at.
    (root / "classroom").mkdir(exist_ok=True)
    (root / "classroom" / "rubric.yml").write_text(
        "modules:\n  01_toy:\n    checks:\n      scale:\n        points: 1\n        tests:\n"
        "        - test_01_toy_dtype.py::test_scale_keeps_float32\n")
    result = tito("test", "01")
    assert result.returncode == 1 and "test_scale_keeps_float32" in result.stdout
    assert "got:      dtype('int64')" in result.stdout and "(yours)" not in result.stdout.split("x ")[0]
    assert "needs:    scale (the functions you write that this test calls)" in result.stdout
    assert "about:    Integer input scaled gives float32, as the chapter says.\n" in result.stdout   # its docstring
    assert tito("test", "02").returncode == 0
    # The learner fixes their code: complete again, and status says complete.
    write_blocks(ws.find_module(root, "01").working_copy, MINE)
    assert tito("module", "complete", "01").returncode == 0
    assert status_of(tito("module", "status").stdout, "01_toy")[1] == "complete"
    # The count in status is the tests' count, after complete as after a re-check: what tito test says.
    passed = re.search(r"(\d+) passed", tito("test", "01").stdout)[1]
    assert status_of(tito("module", "status").stdout, "01_toy")[3] == passed


def test_a_changed_signature_is_a_conflict_and_update_keeps_the_old_body(toy):
    root, tito = toy
    complete_toy(root, tito)
    module = ws.find_module(root, "01")
    # The course changes bump's def line, drops the __init__ block and adds a block to a new method.
    edit_source(root, "01_toy", "    def bump(self, by=1):", "    def bump(self, by=1, times=1):")
    edit_source(root, "01_toy", "        self.count += by\n", "        self.count += by * times\n")
    edit_source(root, "01_toy", '''        # Hint: remember the start (chapter 01, "Counting").
        ### BEGIN SOLUTION
        self.count = start
        ### END SOLUTION''', "        self.count = start")
    edit_source(root, "01_toy", "\n\ndef provided():", '''
    def reset(self):
        # Hint: back to zero (chapter 01, "Counting").
        ### BEGIN SOLUTION
        self.count = 0
        ### END SOLUTION


def provided():''')
    export(root)
    status = tito("module", "status")
    out = status.stdout
    assert status.returncode == 0, out + status.stderr
    assert "Counter.bump (module 01): its def line changed (was `def bump(self, by=1)`, now " \
           "`def bump(self, by=1, times=1)`)" in out
    assert "Counter.__init__ (module 01): the course no longer has this block" in out
    assert "Counter.reset (module 01): new in the course" in out
    assert status_of(out, "01_toy")[1] == "needs attention" and status_of(out, "01_toy")[4] == "1 of 3 blocks"
    toy_py = (root / "workspace" / "package" / "tinytorch" / "core" / "toy.py").read_text()
    assert "self.count += by * times" in toy_py and toy_py.count("# mine") == 1     # the course's bump, my scale
    assert tito("test", "01").returncode == 0
    # update: the new notebook with the learner's code, the old body of bump kept as comments.
    before = module.working_copy.read_text()
    result = tito("module", "update")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "module 01: your notebook is refreshed from the course" in result.stdout
    assert "Counter.bump: its def line changed" in result.stdout
    backups = list((root / "workspace" / "backups").glob("01_toy-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == before
    cells = nb.read_notebook(module.working_copy)
    assert cells[0].kind == "markdown" and "`Counter.__init__`: the course no longer has this block" in cells[0].source
    assert "self.count = start  # mine" in cells[0].source
    blocks = {b.owner: b for b in nb.solution_blocks(cells, "01")}
    assert blocks["scale"].body == ["    # mine", "    return np.asarray(x, dtype=np.float32) * factor"]
    bump = "\n".join(blocks["Counter.bump"].body)
    assert nb.STUB_MARK in bump and "        # self.count = self.count + by" in bump
    assert nb.stubs_left(cells) == ["Counter.bump", "Counter.reset"]
    assert "def bump(self, by=1, times=1):" in "\n".join(c.source for c in cells)
    # Writing both blocks and completing again clears the conflicts.
    write_blocks(module.working_copy, {"Counter.bump": ["self.count += by * times", "return self.count"],
                                       "Counter.reset": ["self.count = 0"]})
    result = tito("module", "complete", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    row = status_of(tito("module", "status").stdout, "01_toy")
    assert row[1] == "complete" and row[4] == "3 of 3 blocks", row


def test_a_damaged_workspace_gets_one_line_naming_the_file_and_the_way_out(toy):
    root, tito = toy
    complete_toy(root, tito)
    space = root / "workspace"
    # A broken progress.json: deleting it is the way out, and nothing completed is lost.
    good = (space / "progress.json").read_text()
    (space / "progress.json").write_text('{"01_toy": {"status": "compl')
    one_line_error(tito("module", "status"), "workspace/progress.json", "not valid JSON", "delete it")
    (space / "progress.json").unlink()
    status = tito("module", "status")
    assert status.returncode == 0 and status_of(status.stdout, "01_toy")[1] == "complete", status.stdout
    (space / "progress.json").write_text(good)
    # A learner notebook that is not JSON, of a completed module: the way out named is the one that
    # keeps the completed code (start writes the notebook again with it), not reset's empty stubs.
    notebook = space / "modules" / "01_toy" / "01_toy.ipynb"
    saved = notebook.read_text()
    notebook.write_text(saved[: len(saved) // 2])
    one_line_error(tito("module", "complete", "01"), "workspace/modules/01_toy/01_toy.ipynb", "not valid JSON",
                   "tito module start 01", "the code you completed module 01 with")
    # update goes on with the other notebooks, and fails at the end
    assert tito("module", "start", "02", "--no-open").returncode == 0
    edit_source(root, "02_more", "# Hint: use scale", "# Hint: use scale, once")
    export(root)
    result = tito("module", "update")
    assert result.returncode == 1 and "workspace/modules/01_toy/01_toy.ipynb is damaged" in result.stdout, result.stdout
    assert "module 02: your notebook is refreshed from the course" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    notebook.rename(root / "damaged.ipynb")
    result = tito("module", "start", "01", "--no-open")
    assert result.returncode == 0 and "with the code you completed it with" in result.stdout, result.stdout
    assert "self.count = self.count + by" in notebook.read_text()
    # A notebook that is JSON but lost a block's END fence: update names the block, keeps going, fails.
    notebook.write_text(saved.replace("### END SOLUTION", "", 1))
    result = tito("module", "update", "01")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr, result.stdout
    told = " ".join(result.stdout.split())
    assert "the block of scale" in told and "has no `### END SOLUTION`" in told and "tito module start 01" in told, \
        result.stdout
    notebook.write_text(saved)
    # An emptied file in the package: the next command rebuilds it, says so in one line, and goes on.
    toy_py = space / "package" / "tinytorch" / "core" / "toy.py"
    good_toy = toy_py.read_bytes()
    toy_py.write_text("")
    result = tito("test", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == ("workspace/package/tinytorch/core/toy.py was changed or damaged: your "
                                             "package was rebuilt from the course and your stored solutions "
                                             "(workspace/solutions/).")
    assert toy_py.read_bytes() == good_toy and "INTERNALERROR" not in result.stdout
    (space / "package" / "tinytorch" / "utils" / "helper.py").write_text("garbage(")
    assert tito("test", "02").returncode == 0
    # A damaged, then a missing stored-solutions file: the way out is to complete the module again
    # (or to take it out of the package with reset --package).
    store = space / "solutions" / "01_toy.json"
    good_store = store.read_bytes()
    store.write_text('{"format": 1, "blocks": [{"key"')
    one_line_error(tito("test", "02"), "workspace/solutions/01_toy.json", "damaged", "tito module complete 01",
                   "tito module reset 01 --package")
    store.unlink()
    one_line_error(tito("module", "status"), "workspace/solutions/01_toy.json", "missing", "tito module complete 01")
    result = tito("module", "complete", "01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert store.read_bytes().split(b'"saved"')[0] == good_store.split(b'"saved"')[0]
    # The other way out: reset --package takes the module out of the package.
    store.write_text("not json")
    result = tito("module", "reset", "01", "--package")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Module 01 is out of your package: the course's code runs for it." in result.stdout
    assert (space / "package" / "tinytorch" / "core" / "toy.py").read_bytes() == \
        (root / "tinytorch" / "core" / "toy.py").read_bytes()
    assert status_of(tito("module", "status").stdout, "01_toy")[1] == "in progress"


def test_a_workspace_of_the_older_tito_is_moved_to_stored_solutions(toy):
    """The older tito kept the files exported from the learner's notebooks, with overlay
    `__init__.py`s onto the reference, and no stored solutions: the next command takes the bodies
    from the learner's notebook, builds the package anew and checks it."""
    root, tito = toy
    assert tito("module", "start", "01", "--no-open").returncode == 0
    module = ws.find_module(root, "01")
    write_blocks(module.working_copy, MINE)
    space = root / "workspace"
    old = space / "package" / "tinytorch"
    for folder in (old, old / "core"):
        if folder.exists():
            shutil.rmtree(folder)
    (old / "core").mkdir(parents=True)
    overlay = ("# Written by `tito`: part of YOUR tinytorch. The .py files in this folder were exported from your\n"
               "import os as _os\n__path__.append({!r})\n")
    (old / "__init__.py").write_text(overlay.format(str(root / "tinytorch")))
    (old / "core" / "__init__.py").write_text(overlay.format(str(root / "tinytorch" / "core")))
    (old / "core" / "toy.py").write_text("# GENERATED FILE: DO NOT EDIT. Source: workspace/... (your notebook)\n")
    for name in ("build.json",):
        (space / name).unlink(missing_ok=True)
    (space / "progress.json").write_text(json.dumps({"01_toy": {
        "status": "complete", "completed": "2024-01-01 10:00 UTC", "checks": 7, "files": ["tinytorch/core/toy.py"],
        "last_attempt": "2024-01-01 10:00 UTC", "last_result": "complete", "started": "2024-01-01 09:00 UTC"}}))
    result = tito("module", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tito now keeps your code as the bodies of your solution blocks" in result.stdout
    assert "Your code of module(s) 01 was taken from your notebooks." in result.stdout
    assert status_of(result.stdout, "01_toy")[1] == "complete"
    stored = json.loads((space / "solutions" / "01_toy.json").read_text())
    assert [b["owner"] for b in stored["blocks"]] == ["scale", "Counter.__init__", "Counter.bump"]
    assert (space / "package" / "tinytorch" / "core" / "toy.py").read_text().count("# mine") == 3
    moved = list((space / "backups").glob("package-*/tinytorch/core/toy.py"))
    assert len(moved) == 1 and "(your notebook)" in moved[0].read_text()


def test_an_error_raised_in_provided_code_points_at_the_learners_line_that_called_it(toy):
    root, tito = toy
    assert tito("module", "start", "01", "--no-open").returncode == 0
    write_blocks(ws.find_module(root, "01").working_copy, {**MINE, "scale": ["return twice(None)"]})
    result = tito("module", "complete", "01")
    assert result.returncode != 0
    assert re.search(r"in: +scale \(cell \d+, line \d+\): return twice\(None\)", result.stdout), result.stdout
    assert re.search(r"raised: +twice \(\S*helper\.py, line \d+\): return 2 \* x", result.stdout), result.stdout


def test_a_difference_of_truth_values_is_told_as_true_and_false():
    import numpy as np
    from tito.report import difference
    assert difference(np.array([True, True]), np.array([True, False])) == \
        "1 of 2 values differ; the first is at 1: got True, expected False"


def test_the_bracket_pytest_puts_around_a_whole_condition_is_part_of_neither_side():
    from tito.report import explained_pair
    assert explained_pair("assert ({True} == {False}\n  \n  Extra items") == ("{True}", "{False}")
    assert explained_pair("assert (3 == 4)") == ("3", "4")
    assert explained_pair("assert f(1) == (2, 3)") == ("f(1)", "(2, 3)")


def test_a_check_that_fails_once_and_then_passes_on_the_same_input_says_so(tmp_path):
    """Hypothesis reports such a check as a FlakyFailure, a group of what was raised: the plugin
    tells the first run's failure (its line and values) under a line saying what happened."""
    (tmp_path / "test_changing.py").write_text(
        "import numpy as np\nfrom hypothesis import given, settings, strategies as st\n\ncalls = [0]\n\n"
        "def zeros(n):\n    calls[0] += 1\n    return np.full(n, 7.0) if calls[0] == 1 else np.zeros(n)\n\n"
        "@settings(database=None)\n@given(st.integers(1, 3))\n"
        "def test_zeros(n):\n    expected = np.zeros(n)\n    got = zeros(n)\n    assert np.allclose(got, expected)\n")
    [failure] = plugin_failures(tmp_path, "test_changing.py")
    assert failure["error"] == "AssertionError"
    assert failure["message"].startswith("failed once, then passed on the same input")
    assert failure["line"] == "test_changing.py:15: assert np.allclose(got, expected)"
    assert failure["got"] == "array(shape (1,), float64: [7])" and failure["expected"] == "array(shape (1,), float64: [0])"


def test_a_provided_line_inside_a_function_the_learner_writes_is_not_called_theirs(repo_root):
    """A failure's `in:` line says "(yours)" only for the learner's lines: in update_all_at_once,
    the provided call before the solution block is the course's, the rule's call inside it theirs."""
    from tito.pytest_plugin import _provided_lines
    provided = _provided_lines(str(repo_root), "update_all_at_once")
    assert any(line.startswith("joined = joined_state(optimizer, MAX_END_TO_END_BYTES)") for line in provided)
    assert "optimizer.update(joined.values, joined.grad, joined.state, lr)" not in provided
    assert _provided_lines(str(repo_root), "no_such_function") == frozenset()


def test_a_name_defined_outside_the_blocks_is_named_as_the_likely_cause_of_a_name_error(toy):
    """The notebook's cells define the helper, so its checks pass; the package holds only the blocks,
    so the tests meet a NameError, and tito says where the helper was written."""
    root, tito = toy
    assert tito("module", "start", "01", "--no-open").returncode == 0
    notebook = ws.find_module(root, "01").working_copy
    write_blocks(notebook, {**MINE, "scale": ["return as_float32(x) * factor"]})
    data = json.loads(notebook.read_text())
    index = next(i for i, c in enumerate(data["cells"]) if "def scale" in "".join(c["source"]))
    helper = {"cell_type": "code", "execution_count": None, "id": "learner-helper", "metadata": {},
              "outputs": [], "source": ["def as_float32(x):\n", "    return np.asarray(x, dtype=np.float32)\n"]}
    data["cells"].insert(index + 1, helper)
    notebook.write_text(json.dumps(data, indent=1))
    result = tito("module", "complete", "01")
    assert result.returncode != 0
    assert "NameError" in result.stdout, result.stdout
    told = " ".join(result.stdout.split())
    assert f"`as_float32` is defined in your notebook (module 01, cell {index + 2}) but not in your package" in told, \
        result.stdout


def test_answers_file_parses_each_question_and_names_headings_that_reach_no_cell():
    from tito import answers

    ids = ["q1", "q2", "q3"]
    text = ("# Module 08: your answers\n\nintro\n\n## Question 1: Memory (2 points)\n\n(your answer)\n\n"
            "## Question 2: Clipping (2 points)\n\nIt rescales.\n## Question 2 is related: not a heading\n"
            "```\n## Question 3: inside a fence\n```\n\n## Question 3\n\n  two\nlines  \n")
    assert answers.parse(text, ids) == ({"q2": "It rescales.\n## Question 2 is related: not a heading\n```\n"
                                               "## Question 3: inside a fence\n```", "q3": "two\nlines"}, [])
    assert answers.parse(text.replace("\n", "\r"), ids) == answers.parse(text, ids)       # old Mac line ends
    twice = answers.parse("## Question 1: a\nfirst\n## Question 1: a\nsecond\n## Question 9: b\nx\n", ids)
    assert twice == ({"q1": "first"}, ['"## Question 1" comes twice', '"## Question 9" is not one of its '
                                                                        'questions (1, 2, 3)'])
    template = answers.template(ROOT, "08_training")
    asked = [q.id for q in answers.questions(ROOT, "08_training")]
    assert len(asked) == template.count("## Question ") and answers.parse(template, asked) == ({}, [])
    assert answers.template(ROOT, "01_tensor") is None              # no questions, no file


def test_each_graded_question_is_found_where_its_pointer_says():
    """The answers file and the release say where each question is asked: that chapter's "Check
    your understanding" holds a question of that number (module 08's come from three chapters)."""
    from tito.assignment import question_source
    from tito.rubric import load

    for folder, rubric in load(ROOT, check_tests=False).items():
        for question in rubric.questions:
            chapter, number = question_source(ROOT, folder, question)
            text = (ROOT / "book" / "chapters" / f"{chapter}.md").read_text(encoding="utf-8")
            asked = text[text.index("## Check your understanding"):]
            assert re.search(rf"^(\*\*Q{number}\. {re.escape(question.title)}\.\*\*|{number}\. )", asked, re.M), \
                (folder, question.id, chapter, number)


def test_update_writes_the_answers_file_of_a_module_started_before_it_had_questions(clone):
    root, env = clone
    shutil.copytree(ROOT / "classroom", root / "classroom")          # the rubric, which names the questions
    assert run(["module", "start", "11", "--no-open"], root, env).returncode == 0
    written = root / "workspace" / "answers" / "11_acceleration.md"
    written.unlink()                                   # as on a course from before the answers files
    result = run(["module", "update", "11"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert written.is_file() and "workspace/answers/11_acceleration.md (new)" in result.stdout
    again = run(["module", "update", "11"], root, env)
    assert "(new)" not in again.stdout
