"""Several `syndicate send` workers sharing one PostgreSQL ledger, as if on several machines:
each claims messages with FOR UPDATE SKIP LOCKED and a lease; a SIGKILLed worker's claims are
taken over once its lease runs out; every subscriber gets the digest once."""

from __future__ import annotations

import collections
import email
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from .conftest import NOW, SECRET, add_readers, edit_config, free_port, run_cli, use_smtp

READERS = 5000
WORKERS = 4
LEASE = 2


def _configure(site: Path, url: str, port: int) -> None:
    edit_config(site, "sqlite:///state/syndicate.db", url)
    use_smtp(site, port, lease=LEASE)


def _send(site: Path, count: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
        "SYNDICATE_SECRET": SECRET
    }
    command = [sys.executable, "-m", "syndicate", "-q", "send"]
    return [subprocess.Popen(command, cwd=site, env=env) for _ in range(count)]


def _timed_send(
    site: Path, count: int, handler, kill_one_after: int | None = None
) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    workers = _send(site, count)
    killed = 0
    if kill_one_after is not None:
        deadline = time.monotonic() + 120
        while len(handler.messages) < kill_one_after and time.monotonic() < deadline:
            time.sleep(0.01)
        workers[0].send_signal(signal.SIGKILL)  # a machine dies mid-batch
        killed = 1
    for worker in workers:
        worker.wait(timeout=600)
    return time.monotonic() - started, killed


def test_four_workers_share_one_digest_and_survive_a_killed_one(
    sample: Path, postgres_url: str, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    (sample / "readers.csv").write_text(
        "email,name\n" + "".join(f"r{n}@example.net,R {n}\n" for n in range(READERS))
    )
    _configure(sample, postgres_url, free_port())  # the relay is down while the digest is frozen
    assert run_cli(["subscribers", "import", "readers.csv"], sample).returncode == 0
    frozen = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert frozen.returncode == 1 and "digest 2026-11-28 frozen" in frozen.stdout, frozen.stderr
    use_smtp(sample, controller.port, lease=LEASE)  # the relay is back

    elapsed, killed = _timed_send(sample, WORKERS, handler, kill_one_after=READERS // 5)
    time.sleep(LEASE + 0.5)  # the dead worker's lease runs out ...
    assert _send(sample, 1)[0].wait(timeout=300) == 0  # ... and a survivor takes its message over
    ids = collections.Counter(
        email.message_from_bytes(m)["Message-ID"] for _, _, m in handler.messages
    )
    recipients = {r for _, rcpts, _ in handler.messages for r in rcpts}
    duplicates = sum(n - 1 for n in ids.values())
    assert len(recipients) == READERS + 1  # the config's reader too
    assert duplicates <= killed * 4  # at most one per connection of the killed worker

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        assert dict(
            conn.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")).all()
        ) == {"sent": READERS + 1}
        workers = conn.scalar(sa.text("SELECT count(DISTINCT worker) FROM deliveries"))
        conn.execute(sa.text("UPDATE deliveries SET status = 'pending', lease_until = NULL"))
    engine.dispose()
    assert workers >= WORKERS  # every process (and thread) took part
    handler.messages.clear()
    alone, _ = _timed_send(sample, 1, handler)
    assert len(handler.messages) == READERS + 1
    print(f"\n{READERS + 1} messages: {WORKERS} workers (one killed) {elapsed:.1f} s, "
          f"one worker {alone:.1f} s; duplicates after the kill: {duplicates}")  # fmt: skip


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
