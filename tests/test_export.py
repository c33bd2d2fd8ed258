"""tools/export.py on a throw-away repository (--root), and on the real one."""
from __future__ import annotations

import shutil
from pathlib import Path


import pytest

HEADER = "# GENERATED FILE: DO NOT EDIT."

SOURCE = '''# %% [markdown]
# # Demo
# A module that exists only for this test.

# %%
#| default_exp core.demo

# %%
#| export
import math

def area(r):
    """Area of a circle of radius r."""
    ### BEGIN SOLUTION
    return math.pi * r * r
    ### END SOLUTION

# %%
def scratch_helper():
    return "NOT_EXPORTED_MARKER"

# %%
#| export
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %%
if __name__ == "__main__":
    assert double(2) == 4
'''

HAND_WRITTEN = {
    "tinytorch/__init__.py": '"""Hand-written package root."""\n',
    "tinytorch/core/__init__.py": "",
    "tinytorch/core/helpers.py": "# written by a person, no header\nVALUE = 1\n",
}


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    source = tmp_path / "src" / "01_demo" / "01_demo.py"
    source.parent.mkdir(parents=True)
    source.write_text(SOURCE)
    for name, text in HAND_WRITTEN.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def export(run_export, root: Path, *args: str):
    return run_export("--root", root, *args)


def test_export_writes_header_and_only_export_cells(run_export, fake_repo):
    result = export(run_export, fake_repo)
    assert result.returncode == 0, result.stderr
    text = (fake_repo / "tinytorch" / "core" / "demo.py").read_text()
    lines = text.splitlines()
    assert lines[0] == HEADER + " Source: src/01_demo/01_demo.py"
    assert "make export" in lines[1]
    # Both export cells, in order, with the solution code kept and the fences dropped.
    assert text.index("def area(r):") < text.index("def double(x):")
    assert "return math.pi * r * r" in text and "return 2 * x" in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    # Directives and cells without `#| export` stay out.
    assert "#|" not in text
    assert "NOT_EXPORTED_MARKER" not in text and "__main__" not in text
    # The result is a working module.
    namespace: dict = {}
    exec(compile(text, "demo.py", "exec"), namespace)
    assert namespace["double"](21) == 42
    assert namespace["area"](1.0) == pytest.approx(3.141592653589793)


def test_check_passes_right_after_export(run_export, fake_repo):
    export(run_export, fake_repo)
    result = export(run_export, fake_repo, "--check")
    assert result.returncode == 0, result.stderr


def test_check_fails_when_generated_file_is_edited_by_hand(run_export, fake_repo):
    export(run_export, fake_repo)
    target = fake_repo / "tinytorch" / "core" / "demo.py"
    target.write_text(target.read_text().replace("return 2 * x", "return 3 * x"))
    result = export(run_export, fake_repo, "--check")
    assert result.returncode != 0
    assert "make export" in result.stderr
    assert "tinytorch/core/demo.py" in result.stderr
    # `make export` repairs it.
    export(run_export, fake_repo)
    assert "return 2 * x" in target.read_text()
    assert export(run_export, fake_repo, "--check").returncode == 0


def test_check_fails_when_source_changes_without_export(run_export, fake_repo):
    export(run_export, fake_repo)
    source = fake_repo / "src" / "01_demo" / "01_demo.py"
    source.write_text(source.read_text().replace("return 2 * x", "return x + x"))
    result = export(run_export, fake_repo, "--check")
    assert result.returncode != 0
    assert "make export" in result.stderr
    assert "differs from its source" in result.stderr


def test_check_fails_when_a_generated_file_has_no_source(run_export, fake_repo):
    export(run_export, fake_repo)
    shutil.copy(fake_repo / "tinytorch" / "core" / "demo.py", fake_repo / "tinytorch" / "core" / "orphan.py")
    result = export(run_export, fake_repo, "--check")
    assert result.returncode != 0
    assert "make export" in result.stderr
    assert "tinytorch/core/orphan.py" in result.stderr
    # The export removes what no source asks for.
    export(run_export, fake_repo)
    assert not (fake_repo / "tinytorch" / "core" / "orphan.py").exists()


def test_check_fails_when_a_generated_file_is_missing(run_export, fake_repo):
    result = export(run_export, fake_repo, "--check")
    assert result.returncode != 0
    assert "missing" in result.stderr and "make export" in result.stderr


def test_hand_written_files_are_never_touched_or_flagged(run_export, fake_repo):
    export(run_export, fake_repo)
    for name, text in HAND_WRITTEN.items():
        assert (fake_repo / name).read_text() == text, name
    assert export(run_export, fake_repo, "--check").returncode == 0
    # Editing a hand-written file is none of the exporter's business.
    (fake_repo / "tinytorch" / "core" / "helpers.py").write_text("VALUE = 2\n")
    assert export(run_export, fake_repo, "--check").returncode == 0
    export(run_export, fake_repo)
    assert (fake_repo / "tinytorch" / "core" / "helpers.py").read_text() == "VALUE = 2\n"


def test_real_repository_is_in_sync(run_tool, repo_root):
    result = run_tool("export.py", "--check")       # the command itself, as `make test` runs it
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_export_cell_can_name_another_module(run_export, fake_repo):
    source = fake_repo / "src" / "01_demo" / "01_demo.py"
    source.write_text(SOURCE + '''
# %%
#| export core.extra
def triple(x):
    return 3 * x
''')
    assert export(run_export, fake_repo).returncode == 0
    extra = (fake_repo / "tinytorch" / "core" / "extra.py").read_text()
    demo = (fake_repo / "tinytorch" / "core" / "demo.py").read_text()
    assert extra.startswith(HEADER + " Source: src/01_demo/01_demo.py")
    assert "def triple(x):" in extra and "def triple" not in demo
    assert "def double(x):" in demo and "def double" not in extra
    assert export(run_export, fake_repo, "--check").returncode == 0
