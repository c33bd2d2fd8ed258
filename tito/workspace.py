"""Where a learner's work lives, and how `import tinytorch` comes to mean the learner's package.

Everything is in `workspace/` at the root of the clone (gitignored, so it never shows up as a
change to a committed file and never reaches `make test`):

    workspace/modules/NN_name/NN_name.ipynb   the learner's working copies (`tito module start`)
    workspace/package/tinytorch/...           the learner's package: only the files exported from
                                              completed modules, plus overlay `__init__.py` files
    workspace/progress.json                   what is complete, when, how many checks passed
    workspace/backups/                        notebooks saved by `tito module reset`

The overlay: `workspace/package/tinytorch/__init__.py` appends the reference package folder to
its own `__path__` and then runs the reference `__init__.py`. Python looks a submodule up along
`__path__` in order, so `tinytorch.core.training` is the learner's file when they completed that
module and the reference file otherwise. Putting `workspace/package` first on `sys.path` (through
PYTHONPATH for `tito test`/`complete`, through the "TinyTorch (yours)" kernel for notebooks) makes
`import tinytorch` the learner's package; without it (`make test`, the book) it is the reference.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

WORKSPACE = "workspace"
KERNEL_NAME = "tinytorch-learner"
KERNEL_DISPLAY = "TinyTorch (yours)"
_MODULE_DIR = re.compile(r"^(\d\d)_([a-z0-9_]+)$")


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
        tests/test_name_*.py (a module whose tests are named after it, like the milestones')."""
        found = []
        for path in sorted((self.root / "tests").glob("test_*.py")):
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
        if key in (module.number, module.name, module.folder) or (key.isdigit() and int(key) == int(module.number)):
            return module
    choices = ", ".join(f"{m.number} ({m.name})" for m in modules(root))
    raise TitoError(f"no module {key!r}: the modules are {choices}")


# ---------------------------------------------------------------- the learner's package

def workspace(root: Path) -> Path:
    return root / WORKSPACE


def package_dir(root: Path) -> Path:
    """The folder to put first on sys.path: it holds the learner's `tinytorch/`."""
    return workspace(root) / "package"


_OVERLAY = '''\
# Written by `tito`: part of YOUR tinytorch. The .py files in this folder were exported from your
# notebooks by `tito module complete`; any module not here comes from the reference package:
# {reference}
import os as _os

_REFERENCE = {reference!r}
__path__.append(_REFERENCE)
_INIT = _os.path.join(_REFERENCE, "__init__.py")
if _os.path.exists(_INIT):
    with open(_INIT, encoding="utf-8") as _file:
        _CODE = compile(_file.read(), _INIT, "exec")
    del _file
    exec(_CODE)
    del _CODE
del _os, _INIT
'''


def overlay_text(reference_folder: Path) -> str:
    return _OVERLAY.format(reference=str(reference_folder))


def _package_folders(top: Path) -> list[Path]:
    """`top` and its sub-folders, not descending into links (the linked data folders)."""
    found = []
    for folder, subfolders, _ in os.walk(top):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__" and not (Path(folder) / d).is_symlink())
        found.append(Path(folder))
    return found


def write_overlays(package: Path, root: Path) -> None:
    """Give every folder of the learner's `tinytorch/` an overlay `__init__.py` onto the reference,
    and a link to each data folder of the reference (a folder without `__init__.py` inside a
    package, such as `tinytorch/data/`), so code that finds its files next to itself finds them."""
    top = package / "tinytorch"
    top.mkdir(parents=True, exist_ok=True)
    reference = root / "tinytorch"
    for folder in _package_folders(reference):
        if folder == reference or (folder / "__init__.py").exists() or not (folder.parent / "__init__.py").exists():
            continue
        link = top / folder.relative_to(reference)
        if link.parent.is_dir() and not link.exists() and not link.is_symlink():
            link.symlink_to(folder, target_is_directory=True)
    for folder in _package_folders(top):
        init = folder / "__init__.py"
        text = overlay_text(reference / folder.relative_to(top))
        if not init.exists() or init.read_text(encoding="utf-8") != text:
            init.write_text(text, encoding="utf-8")


def learner_files(package: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every file of a learner package (caches left out)."""
    if not package.exists():
        return {}
    return {p.relative_to(package).as_posix(): p.read_bytes() for p in sorted(package.rglob("*"))
            if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
            and not any(parent.is_symlink() for parent in p.parents)}


def learner_env(package: Path) -> dict[str, str]:
    """The environment of a process whose `import tinytorch` must be the learner's package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package), *filter(None, [env.get("PYTHONPATH")])])
    env["TITO_EXPECT_PACKAGE"] = str(package / "tinytorch")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def stage_package(root: Path, files: dict[Path, str]) -> Path:
    """A temporary copy of the learner's package with `files` (relative to the package folder)
    written over it. Nothing in workspace/ changes until `commit_package`."""
    staging = Path(tempfile.mkdtemp(prefix="tito-stage-")) / "package"
    current = package_dir(root)
    if current.exists():
        shutil.copytree(current, staging, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, text in files.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    write_overlays(staging, root)
    return staging


def commit_package(root: Path, files: dict[Path, str]) -> None:
    """Write the checked files into the learner's package (each file atomically)."""
    package = package_dir(root)
    for relative, text in files.items():
        target = package / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False,
                                         suffix=".tmp") as handle:
            handle.write(text)
        os.replace(handle.name, target)
    write_overlays(package, root)


# ---------------------------------------------------------------- progress

def _progress_path(root: Path) -> Path:
    return workspace(root) / "progress.json"


def load_progress(root: Path) -> dict:
    path = _progress_path(root)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TitoError(f"{path} is not valid JSON ({error}): fix or delete it") from None


def save_progress(root: Path, progress: dict) -> None:
    path = _progress_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(progress, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


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
    if not spec.exists() or spec.read_text(encoding="utf-8") != text:
        folder.mkdir(parents=True, exist_ok=True)
        spec.write_text(text, encoding="utf-8")
    return spec
