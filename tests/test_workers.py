"""Several `syndicate send` workers sharing one ledger, as if on several machines, made hostile:
a lease (1 s) far shorter than a claimed batch takes, a relay that holds some messages longer
than the lease before it answers, a machine kept busy by CPU-burning processes, and one worker
SIGKILLed mid-batch. A live worker must never send a message twice or send one another worker
holds (0 duplicates whose copies all came from live workers); only the killed worker's messages
in flight may arrive twice, at most one per connection; every subscriber gets the digest. On
PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syndicate.config import SmtpConfig

from .conftest import (
    NOW,
    SECRET,
    RecordingHandler,
    add_readers,
    edit_config,
    free_port,
    run_cli,
    use_smtp,
)

READERS = 600
WORKERS = 4
CONNECTIONS = 4  # [smtp] max_connections of each worker: what a killed one can have in flight
LEASE = 1
TARPIT_EVERY, TARPIT = 25, 1.5  # every 25th message waits 1.5 s (> the lease) for its answer


def _socket_owner(client_port: int, server_port: int, pids: set[int]) -> int | None:
    """The process among `pids` that holds the TCP connection 127.0.0.1:client_port ->
    :server_port (from /proc/net/tcp and each process's open files)."""
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == client_port and int(remote.split(":")[1], 16) == (
            server_port
        ):
            inode = fields[9]
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


class Origins(RecordingHandler):
    """A relay that records each accepted message with the pid of the process that sent it
    (resolved once per connection, at EHLO, while the client waits) and tarpits some messages
    longer than the senders' lease before accepting them."""

    def __init__(self) -> None:
        super().__init__()
        self.port = 0
        self.pids: set[int] = set()
        self.owners: dict[Any, int | None] = {}
        self.sources: list[tuple[int | None, str]] = []  # (sending pid, Message-ID)
        self.times: dict[str, list[float]] = {}
        self.count = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        self.owners[session.peer] = _socket_owner(session.peer[1], self.port, self.pids)
        return responses

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.count % TARPIT_EVERY == 0:
            await asyncio.sleep(TARPIT)  # a slow relay: the sender's lease must not run out
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        self.sources.append((self.owners.get(session.peer), str(headers["Message-ID"])))
        self.times.setdefault(str(headers["Message-ID"]), []).append(time.time())
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay() -> Iterator[tuple[int, Origins]]:
    from aiosmtpd.controller import Controller

    handler = Origins()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    handler.port = controller.port
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


@contextlib.contextmanager
def busy_machine() -> Iterator[None]:
    """A CPU-burning process per core for the length of the block."""
    burn = [sys.executable, "-c", "while True: pass"]
    burners = [subprocess.Popen(burn) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, sample: Path) -> str:
    """The ledger's URL, for the site and for the test's own look at it."""
    if request.param == "sqlite":
        return f"sqlite:///{sample}/state/syndicate.db"
    url: str = request.getfixturevalue("postgres_url")
    edit_config(sample, "sqlite:///state/syndicate.db", url)
    return url


def _send(site: Path, logs: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
        "SYNDICATE_SECRET": SECRET
    }
    command = [sys.executable, "-m", "syndicate", "-v", "send"]
    with logs.open("ab") as log:
        return subprocess.Popen(command, cwd=site, env=env, stdout=log, stderr=log)


def _wait_for(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_four_workers_on_a_busy_machine_never_send_twice(
    sample: Path, database: str, relay: tuple[int, Origins], tmp_path: Path
) -> None:
    port, handler = relay
    (sample / "readers.csv").write_text(
        "email,name\n" + "".join(f"r{n}@example.net,R {n}\n" for n in range(READERS))
    )
    use_smtp(sample, free_port(), lease=LEASE)  # the relay is down while the digest is frozen
    assert run_cli(["subscribers", "import", "readers.csv"], sample).returncode == 0
    frozen = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert frozen.returncode == 1 and "digest 2026-11-28 frozen" in frozen.stdout, frozen.stderr
    # The relay is down: nothing failed for good. Each connection that tried before the first
    # refusal stopped the batch defers its message (1 to 4, as the threads are scheduled); the
    # rest stays pending, untried.
    tried = re.search(r"0 sent, ([1-4]) deferred \(retried by a later run\)\n$", frozen.stdout)
    assert tried and "failed" not in frozen.stdout, frozen.stdout
    use_smtp(sample, port, lease=LEASE, max_connections=CONNECTIONS)  # the relay is back

    logs = tmp_path / "workers.log"
    with busy_machine():
        started = time.monotonic()
        workers = []
        for _ in range(WORKERS):
            workers.append(_send(sample, logs))
            handler.pids.add(workers[-1].pid)
        victim = workers[0].pid
        _wait_for(lambda: sum(pid == victim for pid, _ in handler.sources) >= 20)
        workers[0].send_signal(signal.SIGKILL)  # a machine dies mid-batch
        codes = [worker.wait(timeout=600) for worker in workers]
        elapsed = time.monotonic() - started
        last = _send(sample, logs)  # takes over what the dead worker held, at once (same host)
        handler.pids.add(last.pid)
        assert last.wait(timeout=300) == 0, logs.read_text()[-3000:]
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0] * (WORKERS - 1), codes

    copies: dict[str, list[int | None]] = collections.defaultdict(list)
    for pid, message_id in handler.sources:
        copies[message_id].append(pid)
    assert None not in {pid for pid, _ in handler.sources}  # every message's sender is known
    live_twice = [m for m, pids in copies.items() if len(pids) - pids.count(victim) > 1]
    dead_twice = [m for m, pids in copies.items() if len(pids) > 1 and victim in pids]
    recipients = {r for _, rcpts, _ in handler.messages for r in rcpts}
    text = logs.read_text()
    lost = len(re.findall(r"event=claim-lost", text))
    freed = sum(int(n) for n in re.findall(r"event=claims-freed messages=(\d+)", text))
    print(f"\n{database.split(':')[0]}: {READERS + 1} messages, {WORKERS} workers (one killed) "
          f"{elapsed:.1f} s ({len(handler.sources) / elapsed:.0f} msg/s) on a busy machine; "
          f"duplicates: {len(live_twice)} from live workers, {len(dead_twice)} from the killed "
          f"one; claims lost before sending (not sent): {lost}; freed from the dead: {freed}")  # fmt: skip
    assert live_twice == [], [(m, copies[m], handler.times[m]) for m in live_twice] + [
        line for line in text.splitlines() if "WARN" in line or "ERROR" in line
    ][:40]
    assert len(dead_twice) <= CONNECTIONS * SmtpConfig().in_flight  # the in-flight bound
    assert len(recipients) == READERS + 1  # everyone has the digest (the config's reader too)
    assert len({pid for pid, _ in handler.sources} & {w.pid for w in workers}) == WORKERS

    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            states = dict(
                conn.execute(
                    sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")
                ).all()
            )
    finally:
        engine.dispose()
    assert states == {"sent": READERS + 1}


def test_send_workers_option_runs_several_processes(sample: Path) -> None:
    use_smtp(sample, free_port())  # the relay is down: everything stays pending
    add_readers(sample, 30)
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 1  # all pending
    edit_config(sample, 'delivery = "smtp"', 'delivery = "file"')
    done = run_cli(["send", "--workers", "3"], sample)
    assert done.returncode == 0, done.stderr
    assert "3 workers done" in done.stdout
    assert len(list((sample / "outbox" / "2026-11-28").glob("*.eml"))) == 31
    status = run_cli(["status"], sample)
    assert "deliveries_sent: 31" in status.stdout
