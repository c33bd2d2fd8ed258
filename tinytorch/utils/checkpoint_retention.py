"""Keeping the right checkpoints: ``retained_epochs``, ``improves`` and ``CheckpointManager``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. A manager saves ``epoch_<e>.safetensors`` files into one folder and keeps
the last ``keep_last``, the best by a monitored value (``mode`` "min" or "max", never guessed) and
every ``every``-th epoch; it never deletes the file it has just written. Its index
(``checkpoints.json``) is a cache: each checkpoint also stores its monitored value in its metadata,
so a missing or damaged index is rebuilt from the files.
"""
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from tinytorch.utils.atomic_write import write_atomically
from tinytorch.utils.checkpoint_file import checkpoint_metadata, write_checkpoint
from tinytorch.utils.validation import check_bool, check_choice, check_int, check_path, describe

__all__ = ["retained_epochs", "improves", "CheckpointManager", "MAX_EPOCHS"]


MAX_EPOCHS = 10_000_000   # retained_epochs looks at every saved epoch: a bound on that work


def retained_epochs(saved_epochs, keep_last: int = 3, every=None, best_epoch=None) -> list:
    """The epochs a ``CheckpointManager`` keeps: the last ``keep_last`` saved, ``best_epoch``, and
    every saved epoch that is a multiple of ``every``. ``saved_epochs`` may be an int ``E``
    (meaning epochs 1..E were saved).

    >>> retained_epochs(100, keep_last=3, every=25, best_epoch=72)
    [25, 50, 72, 75, 98, 99, 100]
    """
    if isinstance(saved_epochs, (int, np.integer)) and not isinstance(saved_epochs, (bool, np.bool_)):
        count = check_int("retained_epochs saved_epochs", saved_epochs, 0)
        if count > MAX_EPOCHS:       # the rule below walks every saved epoch: bound the work
            raise ValueError(f"retained_epochs saved_epochs must be <= {MAX_EPOCHS}, got {count}")
        saved = range(1, count + 1)
    elif isinstance(saved_epochs, (str, bytes)) or not hasattr(saved_epochs, "__iter__"):
        raise TypeError(f"retained_epochs saved_epochs must be a number of epochs or a list of epochs, "
                        f"got {describe(saved_epochs)}")
    else:
        saved = sorted({check_int("retained_epochs saved_epochs entry", e, 0) for e in saved_epochs})
        if len(saved) > MAX_EPOCHS:
            raise ValueError(f"retained_epochs saved_epochs must list at most {MAX_EPOCHS} epochs, "
                             f"got {len(saved)}")
    keep_last = check_int("retained_epochs keep_last", keep_last, 0)
    every = None if every is None else check_int("retained_epochs every", every, 1)
    best_epoch = None if best_epoch is None else check_int("retained_epochs best_epoch", best_epoch, 0)
    kept = set(saved[-keep_last:]) if keep_last else set()
    if every is not None:
        kept.update(e for e in saved if e % every == 0)
    if best_epoch is not None and best_epoch in saved:
        kept.add(best_epoch)
    return sorted(kept)


def improves(value, best, mode: str) -> bool:
    """Whether ``value`` beats ``best`` (None: nothing yet) when ``mode`` is "min" or "max";
    a missing or non-finite value never does."""
    mode = check_choice("improves mode", mode, ("min", "max"))
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
        raise TypeError(f"improves best must be a number or None, got {describe(best)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


class CheckpointManager:
    """Save checkpoints into ``directory`` and keep only the last ``keep_last``, the best by
    ``monitor`` (``mode`` "min": lowest is best, "max": highest) when ``keep_best``, and the
    milestones (every ``every``-th epoch) when ``every`` is set. Files are
    ``epoch_<e>.safetensors``; other files are never touched. The file just written is never
    deleted, and settings that keep nothing (``keep_last=0``, ``keep_best=False``, no ``every``) are
    refused.
    """

    INDEX = "checkpoints.json"
    _NAME = re.compile(r"epoch_(\d+)\.safetensors")

    def __init__(self, directory, keep_last: int = 3, keep_best: bool = True, monitor: str = "eval_loss",
                 mode: str = "min", every=None):
        check_path("CheckpointManager directory", directory)
        if Path(directory).exists() and not Path(directory).is_dir():
            raise ValueError(f"CheckpointManager directory {os.fspath(directory)!r} is a file, not a folder")
        keep_last = check_int("CheckpointManager keep_last", keep_last, 0)
        keep_best = check_bool("CheckpointManager keep_best", keep_best)
        mode = check_choice("CheckpointManager mode", mode, ("min", "max"))
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"CheckpointManager monitor must be a history key (a str), got {describe(monitor)}")
        every = None if every is None else check_int("CheckpointManager every", every, 1)
        if keep_last == 0 and not keep_best and every is None:
            raise ValueError("CheckpointManager with keep_last=0, keep_best=False and every=None would keep "
                             "no checkpoint at all: keep at least one kind")
        self.directory = Path(directory)
        self.keep_last, self.keep_best, self.monitor, self.mode, self.every = keep_last, keep_best, monitor, mode, every
        self.records = self._load_index()      # epoch -> monitored value (or None)

    # -- the index: a cache of what the files say ---------------------------------------------------
    def _on_disk(self) -> dict:
        """{epoch: path} of the checkpoint files in the folder."""
        found = {}
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                match = self._NAME.fullmatch(path.name)
                if match and path.is_file():
                    found[int(match.group(1))] = path
        return found

    def _load_index(self) -> dict:
        on_disk = self._on_disk()
        try:
            loaded = json.loads((self.directory / self.INDEX).read_text())
            records = {int(e): v for e, v in loaded["records"].items()}
            if set(records) == set(on_disk) and all(v is None or isinstance(v, (int, float))
                                                    for v in records.values()):
                return records
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return self._rebuild(on_disk)                # missing, damaged or stale: ask the files

    def _rebuild(self, on_disk: dict) -> dict:
        records = {}
        for epoch, path in on_disk.items():
            value = None
            try:
                stored = json.loads(checkpoint_metadata(path).get("monitored", "{}"))
                if stored.get("monitor") == self.monitor and isinstance(stored.get("value"), (int, float)):
                    value = float(stored["value"])
            except (OSError, ValueError, AttributeError):
                pass
            records[epoch] = value
        return records

    def _write_index(self) -> None:
        text = json.dumps({"monitor": self.monitor, "mode": self.mode,
                           "records": {str(e): v for e, v in sorted(self.records.items())}}, indent=1)
        write_atomically(self.directory / self.INDEX, lambda tmp: Path(tmp).write_text(text))

    # -- what is kept ---------------------------------------------------------------------------------
    def path_for(self, epoch: int) -> Path:
        return self.directory / f"epoch_{check_int('CheckpointManager epoch', epoch, 0)}.safetensors"

    @property
    def best_epoch(self):
        best = None
        for epoch in sorted(self.records):
            if improves(self.records[epoch], None if best is None else self.records[best], self.mode):
                best = epoch
        return best

    @property
    def best_path(self):
        best = self.best_epoch
        return None if best is None else self.path_for(best)

    @property
    def latest_path(self):
        return self.path_for(max(self.records)) if self.records else None

    def kept_epochs(self) -> list:
        best = self.best_epoch if self.keep_best else None
        return retained_epochs(self.records, self.keep_last, self.every, best)

    def save(self, state: dict, epoch: int, value=None) -> Path:
        """Write ``state`` as the checkpoint of ``epoch`` with monitored ``value`` (a number or None:
        such an epoch is never "best"), prune what the policy no longer keeps, return the path."""
        epoch = check_int("CheckpointManager.save epoch", epoch, 0)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.floating))):
            raise TypeError(f"CheckpointManager.save value must be a number or None, got {describe(value)}")
        value = None if value is None or not math.isfinite(float(value)) else float(value)
        monitored = json.dumps({"monitor": self.monitor, "value": value})
        path = write_checkpoint(self.path_for(epoch), state, extra_metadata={"monitored": monitored})
        self.records[epoch] = value
        keep = set(self.kept_epochs()) | {epoch}        # never delete the file just written
        for old in sorted(set(self.records) - keep):
            try:
                self.path_for(old).unlink()
            except FileNotFoundError:
                pass
            del self.records[old]
        self._write_index()
        return path

    def files(self) -> list:
        """The checkpoint files in the folder, by epoch."""
        return [path for _, path in sorted(self._on_disk().items())]

    def __repr__(self) -> str:
        return (f"CheckpointManager({str(self.directory)!r}, keep_last={self.keep_last}, keep_best={self.keep_best}, "
                f"monitor={self.monitor!r}, mode={self.mode!r}, every={self.every})")
