"""The hints above the learner's solution blocks point at sections that exist in the book.

A hint ends with where the chapter explains it, e.g. `(chapter 08, "Cosine schedule")`. A learner
who follows it must find a heading with exactly that title in that chapter; a renamed section would
otherwise leave every notebook pointing nowhere. Hints span one to three comment lines, so each
hint's lines are joined before the reference is read.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO_ROOT / "src").glob("[0-9][0-9]_*/[0-9][0-9]_*.py"))
CHAPTERS = REPO_ROOT / "book" / "chapters"
REFERENCE = re.compile(r'chapter (\d\d), "([^"]+)"')
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def hints(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every hint: a `# Hint:` comment and the comment lines right below it
    at the same indentation, joined by spaces."""
    lines, found, index = text.splitlines(), [], 0
    while index < len(lines):
        match = re.match(r"^(\s*)# Hint:(.*)$", lines[index])
        if not match:
            index += 1
            continue
        indent, parts, start = match.group(1), [match.group(2).strip()], index + 1
        index += 1
        while index < len(lines) and lines[index].startswith(indent + "# ") \
                and not lines[index].startswith(indent + "# Hint:"):
            parts.append(lines[index][len(indent) + 2:].strip())
            index += 1
        found.append((start, " ".join(parts)))
    return found


def references(text: str) -> list[tuple[int, str, str]]:
    """(line, chapter number, section title) of every chapter reference in the hints of `text`."""
    return [(line, number, title) for line, hint in hints(text)
            for number, title in REFERENCE.findall(hint)]


def headings_by_chapter(number: str) -> dict[str, set[str]]:
    """{chapter file name: its heading titles} for every chapter numbered `number` (a module's
    chapters may be several, as module 08's three)."""
    chapters = sorted(CHAPTERS.glob(f"{number}_*.md"))
    assert chapters, f"no chapter {number}_*.md"
    return {path.name: {title.strip() for title in HEADING.findall(path.read_text())}
            for path in chapters}


def test_a_hint_spanning_lines_is_read_whole():
    text = ('    x = 1\n    # Hint: scale every gradient (chapter 08,\n    # "Gradient clipping").\n'
            '    ### BEGIN SOLUTION\n')
    assert references(text) == [(2, "08", "Gradient clipping")]


def test_the_hints_name_chapters_at_all():
    assert any(references(source.read_text()) for source in SOURCES), (
        "no hint in src/ names a chapter section: the test below would check nothing")


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_every_hint_names_an_existing_section(source: Path):
    """The section exists in exactly one chapter of that number, so the learner (and the chapter's
    "Your turn") can tell which page explains it."""
    missing = []
    for line, number, title in references(source.read_text()):
        holders = [name for name, titles in headings_by_chapter(number).items() if title in titles]
        if len(holders) != 1:
            missing.append(f"{source.name}:{line}: section {title!r} is in {len(holders)} chapters "
                           f"numbered {number} ({holders}), not exactly one")
    assert not missing, "\n".join(missing)
