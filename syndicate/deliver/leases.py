"""Who holds which message: the names of this process's sending workers, the heartbeat that
keeps their claims alive, the same-host check that hands a dead process's claims back at once,
and the account of waiting work that `status` and a run's summary give.

A claim is `sending` with a lease (`[smtp] lease`). A live worker's heartbeat renews its leases
every third of the lifetime, so they do not run out while it works; a worker that dies stops
renewing and its claims return to the pool within one lifetime. On one host the kernel knows
better than a lease: the claims of a process that still runs here are never taken over (a
starved heartbeat on a busy machine cannot cost it a message it is handing over), and those of
a process that is gone are taken at once. Each message is also confirmed in the database right
before the hand-over (`Store.confirm`), so a worker never sends a message it lost. Holds no SQL
and no SMTP; the wall clock comes in as `clock`.
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

from syndicate.errors import StoreError
from syndicate.store import Store
from syndicate.store.ledger import Backlog, Claim

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


def free_dead_claims(store: Store, claims: Iterable[Claim] | None = None) -> int:
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


def protected(store: Store, active: Collection[str]) -> list[str]:
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

    def __init__(self, store: Store, lease: timedelta, clock: Clock) -> None:
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


def _claim_line(claim: Claim, clock: datetime) -> str:
    until = claim.lease_until.isoformat() if claim.lease_until else "-"
    if gone(claim.worker):
        why = "its process is gone: the next run or send takes them over at once"
    elif alive_here(claim.worker, ()):
        why = "its process is running on this host: they stay its own while it sends"
    elif claim.lease_until is None or claim.lease_until <= clock:
        why = "its lease ran out: the next run or send takes them over"
    else:
        why = "a sender on another host: if it died, they return to the pool when the lease ends"
    return f"deliveries claimed: {claim.messages} by {claim.worker}, lease until {until} ({why})"


def by_process(claims: Iterable[Claim]) -> list[Claim]:
    """Claims summed per process (`host/pid`, its threads together), latest lease kept."""
    merged: dict[str, Claim] = {}
    for claim in claims:
        key = claim.worker.rpartition("/")[0] or claim.worker
        if key in merged:
            before = merged[key]
            ends = [t for t in (before.lease_until, claim.lease_until) if t is not None]
            claim = Claim(before.worker, before.messages + claim.messages, max(ends, default=None))
        merged[key] = claim
    return list(merged.values())


def explain(store: Store, now: datetime, clock: datetime) -> list[str]:
    """Lines for `syndicate status`: what waits to be delivered, and why it is not sent now."""
    backlog = store.backlog(now)
    lines = [f"deliveries due now: {backlog.due}"]
    if backlog.retries:
        first = backlog.next_retry.isoformat() if backlog.next_retry else "-"
        lines.append(f"deliveries waiting to retry: {backlog.retries}, the first at {first}")
    lines += [_claim_line(claim, clock) for claim in by_process(backlog.claims)]
    lines.append(f"delivery: {_why(backlog, clock)}")
    if backlog.last_error and (backlog.due or backlog.retries):
        lines.append(f"last delivery error: {backlog.last_error}")
    return lines


def _why(backlog: Backlog, clock: datetime) -> str:
    """One sentence: what the next run will do with the waiting messages."""
    held = Held.elsewhere(backlog.claims, (), clock)
    takeable = sum(c.messages for c in backlog.claims) - held.messages
    parts = []
    if backlog.due:
        parts.append(f"{backlog.due} due, sent by the next run or send")
    if held.messages and held.until:
        parts.append(f"{held.messages} claimed by other senders until {held.until.isoformat()}")
    if takeable:
        parts.append(f"{takeable} claimed by senders that are gone, taken over by the next run")
    if backlog.retries:
        parts.append(f"{backlog.retries} wait for their retry time")
    if not parts:
        return "nothing waits: every message is sent or has failed for good"
    return ("" if backlog.due else "nothing is due now: ") + "; ".join(parts)
