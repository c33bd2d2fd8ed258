"""The learner's furniture on the built site: each chapter's module-info box and launch cards, its
"Your turn" section, and the "Build it yourself" page (all from book/modules.yml and src/ through
tools/sphinx_tinytorch.py). Reads the site `make test` builds before pytest."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from tito import cells as nb

ROOT = Path(__file__).resolve().parent.parent
ROWS = (yaml.safe_load((ROOT / "book" / "modules.yml").read_text(encoding="utf-8")) or {})["modules"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"]["branch"]
OWNER_NAME = re.match(r"https://github\.com/(.+)$", REPOSITORY)[1]
MODULES = sorted(p.parent.name for p in (ROOT / "src").glob("[0-9][0-9]_*/[0-9][0-9]_*.py")
                 if p.stem == p.parent.name)
# (chapter file stem, module) for every chapter that carries a module's header: the chapter named
# after the module, or those its row lists under `chapters:`.
CHAPTERED = [(chapter, module) for module in MODULES for chapter in ROWS.get(module, {}).get("chapters") or [module]
             if (ROOT / "book" / "chapters" / f"{chapter}.md").exists()]
PAIR_IDS = [chapter for chapter, _ in CHAPTERED]


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def article(page: BeautifulSoup):
    """The page's own content (no sidebars)."""
    return page.select_one("article.bd-article") or page


def test_every_module_has_a_row():
    missing = [m for m in MODULES if m not in ROWS]
    assert not missing, f"book/modules.yml has no row for {missing}: their chapters would lack the header"
    for name, row in ROWS.items():
        assert {"tier", "difficulty", "time", "prerequisites"} <= set(row), name
        assert 1 <= row["difficulty"] <= 4


def test_every_chapter_of_a_module_is_covered():
    """A chapter numbered like a module in src/ must carry a module's header (else the build warns)."""
    covered = {chapter for chapter, _ in CHAPTERED}
    for path in sorted((ROOT / "book" / "chapters").glob("*.md")):
        if any(m.startswith(path.stem[:3]) for m in MODULES):
            assert path.stem in covered, f"{path.name} is not covered by a row of book/modules.yml"


@pytest.mark.parametrize(("chapter", "module"), CHAPTERED, ids=PAIR_IDS)
def test_chapter_has_the_module_info_box_and_the_four_cards(site, chapter, module):
    page = soup(site / "book" / "chapters" / f"{chapter}.html")
    main = article(page)
    row = ROWS[module]
    box = next(a for a in main.select("div.admonition") if "Module info" in a.get_text())
    text = " ".join(box.get_text().split())
    dots = "\u25cf" * row["difficulty"] + "\u25cb" * (4 - row["difficulty"])
    assert f"{row['tier'].upper()} TIER" in text
    assert f"Difficulty: {dots}" in text and f"Time: {row['time']}" in text
    assert f"Prerequisites: {row['prerequisites']}" in text
    # The box comes right after the title, before the chapter's own first section.
    h1 = main.find("h1")
    assert h1.find_next("div", class_="admonition") is box
    assert h1.find_next("h2") is box.find_next("h2"), "a section comes between the title and the box"
    cards = {" ".join(c.get_text().split()): c for c in main.select("div.sd-card")}
    links = {title: next(iter(a["href"] for a in card.find_all("a", href=True)), None)
             for title, card in cards.items()}
    by_title = {key.split(" The ")[0].split(" This ")[0]: href for key, href in links.items()}
    notebook = f"modules/{module}/{module}.ipynb"
    assert (ROOT / notebook).exists()
    expected = {
        "Build it in Binder": f"https://mybinder.org/v2/gh/{OWNER_NAME}/{BRANCH}?urlpath=lab/tree/{notebook}",
        "Open in Colab": f"https://colab.research.google.com/github/{OWNER_NAME}/blob/{BRANCH}/{notebook}",
        "Run this chapter in Binder":
            f"https://mybinder.org/v2/gh/{OWNER_NAME}/{BRANCH}?urlpath=lab/tree/book/chapters/{chapter}.md",
        "View source": f"{REPOSITORY}/blob/{BRANCH}/src/{module}/{module}.py",
    }
    for title, href in expected.items():
        assert by_title.get(title) == href, (title, by_title)
    # "Run this chapter" is the launch button the theme already had.
    launch = [a["href"] for a in page.find_all("a", href=True) if "mybinder.org" in a["href"]]
    assert expected["Run this chapter in Binder"] in launch


def section_titles(chapter: str) -> set[str]:
    """Every heading title of a chapter's source (outside code fences)."""
    from myst_text import walk_fences

    titles = set()
    text = (ROOT / "book" / "chapters" / f"{chapter}.md").read_text(encoding="utf-8")
    for _, line, event, stack in walk_fences(text, lambda fence, info: True):
        heading = re.match(r"^#{1,6}\s+(.+?)\s*$", line)
        if event == "text" and not stack and heading:
            titles.add(heading[1].strip())
    return titles


def placement(module: str) -> dict[str, list]:
    """{chapter: the module's solution blocks its "Your turn" lists}: a block belongs to the one
    chapter of its module whose headings hold the section its hint names; a module with one
    chapter, or a section found in none or several of them, puts it in every chapter."""
    chapters = [c for c, m in CHAPTERED if m == module]
    titles = {c: section_titles(c) for c in chapters}
    placed = {c: [] for c in chapters}
    for block in nb.solution_blocks(nb.read_source(ROOT / "src" / module / f"{module}.py"), module[:2]):
        holders = [c for c in chapters if block.section in titles[c]]
        for chapter in holders if len(holders) == 1 else chapters:
            placed[chapter].append(block)
    return placed


def test_module_08_spreads_its_functions_over_its_three_chapters():
    placed = placement("08_training")
    owners = {chapter: {block.owner for block in blocks} for chapter, blocks in placed.items()}
    assert owners == {
        "08_training": {"Trainer.train_epoch", "Trainer.update", "Trainer.evaluate"},
        "08_training_stability": {"CosineSchedule.get_lr", "clip_grad_norm"},
        "08_training_state": {"Trainer.state_dict"},
    }, owners


@pytest.mark.parametrize(("chapter", "module"), CHAPTERED, ids=PAIR_IDS)
def test_chapter_ends_with_your_turn_listing_every_function_to_write(site, chapter, module):
    """Each function is listed (with where it is explained) in the chapter that explains it; a
    module's other chapters name it and link that chapter."""
    page = soup(site / "book" / "chapters" / f"{chapter}.html")
    main = article(page)
    headings = main.find_all("h2")
    titles = [h.get_text().strip().rstrip("#").strip() for h in headings]
    assert titles and titles[-1] == "Your turn" and titles.count("Your turn") == 1, titles
    section = headings[-1].find_parent("section") or main
    text = " ".join(section.get_text().split()).replace("\u201c", '"').replace("\u201d", '"')  # smart quotes
    placed = placement(module)
    here = placed[chapter]
    table = section.find("table")
    listed = [" ".join(row.find("td").get_text().split()) for row in table.find("tbody").find_all("tr")] \
        if table else []
    assert listed == [block.owner for block in here], (chapter, listed)
    for block in here:
        assert f'chapter {block.chapter}, "{block.section}"' in text, block.section
    links = {a["href"].split("#")[0] for a in section.find_all("a", href=True)}
    for other, blocks in placed.items():
        elsewhere = [block for block in blocks if block not in here]
        for block in elsewhere:
            assert block.owner in text, f"{chapter} does not name {block.owner}, explained in {other}"
        if elsewhere:
            assert f"{other}.html" in links, f"{chapter}'s Your turn does not link {other}"
    number = module[:2]
    for command in (f"tito module start {number}", f"tito module complete {number}", f"tito test {number}"):
        assert command in text
    assert f"modules/{module}/{module}.ipynb" in text
    for command in ROWS[module].get("commands") or []:
        assert command.split("#")[0].strip() in text


def test_build_it_yourself_page_explains_the_workflow_and_lists_every_module(site):
    page = soup(site / "book" / "build_it_yourself.html")
    text = " ".join(article(page).get_text().split())
    for phrase in ("tito module start", "tito module complete", "tito test", "tito module status",
                   "tito module reset", "tito system doctor", "Binder", "Colab", "workspace/"):
        assert phrase in text, phrase
    table = next(t for t in page.find_all("table") if "You write" in t.get_text())
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == len(MODULES)
    for module, row in zip(MODULES, rows):
        hrefs = [a["href"] for a in row.find_all("a", href=True)]
        assert any(h.endswith(f"modules/{module}/{module}.ipynb") and "colab" in h for h in hrefs), hrefs
        for block in nb.solution_blocks(nb.read_source(ROOT / "src" / module / f"{module}.py"), module[:2]):
            assert block.owner in row.get_text()
    intro = soup(site / "book" / "intro.html")
    assert any(a["href"].endswith("build_it_yourself.html") for a in intro.find_all("a", href=True))
