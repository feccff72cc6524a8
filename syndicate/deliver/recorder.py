"""Group commit of delivery outcomes: one thread per sending process records the outcomes its
workers hand it in groups, one transaction each, while the workers go on sending. A group is
committed once half the bound has gathered, once a worker waits for room, or `LINGER` after its
first outcome, whichever comes first: fewer commits (each costs CPU under the GIL and a disk
flush), none late. Each worker may hand over at most `bound` messages whose outcomes are not yet
committed (`[smtp] in_flight`): `wait_room` holds it back until the recorder catches up, so a
crash sends at most that many messages per connection again.

Records what it is given and nothing else: it decides no outcome, holds no SQL (the state comes
in as a `Ledger`) and no SMTP.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from syndicate.deliver.ledger import Ledger
from syndicate.models import Mark

LINGER = 0.05  # seconds an outcome may wait for others before it is committed anyway


@dataclass(frozen=True)
class Entry:
    """One outcome to record: whose it is, the mark, and the reason to mark the address
    `bounced` once the mark is committed ("" = not a bounce)."""

    worker: str
    mark: Mark
    bounce: str = ""


class Recorder:
    """Commits the outcomes `add`ed to it in groups, on its own thread, under `lock` (the
    process's one-ledger-write-at-a-time lock). Use as a context manager: leaving the block
    records everything still waiting."""

    def __init__(self, store: Ledger, lock: threading.Lock, now: datetime, bound: int) -> None:
        self.store, self.lock, self.now, self.bound = store, lock, now, bound
        self.error: BaseException | None = None  # a commit failed: nothing more is recorded
        self._changed = threading.Condition()
        self._waiting: list[Entry] = []
        self._open = Counter[str]()  # per worker: outcomes handed over, not yet committed
        self._group = max(1, bound // 2)  # commit once this many wait
        self._held = 0  # workers waiting for a commit: commit now
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="syndicate-recorder", daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def add(self, entry: Entry) -> None:
        with self._changed:
            self._waiting.append(entry)
            self._open[entry.worker] += 1
            self._changed.notify_all()

    def wait_room(self, worker: str) -> None:
        """Return once `worker` may hand one more message over: fewer than `bound` of its
        outcomes wait to be committed. Raises the recorder's error if a commit failed."""
        self._wait(worker, self.bound - 1)

    def drain(self, worker: str) -> None:
        """Return once every outcome of `worker` is committed, or a commit failed."""
        self._wait(worker, 0, raising=False)

    def _wait(self, worker: str, most: int, *, raising: bool = True) -> None:
        with self._changed:
            if self._open[worker] > most and self.error is None:
                self._held += 1
                self._changed.notify_all()
                self._changed.wait_for(lambda: self.error is not None or self._open[worker] <= most)
                self._held -= 1
            if self.error is not None and raising:
                raise self.error

    def _due(self) -> bool:
        """A group is due: enough gathered, a worker waits for it, or the recorder closes."""
        return len(self._waiting) >= self._group or self._held > 0 or self._closing

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._waiting) or self._closing)
                self._changed.wait_for(self._due, timeout=LINGER)
                group, self._waiting = self._waiting, []
                if not group and self._closing:
                    return
            try:
                self._commit(group)
            except BaseException as exc:  # the rows stay `sending`: a later run sends them again
                with self._changed:
                    self.error = exc
                    self._changed.notify_all()
                return
            with self._changed:
                self._open.subtract(e.worker for e in group)
                self._changed.notify_all()

    def _commit(self, group: list[Entry]) -> None:
        with self.lock:
            self.store.mark_deliveries([e.mark for e in group], self.now)
            for entry in group:  # rare: each its own commit, after its message's mark
                if entry.bounce:
                    self.store.set_subscriber_status(
                        entry.mark.delivery.email, "bounced", self.now, entry.bounce
                    )
