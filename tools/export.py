"""Write the `#| export` cells of each src/NN_name/NN_name.py into tinytorch/, and its student notebook.

    python tools/export.py           # write tinytorch/ and modules/ from src/
    python tools/export.py --check   # exit 1 if either differs from what the export would write

A source file names its target once with `#| default_exp core.name`; its cells that start with
`#| export` are written, in order, to `tinytorch/core/name.py` under a header that marks the file
as generated. `#| export core.other` sends one cell to another module instead (module 08 writes
`core.metrics` this way); that cell carries its own imports. The `### BEGIN SOLUTION` / `### END SOLUTION` fences are dropped; the code between
them is kept. Hand-written files in tinytorch/ (no header) are never touched.

Each module the course grades (classroom/rubric.yml) also becomes nbgrader's source version of it,
`classroom/source/NN_name/NN_name.ipynb` (committed, like the student notebooks: an instructor's course
folder is set up from it; `tito/assignment.py` says what it holds).

Each source also becomes a student notebook, `modules/NN_name/NN_name.ipynb` (committed, so Binder,
Colab and GitHub open it): the same cells, every solution block replaced by a stub that raises
NotImplementedError naming the function and the chapter section of its `# Hint:` line (the hint
and the fences stay), after a first cell that installs tinytorch from the repository when the
notebook runs on Colab. The rules live in `tito/cells.py`, shared with `tito module complete`.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:        # tito/ (the shared cell rules) when run as a plain script
    sys.path.insert(0, str(ROOT))
from tito import assignment  # noqa: E402
from tito import cells as nb  # noqa: E402
from tito import rubric as rubrics  # noqa: E402

SRC = ROOT / "src"
PACKAGE = ROOT / "tinytorch"
STUDENT = "modules"
HEADER = (
    "# GENERATED FILE: DO NOT EDIT. Source: {source}\n"
    "# Edit the source, then run `make export` to regenerate this file.\n"
)
GENERATED_MARK = "# GENERATED FILE: DO NOT EDIT."
DROPPED_LINES = {"### BEGIN SOLUTION", "### END SOLUTION"}


def module_sources(src: Path = SRC) -> list[Path]:
    """Each src/NN_name/NN_name.py, in the order a learner builds them."""
    return sorted(p for p in src.glob("[0-9][0-9]_*/[0-9][0-9]_*.py") if p.stem == p.parent.name)


def render(source: Path, root: Path = ROOT) -> dict[Path, str]:
    """{target path: full text} that the export writes for one source file."""
    label = source.relative_to(root).as_posix() if source.is_relative_to(root) else str(source)
    try:
        code = nb.export_code(nb.read_source(source), label)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    header = HEADER.format(source=label)
    return {root / nb.target_path(target): header + "\n" + text for target, text in code.items()}


def colab_cell(root: Path = ROOT) -> nb.Cell | None:
    """First cell of every student notebook: on Colab (no clone), install tinytorch from the repository
    named in _config.yml. None for a tree without a book configuration (the exporter's own tests)."""
    config = root / "_config.yml"
    if not config.exists():
        return None
    repository = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("repository", {})
    url, branch = repository.get("url", "").rstrip("/"), repository.get("branch", "main")
    if not url:
        raise SystemExit("_config.yml: repository.url is needed for the student notebooks' Colab cell")
    return nb.Cell("code", (
        "# Setup. On Google Colab, which has no copy of the repository, this installs tinytorch from it.\n"
        "# Elsewhere (Binder, a clone) it does nothing: tinytorch is installed there already, and in a\n"
        "# notebook opened by `tito module start` `import tinytorch` is your own package.\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import subprocess\n"
        "\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                    \"tinytorch @ git+{url}@{branch}\"], check=True)"))


def notebook_metadata(source: Path, root: Path = ROOT) -> dict:
    name = source.parent.name
    return {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "tinytorch": {"module": name, "source": source.relative_to(root).as_posix(),
                      "generated": "by `make export`; do not edit (your copy: `tito module start "
                                   f"{name[:2]}`)"},
    }


def student_notebook(source: Path, root: Path = ROOT) -> tuple[Path, str]:
    """(path, text) of the student notebook of one source file."""
    name = source.parent.name
    cells = nb.read_source(source)
    try:
        student = nb.student_cells(cells, chapter=name[:2])
    except ValueError as error:
        raise SystemExit(f"{source.relative_to(root).as_posix()}: {error}") from None
    metadata = notebook_metadata(source, root)
    first = colab_cell(root)
    return root / STUDENT / name / f"{name}.ipynb", nb.notebook_json(([first] if first else []) + student,
                                                                       metadata)


def planned(root: Path = ROOT) -> dict[Path, str]:
    plan: dict[Path, str] = {}
    for source in module_sources(root / "src"):
        for path, text in render(source, root).items():
            if path in plan:
                raise SystemExit(f"{source}: target {path.relative_to(root)} is exported by two sources")
            plan[path] = text
        path, text = student_notebook(source, root)
        plan[path] = text
    table = rubric_table(root)
    for source in module_sources(root / "src"):
        entry = table.get(source.parent.name)
        if entry is not None and entry.graded():
            path, text = assignment.source_notebook(root, source, entry, colab_cell(root),
                                                    notebook_metadata(source, root))
            plan[path] = text
    return plan


def rubric_table(root: Path = ROOT) -> dict:
    """The course's rubric (classroom/rubric.yml), checked against src/ and tests/; empty for a tree
    without one (the exporter's own tests)."""
    if not (root / rubrics.RUBRIC).exists():
        return {}
    try:
        return rubrics.load(root)
    except rubrics.RubricError as error:
        raise SystemExit(str(error)) from None


def generated_files(root: Path = ROOT) -> set[Path]:
    """Files the export owns: tinytorch/ files with the header, every notebook in modules/ and in
    classroom/source/."""
    package = {p for p in (root / "tinytorch").rglob("*.py") if p.read_text(encoding="utf-8").startswith(GENERATED_MARK)}
    return package | set((root / STUDENT).glob("*/*.ipynb")) | set((root / assignment.SOURCE).glob("*/*.ipynb"))


def check(root: Path = ROOT) -> list[str]:
    """Human-readable problems; empty when tinytorch/ matches src/."""
    plan, problems = planned(root), []
    for path, text in plan.items():
        name = path.relative_to(root).as_posix()
        if not path.exists():
            problems.append(f"{name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            diff = difflib.unified_diff(text.splitlines(), path.read_text(encoding="utf-8").splitlines(),
                                        "export of src/", name, lineterm="", n=1)
            problems.append(f"{name} differs from its source:\n" + "\n".join(list(diff)[:20]))
    for path in sorted(generated_files(root) - set(plan)):
        problems.append(f"{path.relative_to(root).as_posix()} is generated but no source exports it")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    plan = planned(root)
    for path in sorted(generated_files(root) - set(plan)):
        path.unlink()
    changed = []
    for path, text in plan.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this repo)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.root)
        if problems:
            print("tinytorch/, modules/ or classroom/source/ is out of sync with src/ and classroom/rubric.yml "
                  "(generated files must not be edited by hand):",
                  file=sys.stderr)
            for problem in problems:
                print("  - " + problem, file=sys.stderr)
            print("Run `make export` and commit the regenerated files.", file=sys.stderr)
            return 1
        print(f"export check: tinytorch/, the student notebooks in modules/ and the nbgrader sources in "
              f"classroom/source/ match src/ and classroom/rubric.yml "
              f"({len(module_sources(args.root / 'src'))} modules)")
        return 0
    changed = write(args.root)
    for path in changed:
        print(f"exported {path.relative_to(args.root).as_posix()}")
    print(f"export: {len(changed)} file(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
