"""syndicate on PostgreSQL: the real command end to end, the advisory run lock across
processes, and clear errors for a database it cannot use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from .conftest import NOW, SECRET, add_readers, edit_config, run_cli, snapshot, use_smtp


def _use(site: Path, url: str) -> None:
    config = site / "config.toml"
    config.write_text(config.read_text().replace("sqlite:///state/syndicate.db", url))


def test_run_digest_send_status_on_postgresql(sample: Path, postgres_url: str) -> None:
    _use(sample, postgres_url)
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    assert (
        "6 new" in done.stdout
        and "digest 2026-11-28 frozen" in done.stdout
        and "1 sent" in done.stdout
    )
    before = snapshot(sample / "feeds")
    again = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert "0 new" in again.stdout and snapshot(sample / "feeds") == before
    (sample / "articles" / "010_new.txt").write_text("A brand new story\n\nFresh.\n")
    done = run_cli(["digest", "--now", "2026-11-28T15:00:00+00:00"], sample)
    assert "digest 2026-11-28-2 frozen" in done.stdout, done.stderr
    assert run_cli(["send"], sample).returncode == 0
    status = run_cli(["status"], sample)
    assert "articles: 7" in status.stdout and "deliveries_sent: 2" in status.stdout
    assert not (sample / "state").exists()  # all state lives in PostgreSQL


HOLD = """
import sys, time
from syndicate.store import Store
store = Store.open(sys.argv[1])
with store.advisory_lock("syndicate-run") as held:
    print("held" if held else "busy", flush=True)
    time.sleep(60)
"""


def test_advisory_lock_keeps_two_hosts_from_running_at_once(
    sample: Path, postgres_url: str
) -> None:
    _use(sample, postgres_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, postgres_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = run_cli(["-v", "run", "--now", NOW.isoformat()], sample)
        assert done.returncode == 0 and "lock=advisory" in done.stderr and "skipped" in done.stdout
    finally:
        holder.kill()
        holder.wait()
    done = run_cli(["run", "--now", NOW.isoformat()], sample)  # the lock died with its holder
    assert done.returncode == 0 and "6 new" in done.stdout


def test_unreachable_database_exits_2_without_touching_anything(sample: Path) -> None:
    from .conftest import free_port

    _use(sample, f"postgresql+psycopg://syndicate:s3cret-pw@127.0.0.1:{free_port()}/news")
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 2
    assert "cannot open the state database" in done.stderr and "s3cret-pw" not in done.stderr
    assert not (sample / "feeds").exists() and not (sample / "outbox").exists()


def test_wrong_credentials_exit_2(sample: Path, postgres_server: str) -> None:
    url = postgres_server.replace("postgres@", "nobody@") + "postgres"
    _use(sample, url)
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 2 and "nobody" in done.stderr


def test_newer_schema_exits_2_and_is_left_alone(sample: Path, postgres_url: str) -> None:
    _use(sample, postgres_url)
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 2 and "schema version 99" in done.stderr
    with engine.begin() as conn:
        assert conn.scalar(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")) == "99"
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == articles
    engine.dispose()


def test_two_schedulers_on_two_hosts_never_double_send(
    sample: Path, postgres_url: str, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    import collections
    import email
    import os
    import signal
    import time

    controller, handler = smtp_server
    _use(sample, postgres_url)
    use_smtp(sample, controller.port)
    edit_config(sample, "ingest_interval = 300", "ingest_interval = 1")
    add_readers(sample, 40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
        "SYNDICATE_SECRET": SECRET
    }
    daemons = [subprocess.Popen([sys.executable, "-m", "syndicate", "-v", "schedule"], cwd=sample, env=env,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(handler.messages) < 41 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4)  # several more passes on both hosts: none may send again
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        logs = [daemon.communicate(timeout=60)[1] for daemon in daemons]
    assert [d.returncode for d in daemons] == [0, 0], logs
    ids = collections.Counter(
        email.message_from_bytes(m)["Message-ID"] for _, _, m in handler.messages
    )
    assert len(ids) == 41 and set(ids.values()) == {1}
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM digests")) == 1
    engine.dispose()
    skips = sum(log.count("lock=advisory") for log in logs)
    print(f"\npasses skipped because the other host held the lock: {skips}")


def test_postgresql_takes_what_sqlite_takes_and_reports_the_rest(
    sample: Path, postgres_url: str
) -> None:
    """An id over the column's 1,024 characters and a CSV row with a NUL byte are reported
    for that file or row only, before PostgreSQL sees them (it would refuse the batch)."""
    _use(sample, postgres_url)
    (sample / "articles" / "long-id.txt").write_text(f'+++\nid = "{"x" * 1025}"\n+++\nLong\n\nB.\n')
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "long-id.txt:2: front matter 'id': 1025 characters, more than 1024" in done.stderr
    assert "6 new" in done.stdout
    (sample / "in.csv").write_bytes(
        b"email,name\na@example.org,A\nb@example.org,B\x00\nc@example.org,C\n"
    )
    done = run_cli(["subscribers", "import", "in.csv"], sample)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "in.csv:3: holds a NUL or another control character" in done.stderr
    assert "2 added" in done.stdout


def test_partial_indexes_keep_their_where_on_postgresql(postgres_url: str) -> None:
    """The PostgreSQL WHERE of each partial index is given when a PostgreSQL store opens (not
    at import, which would load that dialect into every SQLite process): without it, each
    would index every row, and the queries written for the small index would miss it."""
    from syndicate.store import Store
    from syndicate.store.schema import md

    partial = {
        index.name for t in md.tables.values() for index in t.indexes if "where" in index.info
    }
    store = Store.open(postgres_url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes"))
            where = {name for name, definition in rows if " WHERE " in definition}
    finally:
        store.close()
    assert len(partial) >= 5
    assert partial <= where
