"""The benchmark's own machinery (bench/steps.py, bench/scaling.py, bench/run.py): the three steps
it times compute the same thing, and the sweep writes what it promises. Nothing here is timed:
speed is judged by `make bench`, never by a unit test."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import steps  # noqa: E402

SIZES, BATCH = (12, 9, 7, 5), 6


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("accelerated, accumulate", [(False, False), (True, False), (True, True)],
                         ids=["plain", "accelerated, same kernels", "same kernels, gradients accumulated"])
def test_hand_numpy_step_trains_exactly_like_tinytorch(accelerated, accumulate):
    tiny_step, model, _ = steps.tinytorch_step(SIZES, BATCH, accelerated=accelerated)
    hand_step = steps.numpy_step(SIZES, BATCH, kernels=accelerated, accumulate=accumulate)
    start = [p.data.copy() for p in model.parameters()]
    for ours, theirs in zip(start, hand_step.params):
        np.testing.assert_array_equal(ours, theirs)     # the same initial weights
    for _ in range(5):
        tiny_step()
        hand_step()
    for (name, p), theirs in zip(model.named_parameters(), hand_step.params):
        np.testing.assert_allclose(p.data, theirs, rtol=1e-5, atol=1e-6, err_msg=name)
    assert any(not np.array_equal(p.data, s) for p, s in zip(model.parameters(), start))


def test_torch_step_runs_when_installed():
    step = steps.torch_step(SIZES, BATCH)
    if importlib.util.find_spec("torch") is None:
        assert step is None
        assert "torch" not in steps.steps_for(SIZES, BATCH)
    else:
        step()
        assert set(steps.steps_for(SIZES, BATCH)) == {"tinytorch", "numpy", "torch"}
    assert set(steps.steps_for(SIZES, BATCH, with_torch=False)) == {"tinytorch", "numpy"}


def test_interleaved_timer_calls_every_step_in_every_round():
    calls = {"a": 0, "b": 0}

    def counter(name):
        def step():
            calls[name] += 1
        return step
    seconds = steps.time_interleaved({"a": counter("a"), "b": counter("b")}, rounds=3,
                                     sample_seconds=0.0, warmup=2)
    assert set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())
    # 2 warm-up calls, 5 calls to size the sample (calls_per_sample's trials), then 3 rounds of an
    # untimed settling call and a timed one
    assert calls == {"a": 13, "b": 13}
    calls.update(a=0, b=0)
    steps.time_interleaved({"a": counter("a"), "b": counter("b")}, rounds=3, sample_seconds=0.0,
                           warmup=2, settle=0)
    assert calls == {"a": 10, "b": 10}


def test_interleaved_timer_times_each_sample_after_its_settling_calls():
    """The first call of a sample (cold caches after another system) is not counted."""
    durations = iter([0] * 7 + [100, 1] * 5)    # warm-up and sizing calls, then (settling, timed) pairs
    now = [0]

    def clock():
        return now[0]

    def step():
        now[0] += next(durations)
    seconds = steps.time_interleaved({"a": step}, rounds=5, sample_seconds=0.0, warmup=2, clock=clock)
    assert seconds == {"a": 1}


def test_matmul_step_and_machine_description():
    steps.matmul_step(SIZES, BATCH)()
    info = steps.machine()
    assert {"cpu", "cores", "numpy", "blas", "torch"} <= set(info)
    assert info["numpy"] == np.__version__


def test_scaling_writes_json_csv_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    scaling = load("scaling")
    rows = scaling.measure([SIZES, (12, 4, 4, 5)], batches=(2, 3), rounds=1,
                           sample_seconds=0.0, with_torch=False)
    assert [(r["width"], r["batch"]) for r in rows] == [(9, 2), (9, 3), (4, 2), (4, 3)]
    paths = scaling.write(rows, tmp_path)
    saved = json.loads(paths["json"].read_text())
    assert saved["rows"] == rows and saved["machine"]["numpy"] == np.__version__
    with paths["csv"].open() as f:
        table = list(csv.DictReader(f))
    systems = {"tinytorch", "accelerated", "numpy", "numpy_kernels"}    # plain and accelerated, by hand
    assert len(table) == len(rows) * len(systems)                      # and with the same kernels
    assert {r["system"] for r in table} == systems
    numpy_rows = [r for r in table if r["system"] == "numpy"]
    assert all(float(r["ratio_to_numpy"]) == 1.0 for r in numpy_rows)
    figure = scaling.plot(rows)
    assert len(figure.axes) == 2                             # one panel per width
    assert len(figure.axes[0].lines) == len(systems)         # one line per system


def test_runner_shows_unjudged_single_numbers(capsys):
    run = load("run")
    assert run.meets(None, None) and run.meets(1.02, "<= 1.03") and not run.meets(1.04, "<= 1.03")
    assert run.fmt(None, "us") == "-"


def _rows(ratio, tinytorch, extra=1.0):
    return [{"figure": "step vs hand (us)", "tinytorch": tinytorch, "reference": tinytorch / ratio,
             "ratio": ratio, "target": "<= 1.03", "unit": "us"},
            {"figure": "step: minus hand (us)", "tinytorch": extra, "reference": None, "ratio": None,
             "target": None, "unit": "us"}]


def test_runner_keeps_the_median_process_of_each_figure():
    run = load("run")
    judged, single = run.combine([_rows(1.04, 104.0, 4.0), _rows(0.99, 99.0, -1.0), _rows(1.01, 101.0, 1.0)])
    assert judged["ratio"] == 1.01 and judged["tinytorch"] == 101.0        # one process's row, not mixed
    assert judged["reference"] == pytest.approx(100.0) and judged["ratio_range"] == (0.99, 1.04)
    assert single["tinytorch"] == 1.0 and single["ratio_range"] is None and single["reference"] is None
    assert run.combine([_rows(1.04, 104.0), _rows(0.99, 99.0)])[0]["ratio"] == 1.04   # the higher middle
    assert run.spread(judged) == "0.990-1.040" and run.spread(single) == "-"
    with pytest.raises(ValueError, match="different figures"):
        run.combine([_rows(1.0, 1.0), _rows(1.0, 1.0)[:1]])


def test_runner_processes_option():
    run = load("run")
    assert run.processes_option(["mlp"]) == (["mlp"], run.PROCESSES)
    assert run.processes_option(["mlp", "--processes", "5", "cnn"]) == (["mlp", "cnn"], 5)
    for bad in (["--processes"], ["--processes", "0"], ["--processes", "two"]):
        with pytest.raises(SystemExit, match="--processes needs a whole number"):
            run.processes_option(bad)


def test_runner_runs_a_module_in_fresh_processes(tmp_path):
    module = tmp_path / "bench_fake.py"
    module.write_text("import os\n"
                      "def run():\n"
                      "    return [{'figure': 'pid', 'tinytorch': float(os.getpid()), 'reference': None,\n"
                      "             'ratio': None, 'target': None, 'unit': ''}]\n")
    results = load("run").run_in_processes(module, 3)
    pids = {rows[0]["tinytorch"] for rows in results}
    assert len(results) == 3 and len(pids) == 3 and float(os.getpid()) not in pids


def test_training_bench_hand_loop_makes_the_trainers_calls():
    """`make bench`'s Trainer row compares train_epoch with a hand loop "of the same calls": from the
    same start, one epoch of each must end with the same weights, loss and accuracy, bit for bit."""
    bench_training = load("bench_training")
    trainer, loader, _ = bench_training.epoch_setup()
    other, _, hand_epoch = bench_training.epoch_setup()      # a second, identical model, trained by hand
    trainer.train_epoch(loader)
    hand_loss, hand_accuracy = hand_epoch()
    assert hand_loss == trainer.history["train_loss"][-1]
    assert hand_accuracy == trainer.history["train_accuracy"][-1]
    assert 0.0 < hand_accuracy < 1.0
    for (name, ours), (_, theirs) in zip(trainer.model.named_parameters(), other.model.named_parameters()):
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)
    assert hand_epoch(report=False) is None


def test_runner_runs_a_module_in_fewer_processes_when_it_asks(tmp_path):
    run = load("run")
    asks, plain = tmp_path / "bench_long.py", tmp_path / "bench_short.py"
    asks.write_text("PROCESSES = 1\n\ndef run():\n    return []\n")
    plain.write_text("def run():\n    return []\n")
    assert run.module_processes(asks, 3) == 1 and run.module_processes(plain, 3) == 3
    assert run.module_processes(asks, 1) == 1
    assert load("bench_nbgrader").PROCESSES == 1
