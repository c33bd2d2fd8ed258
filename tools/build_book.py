"""Build the TinyTorch book: the one place that says what a (strict) build is.

    python tools/build_book.py                  # strict build of this repo's book (what `make test` runs)
    python tools/build_book.py --lenient        # same execution, warnings reported but not fatal (`make book`)
    python tools/build_book.py ROOT [--output DIR]   # build another book (tests build tiny ones)

Every build
  1. deletes `<root>/_build/.jupyter_cache` and `_build/html` (also under the output dir), so no
     stale execution result or page of a removed chapter survives;
  2. vendors the browser assets the site needs offline (mermaid, MathJax) into
     `<root>/_build/_vendor/`, which `_config.yml` lists in `html_static_path` (and pdf.js, for
     the chapters' slide viewers);
  3. runs `jupyter-book build ROOT --all` (every page re-read, every chapter executed: the config
     says `execute_notebooks: force`), adding `-W -n --keep-going` unless `--lenient`.

Offline assets: the site must draw diagrams and math with no internet. The assets are fetched at
build time from the npm registry with `npm pack NAME@VERSION` (npm's own cache makes repeats
offline), checked against the pinned sha512 integrity below, and only the files the site loads
are unpacked. Nothing fetched is committed: it all lives under `_build/`.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STRICT_FLAGS = ["-W", "-n", "--keep-going"]
VENDOR_DIR = Path("_build") / "_vendor"  # relative to the book root; matches html_static_path


@dataclass(frozen=True)
class Asset:
    """An npm package version whose files (under `package/<prefix>`) are served from _static/<name>/."""

    name: str
    version: str
    integrity: str  # npm's sha512 of the tarball
    prefix: str  # folder inside the tarball whose files are kept
    entry: str  # the file the config points at, relative to _static/<name>/
    skip_suffixes: tuple[str, ...] = (".map", ".d.ts")
    package: str = ""  # the npm package, when it is not `name`

    @property
    def npm_name(self) -> str:
        return self.package or self.name

    @property
    def tarball(self) -> str:
        return f"{self.npm_name}-{self.version}.tgz"


# Versions are pinned here and referenced in _config.yml (mermaid_use_local, mathjax_path);
# tests/test_book_build.py checks that the two agree.
ASSETS = (
    Asset(
        name="mermaid",
        version="11.12.1",
        integrity="sha512-UlIZrRariB11TY1RtTgUWp65tphtBv4CSq7vyS2ZZ2TgoMjs2nloq+wFqxiwcxlhHUvs7DPGgMjs2aeQxz5h9g==",
        prefix="dist/",
        entry="mermaid.min.js",  # classic build: loads from file:// too (see tools/sphinx_tinytorch.py)
    ),
    Asset(
        name="mathjax",
        version="3.2.2",
        integrity="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        prefix="es5/",
        entry="tex-mml-chtml.js",
    ),
    # pdf.js for the chapters' slide viewer (tools/sphinx_tinytorch.py). The 3.x line is the last
    # with classic (non-module) scripts, which load from file:// pages; with the worker script
    # loaded on the page as well, pdf.js runs it on the main thread and never starts a Worker
    # (which file:// pages may not). The legacy build supports older browsers too.
    Asset(
        name="pdfjs",
        version="3.11.174",
        integrity="sha512-TdTZPf1trZ8/UFu5Cx/GXB7GZM30LT+wWUNfsi6Bq8ePLnb+woNKtDymI2mxZYBpMbonNFqKmiz684DIfnd8dA==",
        prefix="legacy/build/",
        entry="pdf.min.js",
        package="pdfjs-dist",
    ),
)


def _wanted(asset: Asset, member: str) -> str | None:
    """Path under _static/<name>/ for a tarball member we keep, else None."""
    inner = member.removeprefix("package/")
    if inner == "LICENSE":
        return "LICENSE"
    if not inner.startswith(asset.prefix) or inner.endswith(asset.skip_suffixes):
        return None
    rest = inner[len(asset.prefix):]
    if asset.name == "mermaid" and rest != asset.entry:
        return None  # one self-contained classic bundle; the ESM builds and chunks are not needed
    if asset.name == "pdfjs" and rest not in (asset.entry, "pdf.worker.min.js"):
        return None  # the library and its worker, minified; no sandbox, no source maps
    return rest


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _fetch(asset: Asset, downloads: Path) -> Path:
    """The asset's tarball in `downloads`, fetched with `npm pack` when it is not there yet.

    Several builds may fetch at once (`make test` runs the strict build beside tests that build
    tiny books, all sharing this folder): each packs into a private folder of its own, checks the
    integrity there and only then moves the file into place (an atomic rename), so no build ever
    reads another's half-written tarball, and a rename onto a finished one changes nothing."""
    tarball = downloads / asset.tarball
    if tarball.exists() and _integrity(tarball) == asset.integrity:
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "build_book: `npm` not found. The book vendors mermaid and MathJax from the npm registry "
            "so that diagrams and math render offline; install Node.js and npm "
            "(Debian: apt-get install -y npm) and run the build again."
        )
    downloads.mkdir(parents=True, exist_ok=True)
    spec = f"{asset.npm_name}@{asset.version}"
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".fetching-") as private:
        packed = Path(private) / asset.tarball
        result = subprocess.run([npm, "pack", spec, "--pack-destination", private],
                                capture_output=True, text=True)   # not --silent: a failure says why
        if result.returncode != 0 or not packed.exists():
            raise SystemExit(f"build_book: `npm pack {spec}` failed:\n{result.stdout}{result.stderr}")
        got = _integrity(packed)
        if got != asset.integrity:
            raise SystemExit(f"build_book: {asset.tarball} has integrity {got}, expected {asset.integrity}")
        os.replace(packed, tarball)
    return tarball


def vendor_assets(root: Path, downloads: Path | None = None) -> Path:
    """Unpack the pinned assets into <root>/_build/_vendor/<name>/ (skipped when already there)."""
    downloads = downloads or REPO_ROOT / "_build" / "_npm"
    vendor = root / VENDOR_DIR
    for asset in ASSETS:
        target = vendor / asset.name
        stamp = target / ".version"
        if stamp.exists() and stamp.read_text() == asset.integrity and (target / asset.entry).exists():
            continue
        tarball = _fetch(asset, downloads)
        vendor.mkdir(parents=True, exist_ok=True)
        # Unpacked in a private folder next to the served one (so nothing half-unpacked is ever
        # served, even after a crash) and renamed into place when complete, as the tarball is.
        with tempfile.TemporaryDirectory(dir=vendor.parent, prefix=f".vendor-{asset.name}-") as private:
            unpacked = Path(private) / asset.name
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    rest = _wanted(asset, member.name)
                    if rest is None or not member.isfile():
                        continue
                    out = unpacked / rest
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(archive.extractfile(member).read())
            if not (unpacked / asset.entry).exists():
                raise SystemExit(f"build_book: {asset.tarball} has no {asset.prefix}{asset.entry}")
            (unpacked / ".version").write_text(asset.integrity)
            if target.exists():
                shutil.rmtree(target)
            unpacked.rename(target)
    return vendor


def clear_previous_build(root: Path, output: Path | None) -> None:
    """Delete the execution cache and the old HTML (no page of a removed chapter may survive)."""
    for base in {root, output or root}:
        for stale in (base / "_build" / ".jupyter_cache", base / "_build" / "html"):
            if stale.exists():
                shutil.rmtree(stale)


def jupyter_book() -> str:
    beside = Path(sys.executable).parent / "jupyter-book"
    return str(beside) if beside.exists() else "jupyter-book"


def build_command(root: Path, output: Path | None = None, strict: bool = True) -> list[str]:
    command = [jupyter_book(), "build", str(root), "--all"]
    if strict:
        command += STRICT_FLAGS
    if output is not None:
        command += ["--path-output", str(output)]
    return command


def build(root: Path = REPO_ROOT, output: Path | None = None, strict: bool = True) -> int:
    """Build the book at `root`; returns jupyter-book's exit status."""
    root = root.resolve()
    output = output.resolve() if output is not None else None
    clear_previous_build(root, output)
    vendor_assets(root)
    command = build_command(root, output, strict)
    print("build_book: " + " ".join(command), flush=True)
    env = dict(os.environ)
    # Chapters import tinytorch from the venv (editable install of this repo). MPLBACKEND is left to
    # the kernel, which picks the inline backend so plt figures appear in the page.
    env.pop("MPLBACKEND", None)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets a debugger warning in each kernel
    start = time.monotonic()
    status = subprocess.run(command, cwd=root, env=env).returncode
    index = (output or root) / "_build" / "html" / "index.html"
    seconds = time.monotonic() - start
    if status == 0 and index.exists():
        print(f"build_book: built in {seconds:.0f} s: {index}")
    else:
        print(f"build_book: FAILED after {seconds:.0f} s (exit {status}); see the errors above",
              file=sys.stderr)
        status = status or 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=REPO_ROOT,
                        help="book root holding _config.yml and _toc.yml (default: this repo)")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder to put _build/ in (default: the book root)")
    parser.add_argument("--lenient", action="store_true",
                        help="report warnings without failing (a broken cell still fails)")
    args = parser.parse_args(argv)
    return build(args.root, args.output, strict=not args.lenient)


if __name__ == "__main__":
    sys.exit(main())
