"""Faults: a full disk under the output folder, and several syndicate processes at once."""

from __future__ import annotations

import collections
import contextlib
import email
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from .conftest import NOW, SECRET, add_readers, edit_config, run_cli, use_smtp


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` mounted at `folder` (needs root, as CI and this machine have)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_disk_full_keeps_the_previous_feeds_and_the_next_run_catches_up(sample: Path) -> None:
    config = sample / "config.toml"
    config.write_text(config.read_text().replace('output = "feeds"', 'output = "disk/feeds"'))
    with small_disk(sample / "disk", "2m") as disk:
        assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
        rss = disk / "feeds" / "rss.xml"
        before = rss.read_bytes()
        ballast = disk / "ballast.bin"
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        ballast.write_bytes(b"\0" * (free - 20_000))  # leave 20 kB free
        (sample / "articles" / "050_long.txt").write_text(
            "A long article that does not fit\n\n" + ("Words and more words. " * 40 + "\n\n") * 60
        )
        done = run_cli(["run", "--now", "2026-11-28T13:00:00+00:00"], sample)
        assert done.returncode == 1
        assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
        assert rss.read_bytes() == before  # the previous feed is intact ...
        etree.fromstring(rss.read_bytes())  # ... and whole
        leftovers = [p.name for p in (disk / "feeds").rglob(".*.tmp")]
        assert leftovers == []
        ballast.unlink()  # an operator makes room
        done = run_cli(["run", "--now", "2026-11-28T14:00:00+00:00"], sample)
        assert done.returncode == 0, done.stderr
        assert "A long article that does not fit" in rss.read_text()


def test_two_runs_and_a_daemon_at_once_never_double_send(sample: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    use_smtp(sample, controller.port)
    edit_config(sample, "ingest_interval = 300", "ingest_interval = 1")
    add_readers(sample, 60, prefix="reader")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
        "SYNDICATE_SECRET": SECRET
    }
    command = [sys.executable, "-m", "syndicate"]
    procs = [
        subprocess.Popen([*command, "run"], cwd=sample, env=env, stderr=subprocess.PIPE, text=True),
        subprocess.Popen([*command, "run"], cwd=sample, env=env, stderr=subprocess.PIPE, text=True),
        subprocess.Popen(
            [*command, "-v", "schedule"], cwd=sample, env=env, stderr=subprocess.PIPE, text=True
        ),
    ]
    try:
        for proc in procs[:2]:
            assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
        deadline = time.monotonic() + 60
        while len(handler.messages) < 61 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # let the daemon run a few more passes: it must send nothing more
    finally:
        procs[2].send_signal(signal.SIGTERM)
        procs[2].wait(timeout=60)
    ids = collections.Counter(
        email.message_from_bytes(data)["Message-ID"] for _, _, data in handler.messages
    )
    assert len(ids) == 61 and set(ids.values()) == {1}  # everyone, exactly once
    with sqlite3.connect(sample / "state" / "syndicate.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        states = dict(
            db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
        )
        digests = db.execute("SELECT count(*) FROM digests").fetchone()[0]
    assert states == {"sent": 61} and digests == 1


def test_a_stalled_smtp_server_times_out_and_nothing_is_lost(sample: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    import socket
    import threading

    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(16)  # accepts connections (the kernel does) and never says a word
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        stalled.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(stalled.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    use_smtp(sample, stalled.getsockname()[1], timeout=1)
    started = time.monotonic()
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    stop.set()
    stalled.close()
    assert done.returncode == 1 and time.monotonic() - started < 30
    with sqlite3.connect(sample / "state" / "syndicate.db") as db:
        assert db.execute("SELECT status, attempts FROM deliveries").fetchall() == [("pending", 0)]
    controller, handler = smtp_server  # the relay is back
    use_smtp(sample, controller.port)
    assert run_cli(["send"], sample).returncode == 0
    assert [rcpts for _, rcpts, _ in handler.messages] == [["reader@example.org"]]
