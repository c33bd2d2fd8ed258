"""Sphinx extension with the book's two page fixes (loaded from _config.yml, sphinx.local_extensions).

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
"""
from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

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


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinxcontrib.mermaid")
    app.connect("html-page-context", _fix_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
