"""The `tito` command: build TinyTorch yourself, one module at a time.

    tito module start 08          copy module 08's student notebook to workspace/ and open JupyterLab
    tito module complete 08       check your code of module 08 in the course; on success it is yours
    tito test 08 | training       run module 08's tests against your package (--verbose: tracebacks)
    tito module status            which modules are yours, and whether they still pass (or: tito status)
    tito module update            after a course update: rebuild, re-check, refresh your notebooks
    tito module reset 08          fresh notebook; yours is kept in workspace/backups/
    tito module submit 08         pack your notebook and its status into a zip for your instructor
    tito system doctor            is everything in place?
    tito milestone run mlp        train the milestone network on your package
    tito class --help             for instructors: teach a class with nbgrader (INSTRUCTORS.md)

Your package is workspace/package/tinytorch (gitignored): the course's package with your code in the
solution blocks of the modules you completed. DESIGN.md ("The learner's workflow") explains how.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tito import answers, cells as nb
from tito import checks
from tito import package
from tito import solutions
from tito import workspace as ws
from tito.class_cli import class_app

# Wide enough for the status table when the output is a file or a pipe (CI, tests), not a terminal.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
_USAGE = __doc__.split("\n\n")[1]
app = typer.Typer(help="Build TinyTorch yourself, one module at a time.\n\n\b\n" + _USAGE
                  + "\n\nRun `tito COMMAND --help` for each command's options.",
                  no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False)
module_app = typer.Typer(help="Start, complete, inspect, update and reset modules.", no_args_is_help=True)
system_app = typer.Typer(help="Check the set-up.", no_args_is_help=True)
milestone_app = typer.Typer(help="Run a milestone (a whole network trained on real data) on your package.",
                            no_args_is_help=True)
app.add_typer(module_app, name="module")
app.add_typer(system_app, name="system")
app.add_typer(milestone_app, name="milestone")
app.add_typer(class_app, name="class")


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


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_notebook(root: Path, mod: ws.Module) -> list[nb.Cell]:
    """The cells of the learner's notebook, or a one-line error naming it and the way out."""
    path = mod.working_copy
    try:
        return nb.read_notebook(path)
    except json.JSONDecodeError as error:
        problem = f"not valid JSON: {error}"
    except (UnicodeDecodeError, OSError, AttributeError, TypeError, KeyError) as error:
        problem = f"not a notebook: {type(error).__name__}: {error}"
    _fail(f"{_relative(root, path)} is damaged ({problem}): repair it (a backup, your editor's undo), "
          f"{_fresh_notebook(mod)}")


def _fresh_notebook(mod: ws.Module) -> str:
    """The way to a working notebook again: for a completed module, one with the code it was
    completed with (start writes it when there is none); otherwise reset's fresh one."""
    try:
        completed = solutions.load(mod) is not None
    except solutions.Damaged:
        completed = False
    if completed:
        return (f"or move it out of {ws.WORKSPACE}/ and run `tito module start {mod.number}`, which writes it "
                f"again with the code you completed module {mod.number} with")
    return (f"or `tito module reset {mod.number}` for a fresh notebook (the damaged one is kept in "
            f"{ws.WORKSPACE}/backups/)")


def _backup(root: Path, mod: ws.Module) -> Path:
    """Save the learner's notebook in workspace/backups/ with a timestamp; returns the copy's path."""
    backup = ws.workspace(root) / "backups" / f"{mod.folder}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.ipynb"
    ws.write_atomic(backup, mod.working_copy.read_bytes())
    return backup


# ---------------------------------------------------------------- the package, kept current

@dataclass
class State:
    progress: dict
    stored: dict[str, list[solutions.Body]]     # module folder: the learner's stored bodies
    record: dict                                # workspace/build.json: what the package was built from
    course: str                                 # the course's fingerprint now
    told_outdated: bool = False                 # the learner was told which notebooks are outdated

    def completed(self, root: Path) -> list[ws.Module]:
        return [m for m in ws.modules(root) if m.folder in self.stored]

    def conflicts(self, mod: ws.Module) -> list[solutions.Conflict]:
        return [solutions.Conflict.from_dict(c) for c in self.record.get("conflicts", {}).get(mod.folder, [])]


def _prepare(root: Path, recheck: bool = True, skip: tuple | set = (), repairing: tuple | set = (),
             refreshing: bool = False) -> State:
    """What every command does first. Read the workspace (a damaged file gives a one-line message),
    move a workspace of an older tito to stored solutions, rebuild the package if the course, the
    stored solutions or the package itself changed, and re-run the tests of each completed module
    whose recorded result is not for the current course (`skip`: modules the command checks itself;
    `repairing`: modules whose stored solutions the command is about to replace, so they may be
    missing or damaged; `refreshing`: the command refreshes the notebooks itself, so it does not
    tell the learner to)."""
    try:
        progress = ws.load_progress(root)
    except ws.TitoError as error:
        _fail(str(error))
    try:
        moved = package.migrate(root, progress)
    except OSError as error:
        _fail(f"could not move your workspace to stored solutions: {error}")
    if moved:
        for line in moved:
            console.print(escape(line))
        ws.save_progress(root, progress)
    stored: dict[str, list[solutions.Body]] = {}
    course_modules = ws.modules(root)
    for mod in course_modules:
        try:
            found = solutions.load(mod)
        except solutions.Damaged as error:
            if mod in repairing:
                continue
            _fail(str(error))
        if found is None:
            if progress.get(mod.folder, {}).get("status") == "complete" and mod not in repairing:
                _fail(f"{_relative(root, solutions.store_path(mod))} is missing, but "
                      f"{ws.WORKSPACE}/progress.json says you completed module {mod.number}: "
                      + solutions.way_out(mod))
            continue
        stored[mod.folder] = found
    for folder in sorted(set(solutions.stored_folders(root)) - {m.folder for m in course_modules}):
        try:
            found = solutions.load(package._module_of(root, folder))
        except solutions.Damaged:
            continue
        if found is not None:
            stored[folder] = found
    try:
        ensured = package.ensure(root, stored)
    except ws.TitoError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"could not write your package in {ws.WORKSPACE}/package: {error}")
    state = State(progress, stored, ensured.record, ensured.course)
    if ensured.rebuilt:
        _print_rebuild(root, state, ensured, refreshing)
    if recheck:
        due = [m for m in state.completed(root) if m not in skip and not _checked_now(root, state, m)]
        if due:
            _recheck(root, state, due)
    return state


def _print_rebuild(root: Path, state: State, ensured: package.Ensured, refreshing: bool = False) -> None:
    mine = ", ".join(m.number for m in state.completed(root))
    with_yours = f", with your code for module(s) {mine}" if mine else ""
    if ensured.why == "course" and ensured.previous_course:
        console.print(f"The course changed since your package was built: it was rebuilt from the course{with_yours}.")
        outdated = [m.number for m in ws.modules(root) if m.working_copy.exists() and _notebook_outdated(root, state, m)]
        if outdated and not refreshing:
            console.print(f"Your notebook(s) of module(s) {', '.join(outdated)} are from the older course: "
                          "`tito module update` refreshes them and keeps the code of your solution blocks.")
            state.told_outdated = True
    elif ensured.why == "damaged" and ensured.damaged:
        more = f" (and {len(ensured.damaged) - 1} more)" if len(ensured.damaged) > 1 else ""
        console.print(f"{escape(ensured.damaged[0])}{more} was changed or damaged: your package was rebuilt "
                      f"from the course and your stored solutions ({ws.WORKSPACE}/solutions/).")
    elif ensured.why in ("damaged", "solutions", "course"):
        console.print(f"Your package was rebuilt from the course{with_yours} "
                      f"({ws.WORKSPACE}/build.json did not match it).")
    conflicts = [c for m in state.completed(root) for c in state.conflicts(m)]
    for conflict in conflicts:
        console.print(f"  [yellow]![/] {escape(conflict.describe())}")
    if conflicts:
        numbers = sorted({c.module[:2] for c in conflicts})
        console.print(f"  `tito module update {' '.join(numbers)}` keeps your old code in your notebook next to each "
                      "such block; write the block, then `tito module complete` the module again.")
    for folder in state.record.get("orphans", []):
        console.print(f"  [yellow]![/] {ws.WORKSPACE}/solutions/{folder}.json: the course has no module {folder} "
                      "any more; your code for it stays in that file.")


def _checked_now(root: Path, state: State, mod: ws.Module) -> bool:
    checked = state.progress.get(mod.folder, {}).get("checked") or {}
    return checked.get("fingerprint") == package.check_fingerprint(root, mod, state.course)


def _record_checks(root: Path, state: State, mods: list[ws.Module], outcome: checks.Outcome) -> None:
    """Store each module's result of one test run (its test files' share of it) in the progress: the
    tests only, so that a count from `complete` and one from a re-check after a course update (which
    cannot run the notebook's checks) mean the same."""
    general = [f for f in outcome.failures if not f.get("test")]
    for mod in mods:
        names = {p.name for p in mod.test_files()}
        failures = general + [f for f in outcome.failures if f.get("test", "").split("::")[0] in names]
        passed = sum(outcome.passed_by_file.get(name, 0) for name in names)
        state.progress.setdefault(mod.folder, {})["checked"] = {
            "fingerprint": package.check_fingerprint(root, mod, state.course), "ok": not failures,
            "passed": passed, "failed": len(failures), "when": ws.now(),
            "failures": [f.get("test") or f.get("error", "") for f in failures[:5]]}


def _recheck(root: Path, state: State, due: list[ws.Module]) -> None:
    numbers = ", ".join(m.number for m in due)
    console.print(f"Checking your module(s) {numbers} against the current course (their last check was on "
                  "another version of it)...")
    files = list(dict.fromkeys(path for mod in due for path in mod.test_files()))
    outcome = checks.run_tests(files, ws.package_dir(root), root)
    _record_checks(root, state, due, outcome)
    ws.save_progress(root, state.progress)
    for mod in due:
        checked = state.progress[mod.folder]["checked"]
        if checked["ok"]:
            console.print(f"  [green]ok[/] module {mod.number}: {checked['passed']} tests pass on your code")
        else:
            console.print(f"  [red]x[/] module {mod.number}: {checked['failed']} test(s) fail on your code "
                          f"({escape(', '.join(checked['failures'][:3]))}): `tito test {mod.number}` shows why")


def _notebook_outdated(root: Path, state: State, mod: ws.Module, cells: list[nb.Cell] | None = None) -> bool:
    """True when the learner's notebook was made from another version of the course's notebook."""
    if not mod.student_notebook.exists():
        return False
    recorded = state.progress.get(mod.folder, {}).get("notebook")
    if recorded:
        return recorded != _sha(mod.student_notebook)
    try:                                   # a notebook from an older tito: compare the cells
        cells = cells if cells is not None else nb.read_notebook(mod.working_copy)
    except (ValueError, OSError, AttributeError, TypeError, KeyError):
        return False                       # damaged: `complete` and `update` say so, with the way out
    try:
        mine = nb.student_cells(cells, mod.number)
    except ValueError:
        return True
    theirs = iter([(c.kind, c.source.strip()) for c in mine])
    return not all(cell in theirs for cell in ((c.kind, c.source.strip()) for c in nb.read_notebook(mod.student_notebook)))


# ---------------------------------------------------------------- module start

def _working_copy(root: Path, mod: ws.Module, state: State, fresh: bool = False) -> tuple[Path, bool]:
    """The learner's notebook, created from the student notebook on first use (with their stored
    code in its blocks when they completed the module before, unless `fresh`)."""
    copy = mod.working_copy
    created = False
    if not copy.exists():
        if not mod.student_notebook.exists():
            _fail(f"{_relative(root, mod.student_notebook)} is missing: run `make export`")
        data = json.loads(mod.student_notebook.read_text(encoding="utf-8"))
        data["metadata"]["kernelspec"] = {"display_name": ws.KERNEL_DISPLAY, "language": "python",
                                          "name": ws.KERNEL_NAME}
        if mod.folder in state.stored and not fresh:
            text = _notebook_with(root, mod, state.stored[mod.folder], data["metadata"], None)[0]
        else:
            text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        ws.write_atomic(copy, text)
        state.progress.setdefault(mod.folder, {})["notebook"] = _sha(mod.student_notebook)
        created = True
    ws.install_kernel()
    entry = state.progress.setdefault(mod.folder, {})
    entry.setdefault("started", ws.now())
    ws.save_progress(root, state.progress)
    return copy, created


def _notebook_with(root: Path, mod: ws.Module, theirs: list[solutions.Body], metadata: dict,
                   backup: Path | None) -> tuple[str, list[solutions.Conflict]]:
    """The student notebook's text with `theirs` in its blocks (and a note cell on top when some
    could not go back in place)."""
    when = ws.now()
    cells, conflicts, gone = solutions.refresh_cells(nb.read_notebook(mod.student_notebook), mod.number,
                                                     mod.folder, theirs, when)
    if conflicts:
        saved = f" Your notebook from before is saved as `{_relative(root, backup)}`." if backup else ""
        lines = [f"**`tito module update` ({when}): the course changed.** Your code is back in its blocks, "
                 f"except for the ones below.{saved}", ""]
        for conflict in conflicts:
            if conflict.kind == "changed":
                lines.append(f"- `{conflict.owner}`: its def line changed (was `{conflict.old}`, now "
                             f"`{conflict.new}`): your old code is kept as comments under the stub in its block.")
            elif conflict.kind == "new":
                lines.append(f"- `{conflict.owner}`: new in the course: write it.")
        for body in gone:
            lines += [f"- `{body.owner}`: the course no longer has this block. Your code for it was:", "",
                      "  ```python", *[f"  {line}" for line in body.reindented("")], "  ```"]
        cells.insert(0, nb.Cell("markdown", "\n".join(lines), {}))
    return nb.notebook_json(cells, metadata), conflicts


@module_app.command("start")
def module_start(
    module: str = typer.Argument(..., help="module number or name: 08, 8, training"),
    no_open: bool = typer.Option(False, "--no-open", help="only create the working copy and print its path"),
) -> None:
    """Copy the module's student notebook to workspace/ (once) and open it in JupyterLab."""
    root = _root()
    mod = _module(root, module)
    state = _prepare(root)
    copy, created = _working_copy(root, mod, state)
    how = "created" if created else "already there; your work is kept"
    if created and mod.folder in state.stored:
        how = "created, with the code you completed it with"
    console.print(f"Module {mod.number} {mod.title()}: your notebook is {_relative(root, copy)} ({how}).")
    chapters = ws.chapters_of(root, mod.folder)
    if chapters != [mod.folder]:           # the book numbers its chapters on its own (08 is three)
        console.print("The book teaches it in " + " and ".join(f"book/chapters/{c}.md" for c in chapters) + ".")
    todo = (f"Fill each `### BEGIN SOLUTION` block, then run `tito module complete {mod.number}`."
            if nb.solution_blocks(solutions.course_cells(mod), mod.number) else
            f"It has nothing for you to write: read it, run it, then `tito module complete {mod.number}`.")
    console.print(f"Its kernel is [bold]{ws.KERNEL_DISPLAY}[/]: `import tinytorch` there is your package. {todo}")
    try:
        written = answers.ensure(root, mod.folder)
    except ws.TitoError as error:
        _fail(str(error))
    if written is not None:                # a module whose questions a class grades by hand
        console.print(f"Taking it in a class? Its questions, graded by your instructor, are answered in "
                      f"{_relative(root, written)}; `tito module submit {mod.number}` packs it with your notebook.")
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


def _inside_jupyter() -> bool:
    """Binder, JupyterHub or a JupyterLab terminal: a server is already running; do not start another."""
    return any(os.environ.get(name) for name in ("BINDER_SERVICE_HOST", "JUPYTERHUB_SERVICE_PREFIX",
                                                  "JPY_SESSION_NAME", "JUPYTER_SERVER_URL"))


# ---------------------------------------------------------------- complete

def _print_compile_errors(root: Path, notebook: Path, errors: list[checks.CompileError]) -> None:
    console.print(f"[bold red]Your notebook does not compile[/] ({_relative(root, notebook)}):")
    for error in errors:
        console.print(f"  cell {error.cell}, line {error.line}: {escape(error.message)}")
        if error.text:
            console.print(f"      {escape(error.text)}")


def _functions_tested(root: Path) -> dict[str, list[str]]:
    """{"test_05_dataloader.py::test_x": the functions a learner writes that the test needs}, from
    the course's rubric (classroom/rubric.yml lists, for each such function, the graded tests that
    fail when it is a stub); empty when the course has no rubric or it cannot be read."""
    from tito import rubric
    needs: dict[str, list[str]] = {}
    try:
        for entry in rubric.read(root)["modules"].values():
            for owner, check in ((entry or {}).get("checks") or {}).items():
                for test in (check or {}).get("tests") or []:
                    needs.setdefault(str(test), []).append(str(owner))
    except Exception:         # a damaged rubric: a report without this line is still a report
        return {}
    return needs


def _name_defined_outside_blocks(outcome: checks.Outcome, notebooks: dict) -> None:
    """After a NameError for a name the learner's notebook defines in a cell (outside the solution
    blocks, where the notebook's own checks found it): that the package has only the blocks."""
    missing = {match.group(1) for failure in outcome.failures if failure.get("error") == "NameError"
               for match in [re.search(r"name '(\w+)' is not defined", failure.get("message") or "")] if match}
    for name in sorted(missing):
        defines = re.compile(rf"^(def|class)\s+{name}\b|^{name}\s*=(?!=)", re.MULTILINE)
        found = [f"module {mod.number}, cell {number}" for mod, cells in notebooks.items()
                 for number, cell in enumerate(cells, start=1) if cell.kind == "code" and defines.search(cell.source)]
        if found:
            console.print(f"  `{escape(name)}` is defined in your notebook ({'; '.join(found[:3])}) but not in "
                          "your package: only the code between the solution fences goes into it. Define a "
                          "helper inside the block that uses it (for example nested in that function).")


def _print_failures(title: str, outcome: checks.Outcome, verbose: bool,
                    needs: dict[str, list[str]] | None = None) -> None:
    from tito.grading import function_id
    console.print(f"[bold red]{escape(title)}[/]")
    several = len(outcome.failures) > 1
    for failure in outcome.failures[:20]:
        name = failure.get("check") or failure.get("test") or failure.get("stage") or "check"
        if not failure.get("check") and not failure.get("test") and failure.get("cell"):
            name = "a cell"
        where_cell = f" (cell {failure['cell']})" if failure.get("cell") else ""
        first = "  [bold](the first failure)[/]" if failure.get("first") and several else ""
        console.print(f"  [red]x[/] [bold]{escape(str(name))}[/]{where_cell}{first}")
        if failure.get("about"):
            console.print(f"      about:    {escape(failure['about'])}")
        if failure.get("check_line") or failure.get("line"):
            console.print(f"      check:    {escape(failure.get('check_line') or failure['line'])}")
        if failure.get("got") is not None:
            console.print(f"      got:      {escape(failure['got'])}")
            console.print(f"      expected: {escape(failure['expected'])}")
        if failure.get("difference"):
            console.print(f"      differs:  {escape(failure['difference'])}")
        message = failure.get("message") or ""
        lines = message.splitlines() or [""]
        console.print(f"      error:    {escape(failure.get('error', ''))}: {escape(lines[0])}")
        for line in lines[1:5]:
            console.print(f"                {escape(line)}")
        if failure.get("where"):
            console.print(f"      in:       {escape(failure['where'])}")
        if failure.get("raised"):
            console.print(f"      raised:   {escape(failure['raised'])}")
        owners = (needs or {}).get(function_id(failure.get("test") or ""))
        if owners:
            console.print(f"      needs:    {escape(', '.join(owners))} (the functions you write that this test calls)")
        if verbose and failure.get("traceback"):
            console.print(escape(failure["traceback"]))
    if len(outcome.failures) > 20:
        console.print(f"  ... and {len(outcome.failures) - 20} more")
    if several and any(f.get("first") for f in outcome.failures):
        console.print("  A later failure may only follow from an earlier one (a cell that fails defines nothing "
                      "after its failing line): fix the first one first.")
    if not verbose:
        console.print("  (--verbose shows the full tracebacks)")


def _outside_blocks(mod: ws.Module, cells: list[nb.Cell]) -> list[int]:
    """Numbers of the learner's `#| export` cells that differ from the course's notebook outside
    their solution blocks (such changes never reach the package)."""
    try:
        mine = nb.student_cells(cells, mod.number)
    except ValueError:
        return []
    course = {c.source.strip() for c in nb.read_notebook(mod.student_notebook) if c.kind == "code"}

    def exported(cell: nb.Cell) -> bool:
        return cell.kind == "code" and any(d and d[0] == "export" for d in map(nb.directive, cell.source.splitlines()))

    return [number for number, cell in enumerate(mine, start=1) if exported(cell) and cell.source.strip() not in course]


def _print_mismatch(root: Path, mod: ws.Module, conflicts: list[solutions.Conflict]) -> None:
    console.print(f"[bold red]The solution blocks of your notebook do not match the course's module {mod.number}[/] "
                  f"({_relative(root, mod.working_copy)}):")
    for c in conflicts:
        if c.kind == "changed":
            console.print(f"  {escape(c.owner)}: the def line is `{escape(str(c.old))}` in your notebook, "
                          f"`{escape(str(c.new))}` in the course")
        elif c.kind == "new":
            console.print(f"  {escape(c.owner)}: the course has this block, your notebook does not")
        elif c.kind == "gone":
            console.print(f"  {escape(c.owner)}: your notebook has this block, the course does not")
        else:
            console.print(f"  {escape(c.owner)}: no code in its block")
    console.print(f"  If the course changed, `tito module update {mod.number}` refreshes your notebook and keeps "
                  "your code; a def line you changed by hand must be put back as the course has it (only the "
                  "code between the fences is yours).")


def complete_modules(root: Path, mods: list[ws.Module], verbose: bool = False) -> bool:
    """Compile, splice the learner's blocks into a staged copy of their package, check; commit only
    if all passed.

    Several modules are checked together (one pytest run over all their tests) and committed all or
    none; each module's tests then run against a package holding every one of them."""
    names = ", ".join(m.number for m in mods)
    for mod in mods:
        if not mod.working_copy.exists():
            _fail(f"you have not started module {mod.number}: run `tito module start {mod.number}` first")
    state = _prepare(root, skip=set(mods), repairing=set(mods))
    notebooks = {mod: _read_notebook(root, mod) for mod in mods}
    progress = state.progress
    for mod in mods:
        progress.setdefault(mod.folder, {})["last_attempt"] = ws.now()

    def failed(reason: str) -> bool:
        for mod in mods:
            progress[mod.folder]["last_result"] = reason
        ws.save_progress(root, progress)
        console.print(f"Module {names} is not complete. Your package is unchanged.")
        return False

    # 1. Compile every cell: nothing is taken from a notebook that is not valid Python.
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
    # 3. Your blocks, matched with the course's: same blocks, same def lines.
    mine: dict[str, list[solutions.Body]] = {}
    mismatched = False
    for mod, cells in notebooks.items():
        try:
            theirs = solutions.bodies(cells, mod.number)
        except ValueError as error:
            console.print(f"[bold red]{escape(_relative(root, mod.working_copy))}[/]: {escape(str(error))}")
            return failed("solution fences")
        course = solutions.bodies(solutions.course_cells(mod), mod.number)
        _, conflicts = solutions.match(mod.folder, theirs, course)
        if conflicts:
            _print_mismatch(root, mod, conflicts)
            mismatched = True
        mine[mod.folder] = theirs
    if mismatched:
        return failed("notebook does not match the course")
    for mod, cells in notebooks.items():
        outside = _outside_blocks(mod, cells)
        if outside:
            console.print(f"Note: outside its solution blocks, your notebook of module {mod.number} differs from the "
                          f"course's in cell(s) {', '.join(map(str, outside[:6]))}. Only the code between the fences "
                          "goes into your package (the rest is the course's); if the course changed, "
                          f"`tito module update {mod.number}` refreshes your notebook and keeps your code.")
    # 4. The package with your blocks in the course, staged; its checks.
    stored = dict(state.stored)
    stored.update(mine)
    try:
        result = package.build(root, stored)
    except ws.TitoError as error:
        _fail(str(error))
    staging = Path(tempfile.mkdtemp(prefix="tito-stage-")) / "package"
    try:
        package.materialize(result, staging)
        files = sorted({f for mod in mods for f in result.targets.get(mod.folder, [])})
        yours = sorted({f for mod in mods if mine[mod.folder] for f in result.targets.get(mod.folder, [])})
        theirs = [f for f in files if f not in yours]
        what = []
        if yours:
            what.append(f"your code in the course's {', '.join(yours)}")
        if theirs:
            what.append(f"the course's {', '.join(theirs)} (nothing in it to write)")
        console.print(f"Module {names}: {'; '.join(what)}, in a staged copy of your package; checking it...")
        inline_failed = False
        for mod in mods:
            inline = checks.run_notebook(mod.working_copy, staging)
            if not inline.ok:
                _print_failures(f"Module {mod.number}: the notebook's checks failed "
                                f"({len(inline.failures)} failure(s), {inline.passed} check(s) passed):",
                                inline, verbose)
                _name_defined_outside_blocks(inline, notebooks)
                inline_failed = True
                first = inline.failures[0] if inline.failures else {}
                progress[mod.folder]["last_result"] = f"check failed: {first.get('check') or 'a cell'}"
                continue
            console.print(f"  [green]ok[/] module {mod.number}, the notebook's checks: "
                          f"{', '.join(inline.notes) or 'cells ran'}")
        if inline_failed:
            reasons = {mod: progress[mod.folder].get("last_result") for mod in mods}
            failed("check failed")
            for mod, reason in reasons.items():
                if reason and reason.startswith("check failed:"):
                    progress[mod.folder]["last_result"] = reason
            ws.save_progress(root, progress)
            return False
        test_files = list(dict.fromkeys(path for mod in mods for path in mod.test_files()))
        tests = checks.run_tests(test_files, staging, root, verbose=verbose)
        if not tests.ok:
            _print_failures(f"The tests failed ({len(tests.failures)} failing, {tests.passed} passed):",
                            tests, verbose, _functions_tested(root))
            _name_defined_outside_blocks(tests, notebooks)
            return failed(f"{len(tests.failures)} test(s) failed")
        console.print(f"  [green]ok[/] {tests.passed} tests of " + ", ".join(p.name for p in test_files)
                      + (f" ({'; '.join(tests.notes)})" if tests.notes else ""))
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    # 5. Everything passed: your code is stored, and your package becomes the staged one.
    for mod in mods:
        solutions.save(mod, mine[mod.folder], origin=_relative(root, mod.working_copy))
    digests = {folder: solutions.digest(package._module_of(root, folder)) or "" for folder in stored}
    state.record = package.commit(root, result, state.course, digests)
    _record_checks(root, state, mods, tests)
    for mod in mods:
        entry = progress[mod.folder]
        entry.update(status="complete", completed=ws.now(), last_result="complete",
                     checks=entry["checked"]["passed"], files=result.targets.get(mod.folder, []))
    ws.save_progress(root, progress)
    runs = (f"Your package now runs your code in {', '.join(Path(f).stem for f in yours)}." if yours else
            "It has no code for you to write: its checks and tests passed on your package.")
    console.print(f"[bold green]Module {names} complete.[/] {runs} `tito test NN` re-runs a module's tests "
                  "any time; `tito module status` shows your progress.")
    return True


@module_app.command("complete")
def module_complete(
    module: list[str] = typer.Argument(..., help="module number(s) or name(s): 08, or 01 02 03"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="full tracebacks and pytest output"),
) -> None:
    """Check your code of the module in the course (its notebook's checks, its tests); on success it
    is stored and your package runs it."""
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
    state = _prepare(root, skip=set(chosen))
    package_folder = ws.package_dir(root)
    files = list(dict.fromkeys(path for mod in chosen for path in mod.test_files()))
    for mod in chosen:
        if mod.folder in state.stored:
            course_code = [c.owner for c in state.conflicts(mod) if c.kind != "gone"]
            whose = "yours" + (f" (the course's code in {', '.join(course_code)}: see `tito module status`)"
                               if course_code else "")
        else:
            whose = "the reference (not completed)"
        console.print(f"Module {mod.number} {mod.title()}: {escape(whose)}")
    outcome = checks.run_tests(files, package_folder, root, verbose=verbose)
    completed = [m for m in chosen if m.folder in state.stored]
    if completed:
        _record_checks(root, state, completed, outcome)
        ws.save_progress(root, state.progress)
    if outcome.ok:
        console.print(f"[bold green]{outcome.passed} passed[/]"
                      + (f" ({'; '.join(outcome.notes)})" if outcome.notes else "") + ": "
                      + ", ".join(p.name for p in files))
        return
    _print_failures(f"{len(outcome.failures)} failed, {outcome.passed} passed"
                    + "".join(f", {note}" for note in outcome.notes) + ":", outcome, verbose,
                    _functions_tested(root))
    raise typer.Exit(1)


# ---------------------------------------------------------------- status, update and reset

@module_app.command("status")
def module_status() -> None:
    """A table of the modules: not started / in progress / complete / failing / needs attention."""
    root = _root()
    state = _prepare(root)
    progress = state.progress
    table = Table(title="Your TinyTorch")
    for column in ("Module", "Status", "Completed", "Tests passed", "Your code", "Last attempt"):
        table.add_column(column)
    attention = []
    outdated = []
    for mod in ws.modules(root):
        entry = progress.get(mod.folder, {})
        checks_passed, yours = "", "reference"
        if mod.folder in state.stored:
            conflicts = state.conflicts(mod)
            checked = entry.get("checked") or {}
            current = _checked_now(root, state, mod)
            if conflicts:
                status = "[yellow]needs attention[/]"
                attention += [c.describe() for c in conflicts]
            elif current and not checked.get("ok"):
                status = "[red]failing[/]"
                attention.append(f"module {mod.number}: {checked.get('failed')} test(s) fail on your code with the "
                                 f"current course ({', '.join(checked.get('failures', [])[:3])}): "
                                 f"`tito test {mod.number}` shows why")
            elif current:
                status = "[green]complete[/]"
            else:
                status = "[yellow]complete, not checked[/]"
                attention.append(f"module {mod.number}: not checked against the current course: "
                                 f"`tito test {mod.number}`")
            # the module's tests on the current course when checked on it, else at completion
            if current and not checked.get("ok"):
                checks_passed = f"{checked.get('passed', 0)} ({checked.get('failed')} failing)"
            elif current:
                checks_passed = str(checked.get("passed", ""))
            else:
                checks_passed = str(entry.get("checks", ""))
            yours = f"{state.record.get('yours', {}).get(mod.folder, 0)} of " \
                    f"{state.record.get('blocks', {}).get(mod.folder, 0)} blocks"
        elif entry.get("status") == "not recovered":
            status = "[red]needs attention[/]"
            attention.append(f"module {mod.number}: your code could not be recovered when tito moved your workspace: "
                             f"complete it again")
        elif mod.working_copy.exists():
            status = "[yellow]in progress[/]"
        else:
            status = "not started"
        if mod.working_copy.exists() and _notebook_outdated(root, state, mod):
            outdated.append(mod.number)
        table.add_row(mod.folder, status, entry.get("completed", "") if mod.folder in state.stored else "",
                      checks_passed, yours,
                      escape(entry.get("last_result", "")) if entry.get("last_attempt") else "")
    console.print(table)
    for line in attention:
        console.print(f"  [yellow]![/] {escape(line)}")
    if outdated and not state.told_outdated:
        console.print(f"  Your notebook(s) of module(s) {', '.join(outdated)} are from an older version of the course: "
                      "`tito module update` refreshes them and keeps the code of your solution blocks.")
    console.print(f"Your package: {_relative(root, ws.package_dir(root) / 'tinytorch')} (the course's code, with "
                  "yours in the solution blocks of the modules you completed).")


@app.command("status")
def status_command() -> None:
    """The same table as `tito module status`."""
    module_status()


@module_app.command("update")
def module_update(
    module: Optional[list[str]] = typer.Argument(None, help="module number(s) or name(s); every module you started "
                                                             "when omitted"),
) -> None:
    """After a course update (`git pull`): rebuild your package from the course and your code,
    re-run the tests of your completed modules, and refresh your notebooks from the course's with
    your code in their blocks (the old ones are kept in workspace/backups/)."""
    root = _root()
    state = _prepare(root, refreshing=True)
    if module:
        chosen = list(dict.fromkeys(_module(root, key) for key in module))
    else:
        chosen = [m for m in ws.modules(root) if m.working_copy.exists()]
    console.print(f"Your package is built from the current course ({state.record.get('built', '?')}).")
    damaged = []
    for mod in chosen:
        if not mod.working_copy.exists():
            console.print(f"  module {mod.number}: you have no notebook of it (`tito module start {mod.number}`)")
            continue
        try:
            _refresh(root, state, mod)
        except typer.Exit:                  # a damaged notebook, told in one line: go on with the others
            damaged.append(mod.number)
        new = not answers.path(root, mod.folder).exists()
        try:
            written = answers.ensure(root, mod.folder)
        except ws.TitoError as error:
            console.print(f"    [yellow]![/] {escape(str(error))}")
            continue
        if written is not None and new:     # the course gave this module questions since it was started
            console.print(f"    its questions, graded by your instructor in a class, are answered in "
                          f"{_relative(root, written)} (new)")
    ws.save_progress(root, state.progress)
    console.print("`tito module status` shows where each module stands.")
    if damaged:
        raise typer.Exit(1)


def _refresh(root: Path, state: State, mod: ws.Module) -> None:
    """Refresh one notebook from the course with the learner's code; a damaged notebook, or one
    whose fences are broken, is told in one line (typer.Exit)."""
    cells = _read_notebook(root, mod)
    try:
        theirs = solutions.bodies(cells, mod.number)
    except ValueError as error:
        _fail(f"{_relative(root, mod.working_copy)}: {error}: fix its fences, {_fresh_notebook(mod)}")
    course = solutions.bodies(nb.read_notebook(mod.student_notebook), mod.number)
    _, mismatch = solutions.match(mod.folder, theirs, course)
    mismatch = [c for c in mismatch if c.kind != "unwritten"]
    if not _notebook_outdated(root, state, mod, cells) and not mismatch:
        console.print(f"  module {mod.number}: your notebook is up to date with the course")
        return
    backup = _backup(root, mod)
    metadata = json.loads(mod.student_notebook.read_text(encoding="utf-8"))["metadata"]
    metadata["kernelspec"] = {"display_name": ws.KERNEL_DISPLAY, "language": "python", "name": ws.KERNEL_NAME}
    text, conflicts = _notebook_with(root, mod, theirs, metadata, backup)
    ws.write_atomic(mod.working_copy, text)
    state.progress.setdefault(mod.folder, {})["notebook"] = _sha(mod.student_notebook)
    console.print(f"  module {mod.number}: your notebook is refreshed from the course, with your code in its blocks; "
                  f"the one before, with any cells and notes of your own (they are not carried over), is saved as "
                  f"{_relative(root, backup)}")
    for conflict in conflicts:
        if conflict.kind == "changed":
            console.print(f"    [yellow]![/] {escape(conflict.owner)}: its def line changed (was `{escape(str(conflict.old))}`, "
                          f"now `{escape(str(conflict.new))}`): your old code is kept as comments in its block")
        elif conflict.kind == "gone":
            console.print(f"    [yellow]![/] {escape(conflict.owner)}: the course no longer has it: your old code is in "
                          "the note at the top of the notebook")
        elif conflict.kind == "new":
            console.print(f"    [yellow]![/] {escape(conflict.owner)}: new in the course: write it")


@module_app.command("reset")
def module_reset(
    module: str = typer.Argument(..., help="module number or name"),
    drop: bool = typer.Option(False, "--package", help="also take the module out of your package: the course's "
                                                        "code runs for it again (your stored code goes to "
                                                        "workspace/backups/)"),
) -> None:
    """Restore the pristine student notebook; yours is kept in workspace/backups/ with a timestamp.

    Only the notebook changes (unless --package): your package keeps what you completed until the
    next complete."""
    root = _root()
    mod = _module(root, module)
    state = _prepare(root, repairing={mod} if drop else ())
    copy = mod.working_copy
    if copy.exists():
        backup = _backup(root, mod)
        copy.unlink()
        console.print(f"Your notebook is saved as {_relative(root, backup)}.")
    if drop:
        store = solutions.store_path(mod)
        if store.exists():
            saved = ws.workspace(root) / "backups" / f"{mod.folder}-solutions-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.json"
            saved.parent.mkdir(parents=True, exist_ok=True)
            os.replace(store, saved)
            console.print(f"Your stored code of module {mod.number} is saved as {_relative(root, saved)}.")
        entry = state.progress.setdefault(mod.folder, {})
        for name in ("status", "completed", "checked", "checks", "files", "last_attempt", "last_result"):
            entry.pop(name, None)
        ws.save_progress(root, state.progress)
        state.stored.pop(mod.folder, None)
        try:
            state.record = package.ensure(root, state.stored).record
        except (ws.TitoError, OSError) as error:
            _fail(str(error))
        console.print(f"Module {mod.number} is out of your package: the course's code runs for it.")
    elif mod.folder in state.stored:
        console.print(f"Your package keeps your completed module {mod.number} until you complete it again.")
    new, _ = _working_copy(root, mod, state, fresh=True)
    console.print(f"Fresh notebook: {_relative(root, new)}.")


# ---------------------------------------------------------------- submit

def _learner_name(name: Optional[str]) -> str:
    """--name, else $TITO_LEARNER, else git's user.name, else the login name."""
    import getpass

    if name:
        return name
    if os.environ.get("TITO_LEARNER"):
        return os.environ["TITO_LEARNER"]
    try:
        found = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found = ""
    return found or getpass.getuser()


def _module_state(root: Path, state: State, mod: ws.Module) -> dict:
    """What `tito module status` knows of one module, as data."""
    entry = state.progress.get(mod.folder, {})
    checked = entry.get("checked") or {}
    if mod.folder in state.stored:
        current = _checked_now(root, state, mod)
        if state.conflicts(mod):
            label = "needs attention"
        elif current and not checked.get("ok"):
            label = "failing"
        else:
            label = "complete" if current else "complete, not checked"
        yours = f"{state.record.get('yours', {}).get(mod.folder, 0)} of {state.record.get('blocks', {}).get(mod.folder, 0)} blocks"
    else:
        label = "in progress" if mod.working_copy.exists() else "not started"
        yours = "reference"
    return {"status": label, "started": entry.get("started"), "completed": entry.get("completed"),
            "checks_passed": checked.get("passed", entry.get("checks")), "checks_failed": checked.get("failed"),
            "last_attempt": entry.get("last_attempt"), "last_result": entry.get("last_result"), "your_code": yours,
            "conflicts": [c.describe() for c in state.conflicts(mod)] if mod.folder in state.stored else []}


@module_app.command("submit")
def module_submit(
    module: str = typer.Argument(..., help="module number or name"),
    name: Optional[str] = typer.Option(None, "--name", help="your name as your instructor knows you (default: "
                                                             "$TITO_LEARNER, git's user.name, your login)"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder for the zip (default: workspace/submissions)"),
) -> None:
    """Pack your notebook of the module, with what `tito module status` knows of it, into
    NN_name-YOURNAME.zip for your instructor (`tito class collect NN --zips FOLDER`)."""
    import zipfile

    from tito.classroom import student_id

    root = _root()
    mod = _module(root, module)
    state = _prepare(root)
    if not mod.working_copy.exists():
        _fail(f"you have no notebook of module {mod.number}: `tito module start {mod.number}` first")
    _read_notebook(root, mod)                               # a damaged notebook: one line, the way out
    learner = student_id(_learner_name(name))
    info = {"module": mod.folder, "learner": learner,
            "submitted": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            **_module_state(root, state, mod)}
    try:
        info["course_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                               text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["course_commit"] = None
    folder = out or ws.workspace(root) / "submissions"
    target = Path(folder) / f"{mod.folder}-{learner}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    answers_file, answered, asked = _answers(root, mod)
    if answers_file is not None:
        info["answers"] = sorted(answered)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(mod.working_copy, f"{mod.folder}.ipynb")
        archive.writestr("tito-status.json", json.dumps(info, indent=1) + "\n")
        if answers_file is not None:
            archive.write(answers_file, answers.FILE_IN_ZIP)
    os.replace(partial, target)
    console.print(f"Module {mod.number} ({info['status']}, your code: {info['your_code']}) packed for your instructor: "
                  f"{_relative(root, target)}")
    if answers_file is not None:
        console.print(f"Your answers: {len(answered)} of its {asked} questions, from {_relative(root, answers_file)}"
                      + ("." if len(answered) == asked else " (write the others there and submit again)."))
    print(target)


def _answers(root: Path, mod: ws.Module) -> tuple[Path | None, dict, int]:
    """(the module's answers file, its answers, how many questions), or one line and exit 1 when the
    file cannot be read or a heading would put an answer in no cell or in another's."""
    asked = answers.questions(root, mod.folder)
    try:
        found = answers.ensure(root, mod.folder, asked)
        if found is None:
            return None, {}, 0
        text = found.read_text(encoding="utf-8")
    except ws.TitoError as error:
        _fail(str(error))
    except UnicodeDecodeError:
        _fail(f"{_relative(root, found)} is not UTF-8 text: save it as UTF-8 (any editor's default) and submit again")
    except OSError as error:
        _fail(f"{_relative(root, found)} cannot be read ({error.strerror}): fix it and submit again")
    ids = [q.id for q in asked]
    answered, problems = answers.parse(text, ids)
    if problems:
        _fail(f"{_relative(root, found)}: " + "; ".join(problems) + ". Keep one `## Question N: ...` heading per "
              "question, as the file came, and submit again (nothing was packed)")
    return found, answered, len(ids)


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
    state = _prepare(root, recheck=False)
    package_folder = ws.package_dir(root)
    probe = subprocess.run([sys.executable, "-P", "-c", _PROBE], env=ws.learner_env(package_folder),
                           capture_output=True, text=True, cwd=ws.workspace(root))
    if probe.returncode != 0:
        row("import tinytorch (yours)", probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "failed",
            False, "a completed module of yours does not import: `tito module reset NN` or fix and complete it")
    else:
        found = json.loads(probe.stdout)
        row("import tinytorch under tito", _relative(root, Path(found["tinytorch"])),
            found["tinytorch"] == str(package_folder / "tinytorch"), "reinstall: `make venv`")
        mine = [m.folder for m in state.completed(root)]
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

MILESTONE_NAMES = ("mlp", "cnn")


@milestone_app.command("run")
def milestone_run(name: str = typer.Argument(..., help="mlp or cnn"),
                  seed: int = typer.Option(0, "--seed", min=0, help="the random seed of the run"),
                  epochs: Optional[int] = typer.Option(None, "--epochs", min=1, max=1000,
                                                       help="default: the milestone's own")) -> None:
    """Train a milestone network with your package (`python -m tinytorch.milestones NAME`)."""
    if name not in MILESTONE_NAMES:
        _fail(f"no milestone {name!r}: the milestones are {' and '.join(MILESTONE_NAMES)} "
              f"(`tito milestone run mlp`)")
    root = _root()
    _prepare(root)
    env = ws.learner_env(ws.package_dir(root))
    probe = subprocess.run([sys.executable, "-P", "-c", "import importlib.util as u; "
                            "print(u.find_spec('tinytorch.milestones') is not None)"],
                           env=env, capture_output=True, text=True, cwd=ws.workspace(root))
    if probe.stdout.strip() != "True":
        _fail("this clone has no tinytorch.milestones yet (the milestone chapters add it)")
    console.print(f"Milestone {name} on your package (reference for modules you have not completed):")
    options = ["--seed", str(seed)] + ([] if epochs is None else ["--epochs", str(epochs)])
    raise typer.Exit(subprocess.call([sys.executable, "-P", "-m", "tinytorch.milestones", name, *options],
                                     env=env, cwd=ws.workspace(root)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
