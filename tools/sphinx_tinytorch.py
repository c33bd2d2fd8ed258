"""Sphinx extension with the book's page fixes and the learner's chapter furniture (loaded from
_config.yml, sphinx.local_extensions).

1. Offline mermaid that also works from file:// pages.

sphinxcontrib-mermaid adds to each page with a diagram an inline `<script type="module">` that
starts with `import mermaid from "<url>";`. Browsers refuse module imports on pages opened from
disk (file://), so a reader who opens `_build/html/index.html` directly would see no diagrams.
This extension (loaded after sphinxcontrib.mermaid) rewrites that script to use `window.mermaid`
and adds, just before it, the classic (non-module) build of mermaid named by `mermaid_use_local`
(`mermaid.min.js`, vendored by tools/build_book.py). Classic scripts load from file:// and from
a server alike. If the script it expects is not there, the build stops instead of shipping pages
whose diagrams silently fail.

2. No duplicated inline scripts. Under Jupyter Book 1 some extensions (sphinx-thebe,
sphinx-togglebutton) register their inline configuration scripts twice, and a second
`const THEBE_JS_URL = ...` is a SyntaxError in the browser console on every page. Identical
scripts are kept once.

3. The learner's header and "Your turn" (issue 9). For each chapter `book/chapters/NN_name.md`
whose module has a row in `book/modules.yml` (tier, difficulty, time, prerequisites), the source
is extended as Sphinx reads it (the .md file itself is not touched): after the title, a module-info
box and four cards (build it in Binder: the student notebook; open it in Colab: the student
notebook; run this chapter in Binder; view the source); at the end, a "Your turn" section listing
the functions to write (read from the module's solution blocks in src/, with the section each
hint names) and the `tito` commands that check them. A module whose row lists several chapters
(`chapters:`) has each function listed in the chapter that holds the section its hint names, and
the others named with a link to their chapter. A page whose source holds the line
`% tinytorch: modules table` gets the table of every module there (the "Build it yourself" page).
A chapter whose module exists in src/ but has no row fails the build (a warning), so a new
module's chapter cannot silently lack its header.

4. Slides and audio (issue 21). When the book has a `book/slides/` folder, every chapter gets, in
its header, an "Audio overview" card (a player, the duration, the transcript one click away) and a
slide viewer (pdf.js: previous/next, page x of N, zoom, progress bar, fullscreen, download). As
soon as a chapter has been executed (`doctree-read`), its job (tools/overview.py) starts in the
background with the values the chapter glued in this build; the jobs are collected before any page
is written (`env-updated`). A chapter without its deck (`book/slides/NN_name.md`) or script
(`book/audio/NN_name.txt`), a deck or audio that came out missing or empty, or a glue key the
chapter does not have fails the strict build. A machine without the speech engine gets the decks,
one line in the log saying how to get the audio, and a card that says the same.

5. Figure numbers start at 1 on every page (issue 20). Sphinx numbers figures through the whole
book unless the table of contents is numbered, and a numbered table of contents would number every
heading too (the chapters carry their own numbers). With `tinytorch_numfig_per_page` (on by
default; `_config.yml` sets it), the numbers Sphinx assigned are renumbered page by page, in the
order Sphinx counted them, after Sphinx assigned them (`env-get-updated`): chapter 04's first
figure is "Fig. 1", whatever the chapters before it hold. A `{numref}` to a figure on another page
shows that page's number.

6. The repository's address in the prose. `{{ repository_url }}` and `{{ repository_name }}` in a
page (code blocks included, where MyST's own substitutions do not reach) become `repository.url`
of `_config.yml` and its last part, so "Build it yourself" shows the clone command with the one
setting the launch cards are built from.
"""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

LOGGER = logging.getLogger(__name__)
MODULES_TABLE = "book/modules.yml"
TABLE_MARKER = "% tinytorch: modules table"
CHAPTER = re.compile(r"^book/chapters/(\d\d_[a-z0-9_]+)$")

IMPORT = re.compile(r'import mermaid from "[^"]*";')


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {})
    # The same inline script is registered once with filename None and once with "".
    return (getattr(script, "filename", str(script)) or None, tuple(sorted(attributes.items())))


def _fix_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            unique.append(script)
    scripts[:] = unique
    local = app.config.mermaid_use_local
    for index, script in enumerate(list(scripts)):
        body = script.attributes.get("body", "") if hasattr(script, "attributes") else ""
        if "mermaid.initialize" not in body:
            continue
        if not local or not local.endswith(".min.js"):
            raise ExtensionError("sphinx_tinytorch: set mermaid_use_local to the vendored mermaid.min.js")
        if not IMPORT.search(body):
            raise ExtensionError(f"sphinx_tinytorch: {pagename}: unexpected mermaid loader script; "
                                 "sphinxcontrib-mermaid changed, update tools/sphinx_tinytorch.py")
        attributes = dict(script.attributes)
        attributes["body"] = IMPORT.sub("const mermaid = window.mermaid;", body, count=1)
        priority = script.priority
        scripts[index] = type(script)(None, priority=priority, **attributes)
        # Deferred classic scripts and module scripts run in document order: mermaid first.
        app.builder.add_js_file(local, priority=priority - 1, defer="defer")


# ---------------------------------------------------------------- 3. the learner's chapter furniture

def _rows(root: Path) -> dict:
    path = root / MODULES_TABLE
    if not path.exists():
        return {}
    table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rows = table.get("modules") or {}
    for name, row in rows.items():
        missing = {"tier", "difficulty", "time", "prerequisites"} - set(row or {})
        if missing:
            raise ExtensionError(f"{MODULES_TABLE}: {name} lacks {sorted(missing)}")
        if not isinstance(row["difficulty"], int) or not 1 <= row["difficulty"] <= 4:
            raise ExtensionError(f"{MODULES_TABLE}: {name} difficulty must be 1-4, got {row['difficulty']!r}")
    return rows


def _chapters(rows: dict) -> dict[str, str]:
    """{chapter file stem: module}: a row covers the chapter named after its module, or the ones
    its `chapters:` lists (the milestone chapters share the milestones module)."""
    covered = {}
    for module, row in rows.items():
        for chapter in row.get("chapters") or [module]:
            covered[chapter] = module
    return covered


def _links(app: Sphinx, module: str, docname: str) -> dict[str, str]:
    options = app.config.html_theme_options or {}
    repository = repository_url(app)
    branch = options.get("repository_branch") or "main"
    binder = ((options.get("launch_buttons") or {}).get("binderhub_url") or "https://mybinder.org").rstrip("/")
    match = re.match(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?$", repository)
    if not match:
        raise ExtensionError(f"sphinx_tinytorch: repository.url must be a GitHub URL, got {repository!r}")
    owner, name = match.groups()
    notebook = f"modules/{module}/{module}.ipynb"
    source_suffix = Path(app.env.doc2path(docname, False)).suffix
    return {
        "build": f"{binder}/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/{notebook}",
        "colab": f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/{notebook}",
        "chapter": f"{binder}/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/{docname}{source_suffix}",
        "source": f"https://github.com/{owner}/{name}/blob/{branch}/src/{module}/{module}.py",
        "notebook": f"https://github.com/{owner}/{name}/blob/{branch}/{notebook}",
        "number": module[:2],
    }


def _to_write(root: Path, module: str) -> list[tuple[str, str]]:
    """(function, where it is explained) for each solution block of the module, in order."""
    return [(owner, where) for owner, where, _ in _blocks(root, module)]


def _blocks(root: Path, module: str) -> list[tuple[str, str, str]]:
    """(function, where it is explained, the section's title) for each solution block's owner."""
    from tito.cells import read_source, solution_blocks

    blocks = solution_blocks(read_source(root / "src" / module / f"{module}.py"), module[:2])
    seen, rows = set(), []
    for block in blocks:
        if block.owner not in seen:
            seen.add(block.owner)
            rows.append((block.owner, f'chapter {block.chapter}, "{block.section}"', block.section))
    return rows


def _section_titles(path: Path) -> set[str]:
    """Titles of every heading of a chapter source, outside code fences."""
    titles, fence = set(), None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,}|:{3,})", stripped)
        if marker and (fence is None or stripped.startswith(fence)):
            fence = None if fence else marker[1]
            continue
        heading = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if fence is None and heading:
            titles.add(heading[1].strip())
    return titles


def _module_chapters(root: Path, module: str, row: dict) -> list[str]:
    """The chapter files (stems) that carry the module's header, in the row's order."""
    return [c for c in row.get("chapters") or [module] if (root / "book" / "chapters" / f"{c}.md").exists()]


def _placement(root: Path, module: str, row: dict) -> dict[str, list[tuple[str, str]]]:
    """{chapter stem: [(function, where)]}: the functions each chapter of the module lists under
    "Your turn". A function goes to the one chapter whose headings hold the section its hint names;
    when no chapter or several of them do (or the module has one chapter), every chapter lists it."""
    chapters = _module_chapters(root, module, row)
    titles = {c: _section_titles(root / "book" / "chapters" / f"{c}.md") for c in chapters}
    placed: dict[str, list[tuple[str, str]]] = {c: [] for c in chapters}
    for owner, where, section in _blocks(root, module):
        holders = [c for c in chapters if section in titles[c]]
        for chapter in holders if len(holders) == 1 else chapters:
            placed[chapter].append((owner, where))
    return placed


def _what_to_do(count: int, here: int | None = None) -> str:
    if count == 0:
        return ("Nothing to write here: this module runs what you built. *Your turn* at the end of "
                "this page says how to run it on your own package.")
    if here is None or here == count:
        return (f"You can build this module yourself: {count} function{'s' if count > 1 else ''} to "
                "write, listed under *Your turn* at the end of this page.")
    return (f"You can build this module yourself: {count} functions to write, {here or 'none'} of "
            "them explained in this chapter; *Your turn* at the end of this page lists "
            f"{('it' if here == 1 else 'them') if here else 'where each is explained'}.")


def _dots(difficulty: int) -> str:
    return "\u25cf" * difficulty + "\u25cb" * (4 - difficulty)


def _header(row: dict, links: dict, count: int, here: int | None = None) -> str:
    return f"""

:::{{admonition}} Module info
:class: note

**{row['tier'].upper()} TIER** | Difficulty: {_dots(row['difficulty'])} ({row['difficulty']}/4) | \
Time: {row['time']} | Prerequisites: {row['prerequisites']}

{_what_to_do(count, here)} {{doc}}`/book/build_it_yourself` explains the workflow.
:::

````{{grid}} 1 2 2 2
:gutter: 2

```{{grid-item-card}} Build it in Binder
:link: {links['build']}

The student notebook, in JupyterLab; in a terminal there, `tito module start {links['number']}` makes the copy `tito` checks.
```

```{{grid-item-card}} Open in Colab
:link: {links['colab']}

The student notebook; its inline checks test your code.
```

```{{grid-item-card}} Run this chapter in Binder
:link: {links['chapter']}

This page as a notebook, every answer in place.
```

```{{grid-item-card}} View source
:link: {links['source']}

The module's source, from which the package and the notebook are generated.
```
````

"""


def _elsewhere_text(number: str, total: int, elsewhere: list[tuple[str, list[str]]]) -> str:
    """The sentence naming the functions of the module that its other chapters explain."""
    def names(functions):
        quoted = [f"`{name}`" for name in functions]
        return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]

    parts = [f"{names(functions)} in {{doc}}`/book/chapters/{chapter}`" for chapter, functions in elsewhere]
    return (f"The module's other functions are explained in its other chapters: {'; '.join(parts)}. "
            f"`tito module complete {number}` checks all {total} together, so complete the module "
            "once every stub is written; the notebook's inline checks test each one as you go.\n")


def _your_turn(module: str, links: dict, functions: list[tuple[str, str]], extra: list[str],
               elsewhere: list[tuple[str, list[str]]] | None = None, total: int | None = None) -> str:
    number = module[:2]
    notebook = f"[`modules/{module}/{module}.ipynb`]({links['notebook']})"
    others = _elsewhere_text(number, total or len(functions), elsewhere) if elsewhere else ""
    if functions:
        rows = "\n".join(f"| `{name}` | {where} |" for name, where in functions)
        intro = f"""In the student notebook of this module, {notebook}, each of these is a stub that raises
`NotImplementedError`; the `# Hint:` line above it says what to compute and where this book
explains it.

| You write | Explained in |
| --- | --- |
{rows}

{others}"""
    elif others:
        intro = f"""Nothing in this chapter is yours to write. In the student notebook of this module, {notebook},
each function to write is a stub that raises `NotImplementedError`. {others}"""
    else:
        intro = f"""This module has nothing to fill in: its student notebook, {notebook}, runs on whatever
you have built so far, with the reference for every module you have not completed.
"""
    return f"""

## Your turn

{intro}
In a clone of the repository, or in a Binder terminal, `tito` checks your code (never the reference):

```bash
tito module start {number}      # your copy of the notebook, in JupyterLab
tito module complete {number}   # check your code; keep it if right
tito test {number}              # the module's tests on your package{"".join(chr(10) + c for c in extra)}
```

On Colab, run the notebook from the top: its inline checks (`test_unit_...`) report on your code as
they run.
"""


def _modules_table(app: Sphinx, root: Path, rows: dict) -> str:
    lines = ["| Module | Tier | Difficulty | Time | Prerequisites | You write | Notebook |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for module, row in rows.items():
        if not (root / "src" / module / f"{module}.py").exists():
            continue
        links = _links(app, module, f"book/chapters/{module}")
        chapters = [f"book/chapters/{c}" for c in row.get("chapters") or [module]
                    if (root / "book" / "chapters" / f"{c}.md").exists()]
        title = " ".join(f"{{doc}}`/{c}`" for c in chapters) or module
        functions = ", ".join(f"`{name}`" for name, _ in _to_write(root, module))
        lines.append(f"| {title} | {row['tier']} | {_dots(row['difficulty'])} | {row['time']} | "
                     f"{row['prerequisites']} | {functions} | [Binder]({links['build']}) \u00b7 "
                     f"[Colab]({links['colab']}) |")
    return "\n".join(lines)


def _after_title(text: str) -> int:
    """Offset just after the first level-1 heading outside the front matter and code fences."""
    offset, fence = 0, None
    lines = text.splitlines(keepends=True)
    index = 0
    if lines and lines[0].strip() == "---":
        index = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0) + 1
        offset = sum(len(line) for line in lines[:index])
    for line in lines[index:]:
        offset += len(line)
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,}|:{3,})", stripped)
        if marker and (fence is None or stripped.startswith(fence)):
            fence = None if fence else marker[1]
            continue
        if fence is None and re.match(r"^# \S", line):
            return offset
    return -1


def _level2_headings(text: str) -> list[str]:
    """Titles of the `## ` headings outside code fences, in order."""
    titles, fence = [], None
    for line in text.splitlines():
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,}|:{3,})", stripped)
        if marker and (fence is None or stripped.startswith(fence)):
            fence = None if fence else marker[1]
            continue
        if fence is None and line.startswith("## "):
            titles.append(line[3:].strip())
    return titles


def _furnish(app: Sphinx, docname: str, source: list) -> None:
    root = Path(app.srcdir)
    rows = _rows(root)
    if not rows and not _uses_overviews(root):
        return
    text = source[0]
    if TABLE_MARKER in text:
        text = text.replace(TABLE_MARKER, _modules_table(app, root, rows))
    match = CHAPTER.match(docname)
    if match:
        stem = match[1]
        covered = _chapters(rows)
        module = covered.get(stem)
        if module is not None and (root / "src" / module / f"{module}.py").exists():
            row = rows[module]
            links = _links(app, module, docname)
            functions = _to_write(root, module)
            placed = _placement(root, module, row)
            here = placed.get(stem, functions)
            listed_here = {name for name, _ in here}
            elsewhere = [(chapter, [name for name, _ in listed if name not in listed_here])
                         for chapter, listed in placed.items() if chapter != stem]
            elsewhere = [(chapter, names) for chapter, names in elsewhere if names]
            at = _after_title(text)
            if at < 0:
                raise ExtensionError(f"sphinx_tinytorch: {docname} has no level-1 title")
            header = _header(row, links, len(functions), len(here))
            if _uses_overviews(root):
                # The audio card right under the module-info box, the slides under the launch cards.
                header = header.replace("\n````{grid}", _overview_block("audio", stem) + "````{grid}", 1)
                header += _overview_block("slides", stem)
            text = text[:at] + header + text[at:]
            turn = _your_turn(module, links, here, row.get("commands") or [], elsewhere, len(functions))
            level2 = _level2_headings(text)
            if "Your turn" in level2:
                # The chapter wrote its own "Your turn": keep it, add the list and the commands to it.
                if level2[-1] != "Your turn":
                    LOGGER.warning(f"{docname}: '## Your turn' must be the chapter's last section",
                                   location=docname)
                turn = turn.replace("\n\n## Your turn\n", "\n", 1)
            text = text.rstrip("\n") + "\n" + turn
        else:
            if _uses_overviews(root):
                at = _after_title(text)
                if at >= 0:
                    text = text[:at] + _overview_block("audio", stem) + _overview_block("slides", stem) + text[at:]
            same = [p.name for p in (root / "src").glob(f"{stem[:2]}_*") if p.is_dir()]
            if same and module is None:
                LOGGER.warning(f"{docname}: no row of {MODULES_TABLE} covers this chapter of module "
                               f"{same[0]}: add one (tier, difficulty, time, prerequisites; `chapters:` "
                               "when the chapter is not named after the module)", location=docname)
    source[0] = text


# ---------------------------------------------------------------- 4. slides and audio overviews

OVERVIEW_DIR = "overview"          # in the HTML output: NN_name.pdf, .pdf.js, .mp3, .txt, .json
PDFJS = ("pdfjs/pdf.worker.min.js", "pdfjs/pdf.min.js")   # vendored by tools/build_book.py
STATIC = Path(__file__).resolve().parent / "static"       # the viewer's own script and style


def _uses_overviews(root: Path) -> bool:
    """A book opts in by having a book/slides/ folder; from then on every chapter needs a deck."""
    return (root / "book" / "slides").is_dir()


def _overview_block(part: str, stem: str) -> str:
    return f"\n```{{tinytorch-overview}} {part}\n```\n\n"


def _overview_module():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import overview
    finally:
        sys.path.pop(0)
    return overview


class OverviewNode(nodes.General, nodes.Element):
    """Where a chapter's audio card or slide viewer goes; drawn when the page is written."""


class OverviewDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        part = self.arguments[0]
        if part not in {"audio", "slides"}:
            raise self.error(f"tinytorch-overview: unknown part {part!r} (audio or slides)")
        return [OverviewNode(part=part, stem=Path(env.docname).name)]


class Overviews:
    """The jobs of one build. Before any chapter runs, the paragraphs of the scripts that cite no
    value are spoken (they need no execution); each chapter's job starts as soon as the chapter has
    run; all are collected before the first page is written."""

    def __init__(self, app: Sphinx):
        self.app = app
        self.root = Path(app.srcdir)
        build = Path(app.outdir).parent
        self.out = Path(app.outdir) / OVERVIEW_DIR
        self.cache = build / "overview_cache"
        self.jobs_dir = build / "overview_jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.module = _overview_module()
        self.speech = self.module.probe()
        # One job per core: the kernel that executes the chapters shares a core with them.
        self.pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
        self.futures: dict[str, object] = {}
        self.spoken: dict[str, object] = {}
        self.results: dict[str, dict] = {}
        self.problems: dict[str, list[str]] = {}
        if not self.speech["ok"]:
            LOGGER.info(f"tinytorch: no speech engine here (missing: {', '.join(self.speech['missing'])}): the "
                        f"chapters' audio overviews are not built. To build them: {self.module.INSTALL_HINT} "
                        "(make book does it when run as root), then build again.")
            return
        for script in sorted((self.root / self.module.SCRIPTS).glob("*.txt")):
            texts = [p for p in self.module.script_paragraphs(script) if not self.module.GLUE_TEXT.search(p)]
            path = self.jobs_dir / f"{script.stem}.speak.json"
            path.write_text(json.dumps({"texts": texts, "cache": str(self.cache), "speech": self.speech}))
            self.spoken[script.stem] = self.pool.submit(self._run, ["--speak", str(path)])

    def spec(self, stem: str) -> dict | None:
        root = self.root
        chapter = root / "book" / "chapters" / f"{stem}.md"
        deck = root / self.module.DECKS / f"{stem}.md"
        script = root / self.module.SCRIPTS / f"{stem}.txt"
        problems = self.problems.setdefault(stem, [])
        if not deck.exists():
            problems.append(f"no slide deck: write {deck.relative_to(root)} (DESIGN.md, \"Slides and audio\")")
        if not script.exists():
            problems.append(f"no audio script: write {script.relative_to(root)} (DESIGN.md, \"Slides and audio\")")
        rows = _rows(root)
        module = _chapters(rows).get(stem)
        if module is not None and not (root / "src" / module / f"{module}.py").exists():
            module = None
        chapters = sorted(p.stem for p in (root / "book" / "chapters").glob("*.md"))
        following = chapters[chapters.index(stem) + 1:] if stem in chapters else []
        output = Path(self.app.env.mystnb_config.output_folder)
        glue_path = output / "book" / "chapters" / f"{stem}.glue.json"
        job = {
            "stem": stem, "title": _title(chapter), "chapter": str(chapter), "deck": str(deck),
            "script": str(script), "glue": str(glue_path), "out": str(self.out), "cache": str(self.cache),
            "module": rows.get(module) if module else None, "module_name": module,
            "functions": _placement(root, module, rows[module]).get(stem, []) if module else [],
            "next_title": _title(root / "book" / "chapters" / f"{following[0]}.md") if following else "",
            "speech": self.speech,
        }
        try:
            job["values"] = self.module.glue_values(job, self.module.load_glue(glue_path))
        except self.module.OverviewError as error:
            problems.append(str(error))
            return None
        return job if deck.exists() or script.exists() else None

    def start(self, stem: str) -> None:
        job = self.spec(stem)
        if job is None:
            return
        path = self.jobs_dir / f"{stem}.json"
        path.write_text(json.dumps(job, indent=1))
        before = self.spoken.get(stem)
        # The paragraphs spoken ahead were submitted first, so this never waits for a queued job.
        self.futures[stem] = self.pool.submit(lambda: (before and before.result(), self._run([str(path)]))[1])

    @staticmethod
    def _run(args: list[str]) -> dict:
        script = Path(__file__).resolve().parent / "overview.py"
        result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        output = result.stdout.strip().splitlines()
        try:
            # The job's answer is its last line of output; anything else is a failure to report as a
            # warning that shows the output, never an exception that stops the build without it.
            answer = json.loads(output[-1]) if result.returncode == 0 and output else None
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            return {"errors": [f"tools/overview.py {' '.join(args)} failed (exit {result.returncode}, "
                               f"no result on its last line):\n{(result.stdout + result.stderr)[-3000:]}"],
                    "deck": None, "audio": None}
        return answer

    def finish(self, chapters: list[str]) -> None:
        """Start what did not start (a chapter Sphinx did not re-read), wait, and report problems."""
        started = time.monotonic()
        for stem in chapters:
            if stem not in self.futures and stem not in self.problems:
                self.start(stem)
        for stem, future in self.futures.items():
            self.results[stem] = future.result()
        ahead = [future.result() for future in self.spoken.values()]
        self.pool.shutdown()
        for stem in chapters:
            docname = f"book/chapters/{stem}"
            result = self.results.get(stem) or {}
            problems = list(self.problems.get(stem, [])) + list(result.get("errors", []))
            deck_file = self.out / f"{stem}.pdf"
            if (self.root / self.module.DECKS / f"{stem}.md").exists() and not (
                    result.get("deck") and deck_file.exists() and deck_file.stat().st_size > 0):
                problems.append("the slide deck came out missing or empty")
            if result and self.speech["ok"] and (self.root / self.module.SCRIPTS / f"{stem}.txt").exists() \
                    and not result.get("audio"):
                problems.append("the audio overview came out missing or empty")
            for problem in dict.fromkeys(problems):
                LOGGER.warning(f"slides and audio: {problem}", location=docname)
        problems = [e for r in ahead for e in r.get("errors", [])]
        for problem in problems:
            LOGGER.warning(f"slides and audio: {problem}")
        if not problems and not any(self.problems.values()) and all(r.get("audio") for r in self.results.values()):
            self._forget_old_paragraphs()
        built = [r for r in self.results.values() if r.get("deck")]
        cached = sum(len(r.get("cached", [])) for r in self.results.values())
        work = sum(r.get("seconds", 0) for r in self.results.values())
        LOGGER.info(f"tinytorch: slides for {len(built)} chapters, audio for "
                    f"{sum(bool(r.get('audio')) for r in self.results.values())} "
                    f"({cached} parts taken from {self.cache}); chapter jobs took {work:.0f} s, "
                    f"{time.monotonic() - started:.0f} s of them after the last chapter was read")

    def _forget_old_paragraphs(self) -> None:
        """The cache keeps the paragraphs the scripts say now (and the pause), nothing older."""
        keep = {name for r in self.results.values() for name in r.get("paragraphs", [])}
        for old in (self.cache / "speech").glob("*.mp3"):
            if old.name not in keep and not old.name.startswith("pause-"):
                old.unlink(missing_ok=True)


def _title(chapter: Path) -> str:
    if not chapter.exists():
        return chapter.stem
    text = chapter.read_text(encoding="utf-8")
    at = _after_title(text)
    if at < 0:
        return chapter.stem
    line = text[:at].rstrip("\n").splitlines()[-1]
    return line[2:].strip()


def _overview_state(app: Sphinx) -> Overviews | None:
    return getattr(app, "_tinytorch_overviews", None)


def _overviews_start(app: Sphinx) -> None:
    app._tinytorch_overviews = None
    if app.builder.format == "html" and _uses_overviews(Path(app.srcdir)):
        app._tinytorch_overviews = Overviews(app)
        if STATIC.is_dir():
            for name in ("tinytorch_overview.js", "tinytorch_overview.css"):
                if not (STATIC / name).exists():
                    raise ExtensionError(f"sphinx_tinytorch: {STATIC / name} is missing")


def _overview_chapter_read(app: Sphinx, doctree) -> None:
    state = _overview_state(app)
    match = CHAPTER.match(app.env.docname)
    if state is not None and match:
        state.start(match[1])


def _overview_collect(app: Sphinx, env) -> list:
    state = _overview_state(app)
    if state is not None:
        chapters = sorted(p.stem for p in (state.root / "book" / "chapters").glob("*.md"))
        state.finish(chapters)
    return []


def _seconds(value: float) -> str:
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def _audio_html(state: Overviews, stem: str, base: str) -> str:
    result = state.results.get(stem) or {}
    url = lambda name: relative_uri(base, f"{OVERVIEW_DIR}/{name}")  # noqa: E731
    transcript = result.get("transcript") or ""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in transcript.split("\n\n") if p.strip())
    details = (f'<details class="tt-transcript"><summary>Transcript</summary>{paragraphs}'
               f'<p><a href="{url(stem + ".txt")}">Transcript as plain text</a></p></details>') if paragraphs else ""
    audio = result.get("audio")
    if audio:
        player = (f'<audio class="tt-audio" controls preload="metadata" src="{url(stem + ".mp3")}" '
                  f'data-duration="{audio["seconds"]}"></audio>'
                  f'<p class="tt-meta">{_seconds(audio["seconds"])} \u00b7 a narrated summary of this chapter, '
                  f'spoken by Festival ({state.module.VOICE}) \u00b7 <a href="{url(stem + ".mp3")}" download>MP3</a></p>')
    else:
        player = ('<p class="tt-meta tt-missing">The audio was not built on this machine: the book build needs '
                  f'Festival with its HTS voice and LAME (Debian: <code>{state.module.INSTALL_HINT}</code>, or run '
                  '<code>make book</code> as root), then <code>make book</code> again. The transcript is below.</p>')
    return (f'<div class="tt-overview tt-audio-card" data-stem="{stem}"><p class="tt-card-title">'
            f'Audio overview</p>{player}{details}</div>')


def _slides_html(state: Overviews, stem: str, base: str) -> str:
    result = state.results.get(stem) or {}
    deck = result.get("deck")
    if not deck:
        return '<div class="tt-overview tt-deck tt-missing"><p>No slides for this chapter in this build.</p></div>'
    url = lambda name: relative_uri(base, f"{OVERVIEW_DIR}/{name}")  # noqa: E731
    pdf = url(stem + ".pdf")
    return f"""<div class="tt-overview tt-deck" data-stem="{stem}" data-pages="{deck['pages']}" data-script="{url(stem + '.pdf.js')}" tabindex="0" aria-label="Slides">
<p class="tt-card-title">Slides</p>
<div class="tt-deck-bar" role="toolbar" aria-label="Slide controls">
<button type="button" class="tt-prev" aria-label="Previous slide">&#9664;</button>
<span class="tt-count">Slide <span class="tt-page">1</span> of <span class="tt-pages">{deck['pages']}</span></span>
<button type="button" class="tt-next" aria-label="Next slide">&#9654;</button>
<span class="tt-gap"></span>
<button type="button" class="tt-zoom-out" aria-label="Zoom out">&minus;</button>
<span class="tt-zoom">100%</span>
<button type="button" class="tt-zoom-in" aria-label="Zoom in">+</button>
<button type="button" class="tt-fullscreen">Full screen</button>
<a class="tt-download" href="{pdf}" download>Download PDF</a>
</div>
<div class="tt-progress" aria-hidden="true"><div class="tt-progress-fill"></div></div>
<div class="tt-stage"><div class="tt-sheet"><canvas></canvas><div class="textLayer"></div></div></div>
<noscript><p><a href="{pdf}">The slides as a PDF</a></p></noscript>
</div>"""


def _visit_overview(self, node: OverviewNode) -> None:
    state = _overview_state(self.builder.app)
    if state is None:
        raise nodes.SkipNode
    base = self.builder.get_target_uri(self.builder.current_docname)
    draw = _audio_html if node["part"] == "audio" else _slides_html
    self.body.append(draw(state, node["stem"], base))
    raise nodes.SkipNode


def _skip(self, node) -> None:
    raise nodes.SkipNode


def _overview_assets(app: Sphinx, pagename, templatename, context, doctree) -> None:
    state = _overview_state(app)
    match = CHAPTER.match(pagename)
    if state is None or not match or match[1] not in state.results:
        return
    for script in PDFJS:
        app.add_js_file(script)
    app.add_js_file("tinytorch_overview.js", defer="defer")
    app.add_css_file("tinytorch_overview.css")


def _overview_static(app: Sphinx, config) -> None:
    if STATIC.is_dir() and _uses_overviews(Path(app.srcdir)):
        config.html_static_path = [*config.html_static_path, str(STATIC)]


# Chapters wrap code at 76 characters (tests/test_book_code_width.py). In a 1280-px window with a
# scroll bar, beside the page's table of contents, a code block holds 77 characters with half the
# theme's 16 px side padding and about 75 with all of it (tests/test_browser.py measures it).
CODE_WIDTH_STYLE = ("<style>div.highlight pre, div.cell_output pre "
                    "{ padding-left: 8px; padding-right: 8px; }</style>")


def _code_width_style(app: Sphinx, pagename, templatename, context, doctree) -> None:
    context["metatags"] = context.get("metatags", "") + CODE_WIDTH_STYLE


# ---------------------------------------------------------------- 5. figure numbers per page

def _number_figures_per_page(app: Sphinx, env) -> list[str]:
    """Renumber each page's figures (tables, code blocks: every numbered kind) from 1, keeping the
    order Sphinx counted them in; returns the pages whose numbers changed (to be written again)."""
    if not app.config.tinytorch_numfig_per_page or not app.config.numfig:
        return []
    changed = []
    for docname, kinds in env.toc_fignumbers.items():
        renumbered = {}
        for figtype, numbers in kinds.items():
            counters: dict[tuple, int] = {}
            renumbered[figtype] = {}
            for figure_id, number in sorted(numbers.items(), key=lambda item: item[1]):
                prefix = tuple(number[:-1])       # a section number, when the toc is numbered
                counters[prefix] = counters.get(prefix, 0) + 1
                renumbered[figtype][figure_id] = (*prefix, counters[prefix])
        if renumbered != kinds:
            env.toc_fignumbers[docname] = renumbered
            changed.append(docname)
    return changed


# ---------------------------------------------------------------- 6. the repository's address

def repository_url(app: Sphinx) -> str:
    options = app.config.html_theme_options or {}
    return (options.get("repository_url") or "").rstrip("/")


def _substitute_repository(app: Sphinx, docname: str, source: list) -> None:
    if "{{ repository_" not in source[0]:
        return
    url = repository_url(app)
    if not url:
        raise ExtensionError(f"sphinx_tinytorch: {docname} cites {{{{ repository_url }}}}, but "
                             "_config.yml sets no repository.url")
    name = url.removesuffix(".git").rsplit("/", 1)[-1]
    source[0] = source[0].replace("{{ repository_url }}", url).replace("{{ repository_name }}", name)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinxcontrib.mermaid")
    app.connect("html-page-context", _fix_scripts, priority=900)
    app.connect("html-page-context", _code_width_style)
    app.connect("source-read", _furnish)
    app.connect("source-read", _substitute_repository)
    app.add_config_value("tinytorch_numfig_per_page", True, "env", [bool])
    app.connect("env-get-updated", _number_figures_per_page, priority=900)
    app.add_node(OverviewNode, html=(_visit_overview, None), latex=(_skip, None), text=(_skip, None),
                 man=(_skip, None), texinfo=(_skip, None))
    app.add_directive("tinytorch-overview", OverviewDirective)
    app.connect("config-inited", _overview_static)
    app.connect("builder-inited", _overviews_start)
    app.connect("doctree-read", _overview_chapter_read)
    app.connect("env-updated", _overview_collect)
    app.connect("html-page-context", _overview_assets)
    app.connect("env-get-updated", _number_figures_per_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
