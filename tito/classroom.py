"""The instructor's side: a course folder for nbgrader, and what `tito class` does in it.

A course folder is an ordinary nbgrader course (`source/`, `release/`, `submitted/`, `autograded/`,
`feedback/`, `gradebook.db`) whose `nbgrader_config.py` calls `configure` below, so `nbgrader` itself
(formgrader, `nbgrader autograde`) and `tito class` grade the same way:

- the release is made with the course's `ClearSolutions` (`tito/assignment.py`): its cells are the
  student notebook's;
- autograding runs each notebook in a kernel started through `tito.limits` (an address-space limit
  that the kernel and the pytest runs of its graded cells inherit), with a budget of wall-clock time
  for the whole notebook (`GradingExecute`: each cell may use what the notebook has left);
- nbgrader restores graded cells that a submission edited or deleted (their checksums, and
  `OverwriteCells.add_missing_cells`); `integrity` names them, and `tito class autograde` reports them.

Everything here runs nbgrader through its Python API (`NbGraderAPI`) in one process; the learners'
code only ever runs in the kernels nbgrader starts and in their children.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tito import answers, assignment
from tito import cells as nb
from tito import solutions

CONFIG = "nbgrader_config.py"
STATE = "tito"                     # the course folder's own records (releases, integrity reports)
DEFAULT_TIMEOUT = 900              # seconds of wall-clock time for one notebook
DEFAULT_MEMORY_MB = 4096           # address space of a grading kernel and its children

_CONFIG_TEXT = '''\
# nbgrader's configuration of a TinyTorch course folder, written by `tito class setup`. The settings
# are made by tito/classroom.py's configure(): change the arguments below, then `tito class release`.
from tito.classroom import configure

configure(get_config(), __file__, course_id={course_id!r}, exchange={exchange!r},
          notebook_timeout={timeout}, memory_mb={memory})
'''


def _scripts_on_path() -> None:
    """nbgrader runs the `alembic` script of its own environment (creating a gradebook): make sure
    this Python's scripts folder is on PATH, as it is in an activated environment."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(filter(None, [scripts, os.environ.get("PATH")]))


@contextlib.contextmanager
def in_folder(folder: Path):
    _scripts_on_path()
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def _in_course(function):
    """Run `function(course, ...)` in the course folder (nbgrader's cwd), then come back."""
    @functools.wraps(function)
    def wrapper(course, *args, **kwargs):
        with in_folder(course.root):
            return function(course, *args, **kwargs)
    return wrapper


class ClassError(Exception):
    """A problem the instructor can fix; the message says how."""


# ---------------------------------------------------------------- nbgrader's configuration

def configure(c, config_file: str, course_id: str = "tinytorch", exchange: str | None = None,
              notebook_timeout: int = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
    """Fill nbgrader's config `c` for the course folder that holds `config_file`."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader import preprocessors as p

    limited_kernel_manager, grading_execute = grading_classes()
    root = Path(config_file).resolve().parent
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = course_id
    # Several autograde jobs share the SQLite gradebook: wait for a lock rather than fail.
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}?timeout=120"
    if exchange:
        c.Exchange.root = str(exchange)
    c.GenerateAssignment.preprocessors = [
        p.IncludeHeaderFooter, p.InstantiateTests, p.LockCells, assignment.ClearSolutions, p.ClearOutput,
        p.CheckCellMetadata, p.ComputeChecksums, p.SaveCells, p.ClearHiddenTests, p.ClearMarkScheme,
        p.ComputeChecksums, p.CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [
        grading_execute, p.IgnorePattern, ClearMetadataPreprocessor, p.LimitOutput, p.SaveAutoGrades,
        p.AssignLatePenalties, p.CheckCellMetadata]
    c.OverwriteCells.add_missing_cells = True      # a deleted graded cell is put back and run
    c.Execute.timeout = int(notebook_timeout)      # one cell may use the whole budget ...
    c.GradingExecute.notebook_timeout = int(notebook_timeout)    # ... of the whole notebook
    c.GradingExecute.kernel_manager_class = limited_kernel_manager
    c.LimitedKernelManager.memory_mb = int(memory_mb)


def grading_classes():
    """(LimitedKernelManager, GradingExecute), made once (they subclass nbgrader's and
    jupyter_client's classes, imported only here)."""
    if "classes" in _CACHE:
        return _CACHE["classes"]
    from jupyter_client import AsyncKernelManager
    from nbgrader.preprocessors import Execute
    from traitlets import Integer

    class LimitedKernelManager(AsyncKernelManager):
        """A kernel started through `python -m tito.limits`: an address-space limit for the kernel
        and every process it starts."""
        memory_mb = Integer(DEFAULT_MEMORY_MB, help="address space limit in MB (0: none)").tag(config=True)

        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)
            return [sys.executable, "-m", "tito.limits", f"--memory-mb={int(self.memory_mb)}", "--", *command]

    class GradingExecute(Execute):
        """nbgrader's Execute with a budget for the whole notebook: each cell may take at most
        what is left of `notebook_timeout` (a cell that times out gets nbgrader's timeout error)."""
        notebook_timeout = Integer(DEFAULT_TIMEOUT, help="seconds for the whole notebook").tag(config=True)

        def preprocess(self, nb_, resources=None, km=None):
            self._deadline = time.monotonic() + self.notebook_timeout
            return super().preprocess(nb_, resources, km)

        def _get_timeout(self, cell):
            timeout = super()._get_timeout(cell)
            left = max(1, int(getattr(self, "_deadline", time.monotonic() + 1) - time.monotonic()))
            return left if timeout is None else min(timeout, left)

    _CACHE["classes"] = (LimitedKernelManager, GradingExecute)
    return _CACHE["classes"]


_CACHE: dict = {}




# ---------------------------------------------------------------- the course folder

@dataclass
class Course:
    root: Path                     # the course folder
    clone: Path                    # the TinyTorch clone the course is graded with

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG

    def state(self, name: str) -> Path:
        return self.root / STATE / name

    def read_state(self, name: str) -> dict:
        try:
            return json.loads(self.state(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def write_state(self, name: str, data: dict) -> None:
        path = self.state(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def api(self):
        """nbgrader's API on this folder's configuration. nbgrader reads nbgrader_config.py from
        its current folder: call it inside `with in_folder(course.root)`."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.apps.nbgraderapp import NbGrader

        warnings.filterwarnings("ignore", module=r"nbgrader\..*")     # SQLAlchemy's notes on nbgrader's sessions
        app = NbGrader()
        app.load_config_file()
        config = app.config
        config.CourseDirectory.root = str(self.root)
        return NbGraderAPI(config=config)


def open_course(folder: Path, clone: Path) -> Course:
    folder = Path(folder).resolve()
    if not (folder / CONFIG).is_file():
        raise ClassError(f"{folder} is not a course folder (no {CONFIG}): name yours with --course FOLDER or "
                         f"TITO_COURSE=FOLDER, or make this one with `tito class setup {folder}`")
    return Course(folder, clone)


def setup(folder: Path, clone: Path, course_id: str = "tinytorch", exchange: Path | None = None,
          notebook_timeout: int = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB) -> Course:
    """A course folder: nbgrader's configuration and `source/` copied from classroom/source/."""
    folder = Path(folder).resolve()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", course_id):
        raise ClassError(f"course id {course_id!r}: letters, digits, '_', '.', '-' only")
    folder.mkdir(parents=True, exist_ok=True)
    if exchange is not None:
        exchange = Path(exchange).resolve()
        exchange.mkdir(parents=True, exist_ok=True)
        try:
            exchange.chmod(0o777)
        except OSError:
            pass
    (folder / CONFIG).write_text(_CONFIG_TEXT.format(course_id=course_id, exchange=str(exchange) if exchange else None,
                                                     timeout=int(notebook_timeout), memory=int(memory_mb)),
                                 encoding="utf-8")
    course = Course(folder, clone)
    for source in sorted((clone / assignment.SOURCE).glob("*/*.ipynb")):
        _copy_source(course, source.parent.name)
    return course


def _copy_source(course: Course, folder: str) -> Path:
    source = assignment.source_path(course.clone, folder)
    if not source.is_file():
        raise ClassError(f"module {folder} is not graded: no {source.relative_to(course.clone)} (classroom/rubric.yml)")
    target = course.root / "source" / folder / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _check(result: dict, what: str) -> str:
    if not result.get("success"):
        raise ClassError(f"nbgrader could not {what}:\n{(result.get('error') or result.get('log') or '').strip()[-3000:]}")
    return result.get("log", "")


@_in_course
def release(course: Course, folder: str) -> dict:
    """Copy the module's source from the clone, make the release (`generate_assignment`), and put
    it in the exchange when the course has one."""
    from tito.package import course_fingerprint

    _copy_source(course, folder)
    api = course.api()
    _check(api.generate_assignment(folder, force=True, create=True), f"generate the release of {folder}")
    exchanged = False
    if api.exchange_is_functional:
        api.unrelease(folder)
        _check(api.release_assignment(folder), f"put {folder} in the exchange")
        exchanged = True
    released = course.read_state("releases.json")
    released[folder] = {"course": course_fingerprint(course.clone), "when": _now(), "exchange": exchanged}
    course.write_state("releases.json", released)
    return {"release": course.root / "release" / folder, "exchange": exchanged}


def release_drift(course: Course, folder: str) -> str | None:
    """Why grading the module now may differ from its release: the clone's course (src/ and the
    reference package) is not the one the module was released from; None when it is the same."""
    from tito.package import course_fingerprint

    released = course.read_state("releases.json").get(folder)
    if not released or released.get("course") == course_fingerprint(course.clone):
        return None
    return (f"{folder} was released from another version of the course ({released.get('when', '?')}) than "
            f"{course.clone} holds now: the graded cells run this clone's tests")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------- collecting

SUBMISSION_ZIP = re.compile(r"^(?P<module>\d\d_[a-z0-9_]+)-(?P<learner>[A-Za-z0-9_.-]+)\.zip$")


def student_id(name: str) -> str:
    """A learner's name as nbgrader's student id: letters, digits, `_`, `.` and `-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_.-")
    return cleaned or "learner"


@_in_course
def collect(course: Course, folder: str, zips: Path | None = None) -> list[str]:
    """Bring the module's submissions into `submitted/`: from the exchange, or from a folder of zips
    made by `tito module submit` (`NN_name-learner.zip`). Returns the student ids collected."""
    release_nb = course.root / "release" / folder / f"{folder}.ipynb"
    if not release_nb.is_file():
        raise ClassError(f"no release of {folder}: `tito class release {folder[:2]}` first")
    if zips is None:
        api = course.api()
        if not api.exchange_is_functional:
            raise ClassError("this course has no exchange: collect the learners' zips with --zips FOLDER")
        _check(api.collect(folder, update=True), f"collect {folder}")
        return sorted(api.get_submitted_students(folder))
    found, refused = [], []
    notebook_name = f"{folder}.ipynb"
    ids = [q.id for q in answers.questions(course.clone, folder)]
    for path in sorted(Path(zips).glob(f"{folder}-*.zip")):
        match = SUBMISSION_ZIP.match(path.name)
        if not match or match["module"] != folder:
            continue
        sid = student_id(match["learner"])
        try:
            notebook, status, answered = _read_submission(path, folder, ids)
        except ValueError as error:         # one unreadable zip is named; the others are collected
            refused.append(f"{path.name}: {error}")
            continue
        target = course.root / "submitted" / sid / folder
        target.mkdir(parents=True, exist_ok=True)
        (target / notebook_name).write_text(json.dumps(as_release(notebook, release_nb, folder, answered), indent=1),
                                            encoding="utf-8")
        when = status.get("submitted") or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
        (target / "timestamp.txt").write_text(when.replace(" UTC", "").strip() + "\n", encoding="utf-8")
        if status:
            (target / "tito-status.json").write_text(json.dumps(status, indent=1), encoding="utf-8")
        found.append(sid)
    if refused:
        kept = f"collected {len(found)} ({', '.join(found)}); " if found else ""
        raise ClassError(f"{kept}not collected: " + "; ".join(refused)
                         + " (ask for the zip again: `tito module submit " + folder[:2] + "`)")
    if not found:
        raise ClassError(f"no {folder}-<learner>.zip in {zips} (`tito module submit {folder[:2]}` makes them)")
    return found


def _read_submission(path: Path, folder: str, ids: list[str]) -> tuple[dict, dict, dict]:
    """(notebook, tito status, answers {"q1": text, ...} to the questions `ids`) of a `tito module
    submit` zip; ValueError saying what is wrong with it. `tito module submit` packs only UTF-8
    answers with good headings; in a zip made otherwise, bytes that are not UTF-8 become U+FFFD
    and a heading of no question is dropped (the answers are still read, not the zip refused)."""
    notebook_name = f"{folder}.ipynb"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if notebook_name not in names:
                raise ValueError(f"it has no {notebook_name}")
            notebook = json.loads(archive.read(notebook_name).decode("utf-8"))
            status = json.loads(archive.read("tito-status.json").decode("utf-8")) if "tito-status.json" in names else {}
            answered = answers.parse(archive.read(answers.FILE_IN_ZIP).decode("utf-8", errors="replace"), ids)[0] \
                if answers.FILE_IN_ZIP in names and ids else {}
    except zipfile.BadZipFile:
        raise ValueError("it is not a zip file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"a file in it is not valid JSON ({error})") from None
    if not isinstance(notebook, dict) or not isinstance(status, dict):
        raise ValueError(f"its {notebook_name} is not a notebook")
    if status.get("module") not in (None, folder):
        raise ValueError(f"it holds module {status['module']}'s notebook (its tito-status.json says so)")
    return notebook, status, answered


def as_release(notebook: dict, release_nb: Path, folder: str, answered: dict | None = None) -> dict:
    """A submitted notebook in the release's form. A notebook made from the release (it has nbgrader's
    cells) is taken as it is; a learner's tito notebook (the student notebook) becomes the release
    with the learner's solution bodies in its blocks (only those are graded, as in tito) and their
    answers ({"q1": text}, from the zip's answers.md) in its answer cells."""
    if any("nbgrader" in cell.get("metadata", {}) for cell in notebook.get("cells", [])):
        return notebook
    data = json.loads(release_nb.read_text(encoding="utf-8"))
    cells = [nb.Cell(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"], {})
             for c in notebook.get("cells", []) if c.get("cell_type") in ("code", "markdown")]
    data = fill(data, solutions.bodies(cells, folder[:2]), folder)
    by_cell = {assignment.grade_id("answer", question): text for question, text in (answered or {}).items()}
    for cell in data["cells"]:
        text = by_cell.get(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        if text:
            cell["source"] = text.splitlines(keepends=True)
    return data


def fill(release: dict, bodies: list[solutions.Body], folder: str) -> dict:
    """The release notebook (JSON) with `bodies` in its solution blocks (by key, as tito splices)."""
    data = json.loads(json.dumps(release))
    cells = [nb.Cell(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"], {})
             for c in data["cells"]]
    course = solutions.bodies(cells, folder[:2])
    use, _ = solutions.match(folder, bodies, course)
    for cell, new in zip(data["cells"], solutions.splice(cells, folder[:2], use)):
        cell["source"] = new.source.splitlines(keepends=True)
    return data


# ---------------------------------------------------------------- integrity and grading

@_in_course
def integrity(course: Course, folder: str, students: list[str] | None = None) -> dict[str, list[str]]:
    """{student: problems} of the module's submissions: graded or read-only cells the submission
    deleted or changed (nbgrader's checksums against the release recorded in the gradebook)."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import compute_checksum
    from nbformat import read as read_notebook

    found: dict[str, list[str]] = {}
    submitted = course.root / "submitted"
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        try:
            notebook = gb.find_notebook(folder, folder)
        except MissingEntry:
            return {}
        locked = [c for c in notebook.source_cells if c.locked]
        points = {c.name: c.max_score for c in notebook.grade_cells}
        for path in sorted(submitted.glob(f"*/{folder}/{folder}.ipynb")):
            sid = path.parent.parent.name
            if students is not None and sid not in students:
                continue
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c
                     for c in read_notebook(str(path), as_version=4).cells if "nbgrader" in c.metadata}
            problems = []
            for source in locked:
                what = f"graded cell {source.name} ({points[source.name]:g} points)" if source.name in points \
                    else f"read-only cell {source.name}"
                cell = cells.get(source.name)
                if cell is None:
                    problems.append(f"{what} was deleted")
                elif compute_checksum(cell) != source.checksum:
                    problems.append(f"{what} was edited")
            found[sid] = problems
    return found


@dataclass
class Score:
    student: str
    code: float
    max_code: float
    written: float
    max_written: float
    needs_manual: bool
    problems: list[str] = field(default_factory=list)
    from_tito: bool = False        # handed in with `tito module submit`: a tito notebook (answers from answers.md)

    @property
    def total(self) -> float:
        return self.code + self.written


@_in_course
def autograde(course: Course, folder: str, students: list[str] | None = None, log=None,
              jobs: int | None = None) -> list[Score]:
    """nbgrader's autograde of the module's submissions (all, or `students`); their scores.

    `jobs` notebooks at a time (default: the machine's cores, at most 4): each job is a process of
    its own with nbgrader's API, grading its share of the students one after another (the gradebook
    is SQLite, which serialises their short writes; `configure` gives it a generous lock timeout)."""
    # The graded cells find the course's tests from their kernel, which runs in the course folder:
    # point it at this clone, not at wherever tito happens to be installed.
    previous = os.environ.get("TINYTORCH_ROOT")
    os.environ["TINYTORCH_ROOT"] = str(course.clone)
    try:
        return _autograde(course, folder, students, log, jobs)
    finally:
        if previous is None:
            os.environ.pop("TINYTORCH_ROOT", None)
        else:
            os.environ["TINYTORCH_ROOT"] = previous


def _autograde(course: Course, folder: str, students: list[str] | None, log, jobs: int | None) -> list[Score]:
    api = course.api()
    everyone = sorted(api.get_submitted_students(folder))
    chosen = everyone if students is None else [s for s in everyone if s in students]
    if not chosen:
        raise ClassError(f"no submissions of {folder} in {course.root / 'submitted'} (`tito class collect`)")
    unreadable = [sid for sid in chosen if not _readable(course.root / "submitted" / sid / folder / f"{folder}.ipynb")]
    chosen = [sid for sid in chosen if sid not in unreadable]
    if not chosen:
        raise ClassError(_unreadable_message(folder, unreadable))
    problems = integrity(course, folder, chosen)
    reports = course.read_state("integrity.json")
    jobs = max(1, min(len(chosen), jobs or min(4, os.cpu_count() or 1)))
    if jobs == 1:
        for sid in chosen:
            started = time.monotonic()
            _check(api.autograde(folder, sid, force=True, create=True), f"autograde {sid}'s {folder}")
            if log:
                log(sid, time.monotonic() - started)
    else:
        _autograde_in_processes(course, folder, chosen, jobs, log)
    for sid in chosen:
        reports.setdefault(folder, {})[sid] = problems.get(sid, [])
    course.write_state("integrity.json", reports)
    if unreadable:
        graded = ", ".join(chosen)
        raise ClassError(f"graded {graded} (`tito class status` shows their scores); "
                         + _unreadable_message(folder, unreadable))
    return scores(course, folder, chosen)


def _readable(notebook: Path) -> bool:
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("cells"), list)


def _unreadable_message(folder: str, students: list[str]) -> str:
    return (f"not graded: {', '.join(students)}, whose submitted {folder}.ipynb is not a readable notebook "
            f"(ask for it again and collect it again, or leave them out with --student)")


def _autograde_in_processes(course: Course, folder: str, students: list[str], jobs: int, log) -> None:
    import subprocess
    import threading

    env = dict(os.environ, TITO_GRADE_JOBS=str(max(1, (os.cpu_count() or 1) // jobs)))   # TINYTORCH_ROOT: autograde's
    workers = []
    for index in range(jobs):
        share = students[index::jobs]
        command = [sys.executable, "-m", "tito.classroom", str(course.root), str(course.clone), folder, *share]
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, cwd=course.root))
    errors: list[str] = []

    def follow(process) -> None:
        for line in process.stdout:
            if line.startswith("graded "):
                _, sid, seconds = line.split()
                if log:
                    log(sid, float(seconds))

    readers = [threading.Thread(target=follow, args=(w,), daemon=True) for w in workers]
    for reader in readers:
        reader.start()
    for worker, reader in zip(workers, readers):
        stderr = worker.stderr.read()
        worker.wait()
        reader.join()
        if worker.returncode != 0:
            errors.append(stderr.strip()[-3000:])
    if errors:
        raise ClassError("nbgrader could not autograde every submission:\n" + "\n".join(errors))


def _worker(argv: list[str]) -> int:
    """`python -m tito.classroom COURSE CLONE MODULE STUDENT...`: one job of `autograde`."""
    root, clone, folder, *students = argv
    course = Course(Path(root), Path(clone))
    with in_folder(course.root):
        api = course.api()
        for sid in students:
            started = time.monotonic()
            result = api.autograde(folder, sid, force=True, create=True)
            if not result.get("success"):
                print(f"{sid}: {(result.get('error') or result.get('log') or '').strip()[-2000:]}", file=sys.stderr)
                return 1
            print(f"graded {sid} {time.monotonic() - started:.2f}", flush=True)
    return 0


@_in_course
def scores(course: Course, folder: str, students: list[str] | None = None) -> list[Score]:
    from nbgrader.api import Gradebook, MissingEntry

    reports = course.read_state("integrity.json").get(folder, {})
    out = []
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        try:
            submissions = gb.assignment_submissions(folder)
        except MissingEntry:
            return []
        for sub in sorted(submissions, key=lambda s: s.student_id):
            if students is not None and sub.student_id not in students:
                continue
            from_tito = (course.root / "submitted" / sub.student_id / folder / "tito-status.json").is_file()
            out.append(Score(sub.student_id, float(sub.code_score), float(sub.max_code_score),
                             float(sub.written_score), float(sub.max_written_score), bool(sub.needs_manual_grade),
                             list(reports.get(sub.student_id, [])), from_tito))
    return out


@_in_course
def feedback(course: Course, folder: str) -> dict:
    """nbgrader's feedback (one HTML page per autograded notebook), returned through the exchange to
    the learners who submitted through it (a zip's feedback stays in feedback/STUDENT/)."""
    api = course.api()
    _check(api.generate_feedback(folder, force=True), f"generate the feedback of {folder}")
    returned = []
    if api.exchange_is_functional:
        for secret in sorted((course.root / "feedback").glob(f"*/{folder}/submission_secret.txt")):
            sid = secret.parent.parent.name
            _check(api.release_feedback(folder, student_id=sid), f"return {sid}'s feedback of {folder}")
            returned.append(sid)
    pages = sorted((course.root / "feedback").glob(f"*/{folder}/*.html"))
    return {"pages": pages, "exchange": bool(returned), "returned": returned}


@_in_course
def export_csv(course: Course, destination: Path) -> Path:
    """nbgrader's CSV export of every grade in the gradebook."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    plugin = CsvExportPlugin()
    plugin.to = str(Path(destination).resolve())
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        plugin.export(gb)
    return Path(destination)


@_in_course
def status(course: Course) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(assignments, {student: {assignment: cell text}}) for the status table: the score where the
    submission was autograded, "submitted" where it was only collected, "" where nothing came."""
    from nbgrader.api import Gradebook

    released = sorted(course.read_state("releases.json"))
    reports = course.read_state("integrity.json")
    table: dict[str, dict[str, str]] = {}
    for path in sorted((course.root / "submitted").glob("*/*")):
        if path.is_dir() and path.name in released:
            table.setdefault(path.parent.name, {})[path.name] = "submitted"
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for folder in released:
            try:
                submissions = gb.assignment_submissions(folder)
            except Exception:
                continue
            for sub in submissions:
                if not (course.root / "autograded" / sub.student_id / folder).is_dir():
                    continue
                text = f"{sub.score:g}/{sub.max_score:g}"
                if sub.needs_manual_grade:
                    text += " (to grade by hand)"
                if reports.get(folder, {}).get(sub.student_id):
                    text += " ! cells changed"
                table.setdefault(sub.student_id, {})[folder] = text
    return released, table


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
