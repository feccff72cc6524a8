"""Writing one file atomically: a temp file beside it, flushed, renamed over it, the folder
flushed; a file that already holds the bytes is left alone. Through `folder.Folder`, so no
symlink on the way is followed. Also libc's syncfs(2), looked up once, for flushing a batch.
Decides nothing about which files to write."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from pathlib import Path

from syndicate.deliver.folder import Folder

PUBLIC, PRIVATE = 0o644, 0o600


def write_into(folder: Folder, name: str, data: bytes, *, private: bool) -> bool:
    """Write one file of `folder` atomically and durably unless it holds these bytes."""
    found = folder.read(name)
    if found is not None and found[0] == data:
        return False
    keep = found[1].st_mode & 0o7777 if found is not None and private else None
    temp, _ = folder.write_temp(name, data, PRIVATE if private else PUBLIC, keep=keep, sync=True)
    try:
        folder.replace(temp, name)
    except BaseException:
        folder.unlink(name, temp)
        raise
    folder.sync("")
    return True


def write_atomic(path: Path, data: bytes, *, private: bool = False) -> bool:
    """Write `data` to `path` via a temp file and a rename, unless it already holds exactly
    these bytes; True if it was written. `path` itself must not be a symlink (refused).
    Published files are world-readable (0644); `private` ones are created 0600 (less if the
    umask says so) and an existing file keeps its mode, so a write never loosens it."""
    with Folder(path.parent) as folder:
        return write_into(folder, path.name, data, private=private)


@functools.cache
def libc_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), looked up once per process (None where libc lacks it)."""
    found: Callable[[int], int] | None = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    return found
