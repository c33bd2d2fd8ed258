"""Change the code, rebuild, and the book's numbers change: nothing in the prose is typed by hand.

A copy of the `tinytorch` package gets a different learning-rate formula (the cosine is cubed: the
same end points and midpoint, other values between). A tiny book made of the real _config.yml and the real chapter that
teaches the schedule (its links to the other pages of the book made plain text) is then built
with tools/build_book.py, with PYTHONPATH pointing at the copy, so the chapter's kernel imports the
changed package instead of the editable install. The page must show the new cosine values where
the real build shows the old ones. A hidden cell appended to the copied chapter glues the path the
kernel imported `tinytorch.core.schedule` from, to prove which package ran.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_book_html import glue_text_roles   # one reading of the chapters' glue roles

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING = REPO_ROOT / "book" / "chapters" / "08_training_stability.md"   # teaches the schedule
DOC_ROLE = re.compile(r"\{doc\}`([^`]*)`")    # a link to a page the tiny book does not have
ORIGINAL = "math.cos(math.pi * progress)"
CHANGED = "math.cos(math.pi * progress) ** 3"
# The chapter cites cosine_lr_epoch_<e> for CosineSchedule(0.1, 0.01, 100). Cubing the cosine keeps
# what the chapter asserts about the schedule (max at 0, exactly halfway at 50, min at 100) and
# moves the values at 25 and 75.
EPOCHS = (25, 75)

TINY_TOC = """format: jb-book
root: book/intro
chapters:
  - file: book/chapters/{stem}
"""

ORIGIN_CELL = """

```{code-cell} ipython3
:tags: [remove-cell]
import tinytorch.core.schedule as _imported_schedule
from myst_nb import glue as _glue
_glue("imported_schedule_module", _imported_schedule.__file__, display=False)
```

Imported from {glue:text}`imported_schedule_module`.
"""

PASTED = re.compile(r'<span class="pasted-text">(.*?)</span>', re.DOTALL)


def rendered_values(page: str, roles: list[tuple[str, str]]) -> dict[str, list[str]]:
    """key -> the texts pasted for it; roles and pasted spans are matched in document order."""
    import html

    pasted = [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in PASTED.findall(page)]
    assert len(pasted) == len(roles), (
        f"{len(roles)} glue roles in the chapter but {len(pasted)} pasted values on the page: "
        "cannot tell which value is which")
    values: dict[str, list[str]] = {}
    for (key, _), text in zip(roles, pasted):
        values.setdefault(key, []).append(text)
    return values


def changed_package(tmp_path: Path) -> Path:
    """A copy of tinytorch/ whose CosineSchedule uses cos(pi * progress) ** 3."""
    copy = tmp_path / "changed_package"
    shutil.copytree(REPO_ROOT / "tinytorch", copy / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    module = copy / "tinytorch" / "core" / "schedule.py"
    code = module.read_text()
    assert code.count(ORIGINAL) == 1, (
        f"tinytorch/core/schedule.py no longer computes the cosine as `{ORIGINAL}`: update this test")
    module.write_text(code.replace(ORIGINAL, CHANGED))
    return copy


def schedule_values(pythonpath: Path | None) -> dict[int, float]:
    """CosineSchedule(0.1, 0.01, 100).get_lr(e) computed in a fresh interpreter."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    script = ("from tinytorch.core.training import CosineSchedule; import tinytorch.core.schedule as t; "
              "s = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100); "
              f"print(t.__file__); print(*[repr(s.get_lr(e)) for e in {EPOCHS!r}])")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         cwd=pythonpath or REPO_ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    origin, numbers = out.stdout.strip().splitlines()
    if pythonpath is not None:
        assert Path(origin).resolve().is_relative_to(pythonpath.resolve()), (
            f"PYTHONPATH={pythonpath} did not win over the installed tinytorch: imported {origin}")
    return dict(zip(EPOCHS, map(float, numbers.split())))


@pytest.mark.slow
def test_changing_the_cosine_formula_changes_the_books_numbers(run_tool, tmp_path):
    package = changed_package(tmp_path)
    before, after = schedule_values(None), schedule_values(package)
    assert all(not math.isclose(before[e], after[e]) for e in EPOCHS), "the change must move every value"

    assert TRAINING.exists(), f"{TRAINING.relative_to(REPO_ROOT)} is gone: update this test"
    text = DOC_ROLE.sub(r"``\1``", TRAINING.read_text()) + ORIGIN_CELL
    stem = TRAINING.stem
    root = tmp_path / "book_root"
    (root / "book" / "chapters").mkdir(parents=True)
    (root / "tools").mkdir()
    shutil.copy(REPO_ROOT / "_config.yml", root / "_config.yml")
    shutil.copy(REPO_ROOT / "tools" / "sphinx_tinytorch.py", root / "tools")
    (root / "_toc.yml").write_text(TINY_TOC.format(stem=stem))
    (root / "book" / "intro.md").write_text("# Tiny book\n\nThe training chapter, built from changed code.\n")
    (root / "book" / "chapters" / f"{stem}.md").write_text(text)

    roles = glue_text_roles(text)
    specs = {key: spec for key, spec in roles}
    for e in EPOCHS:
        assert f"cosine_lr_epoch_{e}" in specs, f"the chapter no longer cites cosine_lr_epoch_{e}"

    env = dict(os.environ, PYTHONPATH=str(package))
    output = tmp_path / "out"
    result = run_tool("build_book.py", root, "--output", output, cwd=tmp_path, timeout=240, env=env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]

    page = (output / "_build" / "html" / "book" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
    values = rendered_values(page, roles)
    origin = Path(values["imported_schedule_module"][0])
    assert origin.is_relative_to(package), f"the chapter's kernel imported {origin}, not the changed copy"
    for e in EPOCHS:
        key = f"cosine_lr_epoch_{e}"
        new, old = format(after[e], specs[key]), format(before[e], specs[key])
        assert new != old
        assert values[key] == [new] * len(values[key]), (
            f"{key}: the book shows {values[key]}, the changed code computes {new} (original code: {old})")
