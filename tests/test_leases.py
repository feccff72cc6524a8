"""A `syndicate run` from cron SIGKILLed mid-delivery (default settings but a 3 s lease): its
claims stall nobody for long. On this host the next run sees that the process is gone and takes
its messages over at once; a sender on another host (simulated by renaming the dead worker)
holds them until its lease ends, which is within one lease lifetime of the kill, and the run in
between says so. `status` explains the wait while it lasts. Also the pure parts: worker names,
the liveness check, and what `status` says of each kind of claim."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.deliver import leases
from syndicate.models import Claim
from syndicate.pipeline import leases as waiting
from syndicate.store import Store

from .conftest import NOW, SECRET, RecordingHandler, add_readers, free_port, run_cli, use_smtp

READERS = 150
LEASE = 3
SECOND = timedelta(seconds=1)


class SlowRelay(RecordingHandler):
    """Takes 50 ms over each message, so that a run is still sending when it is killed."""

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay() -> Iterator[SlowRelay]:
    from aiosmtpd.controller import Controller

    handler = SlowRelay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


def _killed_mid_delivery(site: Path, relay: SlowRelay) -> datetime:
    """Start `syndicate run` as cron would, SIGKILL it once some messages went out; returns
    the wall-clock time of the kill."""
    use_smtp(site, relay.port, lease=LEASE)  # type: ignore[attr-defined]
    add_readers(site, READERS - 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "run", "--now", NOW.isoformat()],
        cwd=site, env=env | {"SYNDICATE_SECRET": SECRET},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(relay.messages) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    killed = datetime.now(UTC)
    proc.wait()
    assert 20 <= len(relay.messages) < READERS, "the run was not killed mid-delivery"
    return killed


def _ledger(site: Path) -> dict[str, int]:
    with sqlite3.connect(site / "state" / "syndicate.db") as db:
        return dict(db.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))


def _claimed(status: str) -> tuple[int, str, datetime]:
    """(messages, worker, lease end) from the one `deliveries claimed:` line of `status`."""
    lines = [line for line in status.splitlines() if line.startswith("deliveries claimed:")]
    assert len(lines) == 1, status
    found = re.match(r"deliveries claimed: (\d+) by (\S+), lease until (\S+) \((.+)\)", lines[0])
    assert found, lines[0]
    return int(found[1]), found[2], datetime.fromisoformat(found[3])


def _everyone_once(relay: SlowRelay) -> set[str]:
    return {rcpt for _, rcpts, _ in relay.messages for rcpt in rcpts}


def test_a_killed_run_on_this_host_is_taken_over_at_once(sample: Path, relay: SlowRelay) -> None:
    killed = _killed_mid_delivery(sample, relay)
    status = run_cli(["status"], sample)
    assert status.returncode == 0, status.stderr
    messages, worker, until = _claimed(status.stdout)
    assert messages == _ledger(sample)["sending"] and 1 <= messages <= 4 * 32
    assert worker.split("/")[1].isdigit() and killed < until <= killed + timedelta(seconds=LEASE)
    assert f"{messages} claimed by senders that are gone, taken over by the next run" in (
        status.stdout
    )
    assert "its process is gone: the next run or send takes them over at once" in status.stdout
    assert f"deliveries_sending: {messages}" in status.stdout

    again = run_cli(["run", "--now", NOW.isoformat()], sample)  # cron's next run, right away
    assert again.returncode == 0, again.stderr
    # it freed the dead run's claims because the process is gone, not because a lease ended
    assert f"event=claims-freed messages={messages} " in again.stderr
    assert "reason=process-gone" in again.stderr
    assert _ledger(sample) == {"sent": READERS}
    assert _everyone_once(relay) == {f"r{n}@example.org" for n in range(READERS - 1)} | {
        "reader@example.org"
    }
    after = run_cli(["status"], sample).stdout
    assert "deliveries claimed" not in after
    assert "nothing waits: every message is sent or has failed for good" in after


def test_a_sender_dead_on_another_host_holds_its_messages_one_lease_at_most(
    sample: Path, relay: SlowRelay
) -> None:
    killed = _killed_mid_delivery(sample, relay)
    with sqlite3.connect(sample / "state" / "syndicate.db") as db:  # as if it ran elsewhere
        db.execute("UPDATE deliveries SET worker = 'elsewhere.example/4242/t1' "
                   "WHERE status = 'sending'")  # fmt: skip
    held = _ledger(sample)["sending"]

    status = run_cli(["status"], sample).stdout
    messages, worker, until = _claimed(status)
    assert (messages, worker) == (held, "elsewhere.example/4242/t1")
    assert killed < until <= killed + timedelta(seconds=LEASE)  # within one lease of the kill
    # What status says while such a lease still holds: checked with the lease pushed an hour
    # ahead, since on a busy machine `status` itself can outlast a 3 s lease; then put back.
    later = datetime.now(UTC) + timedelta(hours=1)
    with sqlite3.connect(sample / "state" / "syndicate.db") as db:
        stored = db.execute("SELECT lease_until, digest_id, email FROM deliveries "
                            "WHERE status = 'sending'").fetchall()  # fmt: skip
        db.execute("UPDATE deliveries SET lease_until = ? WHERE status = 'sending'",
                   (later.strftime("%Y-%m-%d %H:%M:%S.%f"),))  # fmt: skip
    holding = run_cli(["status"], sample).stdout
    with sqlite3.connect(sample / "state" / "syndicate.db") as db:
        db.executemany("UPDATE deliveries SET lease_until = ? WHERE digest_id = ? AND email = ?",
                       stored)  # fmt: skip
    assert len(stored) == held and _claimed(holding)[2] > until
    assert "a sender on another host" in holding
    assert f"{held} claimed by other senders until" in holding

    waiting = run_cli(["run", "--now", NOW.isoformat()], sample)  # before the lease ends
    if datetime.now(UTC) < until:  # (a very slow machine may have reached the end already)
        assert waiting.returncode == 0, waiting.stderr
        assert f"{held} held by other senders until {until.isoformat()}" in waiting.stdout
        assert _ledger(sample)["sending"] == held

    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    done = run_cli(["run", "--now", NOW.isoformat()], sample)  # after the lease
    assert done.returncode == 0, done.stderr
    assert "held by" not in done.stdout
    assert _ledger(sample) == {"sent": READERS}
    assert len(_everyone_once(relay)) == READERS


def test_worker_names_and_the_liveness_check() -> None:
    name = leases.worker_name()
    host, pid, thread = name.split("/")
    assert int(pid) == os.getpid() and thread.startswith("t") and name != leases.worker_name()
    assert not leases.gone(name)  # this process
    assert leases.alive_here(name, {name}) and not leases.alive_here(name, set())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = leases._started(child.pid)
    alive = f"{host}/{child.pid}/t1@{start}"
    assert not leases.gone(alive) and leases.alive_here(alive, set())
    assert leases.gone(f"{host}/{child.pid}/t1@{int(start or 0) + 1}") == bool(start)  # recycled
    child.kill()
    deadline = time.monotonic() + 10
    while not leases.gone(alive) and time.monotonic() < deadline:  # the signal lands
        time.sleep(0.01)
    assert leases.gone(alive)  # a zombie: killed, not yet reaped
    child.wait()
    assert leases.gone(alive) and not leases.alive_here(alive, set())
    assert not leases.gone(f"elsewhere.example/{child.pid}/t1")  # another host: the lease decides
    assert not leases.gone("not a worker name")


def test_status_explains_each_kind_of_wait(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    clock = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    try:
        assert waiting.explain(store, clock, clock) == [
            "deliveries due now: 0",
            "delivery: nothing waits: every message is sent or has failed for good",
        ]
    finally:
        store.close()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    here = f"{leases.worker_name().split('/')[0]}/{child.pid}/t1"
    try:
        lines = {
            waiting._claim_line(Claim("elsewhere.example/1/t1", 3, clock + SECOND * 9), clock),
            waiting._claim_line(Claim("elsewhere.example/1/t2", 2, clock - SECOND), clock),
            waiting._claim_line(Claim(here, 1, clock - SECOND), clock),
        }
    finally:
        child.kill()
        child.wait()
    assert lines == {
        "deliveries claimed: 3 by elsewhere.example/1/t1, lease until 2026-12-01T12:00:09+00:00 "
        "(a sender on another host: if it died, they return to the pool when the lease ends)",
        "deliveries claimed: 2 by elsewhere.example/1/t2, lease until 2026-12-01T11:59:59+00:00 "
        "(its lease ran out: the next run or send takes them over)",
        f"deliveries claimed: 1 by {here}, lease until 2026-12-01T11:59:59+00:00 "
        "(its process is running on this host: they stay its own while it sends)",
    }


def _store_with_messages(folder: Path, count: int) -> Store:
    from syndicate.models import Subscriber

    store = Store.open(f"sqlite:///{folder / 'state.db'}")
    store.upsert_subscribers([Subscriber(f"p{n}@example.org") for n in range(count)], NOW)
    with sqlite3.connect(folder / "state.db") as db:
        db.executemany(
            "INSERT INTO deliveries (digest_id, email, name, status, attempts, last_error, updated)"
            " VALUES ('2026-11-28', ?, '', 'pending', 0, '', ?)",
            [(f"p{n}@example.org", NOW.replace(tzinfo=None)) for n in range(count)],
        )
    return store


def test_renew_confirm_and_takeover_in_the_ledger(tmp_path: Path) -> None:
    """A heartbeat renews only its own workers' claims; a confirm succeeds only for the worker
    that holds the message; once a lease ran out another worker takes the message over and the
    first one's confirm fails; freeing a dead worker's claims makes them claimable at once."""
    store = _store_with_messages(tmp_path, 4)
    try:
        first = store.claim("far.example/1/t1", NOW, NOW, NOW + SECOND, 2)
        second = store.claim("far.example/2/t1", NOW, NOW, NOW + SECOND, 2)
        assert store.renew(["far.example/1/t1"], NOW + SECOND * 10) == 2
        third = store.claim("far.example/3/t1", NOW, NOW + SECOND * 5, NOW + SECOND * 6, 9)
        assert {d.email for d in third} == {d.email for d in second}  # not the renewed ones
        assert not store.confirm(first[0], "far.example/2/t1", NOW)  # not its message
        assert store.confirm(first[0], "far.example/1/t1", NOW + SECOND * 20)
        over = store.claim("far.example/4/t1", NOW, NOW + SECOND * 30, NOW + SECOND * 31, 9)
        assert {d.email for d in over} >= {d.email for d in first}  # its lease ran out
        assert not store.confirm(first[0], "far.example/1/t1", NOW + SECOND * 40)  # lost it
        assert store.free_claims(["far.example/4/t1"]) == len(over) == 4
        assert store.free_claims(["far.example/4/t1"]) == 0  # already free
        again = store.claim("far.example/5/t1", NOW, NOW, NOW + SECOND, 9)  # at once, no wait
        assert {d.email for d in again} == {d.email for d in over}
        late = NOW + SECOND * 9  # its lease ran out, but it is known to be alive
        assert store.claim("far.example/6/t1", NOW, late, late, 9, ["far.example/5/t1"]) == []
        assert len(store.claim("far.example/6/t1", NOW, late, late, 9)) == 4
    finally:
        store.close()


def test_the_heartbeat_keeps_renewing_its_workers_claims(tmp_path: Path) -> None:
    store = _store_with_messages(tmp_path, 3)
    try:
        store.claim("far.example/1/t1", NOW, NOW, NOW + SECOND, 3)
        store.claim("far.example/2/t1", NOW, NOW, NOW + SECOND, 3)  # nothing left to claim
        ticks = iter(NOW + SECOND * n for n in range(1, 1000))
        beat = leases.Heartbeat(store, timedelta(seconds=1.2), lambda: next(ticks))
        beat.add("far.example/1/t1")
        with beat:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (claim,) = store.claims()
                if claim.lease_until and claim.lease_until >= NOW + SECOND * 3:
                    break
                time.sleep(0.05)
        assert claim.lease_until and claim.lease_until >= NOW + SECOND * 3  # renewed twice
        assert claim.messages == 3 and beat.active() == {"far.example/1/t1"}
    finally:
        store.close()


def test_a_message_taken_over_before_the_hand_over_is_never_sent(
    sample: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Confirm-before-send: while the worker hands its first claimed message over, it stalls
    for a whole lease (the clock jumps) and another sender (far away: its heartbeat starved our
    lease) takes over the rest of its claim. The worker must not send those: the claim no longer
    vouches for them, the database says they are the other sender's now, held under its lease,
    and the run's summary says so."""
    from syndicate import pipeline

    from .smtp_servers import Sink, serving
    from .test_smtp_delivery import EVERYONE, ledger, smtp_site

    database = sample / "state" / "syndicate.db"
    until = NOW + timedelta(hours=1)
    stolen: list[str] = []
    stalled = [timedelta(0)]

    class Thief(Sink):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            if not self.messages:  # the worker waits for this answer: take the rest now
                stalled[0] = timedelta(seconds=LEASE + 1)
                with sqlite3.connect(database) as db:
                    stolen.extend(e for (e,) in db.execute(
                        "UPDATE deliveries SET worker = 'far.example/9/t1', lease_until = ? "
                        "WHERE status = 'sending' AND email != ? RETURNING email",
                        (until.replace(tzinfo=None).isoformat(" "), envelope.rcpt_tos[0]),
                    ))  # fmt: skip
            return await super().handle_DATA(server, session, envelope)

    sink = Thief()
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=1, lease=LEASE)
        report = pipeline.run_once(config, NOW, clock=lambda: NOW + stalled[0])
    assert len(stolen) >= 1  # the worker had claimed more than the one message it was sending
    assert not set(stolen) & set(sink.recipients())  # never sent by the worker that lost them
    assert sorted(sink.recipients()) == sorted(set(EVERYONE) - set(stolen))
    assert (report.sent, report.held, report.held_until) == (len(EVERYONE) - len(stolen),
                                                             len(stolen), until)  # fmt: skip
    assert caplog.text.count("event=claim-lost") == len(stolen)
    assert {e: s for e, (s, _) in ledger(config).items() if s != "sent"} == dict.fromkeys(
        stolen, "sending"
    )
