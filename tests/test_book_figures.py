"""Figures on the built site (issue 20, "Figures and layout"): every image says what it shows, every
figure has a caption, and figure numbers start at 1 on every page.

- Every `<img>` has alt text, and the alt text is not a file name or path (which is what a
  `{glue:figure}` without `:alt:` gets: a screen reader would read out a hash). An image of the
  book's own (a chapter's plot, under `_images/`) says what it shows in a sentence, at least
  MIN_ALT_WORDS words; the theme's icons ("Binder logo") only need a name.
- Every `<figure>` has a caption with text besides its number, and every plot a chapter shows sits
  in one: a plot printed by a cell, with no caption, fails.
- The numbers ("Fig. 1", "Fig. 2", ...) count from 1 on each page, in page order
  (tools/sphinx_tinytorch.py, part 5; `_config.yml` sets `numfig` and `tinytorch_numfig_per_page`).
- "Build it yourself" shows the clone command with the repository's address from `_config.yml`.

Reads the site written by the strict build, as test_book_html.py does (TINYTORCH_SITE points it
at another build).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = [REPO_ROOT / "book" / "intro.md", REPO_ROOT / "book" / "build_it_yourself.md",
           *sorted((REPO_ROOT / "book" / "chapters").glob("*.md"))]
MIN_ALT_WORDS = 5
PATH_LIKE = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|gif|svg|webp|pdf)$|^\.\.?/|_images/", re.IGNORECASE)
FIG_NUMBER = re.compile(r"^Fig\.\s*(\d+(?:\.\d+)*)")


class Figures(HTMLParser):
    """Every image (src, alt, inside a figure or not) and every figure (caption text, number)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []
        self.figures: list[dict] = []
        self._stack: list[str] = []
        self._figure: dict | None = None
        self._caption_depth: int | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append({"src": attrs.get("src") or "", "alt": attrs.get("alt"),
                                "in_figure": "figure" in self._stack})
            return
        if tag in self.VOID:
            return
        self._stack.append(tag)
        if tag == "figure":
            self._figure = {"id": attrs.get("id"), "caption": "", "number": None}
            self.figures.append(self._figure)
        elif tag == "figcaption" and self._figure is not None:
            self._caption_depth = len(self._stack)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID or tag not in self._stack:
            return
        while self._stack:
            if self._caption_depth is not None and len(self._stack) <= self._caption_depth:
                self._caption_depth = None
            if self._stack.pop() == tag:
                break
        if tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._caption_depth is not None and self._figure is not None:
            self._figure["caption"] += data


def page_for(site: Path, source: Path) -> Path:
    return site / source.relative_to(REPO_ROOT).with_suffix(".html")


def parsed(site: Path, source: Path) -> Figures:
    page = page_for(site, source)
    assert page.exists(), f"{source.name} has no page at {page}"
    return Figures(page.read_text(encoding="utf-8"))


def caption_parts(caption: str) -> tuple[str | None, str]:
    """("3", "the caption's text") from "Fig. 3 The caption's text" (number None when there is none)."""
    text = " ".join(caption.split())
    match = FIG_NUMBER.match(text)
    return (match[1], text[match.end():].strip()) if match else (None, text)


def ids(source: Path) -> str:
    return source.relative_to(REPO_ROOT).as_posix()


def test_the_parser_finds_images_captions_and_numbers():
    page = Figures('<p><img src="../_static/logo.svg" alt="Binder logo"></p>'
                   '<figure class="align-default" id="fig-a"><img alt="../../_images/abc.png" '
                   'src="../../_images/abc.png" /><figcaption><p><span class="caption-number">Fig. 2 '
                   '</span><span class="caption-text">Loss <em>against</em> logit.</span></p>'
                   '</figcaption></figure><img src="../../_images/d.png">')
    assert [(i["alt"], i["in_figure"]) for i in page.images] == [
        ("Binder logo", False), ("../../_images/abc.png", True), (None, False)]
    assert [caption_parts(f["caption"]) for f in page.figures] == [("2", "Loss against logit.")]
    assert PATH_LIKE.search("../../_images/abc.png") and PATH_LIKE.search("plot.PNG")
    assert not PATH_LIKE.search("Bar chart of each step's time, at batch sizes 16 and 64.")


@pytest.mark.parametrize("source", SOURCES, ids=ids)
def test_every_image_has_real_alt_text(site, source):
    page = parsed(site, source)
    bad = []
    for image in page.images:
        alt = " ".join((image["alt"] or "").split())
        src = image["src"]
        if not alt:
            bad.append(f"{src}: no alt text")
        elif PATH_LIKE.search(alt) or alt == src or alt == src.rsplit("/", 1)[-1]:
            bad.append(f"{src}: the alt text is a file name, {alt!r}")
        elif "_images/" in src and len(alt.split()) < MIN_ALT_WORDS:
            bad.append(f"{src}: the alt text {alt!r} does not say what the figure shows")
    assert not bad, (f"{source.name}: images without real alt text (give each `{{glue:figure}}` an "
                     "`:alt:` sentence saying what it shows):\n" + "\n".join(bad))


@pytest.mark.parametrize("source", SOURCES, ids=ids)
def test_every_figure_has_a_caption(site, source):
    page = parsed(site, source)
    bare = [f"figure #{f['id']}" for f in page.figures if not caption_parts(f["caption"])[1]]
    loose = [i["src"] for i in page.images if "_images/" in i["src"] and not i["in_figure"]]
    assert not bare, f"{source.name}: figures without a caption: {bare}"
    assert not loose, (f"{source.name}: plots shown outside a figure, so without a caption (glue "
                       f"them and show them with `{{glue:figure}}` and a caption): {loose}")


@pytest.mark.parametrize("source", SOURCES, ids=ids)
def test_figure_numbers_start_at_one_on_every_page(site, source):
    numbers = [caption_parts(f["caption"])[0] for f in parsed(site, source).figures]
    numbered = [n for n in numbers if n is not None]
    assert numbered == [str(i) for i in range(1, len(numbered) + 1)], (
        f"{source.name}: figure numbers {numbered}; each page counts its own figures from 1")
    assert len(numbered) == len(numbers), f"{source.name}: some figures have no number: {numbers}"


def test_the_clone_command_shows_the_configured_repository(site):
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    name = url.removesuffix(".git").rsplit("/", 1)[-1]
    page = page_for(site, REPO_ROOT / "book" / "build_it_yourself.md").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    assert f"git clone {url} &amp;&amp; cd {name}" in text or f"git clone {url} && cd {name}" in text, (
        "Build it yourself does not show `git clone <repository.url>` with _config.yml's address")
    assert "repository.url" in text and "_config.yml" in text, "the page does not say where the setting lives"
    assert "&lt;this repository&gt;" not in text and "{{ repository" not in text
