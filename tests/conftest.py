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


# The files that take longest (`pytest --durations=0`, summed per file), run first, so that with
# `-n 2 --dist loadfile` (make test) no long file starts last while the other worker sits idle; the
# hub's, which mostly waits for servers to start, goes first of all, while the book build (make
# test runs it beside the tests) can use the core it leaves. Every other file follows in collection
# order. Only the order depends on this list.
LONGEST_FIRST = ("test_classroom_hub.py", "test_learner_e2e.py", "test_classroom_gate.py",
                 "test_book_visible_cells.py", "test_classroom.py", "test_book_build.py", "test_learner.py",
                 "test_fuzz_public_api.py", "test_book_follows_code.py")


def pytest_collection_modifyitems(config, items):
    """Mark `needs_site` every test that uses the `site` fixture or lives in a file of READ_THE_SITE;
    put the files of LONGEST_FIRST first (a stable sort: each file's tests keep their order)."""
    for item in items:
        if "site" in getattr(item, "fixturenames", ()) or item.path.name in READ_THE_SITE:
            item.add_marker(pytest.mark.needs_site)
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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
