"""The in-flight bound of group commit, on real processes, a real aiosmtpd relay on 127.0.0.1
and real SQLite and PostgreSQL ledgers: a `syndicate send` whose outcomes cannot be committed
(the test holds the ledger's write lock from the moment the relay accepts a chosen message)
goes on sending at most `[smtp] in_flight` messages, and once SIGKILLed and resumed, it sends
again at most that many, loses none, and never sends twice one that was recorded `sent`.

Timing-insensitive: the lock makes the recorder wait however busy the machine is, and the
assertions hold whenever the kill comes."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from . import test_workers
from .conftest import NOW, SECRET, RecordingHandler, run_cli, use_smtp
from .ports import free_port
from .smtp_servers import serving

READERS = 60
IN_FLIGHT = 4
database = test_workers.database  # the fixture: the ledger on SQLite, then on PostgreSQL
LOCKED_AT = 10  # the relay's message at whose acceptance the ledger's writes stop


class Locker:
    """Holds the ledger's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an EXCLUSIVE lock
    on `deliveries`, which reads pass) from `lock()` until `unlock()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.locked = threading.Event()

    def lock(self) -> None:
        if self.url.startswith("sqlite"):
            db = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=120,
                                 isolation_level=None, check_same_thread=False)  # fmt: skip
            db.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            db = psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"))
            db.execute("LOCK TABLE deliveries IN EXCLUSIVE MODE")
        self.conn = db
        self.locked.set()

    def unlock(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.rollback()
            conn.close()


class LockingRelay(RecordingHandler):
    """Records every message; takes the ledger's write lock before accepting message
    `LOCKED_AT`, so its outcome (and every later one) waits uncommitted."""

    def __init__(self, locker: Locker) -> None:
        super().__init__()
        self.locker = locker

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if len(self.messages) + 1 == LOCKED_AT:
            self.locker.lock()
        return await super().handle_DATA(server, session, envelope)

    def recipients(self) -> list[str]:
        return [r for _, rcpts, _ in self.messages for r in rcpts]


def _statuses(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT email, status FROM deliveries")).all()
    finally:
        engine.dispose()
    return {str(email): str(status) for email, status in rows}


def _wait_for(condition: Callable[[], Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def frozen(sample: Path, database: str) -> Iterator[Path]:
    """The sample with READERS more subscribers and a digest frozen for them, all pending."""
    (sample / "readers.csv").write_text(
        "email,name\n" + "".join(f"r{n:02}@example.net,R {n}\n" for n in range(READERS))
    )
    use_smtp(sample, free_port())  # nothing listens: the digest is frozen, nothing sent
    assert run_cli(["subscribers", "import", "readers.csv"], sample).returncode == 0
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 1
    yield sample


def test_a_crash_with_outcomes_uncommitted_resends_at_most_in_flight(
    frozen: Path, database: str
) -> None:
    locker = Locker(database)
    relay = LockingRelay(locker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    try:
        with serving(relay) as port:  # type: ignore[arg-type]
            use_smtp(frozen, port, max_connections=1, in_flight=IN_FLIGHT)
            proc = subprocess.Popen(
                [sys.executable, "-m", "syndicate", "send"], cwd=frozen,
                env=env | {"SYNDICATE_SECRET": SECRET},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            _wait_for(locker.locked.is_set)
            assert locker.locked.is_set(), "the send never reached the relay"
            seen = -1  # the sender goes on until its in-flight bound stops it
            while seen != len(relay.messages):
                seen = len(relay.messages)
                _wait_for(lambda n=seen: len(relay.messages) > n, timeout=2)  # type: ignore[misc]
            proc.send_signal(signal.SIGKILL)  # a crash with outcomes not yet committed
            proc.wait()
            after_lock = len(relay.messages) - (LOCKED_AT - 1)
            locker.unlock()
            recorded = {e for e, s in _statuses(database).items() if s == "sent"}
            resumed = run_cli(["send"], frozen)
    finally:
        locker.unlock()
    assert resumed.returncode == 0, resumed.stderr
    assert 1 <= after_lock <= IN_FLIGHT  # message LOCKED_AT itself and at most 3 more
    copies = collections.Counter(relay.recipients())
    everyone = set(_statuses(database))
    assert set(copies) == everyone  # nothing lost
    assert all(copies[e] == 1 for e in recorded)  # nothing recorded `sent` went twice
    twice = sum(n - 1 for n in copies.values())
    assert 1 <= twice <= IN_FLIGHT  # at least LOCKED_AT's message; never more than the bound
    assert set(_statuses(database).values()) == {"sent"}
