"""The built site (_build/html, written by the strict build that `make test` runs before pytest).

Nothing is executed here: the chapters' sources say what the pages must contain (every chapter a
page, every `{glue:text}` role a pasted value, every `{glue:figure}` an image), and every page is
scanned for what must never reach a reader: leftover `{glue` text, a glue-lookup failure, raw
NumPy scalar or object reprs, and internal links or assets that point nowhere.

Without a built site these tests fail (they do not skip): run `make test`, or
`.venv/bin/python tools/build_book.py`, first. TINYTORCH_SITE=/path/to/html points them at another
build (a copy, a build made with `tools/build_book.py ROOT --output DIR`).
"""
from __future__ import annotations

import functools
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from myst_text import blank_blocks

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO_ROOT / "book" / "chapters").glob("*.md"))
PAGES_SOURCES = [REPO_ROOT / "book" / "intro.md", *CHAPTERS]

# Reprs that mean a value was glued or printed without formatting it for a reader.
RAW_REPRS = ("np.float64(", "np.float32(", "np.int64(", "np.int32(", "np.bool_(", "<tinytorch.",
             "object at 0x")
# How myst-nb reports a missing key when the build is not strict (utils.retrieve_glue_data).
GLUE_FAILURE = re.compile(r"No key .{0,120}? found in glue data|Glue reference .{0,120}? not found")
GLUE_TEXT_ROLE = re.compile(r"\{glue:text\}`([^`]+)`")
ANY_GLUE_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`[^`]+`")
GLUE_FIGURE = re.compile(r"^(`{3,}|:{3,})\{glue:figure\}[ \t]+(\S+)[ \t]*\n((?:[ \t]*:[\w-]+:.*\n)*)",
                         re.MULTILINE)


def page_for(html_dir: Path, source: Path) -> Path:
    return html_dir / source.relative_to(REPO_ROOT).with_suffix(".html")


CODE_DIRECTIVES = ("{code-cell}", "{code-block}", "{code}", "{sourcecode}", "{mermaid}", "{math}",
                   "{raw}", "{literalinclude}")


def _is_code(fence: str, info: str) -> bool:
    return fence[0] != ":" and (not info.startswith("{") or info.startswith(CODE_DIRECTIVES))


def prose_of(text: str) -> str:
    """Markdown with every code block removed (code cells, ```python, {mermaid}, ...) but the
    prose inside directives kept (admonitions, dropdowns, tabs, figure captions), and without
    ``literal`` spans, which is where a chapter shows a glue role as an example instead of using it."""
    return re.sub(r"``.+?``", "", blank_blocks(text, _is_code), flags=re.DOTALL)


def prose(source: Path) -> str:
    return prose_of(source.read_text())


def glue_text_roles(text: str) -> list[tuple[str, str]]:
    """(key, format spec) of every {glue:text} role in the prose, in document order."""
    return [(key, spec) for key, _, spec in
            (role.partition(":") for role in GLUE_TEXT_ROLE.findall(prose_of(text)))]


class Page(HTMLParser):
    """One pass over a page: links, element ids, pasted glue values, figures, and the text a reader
    sees outside code cells' input (where a repr would be a bug rather than the code being shown)."""

    SKIP_TEXT = {"script", "style"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []   # (tag.attr, url)
        self.ids: set[str] = set()
        self.pasted_text: list[str] = []
        self.figures: list[dict] = []             # {"id": ..., "imgs": [src, ...]}
        self.reader_text: list[str] = []
        self._stack: list[tuple[str, set[str]]] = []
        self._pasted: list[str] | None = None
        self._pasted_depth = 0
        self.feed(text)
        self.close()

    def _inside(self, cls: str) -> bool:
        return any(cls in classes for _, classes in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append((f"{tag}.{key}", attrs[key]))
        if tag == "figure":
            self.figures.append({"id": attrs.get("id"), "imgs": []})
        if tag == "img" and any(t == "figure" for t, _ in self._stack) and self.figures:
            self.figures[-1]["imgs"].append(attrs.get("src", ""))
        if tag in self.VOID:
            return
        self._stack.append((tag, classes))
        if self._pasted is not None:
            self._pasted_depth += 1
        elif tag == "span" and "pasted-text" in classes:
            self._pasted, self._pasted_depth = [], 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        # Pop to the matching open tag (HTML in the wild is not always perfectly nested).
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                closed = len(self._stack) - index
                del self._stack[index:]
                break
        else:
            return
        if self._pasted is not None:
            self._pasted_depth -= closed
            if self._pasted_depth <= 0:
                self.pasted_text.append("".join(self._pasted).strip())
                self._pasted = None

    def handle_data(self, data):
        if self._pasted is not None:
            self._pasted.append(data)
        if any(tag in self.SKIP_TEXT for tag, _ in self._stack) or self._inside("cell_input"):
            return
        # Inline ``code`` in the prose is the author showing code, not a value: skip it too.
        if any(tag == "code" for tag, _ in self._stack):
            return
        self.reader_text.append(data)


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def site_pages(html_dir: Path) -> list[Path]:
    """Every page a reader can reach (the theme's template fragments under _static are not pages)."""
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts)


def ids(source: Path) -> str:
    return source.relative_to(REPO_ROOT).as_posix()


def test_there_are_chapters():
    assert CHAPTERS, "book/chapters/ holds no chapter"


@pytest.mark.parametrize("source", PAGES_SOURCES, ids=ids)
def test_every_chapter_has_a_page(site, source):
    page = page_for(site, source)
    assert page.exists(), f"{source.name} has no page at {page.relative_to(site)}"
    assert "<h1" in page.read_text(encoding="utf-8"), f"{page.name} has no title"


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_every_glued_value_is_on_the_page(site, source):
    page_path = page_for(site, source)
    assert page_path.exists(), f"no page for {source.name}"
    text = page_path.read_text(encoding="utf-8")
    page = parse(page_path)
    visible = html.unescape("".join(page.reader_text))
    assert "{glue" not in visible, f"{page_path.name}: a glue role was not rendered"
    leftover = GLUE_FAILURE.search(html.unescape(text))
    assert leftover is None, f"{page_path.name}: {leftover and leftover.group(0)}"
    roles = GLUE_TEXT_ROLE.findall(prose(source))
    assert len(page.pasted_text) >= len(roles), (
        f"{page_path.name}: {len(roles)} {{glue:text}} roles in {source.name} but only "
        f"{len(page.pasted_text)} pasted values on the page: {page.pasted_text}")
    empty = [role for role, value in zip(roles, page.pasted_text) if not value]
    assert not empty, f"{page_path.name}: empty pasted values: {empty}"
    for value in page.pasted_text:
        assert not any(bad in value for bad in RAW_REPRS), f"{page_path.name}: pasted {value!r}"


def test_glue_roles_are_counted_from_the_prose_only():
    """The counting above must see real roles (also inside admonitions and tabs) and ignore code."""
    chapter = ("A {glue:text}`a:.2f` and {glue:text}`b`.\n\n"
               "```{code-cell} ipython3\nprint('{glue:text}`c`')\n```\n\n"
               "Cite with `` {glue:text}`key:.3f` ``.\n\n"
               "```{admonition} Answer\n:class: dropdown\nIt is {glue:text}`d:,`.\n```\n\n"
               "`````{tab-set}\n````{tab-item} One\n{glue:text}`e`\n```python\nx = '{glue:text}`f`'\n```\n"
               "````\n`````\n\n```\n{glue:text}`g`\n```\n\n:::{note}\n{glue:text}`h`\n:::\n")
    assert glue_text_roles(chapter) == [("a", ".2f"), ("b", ""), ("d", ","), ("e", ""), ("h", "")]


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_every_glued_figure_is_an_image_that_exists(site, source):
    page_path = page_for(site, source)
    assert page_path.exists(), f"no page for {source.name}"
    page = parse(page_path)
    figures = GLUE_FIGURE.findall(source.read_text())
    with_images = [f for f in page.figures if f["imgs"]]
    assert len(with_images) >= len(figures), (
        f"{page_path.name}: {len(figures)} glue:figure directives, "
        f"{len(with_images)} figures with an image on the page")
    for _, key, options in figures:
        name = re.search(r":name:[ \t]*(\S+)", options)
        if name:
            match = [f for f in page.figures if f["id"] == name.group(1)]
            assert match and match[0]["imgs"], f"{page_path.name}: figure {key} (#{name.group(1)}) has no <img>"
    for figure in with_images:
        for src in figure["imgs"]:
            assert not src.startswith("data:") or len(src) > 1000, f"{page_path.name}: empty image"
            if not src.startswith("data:"):
                target = (page_path.parent / unquote(urlsplit(src).path)).resolve()
                assert target.is_file() and target.stat().st_size > 1000, (
                    f"{page_path.name}: figure image {src} is missing or empty")


def test_no_page_shows_raw_reprs(site):
    found = []
    for page_path in site_pages(site):
        text = "".join(parse(page_path).reader_text)
        for bad in RAW_REPRS:
            index = text.find(bad)
            if index >= 0:
                found.append(f"{page_path.relative_to(site)}: ...{text[max(0, index - 60):index + 60]!r}...")
    assert not found, "raw reprs on the site:\n" + "\n".join(found)


def test_no_page_shows_a_warning_or_other_stderr_output(site):
    """A cell that writes to stderr (a RuntimeWarning, a deprecation notice) shows it on the page,
    under the lesson: the build passes, the reader sees noise. No page may have one."""
    found = [str(page_path.relative_to(site)) for page_path in site_pages(site)
             if 'class="output stderr' in page_path.read_text(encoding="utf-8")]
    assert not found, "pages with a cell's stderr output: " + ", ".join(found)


def _is_internal(url: str) -> bool:
    parts = urlsplit(url)
    return not (parts.scheme or parts.netloc or url.startswith(("#", "//")) or not url.strip())


def test_no_broken_internal_links(site):
    broken = []
    pages = site_pages(site)
    assert pages
    for page_path in pages:
        for attr, url in parse(page_path).links:
            if not _is_internal(url):
                if url.startswith("#") and len(url) > 1 and attr == "a.href":
                    if unquote(url[1:]) not in parse(page_path).ids:
                        broken.append(f"{page_path.relative_to(site)}: {attr}={url} (no such id)")
                continue
            parts = urlsplit(url)
            target = (page_path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page_path.relative_to(site)}: {attr}={url} (no such file)")
            elif site.resolve() not in target.parents:
                broken.append(f"{page_path.relative_to(site)}: {attr}={url} (outside the site)")
            elif parts.fragment and target.suffix == ".html" and attr == "a.href":
                if unquote(parts.fragment) not in parse(target).ids:
                    broken.append(f"{page_path.relative_to(site)}: {attr}={url} (no such id)")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:50])


def test_the_front_page_redirects_to_the_landing_page(site):
    refresh = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', (site / "index.html").read_text(), re.I)
    assert refresh, "index.html does not redirect"
    assert (site / refresh.group(1)).is_file(), f"index.html redirects to missing {refresh.group(1)}"


def test_the_site_links_every_chapter_from_the_landing_page(site):
    intro = site / "book" / "intro.html"
    assert intro.exists()
    hrefs = {url.split("#")[0] for _, url in parse(intro).links}
    for source in CHAPTERS:
        assert f"chapters/{source.stem}.html" in hrefs, f"intro.html does not link {source.stem}"


# Figures of the pages that follow issue 20's figure rules (module 08's chapters and appendix):
# every `{glue:figure}` has a caption and alt text that describes the figure (not a file name),
# and the page's <img> carries that alt text.
DESCRIBED = [path for path in (*CHAPTERS, *sorted((REPO_ROOT / "book").glob("appendix_*.md")))
             if path.name.startswith("08_") or path.name == "appendix_training.md"]
FIGURE_BLOCK = re.compile(r"^(`{3,})\{glue:figure\}[ \t]+(\S+)[ \t]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def described_figures(text: str) -> list[tuple[str, str, str]]:
    """(key, alt text, caption) of every glue:figure of a chapter source."""
    found = []
    for _, key, body in FIGURE_BLOCK.findall(text):
        options = dict(re.findall(r"^:([\w-]+):[ \t]*(.*)$", body, re.MULTILINE))
        caption = " ".join(line for line in body.splitlines() if not re.match(r"^:[\w-]+:", line)).strip()
        found.append((key, options.get("alt", ""), caption))
    return found


def test_described_figures_are_read_from_the_source():
    text = "```{glue:figure} k\n:alt: A chart of x against y, rising.\n:name: fig-k\n\nThe caption.\n```\n"
    assert described_figures(text) == [("k", "A chart of x against y, rising.", "The caption.")]


@pytest.mark.parametrize("source", DESCRIBED, ids=ids)
def test_every_figure_has_a_caption_and_real_alt_text(source):
    figures = described_figures(source.read_text())
    for key, alt, caption in figures:
        assert len(alt.split()) >= 8 and "/" not in alt and not alt.endswith(".png"), (
            f"{source.name}: figure {key} needs alt text that describes it, got {alt!r}")
        assert len(caption.split()) >= 5, f"{source.name}: figure {key} has no caption"


@pytest.mark.parametrize("source", DESCRIBED, ids=ids)
def test_every_figure_on_the_page_carries_its_alt_text(site, source):
    from bs4 import BeautifulSoup

    figures = described_figures(source.read_text())
    page = BeautifulSoup(page_for(site, source).read_text(encoding="utf-8"), "html.parser")
    shown = [(img.get("alt", ""), " ".join(fig.find("figcaption").get_text().split()) if fig.find("figcaption") else "")
             for fig in page.find_all("figure") for img in fig.find_all("img")]
    assert len(shown) == len(figures), (source.name, len(shown), len(figures))
    for number, ((key, alt, _), (img_alt, caption)) in enumerate(zip(figures, shown), start=1):
        assert img_alt == alt, f"{source.name}: figure {key} shows alt {img_alt!r}"
        assert caption, f"{source.name}: figure {key} has no caption on the page"
        # numbered from 1 on every page (tools/sphinx_tinytorch.py), not through the book
        assert caption.startswith(f"Fig. {number} "), f"{source.name}: figure {key} is captioned {caption[:12]!r}"
