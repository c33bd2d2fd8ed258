"""Where a learner's work lives, and how `import tinytorch` comes to mean the learner's package.

Everything is in `workspace/` at the root of the clone (gitignored, so it never shows up as a
change to a committed file and never reaches `make test`):

    workspace/modules/NN_name/NN_name.ipynb   the learner's working copies (`tito module start`)
    workspace/solutions/NN_name.json          the bodies of the solution blocks of each module the
                                              learner completed (tito/solutions.py): their work
    workspace/package/tinytorch/...           the learner's package, built from the course and
                                              those bodies (tito/package.py); rebuilt at will
    workspace/build.json                      what the package was built from (to see a course update)
    workspace/progress.json                   dates and check results per module
    workspace/backups/                        notebooks saved by `reset` and `update`

Putting `workspace/package` first on `sys.path` (through PYTHONPATH for `tito test`/`complete`,
through the "TinyTorch (yours)" kernel for notebooks) makes `import tinytorch` the learner's package;
without it (`make test`, the book) it is the reference.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

WORKSPACE = "workspace"
KERNEL_NAME = "tinytorch-learner"
KERNEL_DISPLAY = "TinyTorch (yours)"
_MODULE_DIR = re.compile(r"^(\d\d)_([a-z0-9_]+)$")
# A test file that compares with PyTorch, and only that (tests/test_01_tensor_torch.py). Its tests,
# and the tests of other files marked `@pytest.mark.torch`, are no learner's check.
PARITY_FILE = re.compile(r"_torch\.py$")


class TitoError(Exception):
    """A problem the learner can fix; the message says how."""


def find_root(start: Path | None = None) -> Path:
    """The clone tito works in: $TINYTORCH_ROOT, else the first folder upwards from the current one
    that has src/, modules/ and tools/export.py, else the folder this tito was installed from."""
    candidates = []
    if os.environ.get("TINYTORCH_ROOT"):
        candidates.append(Path(os.environ["TINYTORCH_ROOT"]))
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents, Path(__file__).resolve().parent.parent]
    for candidate in candidates:
        if (candidate / "src").is_dir() and (candidate / "modules").is_dir() \
                and (candidate / "tools" / "export.py").is_file():
            return candidate
    raise TitoError("tito works inside a clone of the TinyTorch repository: cd into it "
                    "(or set TINYTORCH_ROOT to its path)")


@dataclass(frozen=True)
class Module:
    number: str          # "08"
    name: str            # "training"
    root: Path

    @property
    def folder(self) -> str:
        return f"{self.number}_{self.name}"

    @property
    def source(self) -> Path:
        return self.root / "src" / self.folder / f"{self.folder}.py"

    @property
    def student_notebook(self) -> Path:
        return self.root / "modules" / self.folder / f"{self.folder}.ipynb"

    @property
    def working_copy(self) -> Path:
        return self.root / WORKSPACE / "modules" / self.folder / f"{self.folder}.ipynb"

    def title(self) -> str:
        """The first heading of the module's source ("Module 08: Training" -> "Training")."""
        for line in self.source.read_text(encoding="utf-8").splitlines():
            match = re.match(r"#\s+#\s+(.*)", line)
            if match:
                return re.sub(r"^(Module\s+)?\d+\s*[:.]\s*", "", match[1]).strip()
        return self.name.replace("_", " ")

    def test_files(self) -> list[Path]:
        """tests/test_NN_*.py, tests/test_AA_BB_*.py when NN lies in AA..BB, and tests/test_name.py or
        tests/test_name_*.py (a module whose tests are named after it, like the milestones'), the
        learner's checks; never the PyTorch parity files (`*_torch.py`), which grade nothing (skipped
        where PyTorch is not installed): whether a module is complete must not depend on that.
        `make test` runs them on the course's code."""
        found = []
        for path in sorted((self.root / "tests").glob("test_*.py")):
            if PARITY_FILE.search(path.name):
                continue
            match = re.match(r"test_(\d\d)_(?:(\d\d)_)?", path.name)
            if match:
                low, high = int(match[1]), int(match[2] or match[1])
                if low <= int(self.number) <= high:
                    found.append(path)
            elif path.stem == f"test_{self.name}" or path.stem.startswith(f"test_{self.name}_"):
                found.append(path)
        return found


def modules(root: Path) -> list[Module]:
    """Every module in src/, in order (nothing module-specific is hard-coded)."""
    found = []
    for folder in sorted((root / "src").iterdir()):
        match = _MODULE_DIR.match(folder.name)
        if match and (folder / f"{folder.name}.py").is_file():
            found.append(Module(match[1], match[2], root))
    return found


def find_module(root: Path, key: str) -> Module:
    """A module by number ("8", "08"), name ("training") or folder ("08_training")."""
    key = key.strip().lower()
    for module in modules(root):
        if key in (module.number, module.name, module.folder) or (key.isdecimal() and int(key) == int(module.number)):
            return module
    choices = ", ".join(f"{m.number} ({m.name})" for m in modules(root))
    chapter = ""
    if key.isdecimal():                # a chapter's number: the book numbers its pages, not its modules
        for module in modules(root):
            named = [c for c in chapters_of(root, module.folder) if c.split("_")[0].isdecimal()
                     and int(c.split("_")[0]) == int(key)]
            if named and module.folder not in named:
                chapter = f" (chapter {named[0]} of the book is module {module.number})"
                break
    raise TitoError(f"no module {key!r}{chapter}: the modules are {choices}")


# ---------------------------------------------------------------- the learner's package

def chapters_of(root: Path, folder: str) -> list[str]:
    """The book's chapter files that teach a module (["12_acceleration"] for 11_acceleration), from
    book/modules.yml; the module's own folder name when the table names none or cannot be read."""
    try:
        import yaml

        path = root / "book" / "modules.yml"
        rows = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("modules", {}) if path.exists() else {}
        chapters = (rows.get(folder) or {}).get("chapters") or [folder]
        return [str(chapter) for chapter in chapters]
    except Exception:                      # a damaged table: the module's name is still a fair pointer
        return [folder]


def workspace(root: Path) -> Path:
    return root / WORKSPACE


def package_dir(root: Path) -> Path:
    """The folder to put first on sys.path: it holds the learner's `tinytorch/`."""
    return workspace(root) / "package"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `path` so that a reader sees the old file or the new one, never half of one: a
    temporary file in the same folder, flushed to disk, then renamed over it (os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    handle = tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False)
    try:
        with handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, path.stat().st_mode & 0o777 if path.is_file() else 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def learner_env(package: Path) -> dict[str, str]:
    """The environment of a process whose `import tinytorch` must be the learner's package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package), *filter(None, [env.get("PYTHONPATH")])])
    env["TITO_EXPECT_PACKAGE"] = str(package / "tinytorch")
    env.setdefault("MPLBACKEND", "Agg")
    return env


# ---------------------------------------------------------------- progress

def _progress_path(root: Path) -> Path:
    return workspace(root) / "progress.json"


def load_progress(root: Path) -> dict:
    """{module folder: {started, completed, last_attempt, last_result, checks, checked, ...}}.

    Only dates and check results live here: which modules are complete is what workspace/solutions/
    holds, so a damaged progress file can be deleted without losing any work."""
    path = _progress_path(root)
    if not path.exists():
        return {}
    problem = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        problem = f"not valid JSON: {error}"
    except (UnicodeDecodeError, OSError) as error:
        problem = str(error)
    else:
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            return data
        problem = "not a table of modules"
    raise TitoError(f"{WORKSPACE}/progress.json is damaged ({problem}): delete it; tito makes a new one "
                    f"(modules you completed stay complete: your code is in {WORKSPACE}/solutions/)")


def save_progress(root: Path, progress: dict) -> None:
    write_atomic(_progress_path(root), json.dumps(progress, indent=1, sort_keys=True) + "\n")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- the notebook kernel

def kernel_spec() -> dict:
    """"TinyTorch (yours)": this Python, started through `tito.kernel`, which puts the learner's
    package of the clone the notebook lives in first on sys.path."""
    return {"argv": [sys.executable, "-m", "tito.kernel", "-f", "{connection_file}"],
            "display_name": KERNEL_DISPLAY, "language": "python",
            "metadata": {"debugger": True}}


def kernel_dir() -> Path:
    """Where the kernel spec goes: this environment's share/jupyter/kernels (like `make venv`'s
    python3 kernel), or $TITO_KERNEL_DIR."""
    if os.environ.get("TITO_KERNEL_DIR"):
        return Path(os.environ["TITO_KERNEL_DIR"]) / KERNEL_NAME
    return Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def install_kernel() -> Path:
    folder = kernel_dir()
    text = json.dumps(kernel_spec(), indent=1, sort_keys=True) + "\n"
    spec = folder / "kernel.json"
    if not spec.exists() or spec.read_text(encoding="utf-8", errors="replace") != text:
        write_atomic(spec, text)
    return spec
