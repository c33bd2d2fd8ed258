"""Module 08 training: what the Trainer and its safe checkpoints cost.

(a) `Trainer.train_epoch` vs a hand loop of the same tinytorch calls (forward, loss, zero_grad,
    backward, step) over the same DataLoader: the Trainer's bookkeeping (loss as float, finiteness
    check, training accuracy, history, set_epoch) must stay within 5% (ratio <= 1.05).
(b) Checkpoint save and load of a ~40 MB training state (MLP weights + Adam's two moments) vs raw
    `safetensors.numpy.save_file` / `load_file` of the same arrays: throughput ratio >= 0.8.
    Ours also computes and verifies a SHA-256 checksum, fsyncs the file and its folder, replaces
    atomically, and validates every name/shape/dtype before copying into the live model; the raw
    reference does none of that. Two more rows compare against the least that any save/load with
    the same guarantees must do (hash every byte, fsync, rename; or hash every byte and copy into
    the live arrays): they show our own overhead, separately from the price of the guarantees.

Everything is timed interleaved in one process (a round of each, several rounds, the median; the
order within a round rotates), so machine noise hits both sides alike. Run alone with `python bench/bench_training.py`.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import hashlib  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import safetensors.numpy  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.dataloader import DataLoader, TensorDataset  # noqa: E402
from tinytorch.core.layers import Linear, Sequential, manual_seed  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.optimizers import SGD, Adam  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import Trainer  # noqa: E402

SIZES, BATCH, SAMPLES = (784, 128, 64, 10), 64, 1024
EPOCH_ROUNDS = 81
CKPT_WIDTH, CKPT_ROUNDS = 1024, 7


def mlp(sizes, seed=0):
    manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [Linear(n_in, n_out)] + ([ReLU()] if i < len(sizes) - 2 else [])
    return Sequential(layers)


def median_interleaved(fns: dict, rounds: int, warmup: int = 1) -> dict:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    order = list(fns.items())
    for round_ in range(rounds):
        # rotate who goes first, so that neither side always runs on a cache warmed by the other
        for name, fn in order[round_ % len(order):] + order[:round_ % len(order)]:
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


# -- (a) Trainer overhead ----------------------------------------------------------------------------
def epoch_functions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], SAMPLES)
    data = TensorDataset(Tensor(x), Tensor(y))

    model = mlp(SIZES)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.01, momentum=0.9), CrossEntropyLoss())
    trainer_loader = DataLoader(data, batch_size=BATCH, shuffle=True, seed=0)

    def trainer_epoch():
        trainer.train_epoch(trainer_loader)

    hand_model = mlp(SIZES)
    hand_opt = SGD(hand_model.parameters(), lr=0.01, momentum=0.9)
    hand_loss = CrossEntropyLoss()
    hand_loader = DataLoader(data, batch_size=BATCH, shuffle=True, seed=0)

    def hand_epoch():
        hand_model.train()
        for inputs, targets in hand_loader:
            loss = hand_loss(hand_model(inputs), targets)
            hand_opt.zero_grad()
            loss.backward()
            hand_opt.step()

    return trainer_epoch, hand_epoch


# -- (b) checkpoint throughput -----------------------------------------------------------------------
def checkpoint_setup(directory: Path):
    sizes = (CKPT_WIDTH, CKPT_WIDTH, CKPT_WIDTH, CKPT_WIDTH)
    model = mlp(sizes)
    trainer = Trainer(model, Adam(model.parameters(), lr=1e-3), CrossEntropyLoss())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, CKPT_WIDTH), dtype=np.float32)
    y = rng.integers(0, CKPT_WIDTH, 8)
    trainer.train_epoch([(x, y)])                    # allocate Adam's moments
    state = trainer.state_dict()
    arrays = {f"model/{k}": v for k, v in state["model"].items()}
    for i, entry in enumerate(state["optimizer"]["state"]["state"]):
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{i}/{key}"] = value
    nbytes = sum(a.nbytes for a in arrays.values())
    ours, raw = directory / "ours.safetensors", directory / "raw.safetensors"
    same = directory / "same.safetensors"
    targets = {f"model/{k}": p.data for k, p in model.named_parameters()}
    for i, entry in enumerate(trainer.optimizer.state):
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                targets[f"optimizer/{i}/{key}"] = value

    def fsync(path):
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    def same_guarantees_save():
        """What any durable, checksummed save must do at least: hash, write, fsync, rename, fsync dir."""
        digest = hashlib.sha256()
        for name in sorted(arrays):
            digest.update(arrays[name].reshape(-1).view(np.uint8))
        tmp = directory / ".same.tmp"
        safetensors.numpy.save_file(arrays, str(tmp), metadata={"sha256": digest.hexdigest()})
        fsync(tmp)
        os.replace(tmp, same)
        fsync(directory)

    def same_guarantees_load():
        """What any verified load must do at least: read, hash every byte, copy into the live arrays."""
        loaded = safetensors.numpy.load_file(str(same))
        digest = hashlib.sha256()
        for name in sorted(loaded):
            digest.update(loaded[name].reshape(-1).view(np.uint8))
        for name, target in targets.items():
            np.copyto(target, loaded[name])

    saves = {"ours": lambda: trainer.save_checkpoint(ours),
             "raw": lambda: safetensors.numpy.save_file(arrays, str(raw)),
             "same": same_guarantees_save}
    loads = {"ours": lambda: trainer.load_checkpoint(ours),
             "raw": lambda: safetensors.numpy.load_file(str(raw)),
             "same": same_guarantees_load}
    return nbytes, saves, loads


def run() -> list:
    trainer_epoch, hand_epoch = epoch_functions()
    t = median_interleaved({"trainer": trainer_epoch, "hand": hand_epoch}, EPOCH_ROUNDS, warmup=2)
    rows = [{"figure": f"Trainer.train_epoch vs hand loop, MLP {'-'.join(map(str, SIZES))}, "
                       f"{SAMPLES // BATCH} batches of {BATCH} (ms)",
             "tinytorch": t["trainer"] * 1e3, "reference": t["hand"] * 1e3,
             "ratio": t["trainer"] / t["hand"], "target": "<= 1.05", "unit": "ms"}]
    # in the repository (a real disk, where fsync costs what it costs), not /tmp (possibly tmpfs)
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as folder:
        nbytes, saves, loads = checkpoint_setup(Path(folder))
        s = median_interleaved(saves, CKPT_ROUNDS)
        l = median_interleaved(loads, CKPT_ROUNDS)
    mb = nbytes / 1e6
    rows += [
        {"figure": f"checkpoint save {mb:.0f} MB, MB/s (ours: checksum+fsync+atomic) vs safetensors save_file",
         "tinytorch": mb / s["ours"], "reference": mb / s["raw"], "ratio": s["raw"] / s["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
        {"figure": f"checkpoint load {mb:.0f} MB, MB/s (ours: verify+validate+copy in) vs safetensors load_file",
         "tinytorch": mb / l["ours"], "reference": mb / l["raw"], "ratio": l["raw"] / l["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
        {"figure": f"checkpoint save {mb:.0f} MB, MB/s vs hash+save_file+fsync+replace (same guarantees)",
         "tinytorch": mb / s["ours"], "reference": mb / s["same"], "ratio": s["same"] / s["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
        {"figure": f"checkpoint load {mb:.0f} MB, MB/s vs load_file+hash+copy in (same guarantees)",
         "tinytorch": mb / l["ours"], "reference": mb / l["same"], "ratio": l["same"] / l["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
    ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
