"""Each chapter's slide deck (PDF) and narrated audio overview (MP3), built from the chapter itself.

    python tools/overview.py JOB.json        # build one chapter's deck and audio (the book build runs this)
    python tools/overview.py --probe         # which speech engine this machine has, and its versions
    python tools/overview.py --setup         # install it with apt-get where allowed (make book/test do)
    python tools/overview.py --speak JOB.json   # speak paragraphs into the cache (JOB: texts, cache, speech)

Sources, beside the chapter (`book/chapters/NN_name.md`):
  book/slides/NN_name.md   the deck: optional front matter (`subtitle:`, `next:`), then one slide per
                           `## Title`, holding bullets (`- `), paragraphs, display math (`$$...$$` on
                           one line) and at most one figure (`{glue:figure}`key`` on its own line)
  book/audio/NN_name.txt   the narration: paragraphs written for listening
Both cite the chapter's numbers exactly as the chapter does, `{glue:text}`key:.3f``: the values come
from the glue data myst-nb wrote when it executed the chapter in this very build
(`_build/jupyter_execute/book/chapters/NN_name.glue.json`), formatted by myst-nb's own function, so
a slide or a sentence can never show another number than the page. No number is typed in either
source (tests/test_overview.py checks it).

The deck adds, around the author's slides, a title slide (the chapter's title and its module's
row of book/modules.yml), a "Your turn" slide (the functions the module's solution blocks leave to
the learner) and a "What comes next" slide (the next chapter's title). It is drawn with
matplotlib's PDF backend (PdfPages, TrueType fonts embedded so the text can be selected and
searched), one 16:9 page per slide.

The audio is spoken by Festival with the HTS voice cmu_us_slt_arctic_hts (Debian: festival,
festvox-us-slt-hts) and encoded to MP3 by LAME (Debian: lame), mono, 22.05 kHz, 40 kbit/s constant.
Without them the deck and the transcript are still built.

The sphinx extension (tools/sphinx_tinytorch.py) has the paragraphs that cite no value spoken
before any chapter runs (`--speak`), then writes one JOB.json per chapter as soon as the chapter is
executed and runs this script on it in the background, so the work overlaps the execution of the
later chapters. Results are cached under `_build/overview_cache/`: each paragraph's MP3, keyed on
its words as spoken, Festival's, the voice's and LAME's versions and the encoder's settings (a
chapter's MP3 is its paragraphs' frames joined with a pause), and each deck, keyed on the chapter's
source, the deck's source, the filled slides, the figures, this file and matplotlib's version.
An unchanged chapter costs a hash and a copy.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

DECKS = Path("book") / "slides"
SCRIPTS = Path("book") / "audio"
VOICE = "cmu_us_slt_arctic_hts"
VOICE_PACKAGE = "festvox-us-slt-hts"
ENGINE_PACKAGES = ("festival", VOICE_PACKAGE, "lame", "flite")
MP3_KBPS = 40
LAME_ARGS = ("--quiet", "--noreplaygain", "-t", "-m", "m", "--resample", "22.05", "--cbr", "-b", str(MP3_KBPS))
MAX_AUDIO_BYTES = 2 * 1024 * 1024
INSTALL_HINT = "apt-get install festival festvox-us-slt-hts lame flite"

GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
GLUE_FIGURE = re.compile(r"^\{glue:figure\}`([^`]+)`\s*$")
FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)

# Spoken forms of words the voice reads badly; applied to the text sent to the voice only (the
# transcript keeps the written form).
PRONOUNCE = {
    "TinyTorch": "tiny torch", "tinytorch": "tiny torch", "PyTorch": "pie torch",
    "NumPy": "num pie", "ReLU": "rel you", "GELU": "jell you", "softmax": "soft max",
    "tanh": "tan h", "MLP": "M L P", "CNN": "C N N", "SGD": "S G D", "AdamW": "Adam W",
    "BLAS": "blahs", "OpenBLAS": "open blahs", "autograd": "auto grad", "Autograd": "Auto grad",
    "DataLoader": "data loader", "dataloader": "data loader", "tito": "tee toe",
    "im2col": "image to column", "logits": "lodge its", "logit": "lodge it", "dtype": "D type",
    "float32": "float thirty two", "ndarray": "N D array", "MSE": "M S E",
    "e.g.": "for example", "i.e.": "that is",
}


class OverviewError(Exception):
    """A deck or script that cannot be built: the message names the file and the reason."""


# ---------------------------------------------------------------- glue values

def load_glue(path: Path | None) -> dict:
    """{key: {mime: data}} from myst-nb's glue file of one executed chapter ({} when it glued nothing)."""
    if path is None or not Path(path).exists():
        return {}
    return {key: output.get("data", {}) for key, output in json.loads(Path(path).read_text()).items()}


def format_value(glue: dict, role: str, where: str) -> str:
    """The text `{glue:text}`role`` shows on the chapter page: myst-nb's own formatting (the book
    build calls this in the Sphinx process, where myst-nb is loaded already)."""
    from myst_nb.core.variables import format_plain_text

    key, _, spec = role.rpartition(":") if ":" in role else (role, "", "")
    if "::" in key:
        raise OverviewError(f"{where}: {role!r}: cite the chapter's own glue keys (no `doc::key`)")
    if key not in glue:
        raise OverviewError(f"{where}: no glue key {key!r} in the chapter (known: {', '.join(sorted(glue)) or 'none'})")
    if "text/plain" not in glue[key]:
        raise OverviewError(f"{where}: glue key {key!r} has no text value")
    return format_plain_text(glue[key]["text/plain"], spec or "s")


def glue_values(job: dict, glue: dict) -> dict[str, str]:
    """{role: text} for every `{glue:text}` role of the chapter's deck and script."""
    values = {}
    for name in ("deck", "script"):
        path = Path(job[name])
        if path.exists():
            for role in GLUE_TEXT.findall(path.read_text(encoding="utf-8")):
                values[role] = format_value(glue, role, str(path))
    return values


def fill(text: str, values: dict[str, str], where: str) -> tuple[str, dict[str, str]]:
    """`text` with every glue role replaced by its value; also returns {role: value} of those used."""
    used = {}

    def value(match):
        if match[1] not in values:
            raise OverviewError(f"{where}: no value for {{glue:text}}`{match[1]}`")
        used[match[1]] = values[match[1]]
        return used[match[1]]

    return GLUE_TEXT.sub(value, text), used


# ---------------------------------------------------------------- the deck's source

@dataclass
class Slide:
    title: str
    items: list[tuple[str, str]] = field(default_factory=list)   # (kind, text): bullet, text, math, figure
    kind: str = "content"                                        # title, content, turn, next


def front_matter(text: str) -> tuple[dict, str]:
    import yaml

    match = FRONT.match(text)
    if not match:
        return {}, text
    return yaml.safe_load(match[1]) or {}, text[match.end():]


def parse_deck(text: str, where: str) -> tuple[dict, list[Slide]]:
    meta, body = front_matter(text)
    slides: list[Slide] = []
    paragraph: list[str] = []

    def flush():
        if paragraph:
            slides[-1].items.append(("text", " ".join(paragraph)))
            paragraph.clear()

    for number, line in enumerate(body.splitlines(), start=1):
        stripped = line.strip()
        if line.startswith("## "):
            flush()
            slides.append(Slide(line[3:].strip()))
            continue
        if not stripped or stripped.startswith("<!--"):
            flush()
            continue
        if not slides:
            raise OverviewError(f"{where}:{number}: text before the first `## ` slide title")
        if stripped.startswith("- "):
            flush()
            slides[-1].items.append(("bullet", stripped[2:].strip()))
        elif line.startswith("  ") and slides[-1].items and slides[-1].items[-1][0] == "bullet" and not paragraph:
            kind, previous = slides[-1].items[-1]
            slides[-1].items[-1] = (kind, previous + " " + stripped)
        elif stripped.startswith("$$"):
            flush()
            if not (stripped.endswith("$$") and len(stripped) > 4):
                raise OverviewError(f"{where}:{number}: display math must open and close on one line")
            slides[-1].items.append(("math", stripped[2:-2].strip()))
        elif GLUE_FIGURE.match(stripped):
            flush()
            slides[-1].items.append(("figure", GLUE_FIGURE.match(stripped)[1]))
        else:
            paragraph.append(stripped)
    flush()
    for slide in slides:
        if not slide.items:
            raise OverviewError(f"{where}: slide {slide.title!r} is empty")
        if sum(kind == "figure" for kind, _ in slide.items) > 1:
            raise OverviewError(f"{where}: slide {slide.title!r} has more than one figure")
    if not slides:
        raise OverviewError(f"{where}: no slides (each slide starts with a `## Title` line)")
    return meta, slides


def dots(difficulty: int) -> str:
    return "\u25cf" * difficulty + "\u25cb" * (4 - difficulty)


def full_deck(job: dict, values: dict, glue: dict) -> tuple[list[Slide], dict[str, str], dict[str, bytes]]:
    """Every slide of the chapter's deck, values filled in: (slides, {role: value}, {figure key: png})."""
    where = job["deck"]
    meta, slides = parse_deck(Path(job["deck"]).read_text(encoding="utf-8"), where)
    used: dict[str, str] = {}
    figures: dict[str, bytes] = {}
    for slide in slides:
        slide.title, got = fill(slide.title, values, where)
        used.update(got)
        for index, (kind, text) in enumerate(slide.items):
            if kind == "figure":
                if text not in glue or "image/png" not in glue[text]:
                    raise OverviewError(f"{where}: {{glue:figure}}`{text}` is not a figure the chapter glued")
                figures[text] = base64.b64decode(glue[text]["image/png"])
                continue
            filled, got = fill(text, values, where)
            used.update(got)
            slide.items[index] = (kind, filled)
    subtitle, got = fill(str(meta.get("subtitle", "")), values, where)
    used.update(got)
    title = Slide(job["title"], kind="title")
    if subtitle:
        title.items.append(("subtitle", subtitle))
    row = job.get("module")
    if row:
        title.items.append(("text", f"{row['tier']} tier  \u00b7  Difficulty {dots(row['difficulty'])} "
                                    f"({row['difficulty']}/4)  \u00b7  {row['time']}"))
        title.items.append(("text", f"Prerequisites: {row['prerequisites']}"))
    deck = [title, *slides]
    if row is not None:
        turn = Slide("Your turn", kind="turn")
        functions = job.get("functions") or []
        if len(functions) > 5:
            turn.items.append(("text", "In the student notebook, each of these is a stub for you to write; "
                                       "its hint names the section that explains it:"))
            turn.items.append(("names", "\n".join(name for name, _ in functions)))
        elif functions:
            turn.items.append(("text", "In the student notebook, each of these is a stub for you to write:"))
            turn.items += [("bullet", f"`{name}`  ({where_})") for name, where_ in functions]
        else:
            turn.items.append(("text", "Nothing to write: this module runs what you built so far."))
        number = job["module_name"][:2]
        turn.items.append(("code", f"tito module start {number}\ntito module complete {number}"))
        deck.append(turn)
    closing = Slide("What comes next", kind="next")
    if job.get("next_title"):
        closing.items.append(("subtitle", job["next_title"]))
    text, got = fill(str(meta.get("next", "")), values, where)
    used.update(got)
    if text:
        closing.items.append(("text", text))
    if closing.items:
        deck.append(closing)
    return deck, used, figures


# ---------------------------------------------------------------- drawing the deck

W, H = 13.333, 7.5                       # inches: 16:9, 960 x 540 points
INK, MUTED, ACCENT, BAND = "#111827", "#4b5563", "#d9480f", "#1f2937"
MARGIN = 0.055                            # of the width


def _mathtext(text: str) -> str:
    """Slide markup to matplotlib text: `code` in a monospaced face, $math$ kept, other $ escaped."""
    parts = re.split(r"(`[^`]+`|\$[^$]+\$)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            code = part[1:-1]
            code = re.sub(r"([_{}#%&$^~\\])", lambda m: {"\\": r"\backslash", "^": r"\hat{}", "~": r"\sim"}.get(m[1], "\\" + m[1]), code)
            out.append(r"$\mathtt{" + code.replace(" ", r"\ ") + "}$")
        elif part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(part)
        else:
            out.append(part.replace("$", r"\$"))
    return "".join(out)


class Painter:
    """Lays out one slide on a matplotlib figure, measuring text to wrap it."""

    widths: dict = {}

    def __init__(self, figure, renderer):
        self.fig, self.renderer = figure, renderer

    def width(self, text: str, size: float, **style) -> float:
        """Width of `text` as a fraction of the slide's width (cached per word and style)."""
        key = (text, size, tuple(sorted(style.items())))
        if key not in self.widths:
            from matplotlib.font_manager import FontProperties
            from matplotlib.text import Text

            props = FontProperties(size=size, weight=style.get("weight", "normal"),
                                   family=style.get("family", "DejaVu Sans"))
            ismath = Text(0, 0, text)._preprocess_math(text)[1]
            width, _, _ = self.renderer.get_text_width_height_descent(text, props, ismath=ismath)
            self.widths[key] = width / self.fig.dpi / W
        return self.widths[key]

    def wrap(self, text: str, size: float, width: float, **style) -> list[str]:
        """Greedy line breaking on measured word widths (math and code spans never break)."""
        tokens = re.findall(r"\$[^$]*\$\S*|\S+", text)
        space = self.width("a a", size, **style) - 2 * self.width("a", size, **style)
        lines, line, used = [], [], 0.0
        for token in tokens:
            extra = self.width(token, size, **style) + (space if line else 0)
            if line and used + extra > width * 0.98:
                lines.append(" ".join(line))
                line, used = [token], self.width(token, size, **style)
            else:
                line.append(token)
                used += extra
        if line:
            lines.append(" ".join(line))
        return lines

    def lines(self, x: float, y: float, lines: list[str], size: float, **style) -> float:
        step = size * 1.45 / 72 / H
        for line in lines:
            self.fig.text(x, y, line, fontsize=size, va="top", **style)
            y -= step
        return y


def draw_slide(painter: Painter, slide: Slide, index: int, total: int, chapter: str, figures: dict) -> None:
    import matplotlib.pyplot as plt

    fig = painter.fig
    left, right = MARGIN, 1 - MARGIN
    if slide.kind == "title":
        fig.patches.append(plt.Rectangle((0, 0), 1, 1, transform=fig.transFigure, color=BAND, zorder=-2))
        fig.patches.append(plt.Rectangle((left, 0.60), 0.08, 0.012, transform=fig.transFigure, color=ACCENT))
        fig.text(left, 0.80, "TinyTorch", fontsize=20, color="#fdba74", va="top", weight="bold")
        y = painter.lines(left, 0.56, painter.wrap(_mathtext(slide.title), 40, right - left, weight="bold"),
                          40, color="white", weight="bold")
        for kind, text in slide.items:
            size = 24 if kind == "subtitle" else 18
            y -= 0.02
            y = painter.lines(left, y, painter.wrap(_mathtext(text), size, right - left), size,
                              color="white" if kind == "subtitle" else "#d1d5db")
        return
    # Title, accent rule, footer with the chapter and the page, and a progress bar.
    top = painter.lines(left, 0.93, painter.wrap(_mathtext(slide.title), 34, right - left, weight="bold"),
                        34, color=INK, weight="bold")
    fig.patches.append(plt.Rectangle((left, top - 0.005), 0.06, 0.008, transform=fig.transFigure, color=ACCENT))
    fig.text(left, 0.035, f"TinyTorch  \u00b7  {chapter}", fontsize=11, color=MUTED, va="bottom")
    fig.text(right, 0.035, f"{index} / {total}", fontsize=11, color=MUTED, va="bottom", ha="right")
    fig.patches.append(plt.Rectangle((0, 0), 1, 0.012, transform=fig.transFigure, color="#e5e7eb"))
    fig.patches.append(plt.Rectangle((0, 0), index / total, 0.012, transform=fig.transFigure, color=ACCENT))
    figure_keys = [text for kind, text in slide.items if kind == "figure"]
    words = [(kind, text) for kind, text in slide.items if kind != "figure"]
    body_top, body_bottom = top - 0.05, 0.09
    image = plt.imread(io.BytesIO(figures[figure_keys[0]]), format="png") if figure_keys else None
    # A wide figure goes above the text, full width; any other beside it, on the right.
    wide = image is not None and image.shape[1] / image.shape[0] > 2.2
    text_right = right if image is None or wide else (left + 0.40 if words else left)
    if image is not None:
        if wide and words:
            box = (left, body_top - 0.36, right - left, 0.36)   # room for a line more of text below
        elif wide or not words:
            box = (left, body_bottom, right - left, body_top - body_bottom)
        else:
            box = (text_right + 0.03, body_bottom, right - text_right - 0.03, body_top - body_bottom)
        x0, y0, box_w, box_h = box
        aspect = image.shape[0] / image.shape[1] * W / H          # height per width, in figure fractions
        w, h = (box_w, box_w * aspect) if box_w * aspect <= box_h else (box_h / aspect, box_h)
        bottom = y0 + box_h - h if wide and words else y0 + (box_h - h) / 2
        axes = fig.add_axes([x0 + (box_w - w) / 2, bottom, w, h])
        axes.imshow(image, interpolation="antialiased")
        axes.set_axis_off()
        if wide and words:
            body_top = y0 + box_h - h - 0.04
    y = body_top
    for kind, text in words:
        if kind == "bullet":
            size = 22
            lines = painter.wrap(_mathtext(text), size, text_right - left - 0.03)
            fig.text(left, y, "\u2022", fontsize=size, color=ACCENT, va="top")
            y = painter.lines(left + 0.025, y, lines, size, color=INK) - 0.018
        elif kind == "math":
            size = 28
            fig.text((left + text_right) / 2, y - 0.01, f"${text}$", fontsize=size, color=INK, va="top", ha="center")
            y -= size * 2.0 / 72 / H + 0.01
        elif kind == "names":
            size, names = 18, text.splitlines()
            half = (len(names) + 1) // 2
            bottom = y
            for column, chunk in enumerate((names[:half], names[half:])):
                bottom = min(bottom, painter.lines(left + 0.025 + column * 0.42, y, chunk, size, color=INK,
                                                   family="DejaVu Sans Mono"))
            y = bottom - 0.018
        elif kind == "code":
            size = 19
            y = painter.lines(left + 0.025, y, text.splitlines(), size, color=INK, family="DejaVu Sans Mono") - 0.018
        elif kind == "subtitle":
            size = 26
            y = painter.lines(left, y, painter.wrap(_mathtext(text), size, text_right - left), size,
                              color=INK, weight="bold") - 0.03
        else:
            size = 21
            y = painter.lines(left, y, painter.wrap(_mathtext(text), size, text_right - left), size, color=MUTED) - 0.018
        if y < body_bottom:
            raise OverviewError(f"slide {index} ({slide.title!r}) holds too much text: split it")


def render_deck(slides: list[Slide], figures: dict, chapter: str, out: Path) -> int:
    """Draw the slides into a PDF at `out`; returns the page count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans",
                                "svg.hashsalt": "tinytorch"}):
        with PdfPages(out, metadata={"Title": chapter, "Creator": "TinyTorch tools/overview.py",
                                     "CreationDate": None, "ModDate": None}) as pdf:
            for index, slide in enumerate(slides, start=1):
                fig = plt.figure(figsize=(W, H), dpi=72)
                painter = Painter(fig, FigureCanvasAgg(fig).get_renderer())
                draw_slide(painter, slide, index, len(slides), chapter, figures)
                pdf.savefig(fig)
                plt.close(fig)
    return len(slides)


def slides_text(slides: list[Slide]) -> list[str]:
    """What each slide says, as plain text (for the manifest and the tests)."""
    return ["\n".join([slide.title] + [text for kind, text in slide.items if kind != "figure"]) for slide in slides]


# ---------------------------------------------------------------- the narration

def script_paragraphs(path: Path) -> list[str]:
    """The script's paragraphs, each on one line, glue roles still in them."""
    source = Path(path).read_text(encoding="utf-8")
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", source) if part.strip()
            and not part.strip().startswith("<!--")]


def script_text(job: dict, values: dict) -> tuple[str, dict[str, str]]:
    """The transcript: the script's paragraphs, values filled in, a blank line between them."""
    paragraphs = script_paragraphs(job["script"])
    if not paragraphs:
        raise OverviewError(f"{job['script']}: the script is empty")
    text, used = fill("\n\n".join(paragraphs), values, job["script"])
    return text + "\n", used


def spoken(text: str) -> str:
    """The transcript as the voice should read it."""
    for written, said in PRONOUNCE.items():
        text = re.sub(rf"(?<![\w.]){re.escape(written)}(?![\w])", said, text)
    # 2.2e-08 -> "2.2 times ten to the minus 8"; the voice would spell it out letter by letter.
    text = re.sub(r"\b(\d+(?:\.\d+)?)e([-+]?)0*(\d+)\b",
                  lambda m: f"{m[1]} times ten to the {'minus ' if m[2] == '-' else ''}{m[3]}", text)
    text = re.sub(r"(?<![\w.])-?inf\b", lambda m: "minus infinity" if m[0].startswith("-") else "infinity", text)
    text = re.sub(r"(?<![\w.])nan\b", "not a number", text)
    return text.replace("`", "").replace("\u00d7", " by ")


FAST_VOICE = "slt"            # flite's voice for TINYTORCH_SPEECH=flite (see probe)


def probe() -> dict:
    """{"ok": bool, "missing": [...], "versions": str, "engine": str}: the speech engine and encoder
    on this machine. TINYTORCH_SPEECH=off turns speech off; TINYTORCH_SPEECH=flite speaks with flite
    instead of Festival's HTS voice: the same scripts, cache, encoder and checks, a voice about ten
    times quicker to synthesise and plainer to hear. `make test` builds with it (its strict build
    checks the pipeline, not the voice; a cold build would otherwise spend most of its time
    speaking); `make book` uses Festival."""
    choice = os.environ.get("TINYTORCH_SPEECH", "").lower()
    if choice in {"0", "off", "no"}:
        return {"ok": False, "missing": ["(turned off by TINYTORCH_SPEECH)"], "versions": "", "engine": ""}
    if choice == "flite":
        missing = [name for name in ("flite", "lame") if shutil.which(name) is None]
        if missing:
            return {"ok": False, "missing": missing, "versions": "", "engine": "flite"}
        flite = subprocess.run(["flite", "--version"], capture_output=True, text=True).stdout.strip().splitlines()
        lame = subprocess.run(["lame", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        return {"ok": True, "missing": [], "engine": "flite",
                "versions": f"{flite[0] if flite else 'flite'} {FAST_VOICE} | {lame} | {MP3_KBPS} kbps"}
    missing = [name for name in ("text2wave", "festival", "lame") if shutil.which(name) is None]
    if not missing:
        voices = subprocess.run(["festival", "--batch", "(print (voice.list))"], capture_output=True,
                                text=True, timeout=60)
        if VOICE.removesuffix("_arctic_hts") not in voices.stdout and VOICE not in voices.stdout:
            missing.append(f"the voice {VOICE} ({VOICE_PACKAGE})")
    if missing:
        return {"ok": False, "missing": missing, "versions": "", "engine": "festival"}
    festival = subprocess.run(["festival", "--version"], capture_output=True, text=True).stdout.strip()
    lame = subprocess.run(["lame", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    voice_dir = next(Path("/usr/share/festival/voices").glob(f"*/{VOICE}"), None) if Path(
        "/usr/share/festival/voices").exists() else None
    voice = ""
    if voice_dir is not None:
        voice = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(voice_dir.rglob("*")) if p.is_file())).hexdigest()[:16]
    return {"ok": True, "missing": [], "engine": "festival",
            "versions": f"{festival} | {VOICE} {voice} | {lame} | {MP3_KBPS} kbps"}


# Festival speaks several files in one run (the voice loads once); each becomes one WAV, exactly
# what text2wave would write for it.
SPEAK_SCHEME = """(voice_%s)
(define (tinytorch_speak infile outfile)
  (let ((whole nil))
    (set! tts_hooks
          (list utt.synth
                (lambda (utt)
                  (set! whole (if whole (wave.append whole (utt.wave utt)) (utt.wave utt))))))
    (tts_file infile nil)
    (wave.save whole outfile 'riff)))
""" % VOICE
PAUSE_SECONDS = 0.7          # between paragraphs


def paragraph_mp3(cache: Path, text: str, speech: dict) -> Path:
    """Where the cache keeps one paragraph's MP3: keyed on the words as spoken, the engine's and
    the voice's versions and the encoder's settings."""
    return cache / "speech" / f"{sha('paragraph', spoken(text), speech['versions'], LAME_ARGS)[:24]}.mp3"


def start_speaking(texts: list[str], cache: Path, speech: dict):
    """Start one Festival run for the paragraphs whose MP3 is not cached; None when all are."""
    todo = {}
    for text in texts:
        target = paragraph_mp3(cache, text, speech)
        if not target.exists():
            todo[target] = text
    if not todo:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="tinytorch-speech-"))
    for index, text in enumerate(todo.values()):
        (tmp / f"{index}.txt").write_text(spoken(text) + "\n", encoding="utf-8")
    if speech.get("engine") == "flite":        # one flite run per paragraph, in one shell
        commands = [f'flite -voice {FAST_VOICE} -f "{tmp / f"{i}.txt"}" -o "{tmp / f"{i}.wav"}"'
                    for i in range(len(todo))]
        (tmp / "speak.sh").write_text("set -e\n" + "\n".join(commands) + "\n", encoding="utf-8")
        command = ["sh", str(tmp / "speak.sh")]
    else:
        lines = [SPEAK_SCHEME] + [f'(tinytorch_speak "{tmp / f"{i}.txt"}" "{tmp / f"{i}.wav"}")'
                                  for i in range(len(todo))]
        (tmp / "speak.scm").write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = ["festival", "--batch", str(tmp / "speak.scm")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return tmp, process, list(todo)


def finish_speaking(run) -> None:
    """Wait for Festival, encode each WAV to MP3 into the cache (atomically), clean up."""
    if run is None:
        return
    tmp, process, targets = run
    try:
        log, _ = process.communicate(timeout=900)
        for index, target in enumerate(targets):
            wav = tmp / f"{index}.wav"
            if process.returncode != 0 or not wav.exists() or wav.stat().st_size < 1000:
                raise OverviewError(f"speech failed (exit {process.returncode}): {log[-2000:]}")
            encode(wav, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def encode(wav: Path, mp3: Path) -> None:
    """MP3 frames only (no tag), so that paragraphs can be joined by concatenation."""
    mp3.parent.mkdir(parents=True, exist_ok=True)
    partial = mp3.with_name(mp3.name + f".{os.getpid()}.part")
    result = subprocess.run(["lame", *LAME_ARGS, str(wav), str(partial)], capture_output=True, text=True)
    if result.returncode != 0 or not partial.exists():
        raise OverviewError(f"lame failed: {result.stdout}{result.stderr}")
    os.replace(partial, mp3)


def pause_mp3(cache: Path, speech: dict) -> Path:
    """The silence put between two paragraphs (made once, cached)."""
    target = cache / "speech" / f"pause-{sha('pause', PAUSE_SECONDS, speech['versions'], LAME_ARGS)[:16]}.mp3"
    if not target.exists():
        tmp = Path(tempfile.mkdtemp(prefix="tinytorch-pause-"))
        try:
            with wave.open(str(tmp / "pause.wav"), "wb") as silence:
                silence.setnchannels(1)
                silence.setsampwidth(2)
                silence.setframerate(22050)
                silence.writeframes(b"\0\0" * int(22050 * PAUSE_SECONDS))
            encode(tmp / "pause.wav", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def mp3_seconds(size: int) -> float:
    """How long a constant-bit-rate MP3 without tags plays: its bits over the bit rate."""
    return size * 8 / (MP3_KBPS * 1000)


def speak_texts(texts: list[str], cache: Path, speech: dict) -> None:
    """Put the MP3 of each paragraph into the cache (the build does this for every paragraph that
    cites no value before any chapter runs)."""
    finish_speaking(start_speaking(texts, cache, speech))


# ---------------------------------------------------------------- one chapter's job, cached

def sha(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _matplotlib_version() -> str:
    from importlib.metadata import version

    return version("matplotlib")


def _keep_only(cache: Path, pattern: str, keep: Path) -> None:
    """Drop this chapter's older cache entries: the cache holds one deck and one audio per chapter."""
    for old in cache.glob(pattern):
        if old.name.split(".")[2] != keep.name.split(".")[2]:
            old.unlink(missing_ok=True)


def _deck(job: dict, values: dict, glue: dict, own: bytes, result: dict):
    """The deck's cache entry and, when it must be drawn, what to draw: (cached path, slides, figures)."""
    slides, used, figures = full_deck(job, values, glue)
    key = sha("deck", Path(job["chapter"]).read_bytes(), Path(job["deck"]).read_bytes(), slides_text(slides),
              [s.kind for s in slides], used, {k: sha(v) for k, v in figures.items()}, job.get("title"), own,
              _matplotlib_version())
    result["deck"] = {"pages": len(slides), "values": used, "slides": slides_text(slides)}
    return Path(job["cache"]) / f"{job['stem']}.deck.{key[:20]}.pdf", slides, figures


def run_job(job: dict) -> dict:
    """Build (or take from the cache) one chapter's deck and audio into job["out"]; returns the result.
    Festival speaks in its own process while this one draws the deck."""
    start = time.monotonic()
    stem, out, cache = job["stem"], Path(job["out"]), Path(job["cache"])
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    glue = load_glue(job.get("glue"))
    result = {"stem": stem, "deck": None, "audio": None, "errors": [], "cached": []}
    try:
        values = job["values"] if "values" in job else glue_values(job, glue)
    except OverviewError as error:
        result["errors"].append(str(error))
        values = {}
    speech = job.get("speech") or {"ok": False}

    # 1. The transcript; Festival starts on the paragraphs whose MP3 is not cached yet (the build
    #    had those without values spoken before the chapter ran).
    speaking = paragraphs = None
    if Path(job["script"]).exists():
        try:
            transcript, result["script_values"] = script_text(job, values)
            (out / f"{stem}.txt").write_text(transcript, encoding="utf-8")
            result["transcript"] = transcript
            if speech.get("ok"):
                paragraphs = transcript.strip().split("\n\n")
                speaking = start_speaking(paragraphs, cache, speech)
                if speaking is None:
                    result["cached"].append("audio")
        except OverviewError as error:
            result["errors"].append(str(error))

    # 2. The deck, drawn while Festival speaks.
    if Path(job["deck"]).exists():
        try:
            deck_cached, slides, figures = _deck(job, values, glue, Path(__file__).read_bytes(), result)
            if deck_cached.exists() and deck_cached.stat().st_size > 0:
                result["cached"].append("deck")
            else:
                partial = deck_cached.with_suffix(".part")
                try:
                    render_deck(slides, figures, job["title"], partial)
                except ValueError as error:        # matplotlib's mathtext parser, for one
                    raise OverviewError(f"{job['deck']}: cannot draw it: {error}") from error
                os.replace(partial, deck_cached)
                _keep_only(cache, f"{stem}.deck.*.pdf", deck_cached)
            shutil.copyfile(deck_cached, out / f"{stem}.pdf")
            data = base64.b64encode(deck_cached.read_bytes()).decode()
            # The viewer reads the PDF from a script, the one way that works from file:// pages too.
            (out / f"{stem}.pdf.js").write_text(
                f"(window.TinyTorchDecks = window.TinyTorchDecks || {{}})[{json.dumps(stem)}] = \"{data}\";\n")
            result["deck"]["bytes"] = deck_cached.stat().st_size
        except OverviewError as error:
            result["errors"].append(str(error))
            result["deck"] = None

    # 3. The MP3: the paragraphs' MP3s with a pause between them, joined frame to frame.
    if paragraphs is not None:
        try:
            finish_speaking(speaking)
            pause = pause_mp3(cache, speech).read_bytes()
            parts = [paragraph_mp3(cache, text, speech).read_bytes() for text in paragraphs]
            audio = pause.join(parts)
            result["paragraphs"] = [paragraph_mp3(cache, text, speech).name for text in paragraphs]
            if not audio or any(not part for part in parts):
                raise OverviewError(f"{stem}: the audio came out empty")
            if len(audio) > MAX_AUDIO_BYTES:
                raise OverviewError(f"{stem}: the audio is {len(audio)} bytes, over {MAX_AUDIO_BYTES}")
            (out / f"{stem}.mp3").write_bytes(audio)
            result["audio"] = {"seconds": round(mp3_seconds(len(audio)), 3), "bytes": len(audio)}
        except OverviewError as error:
            result["errors"].append(str(error))
    result["seconds"] = round(time.monotonic() - start, 2)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


def setup() -> int:
    """Install the speech engine with apt-get where this process may (root, Debian); else say how."""
    if probe()["ok"]:
        return 0
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print(f"overview: the audio overviews need Festival, its HTS voice and LAME; install them with "
              f"`sudo {INSTALL_HINT}` (Debian) to get audio. The book builds without them.")
        return 0
    print(f"overview: installing the speech engine of the audio overviews: {INSTALL_HINT}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", *ENGINE_PACKAGES]):
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            done = None
        if done is None or done.returncode != 0:
            print(f"overview: `{' '.join(command[1:])}` failed; the book builds without audio. "
                  f"{(done.stdout + done.stderr)[-500:] if done else 'timed out'}")
            return 0
    state = probe()
    print("overview: speech engine ready" if state["ok"] else f"overview: still missing {state['missing']}")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--probe"]:
        print(json.dumps(probe(), indent=1))
        return 0
    if argv == ["--setup"]:
        return setup()
    if len(argv) == 2 and argv[0] == "--speak":
        job = json.loads(Path(argv[1]).read_text())
        speak_texts(job["texts"], Path(job["cache"]), job["speech"])
        print(json.dumps({"spoken": len(job["texts"])}))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    result = run_job(job)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
