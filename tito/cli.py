"""The `tito` command: build TinyTorch yourself, one module at a time.

    tito module start 08          copy module 08's student notebook to workspace/ and open JupyterLab
    tito module complete 08       compile, export your cells, check them; record progress on success
    tito test 08 | training       run module 08's tests against your package (--verbose: tracebacks)
    tito module status            which modules are yours
    tito module reset 08          fresh notebook; yours is kept in workspace/backups/
    tito system doctor            is everything in place?
    tito milestone run mlp        train the milestone network on your package

Your package is workspace/package/tinytorch (gitignored): the modules you completed, and the
reference for every other one. DESIGN.md ("The learner's workflow") explains how.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tito import cells as nb
from tito import checks
from tito import workspace as ws

# Wide enough for the status table when the output is a file or a pipe (CI, tests), not a terminal.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
_USAGE = __doc__.split("\n\n")[1]
app = typer.Typer(help="Build TinyTorch yourself, one module at a time.\n\n\b\n" + _USAGE
                  + "\n\nRun `tito COMMAND --help` for each command's options.",
                  no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False)
module_app = typer.Typer(help="Start, complete, inspect and reset modules.", no_args_is_help=True)
system_app = typer.Typer(help="Check the set-up.", no_args_is_help=True)
milestone_app = typer.Typer(help="Run a milestone (a whole network trained on real data) on your package.",
                            no_args_is_help=True)
app.add_typer(module_app, name="module")
app.add_typer(system_app, name="system")
app.add_typer(milestone_app, name="milestone")


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _root() -> Path:
    try:
        return ws.find_root()
    except ws.TitoError as error:
        _fail(str(error))


def _module(root: Path, key: str) -> ws.Module:
    try:
        return ws.find_module(root, key)
    except ws.TitoError as error:
        _fail(str(error))


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- module start

def _working_copy(root: Path, module: ws.Module) -> tuple[Path, bool]:
    """The learner's notebook, created from the student notebook on first use."""
    copy = module.working_copy
    created = False
    if not copy.exists():
        if not module.student_notebook.exists():
            _fail(f"{_relative(root, module.student_notebook)} is missing: run `make export`")
        data = json.loads(module.student_notebook.read_text(encoding="utf-8"))
        data["metadata"]["kernelspec"] = {"display_name": ws.KERNEL_DISPLAY, "language": "python",
                                          "name": ws.KERNEL_NAME}
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        created = True
    ws.write_overlays(ws.package_dir(root), root)
    ws.install_kernel()
    progress = ws.load_progress(root)
    entry = progress.setdefault(module.folder, {})
    entry.setdefault("started", ws.now())
    ws.save_progress(root, progress)
    return copy, created


def _inside_jupyter() -> bool:
    """Binder, JupyterHub or a JupyterLab terminal: a server is already running; do not start another."""
    return any(os.environ.get(name) for name in ("BINDER_SERVICE_HOST", "JUPYTERHUB_SERVICE_PREFIX",
                                                  "JPY_SESSION_NAME", "JUPYTER_SERVER_URL"))


@module_app.command("start")
def module_start(
    module: str = typer.Argument(..., help="module number or name: 08, 8, training"),
    no_open: bool = typer.Option(False, "--no-open", help="only create the working copy and print its path"),
) -> None:
    """Copy the module's student notebook to workspace/ (once) and open it in JupyterLab."""
    root = _root()
    mod = _module(root, module)
    copy, created = _working_copy(root, mod)
    state = "created" if created else "already there (your work is kept)"
    console.print(f"Module {mod.number} {mod.title()}: your notebook is {_relative(root, copy)} ({state}).")
    console.print(f"Its kernel is [bold]{ws.KERNEL_DISPLAY}[/]: `import tinytorch` there is your package. "
                  f"Fill each `### BEGIN SOLUTION` block, then run `tito module complete {mod.number}`.")
    if no_open:
        print(copy)
        return
    if _inside_jupyter():
        console.print(f"JupyterLab is already running here: open {_relative(root, copy)} from its file browser.")
        return
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or shutil.which("jupyter")
    if jupyter is None or subprocess.run([jupyter, "lab", "--version"], capture_output=True).returncode != 0:
        _fail("JupyterLab is not installed in this environment: run `make venv` "
              "(or `pip install -c requirements/constraints.txt jupyterlab`), or open the notebook above "
              "in any Jupyter with the kernel " + ws.KERNEL_DISPLAY)
    console.print("Starting JupyterLab (Ctrl-C stops it)...")
    # JupyterLab refuses to run as root unless told; a container's only user often is root.
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    raise typer.Exit(subprocess.call([jupyter, "lab", *as_root, str(copy)], cwd=root))


# ---------------------------------------------------------------- complete

def _print_compile_errors(root: Path, notebook: Path, errors: list[checks.CompileError]) -> None:
    console.print(f"[bold red]Your notebook does not compile[/] ({_relative(root, notebook)}):")
    for error in errors:
        console.print(f"  cell {error.cell}, line {error.line}: {escape(error.message)}")
        if error.text:
            console.print(f"      {escape(error.text)}")
    console.print("Nothing was exported; your package is unchanged. Fix the cells above and run again.")


def _print_failures(title: str, outcome: checks.Outcome, verbose: bool) -> None:
    console.print(f"[bold red]{escape(title)}[/]")
    for failure in outcome.failures[:20]:
        name = failure.get("check") or failure.get("test") or failure.get("stage") or "check"
        where_cell = f" (cell {failure['cell']})" if failure.get("cell") else ""
        console.print(f"  [red]x[/] [bold]{escape(str(name))}[/]{where_cell}")
        if failure.get("check_line") or failure.get("line"):
            console.print(f"      check:    {escape(failure.get('check_line') or failure['line'])}")
        if failure.get("got") is not None:
            console.print(f"      got:      {escape(failure['got'])}")
            console.print(f"      expected: {escape(failure['expected'])}")
        message = failure.get("message") or ""
        lines = message.splitlines() or [""]
        console.print(f"      error:    {escape(failure.get('error', ''))}: {escape(lines[0])}")
        for line in lines[1:5]:
            console.print(f"                {escape(line)}")
        if failure.get("where"):
            console.print(f"      in:       {escape(failure['where'])}")
        if verbose and failure.get("traceback"):
            console.print(escape(failure["traceback"]))
    if len(outcome.failures) > 20:
        console.print(f"  ... and {len(outcome.failures) - 20} more")
    if not verbose:
        console.print("  (--verbose shows the full tracebacks)")


def complete_modules(root: Path, mods: list[ws.Module], verbose: bool = False) -> bool:
    """Compile, export into a staged copy of the learner's package, check; commit only if all passed.

    Several modules are checked together (one pytest run over all their tests) and committed all or
    none; each module's tests then run against a package holding every one of them."""
    names = ", ".join(m.number for m in mods)
    for mod in mods:
        if not mod.working_copy.exists():
            _fail(f"you have not started module {mod.number}: run `tito module start {mod.number}` first")
    notebooks = {mod: nb.read_notebook(mod.working_copy) for mod in mods}
    progress = ws.load_progress(root)
    for mod in mods:
        progress.setdefault(mod.folder, {})["last_attempt"] = ws.now()

    def failed(reason: str) -> bool:
        for mod in mods:
            progress[mod.folder]["last_result"] = reason
        ws.save_progress(root, progress)
        console.print(f"Module {names} is not complete. Your package is unchanged.")
        return False

    # 1. Compile every cell: nothing is exported from a notebook that is not valid Python.
    broken = {mod: checks.compile_errors(cells) for mod, cells in notebooks.items()}
    if any(broken.values()):
        for mod, errors in broken.items():
            if errors:
                _print_compile_errors(root, mod.working_copy, errors)
        console.print("Nothing was exported; your package is unchanged. Fix the cells above and run again.")
        return failed("syntax error")
    # 2. Stubs left: name every function still to write.
    missing = {mod: nb.stubs_left(cells) for mod, cells in notebooks.items()}
    if any(missing.values()):
        for mod, owners in missing.items():
            if owners:
                console.print(f"[bold red]Not written yet[/] in module {mod.number} ({len(owners)}): "
                              + ", ".join(owners))
        console.print("  Each still raises NotImplementedError: replace the stub between its "
                      "`### BEGIN SOLUTION` / `### END SOLUTION` lines (the hint above says what to write).")
        return failed("not written: " + ", ".join(o for owners in missing.values() for o in owners))
    # 3. Export your cells into a staged copy of your package.
    files_of: dict[ws.Module, dict[Path, str]] = {}
    for mod, cells in notebooks.items():
        label = _relative(root, mod.working_copy)
        try:
            exported = nb.export_code(cells, label)
        except ValueError as error:
            _fail(str(error))
        header = (f"# GENERATED FILE: DO NOT EDIT. Source: {label} (your notebook)\n"
                  f"# Written by `tito module complete {mod.number}`.\n\n")
        files_of[mod] = {nb.target_path(target): header + code for target, code in exported.items()}
    files = {path: text for module_files in files_of.values() for path, text in module_files.items()}
    staging = ws.stage_package(root, files)
    try:
        console.print(f"Module {names}: exported "
                      + ", ".join(f"tinytorch/{p.relative_to('tinytorch').as_posix()}" for p in files)
                      + " to a staged copy of your package; checking it...")
        # 4. The notebooks' own checks, then the modules' tests, against the staged package.
        passed_inline: dict[ws.Module, int] = {}
        for mod in mods:
            inline = checks.run_notebook(mod.working_copy, staging)
            if not inline.ok:
                _print_failures(f"Module {mod.number}: the notebook's checks failed:", inline, verbose)
                name = (inline.failures[0].get("check") or "a cell") if inline.failures else "a cell"
                return failed(f"check failed: {name}")
            passed_inline[mod] = len(inline.notes)
            console.print(f"  [green]ok[/] module {mod.number}, the notebook's checks: "
                          f"{', '.join(inline.notes) or 'cells ran'}")
        test_files = list(dict.fromkeys(path for mod in mods for path in mod.test_files()))
        tests = checks.run_tests(test_files, staging, root, verbose=verbose)
        if not tests.ok:
            _print_failures(f"The tests failed ({len(tests.failures)} failing, {tests.passed} passed):",
                            tests, verbose)
            return failed(f"{len(tests.failures)} test(s) failed")
        console.print(f"  [green]ok[/] {tests.passed} tests of " + ", ".join(p.name for p in test_files)
                      + (f" ({'; '.join(tests.notes)})" if tests.notes else ""))
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    # 5. Everything passed: your files replace the modules' files in your package.
    ws.commit_package(root, files)
    for mod in mods:
        count = passed_inline[mod] + sum(tests.passed_by_file.get(p.name, 0) for p in mod.test_files())
        progress[mod.folder].update(status="complete", completed=ws.now(), last_result="complete",
                                    checks=count,
                                    files=sorted(p.as_posix() for p in files_of[mod]))
    ws.save_progress(root, progress)
    console.print(f"[bold green]Module {names} complete.[/] `import tinytorch` now uses your "
                  + ", ".join(p.stem for p in files) + ". `tito test NN` re-runs a module's tests any time; "
                  "`tito module status` shows your progress.")
    return True


@module_app.command("complete")
def module_complete(
    module: list[str] = typer.Argument(..., help="module number(s) or name(s): 08, or 01 02 03"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="full tracebacks and pytest output"),
) -> None:
    """Compile your notebook, export your cells, run the module's checks on them; record progress."""
    root = _root()
    chosen = list(dict.fromkeys(_module(root, key) for key in module))
    if not complete_modules(root, chosen, verbose):
        raise typer.Exit(1)


@app.command("export")
def export_command(
    module_option: Optional[str] = typer.Option(None, "--module", "-m", help="module number or name"),
    module: Optional[str] = typer.Argument(None, help="module number or name"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Older spelling of `tito module complete` (`tito export --module training`)."""
    key = module_option or module
    if not key:
        _fail("name a module: tito export --module training")
    root = _root()
    if not complete_modules(root, [_module(root, key)], verbose):
        raise typer.Exit(1)


# ---------------------------------------------------------------- test

@app.command("test")
def test_command(
    module: Optional[str] = typer.Argument(None, help="module number or name; all modules when omitted"),
    module_option: Optional[str] = typer.Option(None, "--module", "-m", help="module number or name"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="full tracebacks and pytest output"),
) -> None:
    """Run a module's tests against your package (the reference for modules you have not completed)."""
    root = _root()
    key = module_option or module
    chosen = [_module(root, key)] if key and key != "all" else ws.modules(root)
    progress = ws.load_progress(root)
    package = ws.package_dir(root)
    ws.write_overlays(package, root)
    files = list(dict.fromkeys(path for mod in chosen for path in mod.test_files()))
    for mod in chosen:
        whose = "yours" if progress.get(mod.folder, {}).get("status") == "complete" else "the reference (not completed)"
        console.print(f"Module {mod.number} {mod.title()}: {whose}")
    outcome = checks.run_tests(files, package, root, verbose=verbose)
    if outcome.ok:
        console.print(f"[bold green]{outcome.passed} passed[/]"
                      + (f" ({'; '.join(outcome.notes)})" if outcome.notes else "") + ": "
                      + ", ".join(p.name for p in files))
        return
    _print_failures(f"{len(outcome.failures)} failed, {outcome.passed} passed:", outcome, verbose)
    raise typer.Exit(1)


# ---------------------------------------------------------------- status and reset

@module_app.command("status")
def module_status() -> None:
    """A table of the modules: not started / in progress / complete, when, checks passed."""
    root = _root()
    progress = ws.load_progress(root)
    table = Table(title="Your TinyTorch")
    for column in ("Module", "Status", "Completed", "Checks passed", "Your files", "Last attempt"):
        table.add_column(column)
    for mod in ws.modules(root):
        entry = progress.get(mod.folder, {})
        if entry.get("status") == "complete":
            status = "[green]complete[/]"
        elif mod.working_copy.exists():
            status = "[yellow]in progress[/]"
        else:
            status = "not started"
        table.add_row(mod.folder, status, entry.get("completed", ""),
                      str(entry.get("checks", "")) if entry.get("status") == "complete" else "",
                      ", ".join(Path(f).name for f in entry.get("files", [])) or "reference",
                      escape(entry.get("last_result", "")) if entry.get("last_attempt") else "")
    console.print(table)
    console.print(f"Your package: {_relative(root, ws.package_dir(root) / 'tinytorch')} "
                  "(modules you have not completed come from the reference).")


@module_app.command("reset")
def module_reset(module: str = typer.Argument(..., help="module number or name")) -> None:
    """Restore the pristine student notebook; yours is kept in workspace/backups/ with a timestamp.

    Only the notebook changes: your package keeps what you completed until the next complete."""
    root = _root()
    mod = _module(root, module)
    copy = mod.working_copy
    if copy.exists():
        backups = ws.workspace(root) / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        backup = backups / f"{mod.folder}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.ipynb"
        shutil.copy2(copy, backup)
        copy.unlink()
        console.print(f"Your notebook is saved as {_relative(root, backup)}.")
    if ws.load_progress(root).get(mod.folder, {}).get("status") == "complete":
        console.print(f"Your package keeps your completed module {mod.number} until you complete it again.")
    new, _ = _working_copy(root, mod)
    console.print(f"Fresh notebook: {_relative(root, new)}.")


# ---------------------------------------------------------------- doctor

_PROBE = """
import importlib, json, os, sys
import tinytorch
out = {"python": sys.executable, "tinytorch": os.path.dirname(tinytorch.__file__), "modules": {}}
import pkgutil, tinytorch.core
for info in pkgutil.iter_modules(tinytorch.core.__path__):
    if info.name in out["modules"]:
        continue
    out["modules"][info.name] = importlib.util.find_spec("tinytorch.core." + info.name).origin
print(json.dumps(out))
"""


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@system_app.command("doctor")
def system_doctor() -> None:
    """Python, virtual environment, pinned packages, Jupyter kernel, and which tinytorch you import."""
    from importlib import metadata

    root = _root()
    problems = 0
    table = Table(title="tito system doctor")
    for column in ("Check", "Found", "Verdict"):
        table.add_column(column)

    def row(check: str, found: str, ok: bool, fix: str = "") -> None:
        nonlocal problems
        problems += not ok
        table.add_row(check, escape(found), "[green]ok[/]" if ok else f"[red]{escape(fix)}[/]")

    version = ".".join(map(str, sys.version_info[:3]))
    row("Python", version, sys.version_info[:2] >= (3, 11), "use Python 3.11 or newer (make PYTHON=python3.11 venv)")
    in_venv = sys.prefix != sys.base_prefix
    row("Virtual environment", sys.prefix, in_venv or bool(os.environ.get("BINDER_SERVICE_HOST")),
        "run tito from the project's .venv: `make venv`, then `.venv/bin/tito`")
    constraints = root / "requirements" / "constraints.txt"
    wanted = {}
    for name in ("runtime.txt", "dev.txt"):
        path = root / "requirements" / name
        if path.exists():
            wanted.update(_pins(path))
    all_pins = _pins(constraints) if constraints.exists() else {}
    wrong = []
    for name in sorted(wanted):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have != all_pins.get(name, wanted[name]):
            wrong.append(f"{name} {have} (want {all_pins.get(name, wanted[name])})")
    row("Pinned packages", f"{len(wanted) - len(wrong)}/{len(wanted)} as pinned" + (": " + "; ".join(wrong[:4]) if wrong else ""),
        not wrong, "run `make venv` (installs requirements/ with its constraints)")
    spec = ws.kernel_dir() / "kernel.json"
    kernel_ok = spec.exists() and json.loads(spec.read_text(encoding="utf-8")) == ws.kernel_spec()
    row(f"Jupyter kernel '{ws.KERNEL_DISPLAY}'", str(spec) if spec.exists() else "not installed", kernel_ok,
        "run `tito module start NN` once (it installs the kernel)")
    python3 = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    row("Jupyter kernel 'python3' (the book)", str(python3) if python3.exists() else "not installed",
        python3.exists(), "run `make venv`")
    lab = shutil.which("jupyter-lab", path=str(Path(sys.executable).parent))
    row("JupyterLab", lab or "not installed", bool(lab) or _inside_jupyter(), "run `make venv`")
    package = ws.package_dir(root)
    ws.write_overlays(package, root)
    probe = subprocess.run([sys.executable, "-P", "-c", _PROBE], env=ws.learner_env(package),
                           capture_output=True, text=True, cwd=ws.workspace(root))
    if probe.returncode != 0:
        row("import tinytorch (yours)", probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "failed",
            False, "a completed module of yours does not import: `tito module reset NN` or fix and complete it")
    else:
        found = json.loads(probe.stdout)
        mine = sorted(name for name, origin in found["modules"].items()
                      if origin and str(package) in origin)
        row("import tinytorch under tito", _relative(root, Path(found["tinytorch"])),
            found["tinytorch"] == str(package / "tinytorch"), "reinstall: `make venv`")
        row("Your modules in it", ", ".join(mine) or "none yet (all from the reference)", True)
    plain = subprocess.run([sys.executable, "-P", "-c", "import tinytorch, os; print(os.path.dirname(tinytorch.__file__))"],
                           capture_output=True, text=True, cwd=ws.workspace(root),
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    reference = plain.stdout.strip()
    row("import tinytorch elsewhere (make test, the book)", _relative(root, Path(reference)) if reference else plain.stderr[-200:],
        reference == str(root / "tinytorch"), "`make venv` (the editable install points at this clone)")
    console.print(table)
    if problems:
        console.print(f"[bold red]{problems} problem(s)[/]: each row says what to do.")
        raise typer.Exit(1)
    console.print("[bold green]All good.[/]")


# ---------------------------------------------------------------- milestones

@milestone_app.command("run")
def milestone_run(name: str = typer.Argument(..., help="mlp or cnn")) -> None:
    """Train a milestone network with your package (`python -m tinytorch.milestones NAME`)."""
    root = _root()
    package = ws.package_dir(root)
    ws.write_overlays(package, root)
    env = ws.learner_env(package)
    probe = subprocess.run([sys.executable, "-P", "-c", "import importlib.util as u; "
                            "print(u.find_spec('tinytorch.milestones') is not None)"],
                           env=env, capture_output=True, text=True, cwd=ws.workspace(root))
    if probe.stdout.strip() != "True":
        _fail("this clone has no tinytorch.milestones yet (the milestone chapters add it)")
    console.print(f"Milestone {name} on your package (reference for modules you have not completed):")
    raise typer.Exit(subprocess.call([sys.executable, "-P", "-m", "tinytorch.milestones", name], env=env,
                                     cwd=ws.workspace(root)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
