"""The built site in a real browser: headless Chromium (Debian's `chromium`; CI installs it).

_build/html is served on an ephemeral 127.0.0.1 port and the landing page and the training chapter
are opened through the DevTools protocol (tornado, already a kernel dependency, is the websocket
client). For each page: every mermaid diagram was drawn as an <svg>, the glued numbers are visible
text (one of them recomputed here from tinytorch itself), the console shows no error (console.error,
uncaught exceptions, failed loads), and a screenshot is saved under _build/screenshots/. One
chapter's slide deck and audio are exercised (issue 21). Every page is opened once more in a
1280 x 900 window with scroll bars, as a reader's, and no code block or output may be wider than
its box (issue 20: the chapters wrap code at 76 characters, and a code block there holds 77).

Skipped (with the reason) only when no `chromium` is on PATH. Without a built site it fails: run
`make test` (which builds first) or `.venv/bin/python tools/build_book.py`.
TINYTORCH_SITE=/path/to/html points it at another build, as in test_book_html.py.
"""
from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = REPO_ROOT / "book" / "chapters"
TRAINING = CHAPTERS_DIR / "08_training_stability.md"   # the chapter that glues the cosine values
CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio"]
STEP_TIMEOUT = 10.0  # seconds for any one browser operation
WIDTH, HEIGHT = 1280, 2000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no `chromium` on PATH (Debian: apt-get install -y "
                                "chromium; .ci/run installs it): the browser test cannot run")


def formats_in(source: Path, key: str) -> list[str]:
    """The format specs a chapter cites `key` with: {glue:text}`key:.4f` -> ['.4f']."""
    return [spec for spec in re.findall(r"\{glue:text\}`" + re.escape(key) + r"(?::([^`]*))?`",
                                        source.read_text())]


def training_value() -> tuple[str, list[str]]:
    """(description, renderings) of a number the training chapter glues, recomputed here: the cosine
    rate at epoch 25, formatted with the spec the chapter cites it with."""
    from tinytorch.core.training import CosineSchedule

    specs = formats_in(TRAINING, "cosine_lr_epoch_25")
    assert specs, f"{TRAINING.name} no longer cites {{glue:text}}`cosine_lr_epoch_25`: update this test"
    value = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100).get_lr(25)
    return "CosineSchedule(0.1, 0.01, 100).get_lr(25)", [format(value, spec) for spec in specs]


class Server:
    """_build/html over HTTP on 127.0.0.1 (ephemeral port), recording every request's status."""

    def __init__(self, root: Path):
        statuses = self.statuses = []

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                statuses.append((int(code) if str(code).isdigit() else 0, self.path))

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Browser:
    """Headless Chromium driven over the DevTools protocol: one page target, events collected."""

    def __init__(self, profile: Path, flags: list[str] = FLAGS, size: tuple[int, int] = (WIDTH, HEIGHT)):
        self.profile = profile
        self.process = subprocess.Popen(
            [CHROMIUM, *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.events: list[dict] = []
        self.ws = None
        self.ids = 0

    def port(self) -> int:
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode}")
            if active.exists() and active.read_text().strip():
                return int(active.read_text().split()[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port within 20 s")

    async def connect(self) -> None:
        from tornado.websocket import websocket_connect

        port = self.port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=STEP_TIMEOUT) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = await asyncio.wait_for(websocket_connect(page["webSocketDebuggerUrl"],
                                                           max_message_size=64 * 2**20), STEP_TIMEOUT)
        for domain in ("Page", "Runtime", "Log"):
            await self.call(f"{domain}.enable")

    async def _read(self, timeout: float) -> dict | None:
        message = await asyncio.wait_for(self.ws.read_message(), timeout)
        if message is None:
            raise RuntimeError("the DevTools connection closed")
        data = json.loads(message)
        if "method" in data:
            self.events.append(data)
        return data

    async def call(self, method: str, **params) -> dict:
        self.ids += 1
        await self.ws.write_message(json.dumps({"id": self.ids, "method": method, "params": params}))
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            data = await self._read(max(0.01, deadline - time.monotonic()))
            if data.get("id") == self.ids:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout: float = STEP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    async def settle(self, seconds: float = 0.3) -> None:
        """Let late events (console messages, failed loads) arrive."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                await self._read(left)
            except asyncio.TimeoutError:
                break

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)   # our own process group only
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def console_errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            errors.append(f"uncaught: {text} ({details.get('url', '')}:{details.get('lineNumber')})")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            if urlsplit(entry.get("url", "")).path == "/favicon.ico":
                continue   # the browser asks for it on its own; no page links it
            errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return errors


PAGE_STATE = """(() => {
  // Shown: rendered with a size, not inside a closed dropdown (answers hide there on purpose).
  const shown = e => !e.closest('details:not([open])') && e.checkVisibility() && e.getClientRects().length > 0
                     && e.innerText.trim() !== '';
  const pasted = [...document.querySelectorAll('.pasted-text')];
  const diagrams = [...document.querySelectorAll('.mermaid')].filter(e => !e.closest('.mermaid-container-fullscreen'));
  return {
    title: document.title,
    diagrams: diagrams.length,
    drawn: diagrams.filter(e => { const s = e.querySelector('svg'); return s && s.getBoundingClientRect().width > 0
                                                                   && s.querySelectorAll('g').length > 0; }).length,
    pasted: pasted.map(e => [e.textContent.trim(), shown(e)]),
    text: document.body.innerText,
  };
})()"""


def mermaid_blocks(source: Path) -> int:
    return len(re.findall(r"^(`{3,}|:{3,})\{mermaid\}", source.read_text(), re.MULTILINE))


def browse_site(site: Path, visit_pages, flags: list[str] = FLAGS, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list:
    """Serve `site` on the loopback address, start one headless Chromium with a fresh profile, run
    `await visit_pages(browser, server)`, close both; returns the server's request log."""
    async def run(server: Server):
        with tempfile.TemporaryDirectory(prefix="tinytorch-chromium-") as profile:
            browser = Browser(Path(profile), flags, size)
            try:
                await asyncio.wait_for(browser.connect(), 30)
                await visit_pages(browser, server)
            finally:
                if browser.ws is not None:
                    browser.ws.close()
                browser.close()

    with Server(site) as server:
        asyncio.run(run(server))
        return list(server.statuses)


async def visit(browser: Browser, url: str, expected_diagrams: int, screenshot: Path) -> dict:
    browser.events.clear()
    await browser.call("Page.navigate", url=url)
    await browser.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
                           f"{url} to load")
    if expected_diagrams:
        await browser.wait_for(f"(() => {{ const d = [...document.querySelectorAll('.mermaid')]"
                               f".filter(e => !e.closest('.mermaid-container-fullscreen'));"
                               f" return d.length >= {expected_diagrams} && d.every(e => e.querySelector('svg')); }})()",
                               f"{expected_diagrams} mermaid diagram(s) drawn as <svg> on {url}")
    await browser.evaluate("document.fonts.ready.then(() => true)")
    state = await browser.evaluate(PAGE_STATE)
    await browser.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                       deviceScaleFactor=1, mobile=False)
    shot = await browser.call("Page.captureScreenshot", format="png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    await browser.settle()
    state["errors"] = console_errors(browser.events)
    return state


@pytest.fixture(scope="module")
def browsed(site):
    """Open both pages in one browser; returns {stem: page state} and the server's request log."""
    assert TRAINING.exists(), f"{TRAINING.relative_to(REPO_ROOT)} is gone: update this test"
    training = TRAINING
    pages = {"intro": REPO_ROOT / "book" / "intro.md", training.stem: training}
    shots = site.parent / "screenshots"
    for source in pages.values():
        page = site / source.relative_to(REPO_ROOT).with_suffix(".html")
        assert page.exists(), f"{source.name} has no page at {page}: the site is older than the chapters?"
    results = {}

    async def visit_pages(browser: Browser, server: Server):
        for stem, source in pages.items():
            rel = source.relative_to(REPO_ROOT).with_suffix(".html").as_posix()
            results[stem] = await asyncio.wait_for(
                visit(browser, f"{server.url}/{rel}", mermaid_blocks(source), shots / f"{stem}.png"), 30)
            results[stem]["source"] = source
            results[stem]["screenshot"] = shots / f"{stem}.png"

    statuses = browse_site(site, visit_pages)
    return results, statuses, training


def test_diagrams_are_drawn_as_svg(browsed):
    results, _, _ = browsed
    assert mermaid_blocks(REPO_ROOT / "book" / "intro.md") >= 1, "the landing page has lost its module map"
    for stem, state in results.items():
        expected = mermaid_blocks(state["source"])
        assert state["diagrams"] == expected, f"{stem}: {state['diagrams']} .mermaid elements, source has {expected}"
        assert state["drawn"] == expected, f"{stem}: {state['drawn']} of {expected} diagrams drawn as <svg>"


def test_glued_numbers_are_visible(browsed):
    results, _, training = browsed
    state = results[training.stem]
    assert state["pasted"], f"{training.stem}: no glued values on the page"
    empty = [index for index, (text, _) in enumerate(state["pasted"]) if not text]
    assert not empty, f"{training.stem}: glued values number {empty} are empty"
    visible = [text for text, shown in state["pasted"] if shown]
    assert visible, f"{training.stem}: no glued value is visible"
    what, renderings = training_value()
    assert any(r in visible for r in renderings), (
        f"{training.stem}: {what} = one of {renderings} is not among the visible glued values {visible}")
    assert any(r in state["text"] for r in renderings)


def test_no_console_errors_and_no_failed_requests(browsed):
    results, statuses, _ = browsed
    errors = [f"{stem}: {error}" for stem, state in results.items() for error in state["errors"]]
    assert not errors, "console errors:\n" + "\n".join(errors)
    failed = [(code, path) for code, path in statuses if code >= 400 and not path.startswith("/favicon.ico")]
    assert not failed, f"requests that failed: {failed}"


def inked_fraction(png: Path) -> float:
    """Share of the screenshot that is not (near) white."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("L").resize((160, 250))
    histogram = small.histogram()
    return sum(histogram[:235]) / sum(histogram)


def test_screenshots_are_saved(browsed):
    results, _, _ = browsed
    for stem, state in results.items():
        png = state["screenshot"]
        assert png.exists(), png
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
        assert len(data) > 10_000, f"{png} is only {len(data)} bytes: a blank page?"
        # A blank 1280x2000 page still compresses to ~12 KB, so look at the pixels too.
        assert inked_fraction(png) > 0.02, f"{png}: almost nothing is drawn on the page"
        assert state["title"], f"{stem}: the page has no title"


# ---------------------------------------------------------------- a chapter's slides and audio (issue 21)

DECK_CHAPTER = CHAPTERS_DIR / "04_losses.md"


def deck_target(site: Path) -> tuple[int, str, str]:
    """(page, role, value): the first slide of DECK_CHAPTER's deck citing a glued number, and the
    value this build glued for it (formatted by myst-nb, as on the chapter's page)."""
    from myst_nb.core.variables import format_plain_text

    deck = REPO_ROOT / "book" / "slides" / f"{DECK_CHAPTER.stem}.md"
    text = re.sub(r"\A---\n.*?\n---\n", "", deck.read_text(), flags=re.DOTALL)
    slides = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    index, role = next((i, m[1]) for i, s in enumerate(slides) for m in [re.search(r"\{glue:text\}`([^`]+)`", s)] if m)
    key, _, spec = role.rpartition(":") if ":" in role else (role, "", "")
    glue = json.loads((site.parent / "jupyter_execute" / "book" / "chapters" / f"{DECK_CHAPTER.stem}.glue.json").read_text())
    return index + 2, role, format_plain_text(glue[key]["data"]["text/plain"], spec or "s")   # page 1 is the title


DECK_STATE = """(() => {
  const deck = document.querySelector('.tt-deck');
  const fill = deck.querySelector('.tt-progress-fill');
  const audio = document.querySelector('audio.tt-audio');
  return {
    rendered: deck.dataset.rendered || '', page: deck.querySelector('.tt-page').textContent,
    pages: deck.querySelector('.tt-pages').textContent, zoom: deck.querySelector('.tt-zoom').textContent,
    progress: parseFloat(fill.style.width) / 100,   // the bar's target width (it animates there)
    canvas: deck.querySelector('canvas').getBoundingClientRect().width,
    text: deck.querySelector('.textLayer').innerText.replace(/\\s+/g, ' '),
    download: deck.querySelector('a.tt-download').getAttribute('href'),
    audio: audio ? {ready: audio.readyState, duration: audio.duration, expected: Number(audio.dataset.duration),
                    error: audio.error && audio.error.code} : null,
    missing: (document.querySelector('.tt-audio-card .tt-missing') || {}).textContent || '',
  };
})()"""

AUDIO_LOADED = """(() => { const a = document.querySelector('audio.tt-audio');
  return !a || a.readyState >= 1 || a.error !== null; })()"""


async def browse_deck(browser: Browser, url: str, target: int) -> dict:
    browser.events.clear()
    await browser.call("Page.navigate", url=url)
    await browser.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", f"{url} to load")
    await browser.wait_for("document.querySelector('.tt-deck') && document.querySelector('.tt-deck').dataset.rendered === '1'",
                           "the deck's first slide to be drawn", timeout=30)
    states = {"first": await browser.evaluate(DECK_STATE)}
    for page in range(2, target + 1):
        await browser.evaluate("document.querySelector('.tt-deck .tt-next').click(), true")
        await browser.wait_for(f"document.querySelector('.tt-deck').dataset.rendered === '{page}'", f"slide {page} to be drawn")
    states["target"] = await browser.evaluate(DECK_STATE)
    await browser.evaluate("document.querySelector('.tt-deck .tt-prev').click(), true")
    await browser.wait_for(f"document.querySelector('.tt-deck').dataset.rendered === '{target - 1}'", "the previous slide")
    await browser.evaluate("document.querySelector('.tt-deck .tt-zoom-in').click(), true")
    await browser.wait_for(f"document.querySelector('.tt-deck').dataset.rendered === '{target - 1}'", "the zoomed slide")
    states["zoomed"] = await browser.evaluate(DECK_STATE)
    await browser.wait_for(AUDIO_LOADED, "the audio's metadata to load", timeout=20)
    states["audio"] = (await browser.evaluate(DECK_STATE))["audio"]
    states["missing"] = states["target"]["missing"]
    await browser.settle()
    states["errors"] = console_errors(browser.events)
    return states


@pytest.fixture(scope="module")
def deck_browsed(site):
    """The deck chapter opened twice in one browser: served over HTTP, and from disk (file://)."""
    page = site / DECK_CHAPTER.relative_to(REPO_ROOT).with_suffix(".html")
    assert page.exists(), f"no page for {DECK_CHAPTER.name}"
    target, role, value = deck_target(site)
    results = {}

    async def visit_pages(browser: Browser, server: Server):
        rel = page.relative_to(site).as_posix()
        for how, url in (("http", f"{server.url}/{rel}"), ("file", page.resolve().as_uri())):
            results[how] = await asyncio.wait_for(browse_deck(browser, url, target), 90)

    statuses = browse_site(site, visit_pages)
    return results, statuses, (target, role, value)


@pytest.mark.parametrize("how", ["http", "file"])
def test_the_deck_moves_and_shows_a_glued_value(deck_browsed, how):
    results, _, (target, role, value) = deck_browsed
    state = results[how]
    first, at, zoomed = state["first"], state["target"], state["zoomed"]
    pages = int(first["pages"])
    assert first["page"] == "1" and pages >= 5, f"{how}: the viewer starts at {first['page']} of {pages}"
    assert at["page"] == str(target), f"{how}: after moving on, the viewer says slide {at['page']}, not {target}"
    assert abs(at["progress"] - target / pages) < 0.02, f"{how}: the progress bar is at {at['progress']:.2f}"
    assert value in at["text"], (f"{how}: slide {target} should show {{glue:text}}`{role}` = {value!r} "
                                 f"(this build's value); its text layer reads {at['text']!r}")
    assert zoomed["page"] == str(target - 1) and zoomed["zoom"] == "125%", f"{how}: prev/zoom: {zoomed}"
    assert zoomed["canvas"] > at["canvas"] * 1.2, f"{how}: zooming in did not enlarge the slide"
    assert zoomed["download"].endswith(f"overview/{DECK_CHAPTER.stem}.pdf")
    assert not state["errors"], f"{how}: console errors:\n" + "\n".join(state["errors"])


@pytest.mark.parametrize("how", ["http", "file"])
def test_the_audio_loads_with_its_duration(deck_browsed, how):
    results, statuses, _ = deck_browsed
    state = results[how]
    audio = state["audio"]
    if audio is None:
        assert "apt-get install festival" in state["missing"], "no audio and no word on how to get it"
        pytest.skip("the build had no speech engine (Festival + LAME): the card says how to get the audio")
    assert audio["error"] is None, f"{how}: the audio failed to load (MediaError {audio['error']})"
    assert audio["ready"] >= 1, f"{how}: the audio's metadata did not load"
    assert 120 <= audio["duration"] <= 240, f"{how}: the overview plays {audio['duration']:.1f} s"
    assert abs(audio["duration"] - audio["expected"]) < 0.5, (
        f"{how}: the browser says {audio['duration']:.2f} s, the build synthesized {audio['expected']} s")
    failed = [(code, path) for code, path in statuses if code >= 400 and not path.startswith("/favicon.ico")]
    assert not failed, f"requests that failed: {failed}"


# ---------------------------------------------------------------- code that fits at 1280 px (issue 20)

CLIP_WIDTH, CLIP_HEIGHT = 1280, 900
CODE_COLUMNS = 76           # tests/test_book_code_width.py: the longest line a chapter may show
CLIP_PAGES = [REPO_ROOT / "book" / "intro.md", REPO_ROOT / "book" / "build_it_yourself.md",
              *sorted(CHAPTERS_DIR.glob("*.md"))]

CLIPPED = """(() => {
  // Every code block and every output: its content must fit its box (no horizontal scroll bar).
  const boxes = [...document.querySelectorAll('pre, div.highlight, div.cell_output, div.output')]
    .filter(e => !e.closest('.mermaid') && !e.classList.contains('mermaid'));
  const clipped = boxes.filter(e => e.scrollWidth > e.clientWidth).map(e => ({
    what: e.tagName.toLowerCase() + '.' + [...e.classList].join('.'),
    scroll: e.scrollWidth, client: e.clientWidth,
    line: (e.innerText || '').split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 90),
  }));
  // How many characters a code block's line holds here: its inner width over one character's.
  let columns = null;
  const pre = [...document.querySelectorAll('div.cell_input pre, div.highlight pre')]
    .find(e => e.clientWidth > 0);
  if (pre) {
    const probe = document.createElement('span');
    probe.textContent = 'x'.repeat(100);
    pre.appendChild(probe);
    const style = getComputedStyle(pre);
    const inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    columns = Math.floor(inner / (probe.getBoundingClientRect().width / 100));
    probe.remove();
  }
  return {boxes: boxes.length, clipped, columns, width: window.innerWidth,
          page: document.documentElement.clientWidth};
})()"""


@pytest.fixture(scope="module")
def code_boxes(site):
    """{page stem: what CLIPPED found}, every page opened over HTTP in a 1280 x 900 window."""
    results = {}

    async def visit_pages(browser: Browser, server: Server):
        for source in CLIP_PAGES:
            rel = source.relative_to(REPO_ROOT).with_suffix(".html").as_posix()
            if not (site / rel).exists():
                continue
            url = f"{server.url}/{rel}"
            await browser.call("Page.navigate", url=url)
            await browser.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
                                   f"{url} to load", timeout=30)
            await browser.evaluate("document.fonts.ready.then(() => true)")
            results[source.stem] = await browser.evaluate(CLIPPED)

    # Scroll bars shown, as in a reader's window: the page gets 1280 px less the bar.
    browse_site(site, visit_pages, [f for f in FLAGS if f != "--hide-scrollbars"], (CLIP_WIDTH, CLIP_HEIGHT))
    return results


@pytest.mark.parametrize("source", CLIP_PAGES, ids=lambda p: p.stem)
def test_no_code_or_output_is_clipped_at_1280_px(code_boxes, source):
    assert source.stem in code_boxes, f"{source.name} has no page on the site"
    found = code_boxes[source.stem]
    assert found["width"] == CLIP_WIDTH, f"the window is {found['width']} px wide, not {CLIP_WIDTH}"
    if found["columns"] is not None:
        assert found["columns"] >= CODE_COLUMNS, (
            f"{source.stem}: a code block holds {found['columns']} characters at {CLIP_WIDTH} px, "
            f"fewer than the {CODE_COLUMNS} the chapters wrap at")
    clipped = [f"{c['what']}: {c['scroll']} px of content in {c['client']} px: {c['line']!r}"
               for c in found["clipped"]]
    assert not clipped, (f"{source.stem}: {len(clipped)} code blocks or outputs are cut off at "
                         f"{CLIP_WIDTH}x{CLIP_HEIGHT} (wrap the code, or print shorter lines):\n"
                         + "\n".join(clipped))
