"""A learner's answers to a module's questions, for a class that grades them (`classroom/rubric.yml`).

The questions are the chapters' "Check your understanding" ones that the rubric grades by hand. A
learner working in tito's notebook (which has no question cells: only the release of `tito class
release` has them) writes the answers in `workspace/answers/NN_name.md`, one section per question
under its `## Question N: ...` heading. `tito module start` writes that file (once; it is never
overwritten), `tito module submit` checks its headings and packs it into the zip as `answers.md`,
and `tito class collect --zips` puts each answer into the release's answer cell, where the
instructor grades it as any other.
"""
from __future__ import annotations

import re
from pathlib import Path

from tito import workspace as ws

FILE_IN_ZIP = "answers.md"
PLACEHOLDER = "(your answer)"
# a heading as the template writes it ("## Question 2: Title ..."), or bare ("## Question 2"); a line
# that only starts like one ("## Question 2 is related") is part of an answer
_HEADING = re.compile(r"## Question (\d+)\s*(?::.*)?$")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")


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


def template(root: Path, folder: str, asked: list | None = None) -> str | None:
    """The answers file of a module with questions (`asked`, by default the rubric's): each
    question's heading, where the chapter asks it, and a placeholder; None for a module without."""
    from tito.assignment import question_source

    asked = questions(root, folder) if asked is None else asked
    if not asked:
        return None
    lines = [f"# Module {folder[:2]}: your answers", "",
             "Your instructor grades these by hand. Write each answer under its heading, in place of the "
             "placeholder, and keep the headings as they are: `tito module submit "
             f"{folder[:2]}` packs this file with your notebook.", ""]
    for question in asked:
        chapter, there = question_source(root, folder, question)
        lines += [f"## Question {question.id[1:]}: {question.title} ({question.points:g} points; "
                  f"Q{there} of book/chapters/{chapter}.md)", "", PLACEHOLDER, ""]
    return "\n".join(lines)


def ensure(root: Path, folder: str, asked: list | None = None) -> Path | None:
    """The module's answers file, written from the template if it does not exist yet; None for a
    module without questions (`asked`, by default the rubric's). TitoError when something else is
    in its place."""
    asked = questions(root, folder) if asked is None else asked
    if not asked:
        return None
    target = path(root, folder)
    if target.exists() and not target.is_file():
        raise ws.TitoError(f"{target} is not a file: move it away, and tito writes your answers file there")
    if not target.is_file():                 # the template reads the chapters: only when it is written
        ws.write_atomic(target, template(root, folder, asked))
    return target


def parse(text: str, ids: list[str]) -> tuple[dict[str, str], list[str]]:
    """({"q1": answer, ...}, problems) from an answers file. An answer is the text under its heading
    up to the next heading outside a code fence; the placeholder and blank answers are left out.
    `ids` are the module's question ids ("q1", ...): a heading for another number, or one that
    comes twice, is a problem (its text would reach no cell, or overwrite another)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading:
            sections.append((f"q{int(heading[1])}", []))
        elif sections:
            sections[-1][1].append(line)
    found, problems, seen = {}, [], set()
    for key, body in sections:
        if key not in ids:
            known = ", ".join(i[1:] for i in ids)
            problems.append(f"\"## Question {key[1:]}\" is not one of its questions ({known})")
            continue
        if key in seen:
            problems.append(f"\"## Question {key[1:]}\" comes twice")
            continue
        seen.add(key)
        answer = "\n".join(body).strip()
        if answer and answer != PLACEHOLDER:
            found[key] = answer
    return found, problems
