"""bench/bench_digits.py compares like with like (repository tooling, never graded)."""
import importlib.util
from pathlib import Path

import pytest


def test_bench_digits_hand_written_epoch_trains_exactly_like_the_trainer():
    """bench/bench_digits.py compares like with like: same data, initial weights, batch order and
    update, so the epoch's loss and accuracy agree (nothing is timed here)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_digits.py"
    spec = importlib.util.spec_from_file_location("bench_digits", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x, y = bench.make_data()
    x, y = x[:1000], y[:1000]                 # a short epoch is enough to compare
    framework, by_hand = bench.tinytorch_epoch_fn(x, y), bench.numpy_epoch_fn(x, y)
    for _ in range(2):
        (loss_a, acc_a), (loss_b, acc_b) = framework(), by_hand()
        assert loss_a == pytest.approx(loss_b, rel=1e-5) and acc_a == acc_b
