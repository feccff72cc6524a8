"""The run lock: an exclusive, non-blocking flock(2) on a file, so two passes (cron, the
scheduler, a command) never run at once; the OS frees it when its process dies."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from syndicate.errors import DeliveryError


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on `path` while the block runs.

    Yields False (without waiting) if another process holds it. The lock is the OS's (flock):
    it dies with its process, so a killed run never blocks the next one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise DeliveryError(f"cannot open the run lock {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
