"""The strict book build (tools/build_book.py) on tiny throw-away books that use the real _config.yml.

Each tiny build starts a kernel and takes a few seconds; they are marked slow but run in `make test`.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

CHAPTER_HEAD = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---
"""

GOOD_CHAPTER = CHAPTER_HEAD + """# A good chapter

```{code-cell} ipython3
:tags: [remove-cell]
from myst_nb import glue
glue("answer", 6 * 7 + 0.25, display=False)
```

The answer is {glue:text}`answer:.2f`, and $e^{i\\pi} + 1 = 0$.

```{mermaid}
flowchart LR
    a --> b
```
"""

RAISING_CHAPTER = CHAPTER_HEAD + """# A broken chapter

```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
raise ValueError("chapter-cell-is-broken")
```
"""

UNGLUED_CHAPTER = CHAPTER_HEAD + """# A chapter citing a number nobody computed

```{code-cell} ipython3
:tags: [remove-cell]
from myst_nb import glue
glue("present", 1.5, display=False)
```

Present: {glue:text}`present:.1f`. Missing: {glue:text}`never_glued_key`.
"""

TINY_TOC = """format: jb-book
root: book/intro
chapters:
  - glob: book/chapters/*
"""


def load_build_book(repo_root: Path):
    spec = importlib.util.spec_from_file_location("build_book", repo_root / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_book", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_book(tmp_path: Path, repo_root: Path):
    """make(chapter_text or None) -> root of a book with the real _config.yml and one chapter."""

    def make(chapter: str | None) -> Path:
        root = tmp_path / "book_root"
        (root / "book" / "chapters").mkdir(parents=True)
        shutil.copy(repo_root / "_config.yml", root / "_config.yml")
        (root / "tools").mkdir()
        shutil.copy(repo_root / "tools" / "sphinx_tinytorch.py", root / "tools")  # local extension
        shutil.copy(repo_root / "tools" / "overview.py", root / "tools")          # its slides and audio
        shutil.copytree(repo_root / "tools" / "static", root / "tools" / "static")
        (root / "_toc.yml").write_text(TINY_TOC)
        (root / "book" / "intro.md").write_text("# Tiny book\n\nA landing page.\n")
        if chapter is not None:
            (root / "book" / "chapters" / "01_demo.md").write_text(chapter)
        return root

    return make


def build(run_tool, root: Path, *args: str, env: dict | None = None):
    result = run_tool("build_book.py", root, *args, timeout=240, env=env)
    return result, result.stdout + result.stderr


@pytest.mark.slow
def test_good_chapter_builds_with_glued_numbers_and_offline_assets(run_tool, tiny_book, tmp_path):
    root = tiny_book(GOOD_CHAPTER)
    stale = root / "_build" / ".jupyter_cache" / "stale-entry"
    stale.parent.mkdir(parents=True)
    stale.write_text("left over from an earlier build")
    output = tmp_path / "out"
    result, log = build(run_tool, root, "--output", output)
    assert result.returncode == 0, log[-4000:]
    assert not stale.exists(), "the build must clear <root>/_build/.jupyter_cache first"
    html_dir = output / "_build" / "html"
    assert str(html_dir / "index.html") in log
    page = (html_dir / "book" / "chapters" / "01_demo.html").read_text()
    assert re.search(r"answer is <span[^>]*>42\.25</span>", page), "glued value missing from the page"
    assert "{glue" not in page
    # Mermaid and MathJax come from the site itself, not from a CDN; mermaid is a classic script
    # (no module import, which file:// pages cannot do).
    assert re.search(r'<script[^>]*src="\.\./\.\./_static/mermaid/mermaid\.min\.js', page)
    assert "const mermaid = window.mermaid;" in page and "import mermaid from" not in page
    assert re.search(r'<script[^>]*src="\.\./\.\./_static/mathjax/tex-mml-chtml\.js', page)
    assert (html_dir / "_static" / "mermaid" / "mermaid.min.js").stat().st_size > 1_000_000
    assert (html_dir / "_static" / "mathjax" / "tex-mml-chtml.js").stat().st_size > 100_000
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", page):
        assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), f"external asset: {tag}"
    # Each inline script once: a second `const THEBE_JS_URL` is a SyntaxError in the browser.
    assert page.count("const THEBE_JS_URL") == 1
    # The glob toc picked the chapter up: the landing page links to it.
    assert 'href="chapters/01_demo.html"' in (html_dir / "book" / "intro.html").read_text()
    # Binder launch button opens the chapter in JupyterLab.
    assert "https://mybinder.org/v2/gh/" in page and "urlpath=lab/tree/book/chapters/01_demo.md" in page


@pytest.mark.slow
def test_a_cell_that_raises_fails_the_build_and_names_the_error(run_tool, tiny_book):
    # Built without -W (--lenient): `execute.raise_on_error` in _config.yml makes the failure fatal
    # on its own; the strict build adds -W on top (test_build_flags_are_the_strict_ones).
    result, log = build(run_tool, tiny_book(RAISING_CHAPTER), "--lenient")
    assert result.returncode != 0
    assert "chapter-cell-is-broken" in log and "ValueError" in log
    assert "01_demo" in log


@pytest.mark.slow
def test_an_unknown_glue_key_fails_the_build(run_tool, tiny_book):
    result, log = build(run_tool, tiny_book(UNGLUED_CHAPTER))
    assert result.returncode != 0
    assert "never_glued_key" in log


@pytest.mark.slow
def test_a_book_with_no_chapters_yet_builds(run_tool, tiny_book):
    result, log = build(run_tool, tiny_book(None))
    assert result.returncode == 0, log[-4000:]


def test_build_flags_are_the_strict_ones(repo_root):
    build_book = load_build_book(repo_root)
    command = build_book.build_command(repo_root)
    for flag in ("-W", "-n", "--keep-going", "--all"):
        assert flag in command
    assert "-W" not in build_book.build_command(repo_root, strict=False)


def test_config_executes_everything_and_fails_on_errors(repo_root):
    config = yaml.safe_load((repo_root / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] in {"force", "cache"}
    assert config["execute"]["raise_on_error"] is True
    assert config["execute"]["allow_errors"] is False
    excluded = set(config["exclude_patterns"])
    for pattern in (".*", "**/.*", ".venv", "_build", "src", "tests", "bench", "tools",
                    "requirements", "binder", "README.md", "DESIGN.md"):
        assert pattern in excluded, pattern
    extensions = config["sphinx"]["extra_extensions"]
    assert "sphinx_design" in extensions and "sphinxcontrib.mermaid" in extensions
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert config["html"]["use_repository_button"] is True


def test_config_points_at_the_vendored_assets(repo_root):
    build_book = load_build_book(repo_root)
    sphinx = yaml.safe_load((repo_root / "_config.yml").read_text())["sphinx"]["config"]
    assets = {asset.name: asset for asset in build_book.ASSETS}
    assert sphinx["html_static_path"] == [build_book.VENDOR_DIR.as_posix()]
    assert sphinx["mermaid_use_local"] == f"mermaid/{assets['mermaid'].entry}"
    assert sphinx["mermaid_version"] == assets["mermaid"].version
    assert sphinx["mathjax_path"] == f"mathjax/{assets['mathjax'].entry}"


def test_toc_globs_the_chapter_folder(repo_root):
    toc = yaml.safe_load((repo_root / "_toc.yml").read_text())
    assert toc["root"] == "book/intro"
    assert {"glob": "book/chapters/*"} in toc["chapters"]


def test_built_site_loads_no_external_scripts(site):
    """Reads the built site: through the `site` fixture, so `make test` runs it once the build is
    done, never beside the build while it deletes and writes the pages."""
    html_dir = site
    pages = sorted(html_dir.rglob("*.html"))
    assert (html_dir / "book" / "intro.html") in pages
    for page in pages:
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", page.read_text()):
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), f"{page.name}: {tag}"
    intro = (html_dir / "book" / "intro.html").read_text()
    assert re.search(r'<pre\s+class="mermaid">', intro)
    assert (html_dir / "_static" / "mermaid" / "mermaid.min.js").exists()
    for page in pages:
        assert page.read_text().count("const THEBE_JS_URL") <= 1, page.name


DECK = """---
subtitle: A deck for a chapter with no code
---

## The point

- A deck builds without the speech engine
"""

SCRIPT = """This sentence would be spoken, if the build had a voice.
"""

NO_CODE_CHAPTER = "# A chapter with no code\n\nNothing to execute, so no kernel starts.\n"


@pytest.mark.slow
def test_a_chapter_without_its_deck_fails_the_strict_build(run_tool, tiny_book):
    root = tiny_book(NO_CODE_CHAPTER)
    (root / "book" / "slides").mkdir()          # the book uses decks: every chapter needs one
    result, log = build(run_tool, root)
    assert result.returncode != 0
    assert "book/slides/01_demo.md" in log and "book/audio/01_demo.txt" in log


@pytest.mark.slow
def test_a_deck_and_a_script_build_without_the_speech_engine(run_tool, tiny_book, tmp_path):
    """No engine: the deck and the transcript are built, the log says so once, the card says how.
    (That decks take the chapter's glued values is checked on the real book: test_overview.py.)"""
    root = tiny_book(NO_CODE_CHAPTER)
    (root / "book" / "slides").mkdir()
    (root / "book" / "audio").mkdir()
    (root / "book" / "slides" / "01_demo.md").write_text(DECK)
    (root / "book" / "audio" / "01_demo.txt").write_text(SCRIPT)
    result, log = build(run_tool, root, env={**os.environ, "TINYTORCH_SPEECH": "off"})
    assert result.returncode == 0, log[-4000:]
    assert log.count("no speech engine here") == 1, "the build must say once that the engine is missing"
    html_dir = root / "_build" / "html"
    page = (html_dir / "book" / "chapters" / "01_demo.html").read_text()
    assert "apt-get install festival festvox-us-slt-hts lame" in page
    assert "This sentence would be spoken, if the build had a voice." in page      # the transcript
    assert 'class="tt-overview tt-deck" data-stem="01_demo"' in page
    from pypdf import PdfReader

    pages = [p.extract_text() for p in PdfReader(str(html_dir / "overview" / "01_demo.pdf")).pages]
    assert len(pages) == 2 and "A chapter with no code" in pages[0] and "A deck builds without" in pages[1]
    assert not (html_dir / "overview" / "01_demo.mp3").exists()


FAKE_NPM = """#!{python}
# A stand-in for `npm pack SPEC --pack-destination DIR`: copies a prepared tarball into DIR in
# small pieces with pauses, as a slow download would, so that two builds overlap.
import sys, time
from pathlib import Path
destination = Path(sys.argv[sys.argv.index("--pack-destination") + 1])
data = Path({source!r}).read_bytes()
with open(destination / {name!r}, "wb") as out:
    for start in range(0, len(data), len(data) // 20 + 1):
        out.write(data[start:start + len(data) // 20 + 1])
        out.flush()
        time.sleep(0.02)
"""

VENDOR_ONE = """import sys
from pathlib import Path
sys.path.insert(0, {tools!r})
import build_book
asset = build_book.Asset(name="demo", version="1.0.0", integrity={integrity!r}, prefix="dist/",
                         entry="demo.js")
build_book.ASSETS = (asset,)
build_book.vendor_assets(Path(sys.argv[1]), downloads=Path({downloads!r}))
"""


def test_builds_fetching_the_same_asset_at_once_never_read_a_half_written_tarball(tmp_path, repo_root):
    """`make test` runs the strict build beside tests that build tiny books, and all of them fetch
    into one downloads folder. Three builds fetching one (slowly written) tarball at once each end
    with the whole, verified file unpacked."""
    import base64
    import hashlib
    import io
    import subprocess
    import tarfile
    import time

    payload = os.urandom(600_000)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("package/dist/demo.js")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    source = tmp_path / "prepared.tgz"
    source.write_bytes(buffer.getvalue())
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM.format(python=sys.executable, source=str(source), name="demo-1.0.0.tgz"))
    npm.chmod(0o755)
    script = tmp_path / "vendor_one.py"
    downloads = tmp_path / "downloads"
    script.write_text(VENDOR_ONE.format(tools=str(repo_root / "tools"), integrity=integrity,
                                        downloads=str(downloads)))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    builds = []
    for i in range(3):     # each starts while the one before is halfway through its download
        builds.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / f"book{i}")],
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True))
        time.sleep(0.25)
    outputs = [build.communicate(timeout=60)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0, 0], outputs
    assert (downloads / "demo-1.0.0.tgz").read_bytes() == buffer.getvalue()
    assert [path.name for path in downloads.iterdir()] == ["demo-1.0.0.tgz"], "a private folder was left"
    for i in range(3):
        assert (tmp_path / f"book{i}" / "_build" / "_vendor" / "demo" / "demo.js").read_bytes() == payload
