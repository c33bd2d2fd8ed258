"""A learner's answers to a module's questions, for a class that grades them (`classroom/rubric.yml`).

The questions are the chapter's "Check your understanding" ones that the rubric grades by hand. A
learner working in tito's notebook (which has no question cells: only the release of `tito class
release` has them) writes the answers in `workspace/answers/NN_name.md`, one section per question
under its `## Question N` heading. `tito module start` writes that file (once; it is never
overwritten), `tito module submit` packs it into the zip as `answers.md`, and `tito class collect
--zips` puts each answer into the release's answer cell, where the instructor grades it as any
other.
"""
from __future__ import annotations

import re
from pathlib import Path

from tito import workspace as ws

FILE_IN_ZIP = "answers.md"
PLACEHOLDER = "(your answer)"
_HEADING = re.compile(r"^## Question (\d+)\b.*$", re.M)


def path(root: Path, folder: str) -> Path:
    return ws.workspace(root) / "answers" / f"{folder}.md"


def questions(root: Path, folder: str) -> list:
    """The module's questions graded by hand (the rubric's), [] when none or the rubric is unreadable."""
    from tito.rubric import RubricError, load

    try:
        rubric = load(root, check_tests=False).get(folder)
    except (RubricError, OSError, ValueError):
        return []
    return list(rubric.questions) if rubric else []


def template(root: Path, folder: str) -> str | None:
    """The answers file of a module with questions: each question's heading and a placeholder."""
    from tito.assignment import questions_chapter

    asked = questions(root, folder)
    if not asked:
        return None
    chapter = questions_chapter(root, folder)
    lines = [f"# Module {folder[:2]}: your answers", "",
             f"Your instructor grades these by hand. The questions are in chapter {chapter[:2]}, section "
             f"\"Check your understanding\" (`book/chapters/{chapter}.md`). Write each answer under its "
             "heading, in place of the placeholder, and keep the headings: `tito module submit "
             f"{folder[:2]}` packs this file with your notebook.", ""]
    for question in asked:
        lines += [f"## Question {question.id[1:]}: {question.title} ({question.points:g} points)", "",
                  PLACEHOLDER, ""]
    return "\n".join(lines)


def ensure(root: Path, folder: str) -> Path | None:
    """The module's answers file, written from the template if it does not exist yet; None for a
    module without questions."""
    target = path(root, folder)
    if target.is_file():
        return target
    text = template(root, folder)
    if text is None:
        return None
    ws.write_atomic(target, text)
    return target


def parse(text: str) -> dict[str, str]:
    """{"q1": answer, ...} from an answers file: the text under each `## Question N` heading, the
    placeholder and blank answers left out."""
    found = {}
    headings = list(_HEADING.finditer(text))
    for heading, after in zip(headings, headings[1:] + [None]):
        body = text[heading.end():after.start() if after else len(text)].strip()
        if body and body != PLACEHOLDER:
            found[f"q{int(heading[1])}"] = body
    return found
