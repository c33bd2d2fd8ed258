"""Each chapter's slide deck and audio overview (tools/overview.py, issue 21), as the strict build
that `make test` runs before pytest made them.

The proof that no slide and no sentence shows a number of its own: the deck and script sources
type no digit outside math (`$...$`), so every number comes from a `{glue:text}` role; this file
reads the values the chapter glued in the same build (myst-nb's glue file in
_build/jupyter_execute), formats them with myst-nb's own function, and checks that

- every number in a slide's text (read back from the PDF) is one of those values, or a digit of
  the slide's math, or the deck's furniture (chapter numbers, the module's row of
  book/modules.yml, the page count),
- each role's value is on the slide that cites it,
- the transcript is the script with exactly those values filled in, and has no other number.

The audio tests run where the build had the speech engine (Festival + LAME), as the build itself
does; elsewhere they are skipped with the reason.
"""
from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO_ROOT / "book" / "chapters").glob("*.md"))
DECKS = REPO_ROOT / "book" / "slides"
SCRIPTS = REPO_ROOT / "book" / "audio"
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$")
# A number as a reader sees one: not the 2 of conv2d or float32, not a subscript glyph.
NUMBER = re.compile(r"(?<![\w.])[-\u2212]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def ids(path: Path) -> str:
    return path.stem


def number_tokens(text: str) -> set[str]:
    return {token.replace("\u2212", "-").rstrip(",").lstrip("-") for token in NUMBER.findall(text)}


def glue_file(build: Path, stem: str) -> Path:
    return build / "jupyter_execute" / "book" / "chapters" / f"{stem}.glue.json"


@functools.lru_cache(maxsize=None)
def glued(build: Path, stem: str) -> dict:
    path = glue_file(build, stem)
    if not path.exists():
        return {}
    return {key: out.get("data", {}) for key, out in json.loads(path.read_text()).items()}


def expected(build: Path, stem: str, role: str) -> str:
    """What `{glue:text}`role`` shows on the chapter page, computed here from the glue file."""
    from myst_nb.core.variables import format_plain_text

    key, _, spec = role.rpartition(":") if ":" in role else (role, "", "")
    data = glued(build, stem)
    assert key in data, f"{stem}: the chapter glued no {key!r} in this build"
    return format_plain_text(data[key]["text/plain"], spec or "s")


def deck_slides(stem: str) -> list[tuple[str, str]]:
    """(title, body) of each author slide of book/slides/<stem>.md, in order."""
    text = (DECKS / f"{stem}.md").read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    return [(part.splitlines()[0].strip(), part) for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]]


def front(stem: str) -> dict:
    match = re.match(r"\A---\n(.*?)\n---\n", (DECKS / f"{stem}.md").read_text(encoding="utf-8"), re.DOTALL)
    return yaml.safe_load(match[1]) if match else {}


@pytest.fixture(scope="module")
def built(site) -> Path:
    """The overview folder of the built site; fails (as test_book_html does) without a build."""
    out = site / "overview"
    assert out.is_dir(), f"{out} is missing: the build made no slides or audio"
    return out


@functools.lru_cache(maxsize=None)
def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages]


def manifest(built: Path, stem: str) -> dict:
    path = built / f"{stem}.json"
    assert path.exists(), f"no {path.name}: the build made nothing for {stem}"
    return json.loads(path.read_text())


# ---------------------------------------------------------------- the sources

@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_every_chapter_has_a_deck_and_a_script(chapter):
    for path in (DECKS / f"{chapter.stem}.md", SCRIPTS / f"{chapter.stem}.txt"):
        assert path.exists(), f"{chapter.name} has no {path.relative_to(REPO_ROOT)}"
        assert path.read_text(encoding="utf-8").strip(), f"{path.relative_to(REPO_ROOT)} is empty"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_no_number_is_typed_in_a_deck_or_a_script(chapter):
    """Digits only inside glue roles (the chapter's numbers) and math (a formula's constants)."""
    for path in (DECKS / f"{chapter.stem}.md", SCRIPTS / f"{chapter.stem}.txt"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\A---\n(.*?)\n---\n", lambda m: "\n" * m[0].count("\n"), text, flags=re.DOTALL) \
            if path.suffix == ".md" else text
        for number, line in enumerate(text.splitlines(), start=1):
            bare = MATH.sub("", GLUE_TEXT.sub("", line))
            digits = sorted(number_tokens(bare))
            assert not digits, (f"{path.relative_to(REPO_ROOT)}:{number}: {digits} typed by hand in {line.strip()!r}: "
                                "glue the number in the chapter and cite it with {glue:text}`key`, or write it in words")
    for key in ("subtitle", "next"):
        value = str(front(chapter.stem).get(key, ""))
        assert not number_tokens(MATH.sub("", GLUE_TEXT.sub("", value))), f"{chapter.stem}: `{key}:` types a number"


# ---------------------------------------------------------------- the decks

@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_every_number_on_a_slide_is_the_chapters_glued_value(site, built, chapter):
    stem, build = chapter.stem, site.parent
    pdf = built / f"{stem}.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000, f"{stem}: the deck is missing or empty"
    pages = pdf_pages(pdf)
    info = manifest(built, stem)
    assert len(pages) == info["deck"]["pages"], f"{stem}: the PDF has {len(pages)} pages, the build said {info['deck']['pages']}"
    assert 5 <= len(pages) <= 15, f"{stem}: {len(pages)} slides (a deck is a short summary: 5 to 15)"
    slides = deck_slides(stem)
    # Furniture: the title slide, "Your turn" and "What comes next" add these numbers.
    rows = yaml.safe_load((REPO_ROOT / "book" / "modules.yml").read_text())["modules"]
    row_numbers = set()
    for module, row in rows.items():
        if stem in (row.get("chapters") or [module]):
            row_numbers |= number_tokens(" ".join(str(v) for v in row.values()) + f" {module[:2]}/4 4")
    furniture = number_tokens(" ".join(p.stem[:2] for p in CHAPTERS)) | row_numbers \
        | {str(n) for n in range(1, len(pages) + 1)}
    meta = front(stem)
    for index, page_text in enumerate(pages):
        allowed = set(furniture)
        roles: list[str] = []
        if 1 <= index <= len(slides):
            title, body = slides[index - 1]
            assert " ".join(title.split()) in page_text or not GLUE_TEXT.search(title), (
                f"{stem}: slide {index + 1} is not {title!r}: {page_text[:80]!r}")
            roles = GLUE_TEXT.findall(body)
            allowed |= set(re.findall(r"\d+", " ".join(MATH.findall(body))))   # subscripts too
        elif index == 0:
            roles = GLUE_TEXT.findall(str(meta.get("subtitle", "")))
        elif index == len(pages) - 1:
            roles = GLUE_TEXT.findall(str(meta.get("next", "")))
        values = [expected(build, stem, role) for role in roles]
        for role, value in zip(roles, values):
            assert " ".join(value.split()) in page_text, (
                f"{stem}, slide {index + 1}: {{glue:text}}`{role}` is {value!r} in this build, not on the slide: {page_text!r}")
            allowed |= number_tokens(value)
        stray = number_tokens(page_text) - allowed
        assert not stray, (f"{stem}, slide {index + 1}: numbers {sorted(stray)} are on the slide but are neither "
                           f"a glued value of the chapter nor the deck's furniture: {page_text!r}")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_the_page_shows_the_deck_viewer_and_the_audio_card(site, built, chapter):
    page = (site / "book" / "chapters" / f"{chapter.stem}.html").read_text(encoding="utf-8")
    stem = chapter.stem
    assert f'class="tt-overview tt-deck" data-stem="{stem}"' in page, f"{stem}: no slide viewer"
    assert f'href="../../overview/{stem}.pdf" download' in page, f"{stem}: no download link"
    assert f'data-script="../../overview/{stem}.pdf.js"' in page
    assert 'class="tt-overview tt-audio-card"' in page and "Audio overview" in page
    assert '<details class="tt-transcript"><summary>Transcript</summary>' in page, f"{stem}: no transcript"
    for script in ("pdfjs/pdf.worker.min.js", "pdfjs/pdf.min.js", "tinytorch_overview.js"):
        assert f"_static/{script}" in page, f"{stem}: {script} is not loaded"
    assert (built / f"{stem}.pdf.js").stat().st_size > (built / f"{stem}.pdf").stat().st_size


# ---------------------------------------------------------------- the narration

@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_the_transcript_is_the_script_with_the_glued_values(site, built, chapter):
    stem, build = chapter.stem, site.parent
    source = (SCRIPTS / f"{stem}.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", source) if p.strip()]
    roles = GLUE_TEXT.findall(source)
    values = {role: expected(build, stem, role) for role in roles}
    want = GLUE_TEXT.sub(lambda m: values[m[1]], "\n\n".join(paragraphs)) + "\n"
    transcript = (built / f"{stem}.txt").read_text(encoding="utf-8")
    assert transcript == want, f"{stem}: the transcript is not the script with this build's glued values"
    stray = number_tokens(transcript) - set().union(*(number_tokens(v) for v in values.values()))
    assert not stray, f"{stem}: the transcript says {sorted(stray)}, which the chapter did not glue"
    page = (site / "book" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
    first = paragraphs[0]

    assert html.escape(GLUE_TEXT.sub(lambda m: values[m[1]], first)) in page, (
        f"{stem}: the transcript is not on the page")


def _speech(built: Path) -> bool:
    return any(json.loads(p.read_text()).get("audio") for p in built.glob("*.json"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_every_chapter_has_its_audio(site, built, chapter):
    if not _speech(built):
        pytest.skip("the build had no speech engine (Festival + LAME; `make speech` installs it): no audio to check")
    stem = chapter.stem
    audio = manifest(built, stem)["audio"]
    assert audio, f"{stem}: no audio although the engine was there"
    mp3 = built / f"{stem}.mp3"
    size = mp3.stat().st_size
    assert 0 < size < 2 * 1024 * 1024, f"{stem}: {size} bytes (at most 2 MB)"
    assert 120 <= audio["seconds"] <= 240, f"{stem}: {audio['seconds']:.0f} s (an overview is 2 to 4 minutes)"
    # Constant bit rate: the file's own length says how long it plays (ID3 tag and Xing frame aside).
    data = mp3.read_bytes()
    tag = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big") if data[:3] == b"ID3" else 0
    from_size = (size - tag) * 8 / 40_000
    assert abs(from_size - audio["seconds"]) < 1.0, f"{stem}: the MP3 plays {from_size:.1f} s, the speech was {audio['seconds']} s"
    page = (site / "book" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
    assert f'src="../../overview/{stem}.mp3" data-duration="{audio["seconds"]}"' in page


# ---------------------------------------------------------------- tools/overview.py on its own (no build)

@pytest.fixture(scope="module")
def overview():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("overview", REPO_ROOT / "tools" / "overview.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("overview", module)
    spec.loader.exec_module(module)
    return module


def test_a_deck_parses_into_slides(overview):
    meta, slides = overview.parse_deck("---\nsubtitle: Sub\n---\n\n## One\n\n- a bullet\n  continued\n"
                                       "$$x^2$$\n\nSome text\non two lines.\n\n## Two\n\n{glue:figure}`fig`\n", "deck")
    assert meta == {"subtitle": "Sub"}
    assert [s.title for s in slides] == ["One", "Two"]
    assert slides[0].items == [("bullet", "a bullet continued"), ("math", "x^2"), ("text", "Some text on two lines.")]
    assert slides[1].items == [("figure", "fig")]
    for bad, why in (("text first\n## A\n- b\n", "before the first"), ("## A\n", "empty"),
                     ("## A\n$$x\n", "one line"), ("## A\n{glue:figure}`a`\n{glue:figure}`b`\n", "more than one")):
        with pytest.raises(overview.OverviewError, match=why):
            overview.parse_deck(bad, "deck")


def test_an_unknown_glue_key_names_itself(overview, tmp_path):
    deck = tmp_path / "deck.md"
    deck.write_text("## A\n\n- {glue:text}`known:.1f` and {glue:text}`never_glued`\n")
    job = {"deck": str(deck), "script": str(tmp_path / "none.txt")}
    with pytest.raises(overview.OverviewError, match="never_glued"):
        overview.glue_values(job, {"known": {"text/plain": "1.25"}})
    deck.write_text("## A\n\n- {glue:text}`known:.1f`\n")
    assert overview.glue_values(job, {"known": {"text/plain": "1.25"}}) == {"known:.1f": "1.2"}


def test_the_voice_reads_what_the_transcript_writes(overview):
    said = overview.spoken("NumPy gives inf, -inf and nan; 2.2e-08 is small; `tito` runs ReLU.")
    assert said == ("num pie gives infinity, minus infinity and not a number; 2.2 times ten to the minus 8 "
                    "is small; tee toe runs rel you.")
