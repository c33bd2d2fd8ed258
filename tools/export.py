"""Write the `#| export` cells of each src/NN_name/NN_name.py into tinytorch/.

    python tools/export.py           # write tinytorch/ from src/
    python tools/export.py --check   # exit 1 if tinytorch/ differs from what the export would write

A source file names its target once with `#| default_exp core.name`; its cells that start with
`#| export` are written, in order, to `tinytorch/core/name.py` under a header that marks the file
as generated. `#| export core.other` sends one cell to another module instead (module 08 writes
`core.metrics` this way); that cell carries its own imports. The `### BEGIN SOLUTION` / `### END SOLUTION` fences are dropped; the code between
them is kept. Hand-written files in tinytorch/ (no header) are never touched.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = ROOT / "tinytorch"
HEADER = (
    "# GENERATED FILE: DO NOT EDIT. Source: {source}\n"
    "# Edit the source, then run `make export` to regenerate this file.\n"
)
GENERATED_MARK = "# GENERATED FILE: DO NOT EDIT."
DROPPED_LINES = {"### BEGIN SOLUTION", "### END SOLUTION"}


def module_sources(src: Path = SRC) -> list[Path]:
    """Each src/NN_name/NN_name.py, in the order a learner builds them."""
    return sorted(p for p in src.glob("[0-9][0-9]_*/[0-9][0-9]_*.py") if p.stem == p.parent.name)


def _directive(line: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped.startswith("#|"):
        return None
    name, _, arg = stripped[2:].strip().partition(" ")
    return name, arg.strip()


def render(source: Path, root: Path = ROOT) -> dict[Path, str]:
    """{target path: full text} that the export writes for one source file."""
    notebook = jupytext.read(source, fmt="py:percent")
    default, chunks = None, []   # chunks: (target or None for the default, code)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        directives = [d for d in map(_directive, lines) if d]
        for name, arg in directives:
            if name == "default_exp":
                if default is not None:
                    raise SystemExit(f"{source}: `#| default_exp` appears more than once")
                default = arg
        exports = [arg for name, arg in directives if name == "export"]
        if not exports:
            continue
        body = [l for l in lines if _directive(l) is None and l.strip() not in DROPPED_LINES]
        chunks.append((exports[0] or None, "\n".join(body).strip("\n")))
    if default is None:
        raise SystemExit(f"{source}: no `#| default_exp core.name` line")
    if not chunks:
        raise SystemExit(f"{source}: no `#| export` cell")
    by_target: dict[str, list[str]] = {}
    for target, code in chunks:
        by_target.setdefault(target or default, []).append(code)
    header = HEADER.format(source=source.relative_to(root).as_posix())
    return {root / "tinytorch" / Path(*target.split(".")).with_suffix(".py"):
            header + "\n" + "\n\n\n".join(codes) + "\n" for target, codes in by_target.items()}


def planned(root: Path = ROOT) -> dict[Path, str]:
    plan: dict[Path, str] = {}
    for source in module_sources(root / "src"):
        for path, text in render(source, root).items():
            if path in plan:
                raise SystemExit(f"{source}: target {path.relative_to(root)} is exported by two sources")
            plan[path] = text
    return plan


def generated_files(root: Path = ROOT) -> set[Path]:
    return {p for p in (root / "tinytorch").rglob("*.py") if p.read_text().startswith(GENERATED_MARK)}


def check(root: Path = ROOT) -> list[str]:
    """Human-readable problems; empty when tinytorch/ matches src/."""
    plan, problems = planned(root), []
    for path, text in plan.items():
        name = path.relative_to(root).as_posix()
        if not path.exists():
            problems.append(f"{name} is missing")
        elif path.read_text() != text:
            diff = difflib.unified_diff(text.splitlines(), path.read_text().splitlines(),
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
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
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
            print("tinytorch/ is out of sync with src/ (generated files must not be edited by hand):",
                  file=sys.stderr)
            for problem in problems:
                print("  - " + problem, file=sys.stderr)
            print("Run `make export` and commit the regenerated files.", file=sys.stderr)
            return 1
        print(f"export check: tinytorch/ matches src/ ({len(module_sources(args.root / 'src'))} modules)")
        return 0
    changed = write(args.root)
    for path in changed:
        print(f"exported {path.relative_to(args.root).as_posix()}")
    print(f"export: {len(changed)} file(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
