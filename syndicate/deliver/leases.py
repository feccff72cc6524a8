"""Who holds which message: the names of this process's sending workers, the heartbeat that
keeps their claims alive, the same-host check that hands a dead process's claims back at once,
and what other senders hold (`Held`). The account of waiting work that `status` gives is
`syndicate.pipeline.leases`.

A claim is `sending` with a lease (`[smtp] lease`). A live worker's heartbeat renews its leases
every third of the lifetime, so they do not run out while it works; a worker that dies stops
renewing and its claims return to the pool within one lifetime. On one host the kernel knows
better than a lease: the claims of a process that still runs here are never taken over (a
starved heartbeat on a busy machine cannot cost it a message it is handing over), and those of
a process that is gone are taken at once. Each message is also confirmed in the database right
before the hand-over (`Ledger.confirm`), so a worker never sends a message it lost. Holds no SQL
and no SMTP; the wall clock comes in as `clock`; the state comes in as a `Ledger`.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from syndicate.deliver.ledger import Ledger
from syndicate.errors import StoreError
from syndicate.models import Claim

log = logging.getLogger("syndicate")
Clock = Callable[[], datetime]
_serial = itertools.count(1)  # thread idents are reused; worker names must not be


def worker_name() -> str:
    """A new worker name, `host/pid/thread`: unique while this process lives. The thread part
    carries the process's start time (`t3@123456`, clock ticks since boot, where /proc tells
    it), so that a recycled pid is not mistaken for the worker's own process."""
    start = _started(os.getpid())
    return f"{socket.gethostname()}/{os.getpid()}/t{next(_serial)}{'@' + start if start else ''}"


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat from the state field on ([] where /proc cannot tell)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _started(pid: int) -> str:
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def _local(worker: str) -> tuple[int, str] | None:
    """(pid, start time or "") of a worker named on this host, None for another host's."""
    host, _, rest = worker.partition("/")
    pid_text, _, thread = rest.partition("/")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == 0:
        return None
    return int(pid_text), thread.partition("@")[2]


def gone(worker: str) -> bool:
    """True only when `worker` ran on this host and its process no longer exists: no such
    pid, a zombie, or a pid recycled by a process that started later. A worker on another
    host is never known to be gone: its lease decides."""
    local = _local(worker)
    if local is None or local[0] == os.getpid():
        return False
    pid, start = local
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists; /proc still tells its start
        pass
    fields = _stat(pid)
    return bool(fields) and (fields[0] == "Z" or (bool(start) and _started(pid) != start))


def alive_here(worker: str, active: Collection[str]) -> bool:
    """`worker` is known to be alive: its process runs on this host (for this process: it is
    one of the `active` workers). Its claims are never taken over, whatever its lease says:
    its heartbeat may be late on a busy machine, but it will still send what it confirmed."""
    local = _local(worker)
    if local is None:
        return False
    return worker in active if local[0] == os.getpid() else not gone(worker)


def free_dead_claims(store: Ledger, claims: Iterable[Claim] | None = None) -> int:
    """Hand the claims of this host's dead processes back to the pool at once."""
    claims = store.claims() if claims is None else claims
    dead = [c.worker for c in claims if c.lease_until is not None and gone(c.worker)]
    freed = store.free_claims(dead)
    if freed:
        log.warning(
            "event=claims-freed messages=%d workers=%s reason=process-gone",
            freed, ",".join(dead),
        )  # fmt: skip
    return freed


def protected(store: Ledger, active: Collection[str]) -> list[str]:
    """Before a claim: free the claims of this host's dead processes, and name the workers
    whose claims must not be taken over (alive on this host)."""
    claims = store.claims()
    dead = [c for c in claims if c.lease_until is not None and gone(c.worker)]
    if dead:
        free_dead_claims(store, dead)
    return [c.worker for c in claims if alive_here(c.worker, active)]


class Heartbeat:
    """A thread that renews the leases of the named workers every third of `lease` until the
    block ends. Workers join with `add` when they start and leave with `discard`."""

    def __init__(self, store: Ledger, lease: timedelta, clock: Clock) -> None:
        self.store, self.lease, self.clock = store, lease, clock
        self.workers: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="syndicate-heartbeat", daemon=True)

    def add(self, worker: str) -> None:
        with self._lock:
            self.workers.add(worker)

    def discard(self, worker: str) -> None:
        with self._lock:
            self.workers.discard(worker)

    def active(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self.workers)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            workers = self.active()
            try:
                self.store.renew(workers, self.clock() + self.lease)
            except StoreError as exc:  # confirm-before-send still guards every message
                log.warning("event=heartbeat-failed workers=%d error=%s", len(workers), exc)


@dataclass(frozen=True)
class Held:
    """Messages other workers hold under a lease that has not run out: not ours to send."""

    messages: int = 0
    until: datetime | None = None

    @staticmethod
    def elsewhere(claims: Iterable[Claim], mine: Iterable[str], clock: datetime) -> Held:
        ours = set(mine)
        held = [c for c in claims if c.worker not in ours and _holding(c, clock)]
        ends = [c.lease_until for c in held if c.lease_until]
        return Held(sum(c.messages for c in held), max(ends, default=None))


def _holding(claim: Claim, clock: datetime) -> bool:
    """The claim keeps its messages from everyone else: its process runs on this host, or its
    lease holds and its process is not known to be gone."""
    if alive_here(claim.worker, ()):
        return True
    return bool(claim.lease_until and claim.lease_until > clock) and not gone(claim.worker)
