"""SMTP delivery end to end: the pipeline's sender threads, the ledger on a real SQLite file and
real aiosmtpd servers on 127.0.0.1 (normal, refusing 421/451/550, dropping the connection,
down, STARTTLS with a self-signed certificate)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate import pipeline
from syndicate.config import Config, load_config
from syndicate.deliver import Pacer
from syndicate.models import Subscriber
from syndicate.store import SCHEMA_VERSION, Store

from .conftest import DATA, NOW, SECRET, free_port, run_cli
from .smtp_servers import Sink, self_signed, serving, tls_context

READERS = [f"reader{n:02}@example.net" for n in range(12)]


def smtp_site(site: Path, port: int, **smtp: object) -> Config:
    """The sample publication switched to SMTP on 127.0.0.1:port, with 12 more subscribers."""
    settings = {"host": "127.0.0.1", "port": port, "security": "none", **smtp}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    config = site / "config.toml"
    text = config.read_text().replace('delivery = "file"', 'delivery = "smtp"')
    config.write_text(re.sub(r"\[smtp\]\n(.+\n)+", f"[smtp]\n{lines}", text))
    loaded = load_config(config, {"SYNDICATE_SECRET": SECRET})
    store = Store.open(loaded.paths.database)
    store.upsert_subscribers([Subscriber(a) for a in READERS], NOW)
    store.close()
    return loaded


def ledger(config: Config) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(config.paths.database.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT email, status, attempts FROM deliveries").fetchall()
    return {email: (status, attempts) for email, status, attempts in rows}


def statuses(config: Config) -> dict[str, str]:
    store = Store.open(config.paths.database)
    try:
        return {p.email: p.status for p in store.subscribers()}
    finally:
        store.close()


EVERYONE = sorted([*READERS, "reader@example.org"])


def test_parallel_connections_deliver_each_message_exactly_once(sample: Path) -> None:
    sink = Sink()
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=4)
        report = pipeline.run_once(config, NOW)
        assert report.ok and report.sent == 13
        again = pipeline.run_once(config, NOW + timedelta(hours=1))
    assert again.sent == 0
    assert sorted(sink.recipients()) == EVERYONE  # each once, none twice
    assert 1 <= len(set(sink.peers)) <= 4
    assert set(ledger(config).values()) == {("sent", 1)}
    message = sink.messages[0][2]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in message


def test_refusals_retry_4xx_with_backoff_and_bounce_5xx(sample: Path) -> None:
    sink = Sink()
    sink.refuse = {
        READERS[0]: "451 4.3.0 try again later",
        READERS[1]: "550 5.1.1 no such user",
        READERS[2]: "421 4.7.0 too busy, closing",
    }
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=2, retry_after=60)
        report = pipeline.run_once(config, NOW)
        assert not report.ok and report.failed == (READERS[1],)  # final: a 5xx
        assert sorted(report.deferred) == [READERS[0], READERS[2]]  # 4xx: retried later
        assert report.sent == 10
        rows = ledger(config)
        assert rows[READERS[0]] == ("pending", 1) and rows[READERS[2]] == ("pending", 1)
        assert rows[READERS[1]] == ("failed", 1)
        assert statuses(config)[READERS[1]] == "bounced"
        early = pipeline.send(config, NOW + timedelta(seconds=30))  # backoff not over yet
        assert early.sent == 0 and early.failed == () and early.deferred == ()
        sink.refuse = {READERS[1]: "550 5.1.1 no such user"}
        later = pipeline.send(config, NOW + timedelta(seconds=61))
    assert later.sent == 2 and later.ok
    assert sorted(sink.recipients()) == sorted(set(EVERYONE) - {READERS[1]})
    assert ledger(config)[READERS[1]] == ("failed", 1)  # a bounce is never retried


def test_4xx_gives_up_after_max_attempts_with_growing_waits(sample: Path) -> None:
    sink = Sink()
    sink.refuse = {READERS[0]: "452 4.2.2 mailbox full"}
    with serving(sink) as port:
        config = smtp_site(sample, port, max_attempts=3, retry_after=10)
        pipeline.run_once(config, NOW)  # attempt 1; next one after 10 s
        assert ledger(config)[READERS[0]] == ("pending", 1)
        assert pipeline.send(config, NOW + timedelta(seconds=9)).deferred == ()
        second = pipeline.send(config, NOW + timedelta(seconds=10))  # attempt 2; 20 s more
        assert second.deferred == (READERS[0],) and second.failed == ()
        assert ledger(config)[READERS[0]] == ("pending", 2)
        assert pipeline.send(config, NOW + timedelta(seconds=29)).deferred == ()
        last = pipeline.send(config, NOW + timedelta(seconds=30))  # attempt 3: give up
    assert last.failed == (READERS[0],) and last.deferred == ()
    assert ledger(config)[READERS[0]] == ("failed", 3)
    assert statuses(config)[READERS[0]] == "active"  # a 4xx is not a bounce
    assert READERS[0] not in sink.recipients()


def test_a_dropped_connection_reconnects_and_resumes(sample: Path) -> None:
    sink = Sink()
    sink.drop_at = {4, 9}
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=1)
        report = pipeline.run_once(config, NOW)
    assert report.ok and report.sent == 13
    assert sorted(sink.recipients()) == EVERYONE
    assert len(set(sink.peers)) == 3  # two drops, two new connections


@pytest.mark.parametrize("connections", [1, 4])
def test_server_down_leaves_everything_pending_then_delivers(
    sample: Path, connections: int
) -> None:
    """One connection claims several messages at once: those it never tried go back to
    pending, uncounted, with the one it tried."""
    port = free_port()
    smtp_site(sample, port, max_connections=connections)
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1
    assert f"cannot reach 127.0.0.1:{port}" in done.stderr and "[smtp] host" in done.stderr
    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
    assert {status for status, _ in ledger(config).values()} == {"pending"}
    assert {attempts for _, attempts in ledger(config).values()} == {0}
    sink = Sink()
    with serving(sink, port=port):
        again = run_cli(["send"], sample)
    assert again.returncode == 0, again.stderr
    assert "13 sent" in again.stdout and sorted(sink.recipients()) == EVERYONE


def test_send_after_a_crash_never_resends_a_sent_message(sample: Path) -> None:
    sink = Sink()
    sink.refuse = dict.fromkeys(READERS[6:], "451 4.3.0 later")
    with serving(sink) as port:
        config = smtp_site(sample, port, retry_after=0)
        pipeline.run_once(config, NOW)
        sent_before = sorted(sink.recipients())
        with sqlite3.connect(config.paths.database.removeprefix("sqlite:///")) as db:
            # a crash between handing a message over and recording it leaves `sending`
            db.execute("UPDATE deliveries SET status='sending' WHERE email=?", (READERS[6],))
        sink.refuse = {}
        pipeline.send(config, NOW + timedelta(seconds=1))  # its worker's lease still holds it
        assert READERS[6] not in sink.recipients()
        pipeline.send(config, NOW + timedelta(seconds=config.smtp.lease + 1))  # lease ran out
    assert sent_before == sorted(["reader@example.org", *READERS[:6]])
    assert sorted(sink.recipients()) == EVERYONE  # the sent ones were not sent again


def test_smtp_without_the_secret_is_a_clear_error(sample: Path) -> None:
    smtp_site(sample, free_port())
    done = run_cli(["run", "--now", NOW.isoformat()], sample, env={"SYNDICATE_SECRET": ""})
    assert done.returncode == 1  # published and froze the digest, but could send nothing
    assert "SYNDICATE_SECRET" in done.stderr and "email.secret_env" in done.stderr


def test_starttls_with_a_self_signed_certificate(sample: Path, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    shutil.copy(cert, sample / "smtp-ca.pem")
    sink = Sink()
    options = {"tls_context": tls_context(cert, key), "require_starttls": True}
    with serving(sink, **options) as port:
        untrusted = smtp_site(sample, port, security="starttls")
        refused = pipeline.run_once(untrusted, NOW)
        assert not refused.ok and refused.sent == 0  # verification stays on by default
        assert {s for s, _ in ledger(untrusted).values()} == {"pending"}
        text = (sample / "config.toml").read_text()
        (sample / "config.toml").write_text(
            text.replace(
                'security = "starttls"\n', 'security = "starttls"\nca_file = "smtp-ca.pem"\n'
            )
        )
        config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
        assert config.smtp.ca_file == str(sample / "smtp-ca.pem")
        report = pipeline.send(config, NOW)
    assert report.ok and report.sent == 13
    assert sorted(sink.recipients()) == EVERYONE


def test_untrusted_certificate_error_names_the_setting(
    sample: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = self_signed(tmp_path)
    with serving(Sink(), tls_context=tls_context(cert, key), require_starttls=True) as port:
        config = smtp_site(sample, port, security="starttls")
        pipeline.run_once(config, NOW)
    assert "certificate" in caplog.text and "[smtp] ca_file" in caplog.text


def test_a_version_1_database_file_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    shutil.copy(DATA / "state-v1.sqlite", path)
    store = Store.open(f"sqlite:///{path}")
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "11"  # v1 -> ... -> v11
        assert all(e.article.url_id for e in store.entries())  # v7: published before URI ids
        due = store.open_deliveries(NOW)
        assert [(d.email, d.status, d.attempts, d.last_error) for d in due] == [
            ("three@example.org", "pending", 1, "451 try later"),
            ("two@example.org", "pending", 0, ""),
        ]
        store.mark_delivery(due[0], "pending", NOW, "451", next_attempt=NOW + timedelta(hours=1))
        assert [d.email for d in store.open_deliveries(NOW)] == ["two@example.org"]
        assert store.counts()["deliveries_sent"] == 1
        with sqlite3.connect(path) as db:  # v4 rebuilt the articles table, bodies last
            before = sqlite3.connect(DATA / "state-v1.sqlite").execute("SELECT * FROM articles")
            names = [c[0] for c in before.description]
            row = dict(zip(names, before.fetchone(), strict=True))
            after = db.execute(f"SELECT {', '.join(names)} FROM articles").fetchone()
            columns = [r[1] for r in db.execute("PRAGMA table_info(articles)")]
        assert after == tuple(row.values())
        assert columns[-2:] == ["body_html", "body_text"]
        with sqlite3.connect(path) as db:  # v5: the next digest's candidates come from an index
            plan = db.execute("EXPLAIN QUERY PLAN " + str(_candidates_sql())).fetchall()
        assert any("ix_articles_undigested" in row[-1] for row in plan), plan
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(deliveries)")]
        indexes = {row[1] for row in db.execute("SELECT * FROM sqlite_master WHERE type='index'")}
    assert columns[-3:] == ["next_attempt", "lease_until", "worker"]
    assert {"ix_signups_email_lower", "ux_subscribers_address"} <= indexes  # v8, v6


def _candidates_sql() -> str:
    """The SQL of `Store.digest_candidates`, with its parameters inlined, as SQLite runs it."""
    from sqlalchemy.dialects import sqlite

    from syndicate.store import candidates_query

    query = candidates_query(None, 51)
    return str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_pacer_spaces_sends_evenly() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.5]  # slots at 100, 100.25, 100.5
    clock[0] = 200.0
    pacer.wait()
    assert slept == [0.25, 0.5]  # an idle pacer does not make anyone wait
    Pacer(0, clock=lambda: 0.0, sleep=sleep).wait()
    assert len(slept) == 2


def _trusting(sample: Path, port: int, security: str, cert: Path, **more: object) -> Config:
    shutil.copy(cert, sample / "smtp-ca.pem")
    return smtp_site(sample, port, security=security, ca_file="smtp-ca.pem", **more)


def test_implicit_tls(sample: Path, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    sink = Sink()
    with serving(sink, ssl_context=tls_context(cert, key)) as port:
        report = pipeline.run_once(_trusting(sample, port, "ssl", cert), NOW)
    assert report.ok and sorted(sink.recipients()) == EVERYONE


def test_auth_uses_the_password_from_the_environment(
    sample: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"news", b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    cert, key = self_signed(tmp_path)
    sink = Sink()
    options = {"tls_context": tls_context(cert, key), "require_starttls": True,
               "authenticator": check, "auth_required": True}  # fmt: skip
    with serving(sink, **options) as port:
        config = _trusting(sample, port, "starttls", cert, username="news")
        wrong = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET,
                                                     "SYNDICATE_SMTP_PASSWORD": "guess"})  # fmt: skip
        refused = pipeline.run_once(wrong, NOW)
        assert refused.sent == 0 and {s for s, _ in ledger(config).values()} == {"pending"}
        assert "refused AUTH as 'news'" in caplog.text and "[smtp] password_env" in caplog.text
        right = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET,
                                                     "SYNDICATE_SMTP_PASSWORD": "s3cret"})  # fmt: skip
        report = pipeline.send(right, NOW)
    assert report.ok and sorted(sink.recipients()) == EVERYONE


@pytest.mark.parametrize(
    ("line", "key"),
    [("max_attempts = 0", "smtp.max_attempts"), ("rate_per_second = -1", "smtp.rate_per_second"),
     ("retry_after = -5", "smtp.retry_after"), ("in_flight = 0", "smtp.in_flight"),
     ("in_flight = 1001", "smtp.in_flight"), ('pipelining = "yes"', "smtp.pipelining")],
)  # fmt: skip
def test_bad_smtp_settings_name_the_key(sample: Path, line: str, key: str) -> None:
    from syndicate.errors import ConfigError

    config = sample / "config.toml"
    name = line.split(" ")[0]
    text = re.sub(rf"(?m)^{name} = .*\n", "", config.read_text())
    config.write_text(text.replace("[smtp]\n", f"[smtp]\n{line}\n"))
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(config, {})


class SlowSink(Sink):
    """Takes a moment over each message, so a sender can be killed in the middle of a batch."""

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        import asyncio

        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def test_a_killed_send_resumes_without_resending_what_was_sent(sample: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    port = free_port()
    config = smtp_site(sample, port, max_connections=1, lease=1, in_flight=1)
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 1  # server down
    sink = SlowSink()
    with serving(sink, port=port):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "syndicate", "send"], cwd=sample,
            env=env | {"SYNDICATE_SECRET": SECRET},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(sink.messages) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # a crash in the middle of the batch
        proc.wait()
        sent_before = {e for e, (status, _) in ledger(config).items() if status == "sent"}
        assert 0 < len(sent_before) < 13
        time.sleep(1.5)  # the killed worker's lease on its message runs out
        resumed = run_cli(["send"], sample)
    assert resumed.returncode == 0, resumed.stderr
    received = sink.recipients()
    assert sorted(set(received)) == EVERYONE  # nothing lost
    assert all(received.count(e) == 1 for e in sent_before)  # nothing recorded sent went twice
    assert len(received) - 13 <= 1  # in_flight = 1: at most the one message on the wire
