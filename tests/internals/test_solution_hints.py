"""Every `### BEGIN SOLUTION` block has a hint right above it: one to three comment lines at the
block's indentation, the first starting with `# Hint:` and naming a chapter and a section of it
(`(chapter NN, "Section")`) that exists in book/chapters/NN_*.md. White-box: reads src/."""
import re
from pathlib import Path

import pytest

from tito import cells as nb

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(REPO.glob("src/[0-9][0-9]_*/[0-9][0-9]_*.py"))


def headings(chapter: str) -> set:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "book" / "chapters").glob(f"{chapter}_*.md"))
    return {m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_solution_block_has_a_hint_naming_a_chapter_section(source):
    blocks = nb.solution_blocks(nb.read_source(source), source.name[:2])
    for block in blocks:
        assert block.hint and block.hint[0].startswith("# Hint:"), \
            f"{source.name}: the block of {block.owner} has no '# Hint:' line right above it"
        assert re.search(r"chapter \d\d", block.hint_text), f"{source.name}: {block.owner}'s hint names no chapter"
        assert block.section in headings(block.chapter), \
            f"{source.name}: {block.owner}'s hint names section {block.section!r}, not in chapter {block.chapter}"
