"""What the classroom tests, the hub test and the bench share: learners' bodies and nbgrader's
student side (fetch and submit through the exchange, as the Assignments tab does)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tito import classroom, grading, solutions
from tito.workspace import Module, find_module

ROOT = Path(__file__).resolve().parent.parent

# One plausible mistake per function the tests get wrong: each is what a learner might write.
WRONG = {
    ("08_training", "clip_grad_norm"): """
        total_norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
        for g in grads:                        # clips each number on its own: the direction changes
            np.clip(g, -max_norm, max_norm, out=g)
    """,
    ("08_training", "CosineSchedule.get_lr"): """
        return self.max_lr * (1.0 + math.cos(math.pi * progress)) / 2.0    # forgets min_lr
    """,
    ("08_training", "Trainer.evaluate"): """
        self.training_mode = False
        for inputs, targets in run.batches():         # records a graph for every batch, in training mode
            outputs = self.model.forward(inputs)
            loss = self.loss_fn(outputs, targets)
            run.record(outputs, targets, loss)
    """,
    ("03_layers", "linear"): """
        return x @ weight.T                    # forgets the bias
    """,
}


def module(key: str) -> Module:
    return find_module(ROOT, key)


def reference(mod: Module) -> list[solutions.Body]:
    return grading.course_bodies(mod)


def textbook(mod: Module) -> list[solutions.Body]:
    """The textbook learner's bodies (tests/textbook_learner.py: plain code written by hand)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import textbook_learner

    return solutions.bodies(textbook_learner.substituted_cells(mod.source, mod.folder), mod.number)


def with_wrong(bodies: list[solutions.Body], folder: str, owner: str) -> list[solutions.Body]:
    import textwrap

    text = textwrap.dedent(WRONG[(folder, owner)]).strip("\n")
    out = []
    for body in bodies:
        if body.owner == owner:
            body = solutions.Body(body.key, body.owner, body.ordinal, body.signature, body.indent,
                                  [body.indent + line if line else "" for line in text.splitlines()])
        out.append(body)
    return out


def release_notebook(course_root: Path, folder: str) -> dict:
    return json.loads((course_root / "release" / folder / f"{folder}.ipynb").read_text(encoding="utf-8"))


def submission(course_root: Path, folder: str, bodies: list[solutions.Body] | None) -> dict:
    """The release with `bodies` in its blocks (None: untouched)."""
    data = release_notebook(course_root, folder)
    return data if bodies is None else classroom.fill(data, bodies, folder)


def put_submission(course_root: Path, folder: str, student: str, notebook: dict) -> None:
    """A submission as `collect` leaves it: submitted/STUDENT/MODULE/MODULE.ipynb."""
    target = course_root / "submitted" / student / folder
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{folder}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


def student_config(exchange: Path, course_id: str, student: str, home: Path):
    from traitlets.config import Config

    config = Config()
    config.Exchange.root = str(exchange)
    config.Exchange.assignment_dir = str(home)
    config.CourseDirectory.course_id = course_id
    config.CourseDirectory.student_id = student
    return config


def _exchange(kind: str, exchange: Path, course_id: str, student: str, home: Path, folder: str) -> None:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeSubmit

    config = student_config(exchange, course_id, student, home)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = folder
    cls = {"fetch": ExchangeFetchAssignment, "submit": ExchangeSubmit, "feedback": ExchangeFetchFeedback}[kind]
    cls(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()


def fetch_and_submit(exchange: Path, course_id: str, student: str, home: Path, folder: str,
                     bodies: list[solutions.Body] | None, edit=None) -> Path:
    """A student fetches the release from the exchange, writes `bodies` into it (None: nothing),
    optionally `edit`s the notebook JSON, and submits. Returns the fetched notebook's path."""
    home.mkdir(parents=True, exist_ok=True)
    _exchange("fetch", exchange, course_id, student, home, folder)
    path = home / folder / f"{folder}.ipynb"
    data = json.loads(path.read_text(encoding="utf-8"))
    if bodies is not None:
        data = classroom.fill(data, bodies, folder)
    if edit is not None:
        data = edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    _exchange("submit", exchange, course_id, student, home, folder)
    return path


def fetch_feedback(exchange: Path, course_id: str, student: str, home: Path, folder: str) -> list[Path]:
    _exchange("feedback", exchange, course_id, student, home, folder)
    return sorted(home.glob(f"{folder}/feedback/*/*.html"))


def tito(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def small_clone(destination: Path) -> Path:
    """A clone with what tito needs (src/, modules/, tinytorch/, tests/, book/, tools/export.py)."""
    for name in ("src", "modules", "tinytorch", "tests", "book", "classroom"):
        shutil.copytree(ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    (destination / "tools").mkdir()
    shutil.copy2(ROOT / "tools" / "export.py", destination / "tools" / "export.py")
    shutil.copy2(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def _sources(cells: list[dict]) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in cells]


def check_release(course_root, folder: str) -> None:
    """The release's cells are the student notebook's, then the graded work with the rubric's points."""
    from tito.assignment import HEADING
    from tito.rubric import load

    rubric = load(ROOT)[folder]
    released = json.loads((course_root / "release" / folder / f"{folder}.ipynb").read_text(encoding="utf-8"))
    student = json.loads(module(folder).student_notebook.read_text(encoding="utf-8"))
    learner = _sources(student["cells"])
    assert _sources(released["cells"])[:len(learner)] == learner
    extra = released["cells"][len(learner):]
    assert "".join(extra[0]["source"]).startswith(HEADING)
    graded = [c for c in extra if c["metadata"].get("nbgrader", {}).get("grade")]
    assert sorted(c["metadata"]["nbgrader"]["points"] for c in graded) == sorted(
        [c.points for c in rubric.checks.values()] + [q.points for q in rubric.questions])
    answers = [c for c in graded if c["cell_type"] == "markdown"]
    assert all("".join(c["source"]) == "YOUR ANSWER HERE" for c in answers) and len(answers) == len(rubric.questions)
    assert not any("BEGIN SOLUTION" in "".join(c["source"]) for c in extra)
