"""Writing a file all or nothing: ``write_atomically(path, write)``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. Checkpoints and the checkpoint manager's index are written through it.
``write`` fills a temporary file in the target's folder; the file is fsynced, renamed onto the
target with ``os.replace`` (atomic on a POSIX local file system) and the folder is fsynced, so a
crash leaves the old complete file or the new one, never a mix.
"""
import os
import tempfile
from pathlib import Path

from tinytorch.utils.validation import check_path, describe

__all__ = ["write_atomically"]


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:                              # platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path, write) -> Path:
    """Make ``path`` hold what ``write(temporary_path)`` writes, all or nothing, durably.

    The temporary file lives in the same folder, is fsynced, renamed onto ``path`` with
    ``os.replace`` (atomic on POSIX local file systems), and the folder is fsynced so the rename
    survives a crash. On any failure the temporary file is removed and ``path`` is untouched.
    """
    path = check_path("write_atomically path", path, file=True)
    if not callable(write):
        raise TypeError(f"write_atomically write must be a function write(temporary_path), got {describe(write)}")
    directory = path.parent
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"write_atomically path {str(path)!r}: {str(directory)!r} is a file, not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.close(fd)
        write(tmp)
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    return path
