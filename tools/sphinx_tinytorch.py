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
hint names) and the `tito` commands that check them. A page whose source holds the line
`% tinytorch: modules table` gets the table of every module there (the "Build it yourself" page).
A chapter whose module exists in src/ but has no row fails the build (a warning), so a new
module's chapter cannot silently lack its header.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

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
    repository = (options.get("repository_url") or "").rstrip("/")
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
    from tito.cells import read_source, solution_blocks

    blocks = solution_blocks(read_source(root / "src" / module / f"{module}.py"), module[:2])
    seen, rows = set(), []
    for block in blocks:
        if block.owner not in seen:
            seen.add(block.owner)
            rows.append((block.owner, f'chapter {block.chapter}, "{block.section}"'))
    return rows


def _what_to_do(count: int) -> str:
    if count == 0:
        return ("Nothing to write here: this module runs what you built. *Your turn* at the end of "
                "this page says how to run it on your own package.")
    return (f"You can build this module yourself: {count} function{'s' if count > 1 else ''} to "
            "write, listed under *Your turn* at the end of this page.")


def _dots(difficulty: int) -> str:
    return "\u25cf" * difficulty + "\u25cb" * (4 - difficulty)


def _header(row: dict, links: dict, count: int) -> str:
    return f"""

:::{{admonition}} Module info
:class: note

**{row['tier'].upper()} TIER** | Difficulty: {_dots(row['difficulty'])} ({row['difficulty']}/4) | \
Time: {row['time']} | Prerequisites: {row['prerequisites']}

{_what_to_do(count)} {{doc}}`/book/build_it_yourself` explains the workflow.
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


def _your_turn(module: str, links: dict, functions: list[tuple[str, str]], extra: list[str]) -> str:
    number = module[:2]
    notebook = f"[`modules/{module}/{module}.ipynb`]({links['notebook']})"
    if functions:
        rows = "\n".join(f"| `{name}` | {where} |" for name, where in functions)
        intro = f"""In the student notebook of this module, {notebook}, each of these is a stub that raises
`NotImplementedError`; the `# Hint:` line above it says what to compute and where this book
explains it.

| You write | Explained in |
| --- | --- |
{rows}
"""
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
    if not rows:
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
            at = _after_title(text)
            if at < 0:
                raise ExtensionError(f"sphinx_tinytorch: {docname} has no level-1 title")
            text = text[:at] + _header(row, links, len(functions)) + text[at:]
            turn = _your_turn(module, links, functions, row.get("commands") or [])
            level2 = _level2_headings(text)
            if "Your turn" in level2:
                # The chapter wrote its own "Your turn": keep it, add the list and the commands to it.
                if level2[-1] != "Your turn":
                    LOGGER.warning(f"{docname}: '## Your turn' must be the chapter's last section",
                                   location=docname)
                turn = turn.replace("\n\n## Your turn\n", "\n", 1)
            text = text.rstrip("\n") + "\n" + turn
        else:
            same = [p.name for p in (root / "src").glob(f"{stem[:2]}_*") if p.is_dir()]
            if same and module is None:
                LOGGER.warning(f"{docname}: no row of {MODULES_TABLE} covers this chapter of module "
                               f"{same[0]}: add one (tier, difficulty, time, prerequisites; `chapters:` "
                               "when the chapter is not named after the module)", location=docname)
    source[0] = text


# Chapters wrap code at 79 characters (tests/test_book_code_width.py); with the theme's 16 px side
# padding a code block at the usual width shows only 77, so the last characters hid behind a
# scroll bar. Half the padding makes the 79 fit.
CODE_WIDTH_STYLE = ("<style>div.highlight pre, div.cell_output pre "
                    "{ padding-left: 8px; padding-right: 8px; }</style>")


def _code_width_style(app: Sphinx, pagename, templatename, context, doctree) -> None:
    context["metatags"] = context.get("metatags", "") + CODE_WIDTH_STYLE


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinxcontrib.mermaid")
    app.connect("html-page-context", _fix_scripts, priority=900)
    app.connect("html-page-context", _code_width_style)
    app.connect("source-read", _furnish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
