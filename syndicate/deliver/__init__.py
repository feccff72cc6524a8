"""Deliver: put bytes where they belong. Atomic file writes that leave unchanged files alone,
removal of files a previous run wrote and this one did not, the run lock and the `.eml`
sender; `smtp` sends over SMTP and `pace` spaces sends out to a rate.

Nothing here renders or decides; it is told exactly what to write or send.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from syndicate.deliver.pace import Pacer
from syndicate.deliver.smtp import SmtpSender
from syndicate.errors import DeliveryError

__all__ = [
    "MANIFEST", "FileSender", "Pacer", "Sender", "SmtpSender", "WriteResult", "publish",
    "run_lock", "write_atomic",
]  # fmt: skip

MANIFEST = ".syndicate-manifest.json"


def _inside(root: Path, relative: str) -> Path:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or relative.startswith("/"):
        raise DeliveryError(f"refusing to write {relative!r}: outside {root}")
    return target


def write_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` via a synced temp file and `os.replace`, unless it already holds
    exactly these bytes. Returns True if the file was written (mtime changed)."""
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # published files are world-readable
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return True


def _sync_dirs(folders: set[Path]) -> None:
    """fsync folders whose entries changed, so a crash cannot lose a completed rename."""
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]


def _previous(root: Path) -> set[str]:
    try:
        return set(json.loads((root / MANIFEST).read_text("utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return set()


def _remove_empty_folders(root: Path, removed: list[str]) -> None:
    """Remove folders that removed files leave empty (a tag no article carries any more)."""
    folders = {parent for rel in removed for parent in Path(rel).parents if parent != Path(".")}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or already gone: leave it
            _inside(root, str(folder)).rmdir()


def publish(root: Path, files: Mapping[str, bytes]) -> WriteResult:
    """Make `root` hold exactly `files` among the files syndicate manages there.

    New and changed files are replaced atomically; files written by an earlier run and absent
    now (a deleted article's page) are removed; files syndicate never wrote are left alone.
    """
    try:
        targets = {rel: _inside(root, rel) for rel in sorted(files)}
        written = tuple(rel for rel, path in targets.items() if write_atomic(path, files[rel]))
        _sync_dirs({targets[rel].parent for rel in written})
        stale = sorted(_previous(root) - set(files))
        for rel in stale:
            with contextlib.suppress(FileNotFoundError):
                _inside(root, rel).unlink()
        _remove_empty_folders(root, stale)
        manifest = json.dumps(sorted(files), indent=0).encode()
        write_atomic(root / MANIFEST, manifest)
    except OSError as exc:
        raise DeliveryError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    return WriteResult(written, tuple(stale))


class Sender(Protocol):
    """Hands one finished message to its destination; raises DeliveryError if it cannot."""

    def send(self, digest_id: str, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


class FileSender:
    """`[email] delivery = "file"`: one `.eml` per recipient under outbox/<digest-id>/."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def path_for(self, digest_id: str, recipient: str) -> Path:
        return _inside(self.outbox, f"{digest_id}/{recipient}.eml")

    def send(self, digest_id: str, recipient: str, message: bytes) -> None:
        try:
            write_atomic(self.path_for(digest_id, recipient), message)
        except OSError as exc:
            raise DeliveryError(f"cannot write the .eml for {recipient}: {exc.strerror}") from exc

    def close(self) -> None:
        pass


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on `path` while the block runs.

    Yields False (without waiting) if another process holds it. The lock is the OS's (flock):
    it dies with its process, so a killed run never blocks the next one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
