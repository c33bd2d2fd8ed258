"""Shared fixtures: where the repository is, and how to run a repo tool as a learner would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


# Test files that read the built site rather than the `site` fixture (tools/run_checks.py runs every
# test that needs the site after the build, and all others while it builds).
READ_THE_SITE = {"test_browser.py", "test_overview.py", "test_book_figures.py", "test_learner_book.py",
                 "test_book_html.py", "test_book_code_width.py"}


def pytest_collection_modifyitems(config, items):
    """Mark `needs_site` every test that uses the `site` fixture or lives in a file of READ_THE_SITE."""
    for item in items:
        if "site" in getattr(item, "fixturenames", ()) or item.path.name in READ_THE_SITE:
            item.add_marker(pytest.mark.needs_site)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def site_dir() -> Path:
    """The built site the HTML and browser tests read (TINYTORCH_SITE points them at another build)."""
    return Path(os.environ.get("TINYTORCH_SITE") or REPO_ROOT / "_build" / "html")


@pytest.fixture(scope="module")
def site() -> Path:
    html_dir = site_dir()
    if not (html_dir / "index.html").exists():
        pytest.fail(f"no built site at {html_dir}: run the book build first "
                    "(`make test` does it before pytest; or `.venv/bin/python tools/build_book.py`)",
                    pytrace=False)
    return html_dir


@pytest.fixture(scope="session")
def run_tool():
    """run_tool("export.py", "--check", ...): run tools/<script> with this interpreter, output captured."""

    def run(script: str, *args: str, cwd: Path = REPO_ROOT, timeout: float = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO_ROOT / "tools" / script), *map(str, args)],
                              cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)

    return run


@pytest.fixture(scope="session")
def execute_chapter():
    """execute_chapter(path) runs a MyST chapter top to bottom as a notebook, outside the book build
    (what a Binder user does), in the chapter's folder; returns the executed notebook. A failing
    cell raises nbclient's CellExecutionError naming the cell and the error."""
    import jupytext
    import nbclient

    def run(path: Path, timeout: int = 120):
        notebook = jupytext.read(path)
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(Path(path).parent)}}).execute()
        return notebook

    return run


@pytest.fixture(scope="session")
def run_export():
    """run_export("--root", folder, "--check", ...): tools/export.py's main in this process (the code the
    command runs; jupytext is imported once per test process instead of once per call), returning a
    CompletedProcess-like result with returncode, stdout and stderr."""
    import contextlib
    import importlib.util
    import io
    import types

    spec = importlib.util.spec_from_file_location("_export_tool", REPO_ROOT / "tools" / "export.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    def run(*args) -> types.SimpleNamespace:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = tool.main([str(a) for a in args])
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
                if stop.code is not None and not isinstance(stop.code, int):
                    print(stop.code, file=err)
        return types.SimpleNamespace(returncode=code or 0, stdout=out.getvalue(), stderr=err.getvalue())

    return run
