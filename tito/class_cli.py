"""`tito class`: teach TinyTorch to a class with nbgrader (INSTRUCTORS.md).

    tito class setup ~/course --exchange /srv/nbgrader/exchange   a course folder (nbgrader's)
    tito class release 08          the release of module 08 (and the exchange, if the course has one)
    tito class collect 08          the submissions, from the exchange (or --zips FOLDER of
                                   `tito module submit` zips)
    tito class autograde 08        grade them (nbgrader; a kernel per notebook, time and memory limits)
    tito class feedback 08         feedback pages, returned through the exchange
    tito class grades              every grade as CSV (nbgrader's export)
    tito class status              who submitted, and the scores per module

Every command but setup works on the course folder given by --course, $TITO_COURSE, or the
current folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tito import answers, classroom
from tito import workspace as ws

console = Console(highlight=False, soft_wrap=True, width=None if os.isatty(1) else 140)
class_app = typer.Typer(help="Teach a class with nbgrader: set up a course folder, release a module, collect, "
                             "autograde, return feedback, export grades, see who submitted.\n\n\b\n"
                             + __doc__.split("\n\n")[1] + "\n\nINSTRUCTORS.md explains the whole course.",
                        no_args_is_help=True)

CourseOption = typer.Option(None, "--course", "-c", help="the course folder (default: $TITO_COURSE, "
                                                          "else the current folder)")


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _clone() -> Path:
    try:
        return ws.find_root()
    except ws.TitoError as error:
        _fail(str(error))


def _course(course: Optional[Path]) -> classroom.Course:
    folder = course or Path(os.environ.get("TITO_COURSE") or Path.cwd())
    try:
        return classroom.open_course(folder, _clone())
    except classroom.ClassError as error:
        _fail(str(error))


def _module(key: str) -> ws.Module:
    try:
        return ws.find_module(_clone(), key)
    except ws.TitoError as error:
        _fail(str(error))


def _run(function, *args, **kwargs):
    here = Path.cwd()
    try:
        return function(*args, **kwargs)
    except classroom.ClassError as error:
        _fail(str(error))
    finally:
        os.chdir(here)


@class_app.command("setup")
def setup(
    folder: Path = typer.Argument(..., help="the course folder to make (or update)"),
    course_id: str = typer.Option("tinytorch", "--course-id", help="nbgrader's course id"),
    exchange: Optional[Path] = typer.Option(None, "--exchange", help="nbgrader's exchange folder (a hub: "
                                                                     "/srv/nbgrader/exchange); none: learners "
                                                                     "hand in `tito module submit` zips"),
    timeout: int = typer.Option(classroom.DEFAULT_TIMEOUT, "--timeout", help="seconds to grade one notebook"),
    memory_mb: int = typer.Option(classroom.DEFAULT_MEMORY_MB, "--memory-mb",
                                  help="memory (address space) of a grading kernel and what it starts"),
) -> None:
    """Make a course folder: nbgrader's configuration, and the source of every graded module."""
    course = _run(classroom.setup, folder, _clone(), course_id, exchange, timeout, memory_mb)
    sources = sorted(p.name for p in (course.root / "source").iterdir())
    console.print(f"Course folder {course.root} ({course_id}): {len(sources)} modules in source/ "
                  f"({', '.join(s[:2] for s in sources)}); exchange: {exchange or 'none (zips)'}; a notebook is "
                  f"graded in at most {timeout} s and {memory_mb} MB.")
    released = course.read_state("releases.json")       # what `release` recorded, as `status` reads it
    waiting = [s for s in sources if s not in released]
    if waiting:
        console.print(f"Next: `tito class release {waiting[0][:2]} --course {course.root}` "
                      f"(or `export TITO_COURSE={course.root}`).")
    else:
        zips = "" if exchange else " --zips FOLDER"
        console.print(f"Every module is released; next: `tito class collect NN{zips} --course {course.root}` "
                      f"once learners have handed in.")


@class_app.command("release")
def release(module: str = typer.Argument(..., help="module number or name"),
            course: Optional[Path] = CourseOption) -> None:
    """Make the module's release from its source (nbgrader generate_assignment), and put it in the
    exchange when the course has one."""
    the_course, mod = _course(course), _module(module)
    result = _run(classroom.release, the_course, mod.folder)
    asked = "" if not answers.questions(the_course.clone, mod.folder) else (
        ", and `tito module submit`, whose zip holds their answers to the questions from workspace/answers/")
    where = "and in the exchange (learners: Assignments tab, or `nbgrader fetch_assignment`)" if result["exchange"] \
        else ("(no exchange: hand out the release, or let learners use `tito module start`, whose notebook "
              f"has the functions to write{asked})")
    console.print(f"Released {mod.folder}: {result['release']} {where}.")


@class_app.command("collect")
def collect(module: str = typer.Argument(..., help="module number or name"),
            zips: Optional[Path] = typer.Option(None, "--zips", help="a folder of `tito module submit` zips "
                                                                     "(NN_name-learner.zip) instead of the exchange"),
            course: Optional[Path] = CourseOption) -> None:
    """Collect the module's submissions into submitted/ (from the exchange, or from zips)."""
    the_course, mod = _course(course), _module(module)
    students = _run(classroom.collect, the_course, mod.folder, zips.resolve() if zips else None)
    console.print(f"Collected {len(students)} submission(s) of {mod.folder}: {', '.join(students)}.")


@class_app.command("autograde")
def autograde(module: str = typer.Argument(..., help="module number or name"),
              student: Optional[list[str]] = typer.Option(None, "--student", "-s", help="only these students"),
              jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="notebooks graded at a time "
                                                                          "(default: the cores, at most 4)"),
              course: Optional[Path] = CourseOption) -> None:
    """Grade the module's submissions (nbgrader autograde: each notebook in its own kernel, with the
    course's time and memory limits); print each score and any graded cell a submission changed."""
    the_course, mod = _course(course), _module(module)

    def progress(sid: str, seconds: float) -> None:
        console.print(f"  graded {escape(sid)} ({seconds:.1f} s)")

    drift = _run(classroom.release_drift, the_course, mod.folder)
    if drift:
        console.print(f"[yellow]![/] {escape(drift)}")
    scores = _run(classroom.autograde, the_course, mod.folder, student or None, progress, jobs)
    _print_scores(mod.folder, scores)


def _print_scores(folder: str, scores: list[classroom.Score]) -> None:
    table = Table(title=f"{folder}: scores")
    for column in ("Student", "Functions", "Questions", "Total", "Notes"):
        table.add_column(column)
    for score in scores:
        notes = []
        if score.max_written:
            notes.append("questions to grade by hand (formgrader)" if score.needs_manual else "")
            if score.from_tito and not score.needs_manual and not score.written:
                notes.append("no answers in the zip (its learner's workspace/answers/ file; INSTRUCTORS.md)")
        notes += [f"[red]{escape(p)}[/] (restored and graded as released)" for p in score.problems]
        table.add_row(escape(score.student), f"{score.code:g}/{score.max_code:g}",
                      f"{score.written:g}/{score.max_written:g}" if score.max_written else "-",
                      f"{score.total:g}/{score.max_code + score.max_written:g}", "; ".join(n for n in notes if n))
    console.print(table)


@class_app.command("feedback")
def feedback(module: str = typer.Argument(..., help="module number or name"),
             course: Optional[Path] = CourseOption) -> None:
    """Write each autograded notebook's feedback page (nbgrader generate_feedback) and return them
    through the exchange when the course has one."""
    the_course, mod = _course(course), _module(module)
    result = _run(classroom.feedback, the_course, mod.folder)
    kept = "in feedback/STUDENT/MODULE/ (send them to the learners)"
    how = (f"returned through the exchange to {', '.join(result['returned'])} (the Assignments tab, or "
           f"`nbgrader fetch_feedback`); the others' are {kept}") if result["exchange"] else f"{kept}"
    console.print(f"{len(result['pages'])} feedback page(s) of {mod.folder}: {how}.")


@class_app.command("grades")
def grades(csv: Optional[Path] = typer.Option(None, "--csv", help="where to write (default: grades.csv in the "
                                                                     "course folder)"),
           course: Optional[Path] = CourseOption) -> None:
    """Export every grade of the gradebook as CSV (nbgrader's export)."""
    the_course = _course(course)
    target = _run(classroom.export_csv, the_course, (csv or the_course.root / "grades.csv").resolve())
    console.print(f"Grades written to {target}.")


@class_app.command("status")
def status(course: Optional[Path] = CourseOption) -> None:
    """Who submitted what, and the scores per module."""
    the_course = _course(course)
    released, table = _run(classroom.status, the_course)
    if not released:
        console.print("Nothing released yet: `tito class release 01`.")
        return
    view = Table(title=f"Class of {the_course.root.name}")
    view.add_column("Student")
    for folder in released:
        view.add_column(folder)
    for sid in sorted(table):
        view.add_row(escape(sid), *[escape(table[sid].get(folder, "-")) for folder in released])
    console.print(view)
    console.print(f"{len(table)} student(s). A score is points/maximum after `tito class autograde`; "
                  "\"submitted\": collected, not graded yet; \"-\": nothing came.")
