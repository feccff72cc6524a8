"""Deliver: put bytes where they belong. Atomic file writes that leave unchanged files alone,
removal of files a previous run wrote and this one did not, the run lock and the `.eml`
sender; `smtp` sends over SMTP and `pace` spaces sends out to a rate.

Nothing here renders or decides; it is told exactly what to write or send.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from syndicate.deliver.pace import Pacer
from syndicate.deliver.smtp import SmtpSender
from syndicate.errors import DeliveryError

__all__ = [
    "MANIFEST", "STAMP", "FileSender", "Pacer", "Sender", "SmtpSender", "WriteResult", "present",
    "publish", "read_manifest", "read_stamp", "run_lock", "write_atomic",
]  # fmt: skip

MANIFEST = ".syndicate-manifest.json"
STAMP = ".syndicate-stamp"


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


def _sync_dirs(folders: set[str]) -> None:
    """fsync folders whose entries changed, so a crash cannot lose a completed rename."""
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync_filesystem(folder: Path) -> None:
    """Flush every file written under `folder` in one call: syncfs(2) where libc has it (the
    one filesystem), sync(2) elsewhere. One flush for a batch instead of an fsync per file."""
    syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]


def read_manifest(root: Path) -> dict[str, str]:
    """What the last publish left in `root`: each file syndicate manages there, with the key of
    the inputs it was rendered from ("" for a manifest older than keys: re-render and compare)."""
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
    except (FileNotFoundError, ValueError, TypeError):
        return {}
    if isinstance(data, list):
        return dict.fromkeys(map(str, data), "")
    return {str(k): str(v) for k, v in data.get("files", {}).items()}


def read_stamp(root: Path) -> str:
    """The stamp the last complete publish left (see `publish`), "" if none."""
    try:
        return (root / STAMP).read_text("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def present(root: Path) -> set[str]:
    """Relative paths of the files under `root` (names only, no stat: cheap at 100,000)."""
    found: set[str] = set()
    folders = [(root, "")]
    while folders:
        folder, prefix = folders.pop()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(folder):
                if entry.is_dir(follow_symlinks=False):
                    folders.append((Path(entry.path), f"{prefix}{entry.name}/"))
                else:
                    found.add(prefix + entry.name)
    return found


def _remove_empty_folders(root: Path, removed: list[str]) -> None:
    """Remove folders that removed files leave empty (a tag no article carries any more)."""
    folders = {parent for rel in removed for parent in Path(rel).parents if parent != Path(".")}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or already gone: leave it
            _inside(root, str(folder)).rmdir()


Staged = list[tuple[str, str, str]]  # temp file, target, path under the output folder


def _stage(root: Path, rendered: Iterable[tuple[str, bytes]], staged: Staged) -> None:
    """Write each changed file to a temp file beside its target (not yet synced or renamed)."""
    for rel, data in rendered:
        target = _inside(root, rel)
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        staged.append((temp, str(target), rel))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)  # published files are world-readable


def _unstage(staged: Staged, renamed: int) -> None:
    for temp, _, _ in staged[renamed:]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def publish(
    root: Path,
    rendered: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
    keys: Mapping[str, str] | None = None,
    stamp: str = "",
) -> WriteResult:
    """Make `root` hold exactly the files named in `keys` among the files syndicate manages.

    `rendered` yields (path, bytes) for the files to (re)write; it is consumed as it goes, so a
    caller can render 100,000 pages without holding them. A file whose bytes are already on disk
    is left alone. Changed files are written to temp files, flushed in one sync, then renamed
    over their targets, so a reader never sees a half-written file and a crash leaves each file
    old or new. Files of an earlier publish absent from `keys` are removed; files syndicate
    never wrote are left alone. Last, the manifest (`keys`) and `stamp` are recorded.
    Given a mapping and no keys, the mapping is the whole folder (keys "": compare bytes).
    """
    if isinstance(rendered, Mapping):
        keys = dict.fromkeys(rendered, "") if keys is None else keys
        rendered = rendered.items()
    if keys is None:
        raise TypeError("publish: keys are required when files are streamed")
    staged: Staged = []
    renamed = 0
    try:
        _stage(root, rendered, staged)
        if staged:
            _sync_filesystem(root)
        for temp, target, _ in staged:
            os.replace(temp, target)
            renamed += 1
        _sync_dirs({os.path.dirname(target) for _, target, _ in staged})
        stale = sorted(set(read_manifest(root)) - set(keys))
        for rel in stale:
            with contextlib.suppress(FileNotFoundError):
                _inside(root, rel).unlink()
        _remove_empty_folders(root, stale)
        manifest = json.dumps({"files": dict(sorted(keys.items()))}, indent=0)
        write_atomic(root / MANIFEST, manifest.encode())
        write_atomic(root / STAMP, stamp.encode())
    except OSError as exc:
        _unstage(staged, renamed)
        raise DeliveryError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    except BaseException:
        _unstage(staged, renamed)
        raise
    return WriteResult(tuple(rel for _, _, rel in staged), tuple(stale))


class Sender(Protocol):
    """Hands one finished message to its destination; raises DeliveryError if it cannot."""

    def send(
        self, digest_id: str, recipient: str, message: bytes, envelope_from: str = ""
    ) -> None: ...

    def close(self) -> None: ...


class FileSender:
    """`[email] delivery = "file"`: one `.eml` per recipient under outbox/<digest-id>/."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def path_for(self, digest_id: str, recipient: str) -> Path:
        return _inside(self.outbox, f"{digest_id}/{recipient}.eml")

    def send(self, digest_id: str, recipient: str, message: bytes, envelope_from: str = "") -> None:
        """`envelope_from` has no place in a file (the message itself is what is written)."""
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
