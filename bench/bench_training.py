"""Module 08 training: what the Trainer and its safe checkpoints cost.

(a) `Trainer.train_epoch` vs a hand loop of the same tinytorch calls over the same DataLoader:
    forward, loss, zero_grad, backward, the gradient-norm check of `model.parameters()` (asked for
    at every update, as the learner's `Trainer.update` does), step, and the two numbers the
    Trainer reports for every batch (the loss as a float and the batch's `Accuracy`, which the
    Trainer records as `train_loss` and `train_accuracy`). What is left is the Trainer's own
    bookkeeping (batch and loss checks, finiteness checks, the accumulation window, running means,
    history, set_epoch, rollback guard): it must stay within 5% (ratio <= 1.05). Both loops
    make the gradient-norm check (`grad_norm`, one BLAS pass over the gradients, so that an
    infinite gradient behind a finite loss never reaches the weights), as a careful hand loop does.
    An info row compares the Trainer with a hand loop that computes neither the loss value nor
    the accuracy. Both loops train one model with one optimizer over one loader, so they differ in
    their code only. The epochs are timed in CPU time (other programs' use of the core is not
    counted).
(b) Checkpoint save and load of a ~40 MB training state (MLP weights + Adam's two moments).
    Save is judged against safetensors made crash-safe the plain way (save_file to a temporary
    file, fsync, os.replace, fsync the folder): ratio >= 0.8. Ours also computes a CRC-32C of the
    payload and writes the whole training state. The bare `save_file` (no fsync, no checksum) is
    shown too, not judged: the fsyncs alone cost a large share of it. Load is judged against bare
    `safetensors.numpy.load_file` of the same arrays (ratio >= 0.8), although ours also verifies
    the checksum and every name, shape and dtype, and copies into the live model.

Everything is timed interleaved in one process by `steps.time_interleaved` (a round of each,
several rounds, the median; the order within a round rotates), so machine noise hits both sides
alike: the epochs in CPU time, the checkpoints by the wall clock (they wait on the disk). Run alone with `python bench/bench_training.py`.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import steps  # noqa: E402  (bench/steps.py: the shared interleaved timer; it loads nothing at import)

import numpy as np  # noqa: E402
import safetensors.numpy  # noqa: E402

from tinytorch.core.activations import ReLU  # noqa: E402
from tinytorch.core.clipping import grad_norm  # noqa: E402
from tinytorch.core.dataloader import DataLoader, TensorDataset  # noqa: E402
from tinytorch.core.layers import Linear, Sequential, manual_seed  # noqa: E402
from tinytorch.core.losses import CrossEntropyLoss  # noqa: E402
from tinytorch.core.metrics import Accuracy  # noqa: E402
from tinytorch.core.optimizers import SGD, Adam  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import Trainer  # noqa: E402

SIZES, BATCH, SAMPLES = (784, 128, 64, 10), 64, 1024
EPOCH_ROUNDS = 121
CKPT_WIDTH, CKPT_ROUNDS = 1024, 7


def mlp(sizes, seed=0):
    manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [Linear(n_in, n_out)] + ([ReLU()] if i < len(sizes) - 2 else [])
    return Sequential(layers)


# -- (a) Trainer overhead ----------------------------------------------------------------------------
def epoch_setup():
    """(trainer, its loader, hand_epoch): one model trained either way."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], SAMPLES)
    data = TensorDataset(Tensor(x), Tensor(y))

    # One model, optimizer and loader for both loops: they differ in their code only, not in where
    # their arrays happen to lie in memory (two identical Trainers differ by up to 2% for that).
    model = mlp(SIZES)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn, accuracy = CrossEntropyLoss(), Accuracy()
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, seed=0)
    trainer = Trainer(model, optimizer, loss_fn)

    def hand_epoch(report=True):
        """One epoch by hand; with `report`, the mean loss and accuracy the Trainer returns and records."""
        model.train()
        optimizer.zero_grad()            # before the first batch and after each step, as the Trainer does
        loss_sum = correct = samples = 0.0
        for inputs, targets in loader:
            outputs = model.forward(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            if report:
                n = len(targets.data)
                loss_sum += float(loss.data) * n
                correct += accuracy(outputs, targets) * n
                samples += n
            if not math.isfinite(grad_norm(model.parameters())):   # the Trainer's update asks the model
                raise FloatingPointError("non-finite gradient")
            optimizer.step()
            optimizer.zero_grad()
        return (loss_sum / samples, correct / samples) if report else None

    return trainer, loader, hand_epoch


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
    for i, entry in enumerate(state["optimizer"]["state"]):
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{i}/{key}"] = value
    nbytes = sum(a.nbytes for a in arrays.values())
    ours, raw = directory / "ours.safetensors", directory / "raw.safetensors"
    durable = directory / "durable.safetensors"
    targets = {f"model/{k}": p.data for k, p in model.named_parameters()}
    for i, entry in enumerate(trainer.optimizer.state):
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                targets[f"optimizer/{i}/{key}"] = value

    def fsync(path):
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    def durable_save():
        """Bare safetensors made crash-safe, the least the issue's atomic write needs: no checksum."""
        tmp = directory / ".durable.tmp"
        safetensors.numpy.save_file(arrays, str(tmp))
        fsync(tmp)
        os.replace(tmp, durable)
        fsync(directory)

    saves = {"ours": lambda: trainer.save_checkpoint(ours),
             "raw": lambda: safetensors.numpy.save_file(arrays, str(raw)),
             "durable": durable_save}
    loads = {"ours": lambda: trainer.load_checkpoint(ours),
             "raw": lambda: safetensors.numpy.load_file(str(raw))}
    return nbytes, saves, loads


def run() -> list:
    trainer, loader, hand_epoch = epoch_setup()
    t = steps.time_interleaved({"trainer": lambda: trainer.train_epoch(loader), "hand": hand_epoch,
                                "hand, reporting nothing": lambda: hand_epoch(report=False)},
                               EPOCH_ROUNDS, sample_seconds=0, warmup=2, settle=0)
    shape = f"MLP {'-'.join(map(str, SIZES))}, {SAMPLES // BATCH} batches of {BATCH} (ms)"
    rows = [{"figure": f"Trainer.train_epoch vs hand loop of the same calls, {shape}",
             "tinytorch": t["trainer"] * 1e3, "reference": t["hand"] * 1e3,
             "ratio": t["trainer"] / t["hand"], "target": "<= 1.05", "unit": "ms"},
            {"figure": "Trainer.train_epoch vs a hand loop that reports nothing (no loss value, no accuracy) (ms)",
             "tinytorch": t["trainer"] * 1e3, "reference": t["hand, reporting nothing"] * 1e3,
             "ratio": t["trainer"] / t["hand, reporting nothing"], "target": None, "unit": "ms"}]
    # in the repository (a real disk, where fsync costs what it costs), not /tmp (possibly tmpfs)
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as folder:
        nbytes, saves, loads = checkpoint_setup(Path(folder))
        # one call per sample, timed by the wall clock: a save waits on the disk
        s = steps.time_interleaved(saves, CKPT_ROUNDS, sample_seconds=0, warmup=1, clock=time.perf_counter,
                                   settle=0)
        l = steps.time_interleaved(loads, CKPT_ROUNDS, sample_seconds=0, warmup=1, clock=time.perf_counter,
                                   settle=0)
    mb = nbytes / 1e6
    rows += [
        {"figure": f"checkpoint save {mb:.0f} MB (checksum+fsync+atomic) vs safetensors save_file+fsync+replace",
         "tinytorch": mb / s["ours"], "reference": mb / s["durable"], "ratio": s["durable"] / s["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
        # Not judged: no durable, checksummed save can reach it (a CRC-32 pass over the payload and
        # the fsyncs add about as much as the bare write); shown so the price is visible.
        {"figure": f"checkpoint save {mb:.0f} MB vs bare safetensors save_file (no fsync, no checksum)",
         "tinytorch": mb / s["ours"], "reference": mb / s["raw"], "ratio": s["raw"] / s["ours"],
         "target": None, "unit": "MB/s"},
        {"figure": f"checkpoint load {mb:.0f} MB (verify+validate+copy in) vs safetensors load_file",
         "tinytorch": mb / l["ours"], "reference": mb / l["raw"], "ratio": l["raw"] / l["ours"],
         "target": ">= 0.8", "unit": "MB/s"},
    ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
