"""The Binder set-up: what a reader gets when a chapter's launch button opens it on mybinder.org."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KERNEL_NEEDS = ["numpy", "matplotlib", "myst-nb", "ipykernel", "tqdm", "safetensors", "jupytext"]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in requirement_lines(path):
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


def test_requirements_install_the_repo_and_the_kernel_needs(repo_root):
    path = repo_root / "binder" / "requirements.txt"
    assert "-e ." in requirement_lines(path), "Binder must install tinytorch from the repository"
    pinned = pins(path)
    for name in KERNEL_NEEDS:
        assert name in pinned, f"binder/requirements.txt does not pin {name}"


@pytest.mark.parametrize("environment", ["binder/requirements.txt", "classroom/hub/requirements.txt"])
def test_requirements_agree_with_the_dev_pins(repo_root, environment):
    """Binder's and the class hub's environments pin what the dev environment resolved."""
    constraints = pins(repo_root / "requirements" / "constraints.txt")
    for name, version in pins(repo_root / environment).items():
        assert constraints.get(name) == version, (
            f"{environment} pins {name}=={version}, requirements/constraints.txt has {constraints.get(name)}")


def test_runtime_pins_python_311(repo_root):
    assert (repo_root / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_post_build_is_executable_and_tracked_as_such(repo_root):
    post_build = repo_root / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert post_build.read_text().startswith("#!")
    tracked = subprocess.run(["git", "ls-files", "-s", "binder/postBuild"], cwd=repo_root,
                             capture_output=True, text=True)
    if tracked.returncode != 0 or not tracked.stdout:
        pytest.skip("not a git checkout, or postBuild not committed yet")
    assert tracked.stdout.startswith("100755"), "commit binder/postBuild with mode 755"


def test_post_build_makes_jupytext_the_markdown_viewer(repo_root, tmp_path):
    jupytext_config = shutil.which("jupytext-config") or str(
        Path(sys.executable).parent / "jupytext-config")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path),
               PATH=str(Path(jupytext_config).parent) + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(["bash", str(repo_root / "binder" / "postBuild")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "labconfig" / "default_setting_overrides.json").read_text())
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"
    assert viewers["myst"] == "Jupytext Notebook"


def test_execute_chapter_helper_runs_a_notebook_and_reports_a_broken_cell(execute_chapter, tmp_path):
    import nbclient

    head = "---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n# Demo\n\n"
    good = tmp_path / "good.md"
    good.write_text(head + "```{code-cell} ipython3\nimport pathlib\nprint(pathlib.Path.cwd().name)\n```\n")
    notebook = execute_chapter(good)
    assert notebook.cells[-1].outputs[0]["text"].strip() == tmp_path.name  # ran in the chapter's folder
    bad = tmp_path / "bad.md"
    bad.write_text(head + "```{code-cell} ipython3\nraise KeyError('broken-binder-cell')\n```\n")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="broken-binder-cell"):
        execute_chapter(bad)
