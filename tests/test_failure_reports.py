"""Failures of the build tooling say why where they are seen: tools/run_checks.py repeats a failed
part's reasons at the end of `make test`'s output (a CI log may keep only its end), and a slides
and audio job that answers with no result becomes a build warning showing its output, never an
exception that stops the build without it (tools/sphinx_tinytorch.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
try:        # the tools import by name, as they run; the path is put back for the other tests
    import run_checks
    import sphinx_tinytorch
finally:
    sys.path.pop(0)


def test_the_reasons_are_the_warnings_and_the_exception_without_colour_codes(tmp_path):
    log = tmp_path / "book.log"
    log.write_text(
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption.\n"
        "reading sources... [ 90%] book/chapters/12_acceleration\n"
        "/repo/book/chapters/12_acceleration.md:40: WARNING: glue key not found [mystnb.glue]\n"
        "Traceback (most recent call last):\n"
        "  File \"<cell>\", line 3, in <module>\n"
        "\x1b[0;32m----> 3\x1b[0m ratio \x1b[38;5;241m=\x1b[39m plain \x1b[38;5;241m/\x1b[39m route\n"
        "\x1b[0;31mZeroDivisionError\x1b[0m: float division by zero\n"
        "build finished with problems, 1 warning.\n", encoding="utf-8")
    assert run_checks.why_it_failed(log) == [
        "/repo/book/chapters/12_acceleration.md:40: WARNING: glue key not found [mystnb.glue]",
        "Traceback (most recent call last):",
        "----> 3 ratio = plain / route",
        "ZeroDivisionError: float division by zero",
        "build finished with problems, 1 warning.",
    ]


def test_only_the_last_reasons_and_the_last_lines_when_nothing_matches(tmp_path):
    log = tmp_path / "pytest.log"
    log.write_text("".join(f"FAILED tests/test_x.py::test_{i} - AssertionError\n" for i in range(50)),
                   encoding="utf-8")
    assert run_checks.why_it_failed(log, most=3) == [
        f"FAILED tests/test_x.py::test_{i} - AssertionError" for i in (47, 48, 49)]
    quiet = tmp_path / "quiet.log"
    quiet.write_text("\n".join(f"line {i}" for i in range(10)), encoding="utf-8")
    assert run_checks.why_it_failed(quiet, most=2) == ["line 8", "line 9"]


def test_a_slides_job_without_a_result_is_reported_with_its_output():
    # `--probe` exits 0 but answers over several lines: its last line is no result
    answer = sphinx_tinytorch.Overviews._run(["--probe"])
    assert answer["deck"] is None and answer["audio"] is None
    [error] = answer["errors"]
    assert "--probe" in error and '"ok"' in error
    failed = sphinx_tinytorch.Overviews._run(["--no-such-option", "a", "b"])
    assert "exit 2" in failed["errors"][0]


def checks_with(tmp_path, monkeypatch, build: str, tests: str = "exit(1)"):
    """run_checks.main() over stand-in parts: `build` and `tests` are Python; the site part writes
    `site-tests-ran`. Returns main()'s exit status."""
    python = sys.executable
    parts = [("export check", [python, "-c", "pass"]),
             ("src checks", [python, "-c", "pass"]),
             ("book build (strict)", [python, "-c", build]),
             ("pytest + doctests", [python, "-c", "print('FAILED tests/test_a.py::test_b'); " + tests]),
             ("pytest on the built site", [python, "-c", "open('site-tests-ran', 'w')"])]
    monkeypatch.setattr(run_checks, "ROOT", tmp_path)
    monkeypatch.setattr(run_checks, "parts", lambda: parts)
    monkeypatch.setattr(run_checks, "torch_available", lambda: False)
    return run_checks.main()


BROKE = "print('x.md:3: WARNING: the build broke'); "


def test_without_a_site_the_site_tests_do_not_run_and_the_builds_reasons_end_the_output(
        tmp_path, monkeypatch, capsys):
    """A build that wrote no site (a cell raised): every site test could only say there is none.
    They do not run, the summary says so, and the build's reasons are the last lines (a CI log
    keeps its end); an earlier run's log of the site tests is not left to be read as this one's."""
    (tmp_path / "_build" / "test-logs").mkdir(parents=True)
    (tmp_path / "_build" / "test-logs" / "pytest-site.log").write_text("FAILED from an earlier run\n")
    status = checks_with(tmp_path, monkeypatch, BROKE + "exit(3)")
    out = capsys.readouterr().out
    assert status == 1 and not (tmp_path / "site-tests-ran").exists()
    summary = out.split("=== make test summary")[1]
    assert "NOT RUN" in summary and "not run: pytest on the built site" in summary
    assert "earlier run" not in (tmp_path / "_build" / "test-logs" / "pytest-site.log").read_text()
    reasons = out.split("=== why ")[1:]
    assert [reason.split(" failed")[0] for reason in reasons] == ["pytest + doctests", "book build (strict)"]
    assert out.rstrip().splitlines()[-2] == "  | x.md:3: WARNING: the build broke"
    assert out.rstrip().endswith("make test: 2 passed, 3 failed")


def test_a_build_that_failed_on_a_warning_still_has_its_site_tested(tmp_path, monkeypatch, capsys):
    """-W --keep-going: a warning fails the build, which still writes the whole site; its tests run."""
    write_site = ("import pathlib; p = pathlib.Path('_build/html'); p.mkdir(parents=True); "
                  "(p / 'index.html').write_text('x'); ")
    status = checks_with(tmp_path, monkeypatch, write_site + BROKE + "exit(1)", tests="exit(0)")
    out = capsys.readouterr().out
    assert status == 1 and (tmp_path / "site-tests-ran").exists()
    assert "NOT RUN" not in out and out.rstrip().endswith("make test: 4 passed, 1 failed")


def test_a_part_killed_by_a_signal_is_a_failure_with_its_reasons(tmp_path, monkeypatch, capsys):
    """A negative status is a signal (SIGHUP: -1), not a part that did not run."""
    status = checks_with(tmp_path, monkeypatch, "pass",
                            tests="print('E   AssertionError: real reason', flush=True); "
                                  "import os, signal; os.kill(os.getpid(), signal.SIGHUP)")
    out = capsys.readouterr().out
    assert status == 1 and "FAIL (exit -1)" in out and "real reason" in out.split("=== why pytest")[1]
