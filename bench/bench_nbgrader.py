"""Autograding a class: 30 submissions of module 08 through `tito class autograde` (nbgrader), on this
machine, against the budget of 5 minutes.

The class: 10 learners hand in complete notebooks (the textbook learner's code, tests/textbook_learner.py),
10 the same with one function wrong (clip_grad_norm, CosineSchedule.get_lr or Trainer.evaluate in turn:
tests/classroom_helpers.py), 10 the untouched release. The course folder is made and the module released
first (not timed); the figure is the wall-clock time of one autograde of all 30, each notebook in its
own kernel with the course's default limits, as an instructor runs it. The scores are checked too:
a bench that graded wrongly would be fast for nothing. One process (the figure is minutes long and
stable to a few percent; `bench/run.py` reads PROCESSES).
"""
import sys
import tempfile
import time
from pathlib import Path

PROCESSES = 1
ROOT = Path(__file__).resolve().parent.parent
FOLDER = "08_training"
BUDGET = 300.0
WRONG = ["clip_grad_norm", "CosineSchedule.get_lr", "Trainer.evaluate"]


def run() -> list:
    sys.path.insert(0, str(ROOT / "tests"))
    import classroom_helpers as helpers

    from tito import classroom
    from tito.rubric import load

    rubric = load(ROOT)[FOLDER]
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as scratch:
        course = classroom.setup(Path(scratch) / "course", ROOT)
        classroom.release(course, FOLDER)
        mod = helpers.module(FOLDER)
        complete = helpers.textbook(mod)
        expected = {}
        for index in range(30):
            sid = f"learner{index:02d}"
            if index < 10:
                bodies, expected[sid] = complete, rubric.code_points
            elif index < 20:
                wrong = WRONG[index % len(WRONG)]
                bodies = helpers.with_wrong(complete, FOLDER, wrong)
                expected[sid] = rubric.code_points - rubric.checks[wrong].points
            else:
                bodies, expected[sid] = None, 0.0
            helpers.put_submission(course.root, FOLDER, sid, helpers.submission(course.root, FOLDER, bodies))
        started = time.perf_counter()
        scores = classroom.autograde(course, FOLDER)
        seconds = time.perf_counter() - started
    got = {s.student: s.code for s in scores}
    if got != expected:
        wrong = {sid: (got.get(sid), want) for sid, want in expected.items() if got.get(sid) != want}
        raise SystemExit(f"bench_nbgrader: scores differ from the expected ones (got, expected): {wrong}")
    return [{"figure": "autograde 30 module-08 submissions, 10 complete / 10 one wrong / 10 blank (s)",
             "tinytorch": seconds, "reference": BUDGET, "ratio": seconds / BUDGET, "target": "<= 1.0", "unit": "s"}]


if __name__ == "__main__":
    for row in run():
        print(row)
