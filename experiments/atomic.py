"""Output that never lies: atomic files, results written as one set, the user's umask.

* :func:`write_bytes` (and ``write_text``, ``write_json``, ``save_figure``): a reader never sees a
  half-written file — each is written beside its place and renamed into it.
* :func:`result_set`: an experiment's metrics.json, figures and page are written into a fresh
  folder and swapped in together (docs/results.md), under a lock, so that an
  interruption leaves the old set or the new one — never a figure of one configuration beside
  the numbers of another — and two runs into one folder end with one whole set (the last).
* Files get the permissions the user's umask gives (0644 under 022), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def save_figure(fig, path, dpi: int = 150) -> Path:
    """Render a matplotlib figure to PNG in memory (``dpi`` recorded in the file), then write
    it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return write_bytes(path, buf.getvalue())


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_json_object(path) -> dict | None:
    """A JSON object from ``path``, or None when the file is missing, unreadable, truncated or
    holds anything but an object (``[]``, ``null``): a result to recompute, not to trust."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# -- results as a set -----------------------------------------------------------------------------

@contextlib.contextmanager
def result_set(folder):
    """Yield a fresh folder to write one set of results into; on success, swap it in for
    ``folder`` as a whole. On an exception (Ctrl-C included) the old set stays as it was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with locked(folder):
        recover(folder)
    new = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-{os.getpid()}-"))
    os.chmod(new, 0o777 & ~umask())
    try:
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    with locked(folder):
        _swap(new, folder)


def tidy(folder) -> None:
    """:func:`recover` under the set's lock: call before reading a set that may have been left
    by an interrupted run."""
    folder = Path(folder)
    if folder.parent.is_dir():
        with locked(folder):
            recover(folder)


def _swap(new: Path, folder: Path) -> None:
    """``new`` becomes ``folder``; the old set is renamed aside first and removed last, so a
    kill in between leaves it for :func:`recover` to put back."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent,
                                    prefix=f".{folder.name}.old-{os.getpid()}-"))
        os.rmdir(old)
        os.rename(folder, old)
    os.rename(new, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover(folder) -> None:
    """Repair what an interrupted swap left: put the old set back where the new one never
    arrived, and remove the leftovers of processes that are gone. Call under the lock."""
    folder = Path(folder)
    olds = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not folder.exists() and olds:
        os.rename(olds.pop(), folder)
    for leftover in [*olds, *folder.parent.glob(f".{folder.name}.new-*")]:
        if not _alive(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(name: str) -> bool:
    """Whether the process that made a ``.NAME.new-PID-…`` folder still runs."""
    try:
        pid = int(name.rsplit(".", 1)[1].split("-")[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(folder):
    """An exclusive lock on ``folder``'s set (or on one file, the report's index), held across
    processes (``flock`` on ``.NAME.lock`` beside it)."""
    folder = Path(folder)
    lock = folder.parent / f".{folder.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


#: The least free space an output folder must have: a run's set is a few MB (the whole quick
#: report about 25 MB), so less than this fails while writing, after the training.
MIN_FREE = 16 * 2 ** 20
#: The longest name a run writes below ``--out``: ``NAME/.NAME.new-PID-xxxxxxxx/`` and a
#: figure's file name (with room to spare).
LONGEST_INSIDE = 200


def check_out(out) -> Path:
    """The output folder, refused before any work when it cannot hold results: no name, it names
    a file, cannot be created or written, has under :data:`MIN_FREE` bytes free, or is so long
    a path that the files a run writes inside it would pass the system's limit."""
    if not str(out).strip():
        raise ValueError("--out must name a folder, got ''")
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        free = os.statvfs(out)
        longest = os.pathconf(out, "PC_PATH_MAX")
    except OSError as error:
        raise ValueError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    if free.f_bavail * free.f_frsize < MIN_FREE:
        raise ValueError(f"--out {out}: only {free.f_bavail * free.f_frsize / 2 ** 20:.1f} MB "
                         f"free there, and a run's results take up to "
                         f"{MIN_FREE // 2 ** 20} MB: free some space or write elsewhere")
    if len(os.fsencode(out.resolve())) + LONGEST_INSIDE > longest:
        raise ValueError(f"--out {out}: a path too long for the files a run writes inside it "
                         f"(the system's limit is {longest} bytes): choose a shorter one")
    return out
