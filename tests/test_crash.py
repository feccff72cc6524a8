"""Crash safety: SIGKILL real `syndicate run` and `syndicate send` processes at many moments
(pick-up, writing feeds, mid-send), then run to completion. Nothing is lost, no reader ever sees
a half-written file, and each subscriber gets the digest once, except at most one duplicate per
kill that landed between the server's acceptance and the ledger commit."""

from __future__ import annotations

import collections
import email
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from lxml import etree

from .conftest import NOW, SECRET, add_readers, edit_config, use_smtp

ARTICLES = 200
SUBSCRIBERS = 300
KILL_AFTER = [0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05, 1.2, 1.4, 1.6, 1.8, 2.0]
KILLS = 24
CONNECTIONS = 4  # [smtp] max_connections: each connection is a worker that can be cut mid-send


class Reader(threading.Thread):
    """Polls the published files the whole time, the way a feed reader or web server would."""

    def __init__(self, feeds: Path) -> None:
        super().__init__(daemon=True)
        self.feeds, self.stop, self.reads, self.bad = feeds, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in [
                self.feeds / "rss.xml",
                self.feeds / "atom.xml",
                self.feeds / "index.html",
            ]:
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                self.reads += 1
                try:
                    if path.suffix == ".xml":
                        etree.fromstring(data)
                    elif not data.rstrip().endswith(b"</html>"):
                        raise ValueError("truncated page")
                except (etree.XMLSyntaxError, ValueError) as exc:
                    self.bad.append(f"{path.name}: {exc}")
            time.sleep(0.005)


def _prepare(site: Path, port: int) -> None:
    for n in range(ARTICLES):
        words = " ".join(f"word{n}-{k}" for k in range(300))
        (site / "articles" / f"{100 + n:03d}_gen.txt").write_text(
            f"Generated article {n}\n\n{words}\n"
        )
    use_smtp(site, port, max_connections=CONNECTIONS, lease=1)
    edit_config(site, "max_items = 20", "max_items = 500")
    add_readers(site, SUBSCRIBERS - 1)


def _start(site: Path, command: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
        "SYNDICATE_SECRET": SECRET
    }
    args = [sys.executable, "-m", "syndicate", "-q", command]
    if command == "run":
        args += ["--now", NOW.isoformat()]
    return subprocess.Popen(
        args, cwd=site, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_sigkill_at_many_moments_loses_nothing_and_sends_once(sample: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    _prepare(sample, controller.port)
    reader = Reader(sample / "feeds")
    reader.start()
    kills = number = 0
    while kills < KILLS and number < 10 * KILLS:  # bounded: a pass may finish before its kill
        delay = KILL_AFTER[number % len(KILL_AFTER)]
        number += 1
        proc = _start(sample, "send" if number % 4 == 3 else "run")
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if number % 5 == 4:  # new articles keep arriving, so later kills land in pick-up too
            (sample / "articles" / f"9{number:02d}_late.txt").write_text(
                f"Late article {number}\n\nText.\n"
            )
    # no waiting for leases: the killed processes ran on this host, so the next run sees that
    # they are gone and takes their messages over at once
    for command in ("run", "send", "run"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")} | {
            "SYNDICATE_SECRET": SECRET
        }
        done = subprocess.run(
            [sys.executable, "-m", "syndicate", command],
            cwd=sample,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"  # whatever a kill left
    reader.stop.set()
    reader.join()
    ids = collections.Counter(
        email.message_from_bytes(m)["Message-ID"] for _, _, m in handler.messages
    )
    recipients = {r for _, rcpts, _ in handler.messages for r in rcpts}
    duplicates = sum(count - 1 for count in ids.values())
    print(f"\nkills={kills} messages={len(handler.messages)} unique={len(ids)} "
          f"duplicates={duplicates} reader_reads={reader.reads}")  # fmt: skip
    assert kills >= 20
    assert reader.bad == [], reader.bad[:5]
    assert reader.reads > 100
    import sqlite3

    with sqlite3.connect(sample / "state" / "syndicate.db") as db:
        ledger = db.execute(
            "SELECT status, count(*), max(attempts), max(lease_until) FROM deliveries GROUP BY status"
        ).fetchall()
    assert len(recipients) == SUBSCRIBERS, ledger  # everyone got the digest ...
    assert duplicates <= kills * CONNECTIONS  # ... and at most one per connection per kill
    rss = (sample / "feeds" / "rss.xml").read_text()
    assert all(f"Generated article {n}<" in rss for n in range(ARTICLES))
    late = [p for p in (sample / "articles").iterdir() if p.name.startswith("9")]
    assert all(p.read_text().split("\n")[0] in rss for p in late)
