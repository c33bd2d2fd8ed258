"""The learner's package: the course's `tinytorch/` with the learner's solution bodies spliced in.

`workspace/package/tinytorch/` is built, never edited: it is the reference package tree of the
clone (generated core files, hand-written files such as `tinytorch/utils/*`, `tinytorch/__init__.py`)
in which each module the learner completed is exported again from its CURRENT source in `src/`
with the learner's stored bodies (tito/solutions.py) in place of the reference's. So provided code
is always the course's own, and a course update reaches the learner's package at the next build.

Copies, not links, for the package's Python files: the package is then one consistent snapshot
of one version of the course (a notebook kernel that imports it after a `git pull` still sees the
version the package was built from, not half of each, until tito rebuilds it); `tinytorch.__file__`
resolves inside the workspace, so the checks' guard (TITO_EXPECT_PACKAGE) can tell the learner's
package from the reference; and nothing written through the package can reach the clone's own
files. It costs a copy of about 0.5 MB. Data folders (a folder without `__init__.py` inside the
package, such as `tinytorch/data/`) are linked instead: code that finds its files next to itself
(`Path(tinytorch.__file__).resolve().parent / "data"`) finds them, and a dataset downloaded there is
not stored twice.

`workspace/build.json` records what the package was built from: a fingerprint of the course (every
file of `src/` and of the reference `tinytorch/`), a digest of each stored-solutions file, and the
SHA-256 of every file written. Every tito command compares them with the clone (a few milliseconds)
and rebuilds when the course changed, the learner's solutions changed, or a file of the package was
changed or damaged. Every file is written atomically (temporary file + os.replace).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from tito import cells as nb
from tito import solutions
from tito.workspace import (WORKSPACE, Module, TitoError, modules, now, package_dir, workspace,
                            write_atomic)

BUILD_FORMAT = 1          # bump when the way a package is built changes: every package is rebuilt
_RECORD = "build.json"


def _skipped(name: str) -> bool:
    return name == "__pycache__" or name.endswith((".pyc", ".pyo", ".egg-info")) or name == ".DS_Store"


def reference_tree(root: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """({path inside tinytorch/: file} to copy, {path: folder} to link) of the course's package."""
    top = root / "tinytorch"
    if not (top / "__init__.py").is_file():
        raise TitoError(f"{top} is not a package (no __init__.py): this clone is incomplete")
    files, links = {}, {}
    for folder, subfolders, names in os.walk(top):
        here = Path(folder)
        keep = []
        for name in sorted(subfolders):
            path = here / name
            if _skipped(name):
                continue
            if path.is_symlink() or not (path / "__init__.py").exists():
                links[path.relative_to(top).as_posix()] = path
            else:
                keep.append(name)
        subfolders[:] = keep
        for name in sorted(names):
            if not _skipped(name):
                files[(here / name).relative_to(top).as_posix()] = here / name
    return files, links


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def course_fingerprint(root: Path) -> str:
    """One digest of everything the package is built from: src/ and the reference tinytorch/."""
    digest = hashlib.sha256(f"tito package format {BUILD_FORMAT}\n".encode())
    sources = sorted(p for p in (root / "src").rglob("*") if p.is_file() and not any(map(_skipped, p.parts)))
    for path in sources:
        digest.update(f"src/{path.relative_to(root / 'src').as_posix()}\n".encode())
        digest.update(_sha(path.read_bytes()).encode())
    files, links = reference_tree(root)
    for name, path in sorted(files.items()):
        digest.update(f"tinytorch/{name}\n".encode())
        digest.update(_sha(path.read_bytes()).encode())
    for name in sorted(links):
        digest.update(f"link tinytorch/{name}\n".encode())
    return digest.hexdigest()


def check_fingerprint(root: Path, module: Module, course: str) -> str:
    """What a module's recorded check result depends on: the course and the module's test files
    (with the tests' shared helpers). The learner's other modules do not count: completing module 05
    does not make module 01's result stale."""
    digest = hashlib.sha256(course.encode())
    helpers = sorted(p for p in (root / "tests").glob("*.py") if not p.name.startswith("test_"))
    for path in [*helpers, *module.test_files()]:
        digest.update(path.name.encode())
        digest.update(_sha(path.read_bytes()).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- building

@dataclass
class Build:
    files: dict[str, bytes] = field(default_factory=dict)          # path inside tinytorch/: content
    links: dict[str, str] = field(default_factory=dict)            # path inside tinytorch/: target folder
    conflicts: dict[str, list[solutions.Conflict]] = field(default_factory=dict)
    yours: dict[str, int] = field(default_factory=dict)            # module folder: blocks that are the learner's
    blocks: dict[str, int] = field(default_factory=dict)           # module folder: blocks in the course
    targets: dict[str, list[str]] = field(default_factory=dict)    # module folder: the files it writes
    orphans: list[str] = field(default_factory=list)               # stored modules the course no longer has


def build(root: Path, stored: dict[str, list[solutions.Body]]) -> Build:
    """The package for the stored bodies {module folder: bodies} on the clone's current course."""
    files, links = reference_tree(root)
    result = Build(files={name: path.read_bytes() for name, path in files.items()},
                   links={name: str(path) for name, path in links.items()})
    by_folder = {m.folder: m for m in modules(root)}
    for folder, mine in sorted(stored.items()):
        module = by_folder.get(folder)
        if module is None:
            result.orphans.append(folder)
            continue
        try:
            rendered, conflicts, yours = solutions.render(module, mine)
            blocks = len(nb.solution_blocks(solutions.course_cells(module), module.number))
        except ValueError as error:
            raise TitoError(f"{module.source.relative_to(root).as_posix()}: {error}") from None
        for path, text in rendered.items():
            result.files[path.relative_to("tinytorch").as_posix()] = text.encode("utf-8")
        result.conflicts[folder] = conflicts
        result.yours[folder] = yours
        result.blocks[folder] = blocks
        result.targets[folder] = sorted(p.as_posix() for p in rendered)
    return result


def _link(path: Path, target: str) -> None:
    """`path` becomes a link to the folder `target` (a copy where links are not allowed)."""
    temporary = path.with_name(f".{path.name}.link.tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    try:
        temporary.symlink_to(target, target_is_directory=True)
    except OSError:
        if path.is_symlink():
            path.unlink()
        if not path.exists():
            shutil.copytree(target, path)
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    os.replace(temporary, path)


def materialize(result: Build, destination: Path) -> None:
    """Write the package into `destination` (a new folder: the staged copy `complete` checks)."""
    top = destination / "tinytorch"
    for name, data in result.files.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name, target in result.links.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        _link(top / name, target)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def sync(result: Build, destination: Path) -> None:
    """Make `destination/tinytorch` exactly the build: each changed file replaced atomically, each
    link made, everything else removed (caches aside). Unchanged files are not touched."""
    top = destination / "tinytorch"
    if top.is_symlink() or top.is_file():
        top.unlink()
    top.mkdir(parents=True, exist_ok=True)
    for name, data in result.files.items():
        path = top / name
        for parent in reversed(path.relative_to(top).parents[:-1]):
            folder = top / parent
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
        if path.is_symlink() or path.is_dir():
            _remove(path)
        if not path.is_file() or path.read_bytes() != data:
            write_atomic(path, data)
    for name, target in result.links.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.is_symlink() and os.readlink(path) == target):
            _link(path, target)
    expected_dirs = {str(parent) for name in [*result.files, *result.links] for parent in Path(name).parents}
    for folder, subfolders, names in os.walk(top, topdown=True):
        here = Path(folder)
        relative = here.relative_to(top)
        for name in list(subfolders):
            path = here / name
            rel = (relative / name).as_posix()
            if name == "__pycache__":
                subfolders.remove(name)
            elif rel in result.links:
                subfolders.remove(name)
            elif str(relative / name) not in expected_dirs:
                _remove(path)
                subfolders.remove(name)
        for name in names:
            rel = (relative / name).as_posix()
            if rel not in result.files and rel not in result.links:
                (here / name).unlink()


def damage(destination: Path, record: dict) -> list[str]:
    """Paths (from the clone's root) of the package that differ from what was built; empty when whole."""
    top = destination / "tinytorch"
    base = f"{WORKSPACE}/package/tinytorch/"
    found = []
    for name, sha in record.get("files", {}).items():
        path = top / name
        try:
            same = path.is_file() and not path.is_symlink() and _sha(path.read_bytes()) == sha
        except OSError:
            same = False
        if not same:
            found.append(base + name)
    for name, target in record.get("links", {}).items():
        path = top / name
        linked = path.is_symlink() and os.readlink(path) == target
        copied = path.is_dir() and not path.is_symlink()        # where links are not allowed
        if not (linked or copied):
            found.append(base + name)
    if top.is_dir():
        known = set(record.get("files", {})) | set(record.get("links", {}))
        for folder, subfolders, names in os.walk(top):
            here = Path(folder)
            subfolders[:] = [d for d in subfolders if d != "__pycache__" and not (here / d).is_symlink()]
            for name in names:
                rel = (here / name).relative_to(top).as_posix()
                if rel not in known:
                    found.append(base + rel)
    return found


# ---------------------------------------------------------------- the record

def record_path(root: Path) -> Path:
    return workspace(root) / _RECORD


def load_record(root: Path) -> dict | None:
    """What the package was built from; None when there is no usable record (then tito rebuilds)."""
    try:
        data = json.loads(record_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == BUILD_FORMAT else None


def record_of(result: Build, course: str, digests: dict[str, str]) -> dict:
    return {"format": BUILD_FORMAT, "built": now(), "course": course, "solutions": digests,
            "files": {name: _sha(data) for name, data in sorted(result.files.items())},
            "links": dict(sorted(result.links.items())),
            "conflicts": {folder: [asdict(c) for c in found] for folder, found in result.conflicts.items()},
            "yours": result.yours, "blocks": result.blocks, "targets": result.targets, "orphans": result.orphans}


def commit(root: Path, result: Build, course: str, digests: dict[str, str]) -> dict:
    """Write the build into workspace/package and then its record (the record last: a crash in
    between leaves a record that does not match, so the next command builds again)."""
    sync(result, package_dir(root))
    record = record_of(result, course, digests)
    write_atomic(record_path(root), json.dumps(record, indent=1) + "\n")
    return record


@dataclass
class Ensured:
    record: dict
    course: str
    rebuilt: bool = False
    why: str = ""                  # "course", "solutions", "damaged", "new", "format"
    damaged: list[str] = field(default_factory=list)
    previous_course: str | None = None


def ensure(root: Path, stored: dict[str, list[solutions.Body]]) -> Ensured:
    """Rebuild the package if the course, the stored solutions or the package itself changed."""
    course = course_fingerprint(root)
    digests = {folder: solutions.digest(_module_of(root, folder)) or "" for folder in stored}
    record = load_record(root)
    why, damaged = "", []
    if record is None:
        why = "damaged" if record_path(root).exists() else "new"
    elif record.get("course") != course:
        why = "course"
    elif record.get("solutions") != digests:
        why = "solutions"
    else:
        damaged = damage(package_dir(root), record)
        links = {name: str(path) for name, path in reference_tree(root)[1].items()}
        if record.get("links") != links:             # the clone moved: its data folders are elsewhere
            damaged += [f"{WORKSPACE}/package/tinytorch/{name}" for name in sorted(links)
                        if record.get("links", {}).get(name) != links[name]] or [f"{WORKSPACE}/package/tinytorch"]
        why = "damaged" if damaged else ""
    if not why:
        return Ensured(record, course)
    result = build(root, stored)
    previous = record.get("course") if record else None
    return Ensured(commit(root, result, course, digests), course, True, why, damaged, previous)


def _module_of(root: Path, folder: str) -> Module:
    number, _, name = folder.partition("_")
    return Module(number, name, root)


# ---------------------------------------------------------------- a workspace of an older tito

_OLD_OVERLAY_MARK = "Written by `tito`: part of YOUR tinytorch"


def migrate(root: Path, progress: dict) -> list[str]:
    """Move a workspace written by an older tito (its package held the files exported from the
    learner's notebooks plus overlay `__init__.py`s; no stored solutions) to this format: the
    bodies of each completed module are read from the learner's notebook, the old package is moved
    to workspace/backups/. Returns what to tell the learner (nothing when there was nothing to move)."""
    if record_path(root).exists() or solutions.store_folder(root).exists():
        return []
    old = package_dir(root)
    init = old / "tinytorch" / "__init__.py"
    overlay = init.is_file() and _OLD_OVERLAY_MARK in init.read_text(encoding="utf-8", errors="replace")
    completed = [folder for folder, entry in progress.items() if entry.get("status") == "complete"]
    if not overlay and not completed:
        return []
    messages = []
    backup = None
    if old.exists():
        backup = workspace(root) / "backups" / f"package-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        backup.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, backup)
    by_folder = {m.folder: m for m in modules(root)}
    moved, lost = [], []
    for folder in completed:
        module = by_folder.get(folder) or _module_of(root, folder)
        notebook = module.working_copy
        try:
            found = solutions.bodies(nb.read_notebook(notebook), module.number)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            found = None
        if found is None:
            lost.append(folder)
            progress[folder]["status"] = "not recovered"
            continue
        solutions.save(module, found, origin=f"{notebook.relative_to(root).as_posix()}, when tito moved "
                                            "your workspace to stored solutions")
        moved.append(folder)
    where = f" (your old package is saved as {backup.relative_to(root).as_posix()})" if backup else ""
    messages.append("tito now keeps your code as the bodies of your solution blocks, in "
                    f"{WORKSPACE}/solutions/, and builds your package from the course and them{where}.")
    if moved:
        messages.append("Your code of module(s) " + ", ".join(f[:2] for f in moved)
                        + " was taken from your notebooks.")
    for folder in lost:
        messages.append(f"Module {folder[:2]}: your notebook {WORKSPACE}/modules/{folder}/{folder}.ipynb could "
                        f"not be read, so your code for it was not recovered: complete it again "
                        f"(`tito module start {folder[:2]}`).")
    return messages
