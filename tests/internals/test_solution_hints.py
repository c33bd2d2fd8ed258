"""Every `### BEGIN SOLUTION` block in modules 01-05 has a hint right above it (common rule 7): one to
three comment lines at the block's indentation, the first starting with `# Hint:` and naming a
section of the chapter (`chapter 0N, "Section"`) that exists in book/chapters/0N_*.md."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for n in range(1, 6) for p in (REPO / "src").glob(f"0{n}_*/0{n}_*.py"))


def chapter_sections(number: str) -> set:
    (chapter,) = (REPO / "book" / "chapters").glob(f"{number}_*.md")
    return {line.lstrip("#").strip() for line in chapter.read_text().splitlines() if re.match(r"##? ", line)}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_solution_block_has_a_hint_naming_a_chapter_section(source):
    lines = source.read_text().splitlines()
    number = source.name[:2]
    sections = chapter_sections(number)
    blocks = [i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION"]
    assert blocks, f"{source.name} has no solution blocks"
    for i in blocks:
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        comments = []
        j = i - 1
        while j >= 0 and lines[j].startswith(indent + "#") and not lines[j].startswith(indent + "##"):
            comments.insert(0, lines[j].strip())
            j -= 1
        assert 1 <= len(comments) <= 3 and comments[0].startswith("# Hint:"), \
            f"{source.name}:{i + 1}: no '# Hint:' line right above the block"
        text = " ".join(c.lstrip("# ") for c in comments)
        assert f"chapter {number}" in text, f"{source.name}:{i + 1}: the hint names no chapter"
        named = re.findall(r'"([^"]+)"', text)
        assert named and all(name in sections for name in named), \
            f"{source.name}:{i + 1}: hint sections {named} not among {sorted(sections)}"
