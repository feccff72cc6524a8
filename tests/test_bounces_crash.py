"""A crash in the middle of `syndicate bounces`: SIGKILL the real process several times while
it works through a Maildir of 500 mixed returned messages, then let a last run finish. Every
message must be counted exactly once (hard bounces, soft-bounce counts, complaints,
unsubscribes), every one must end up marked, and the list must be what one clean pass gives."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from . import returned_samples as samples
from .conftest import NOW, SECRET
from .test_bounces import Site, bounce_site

READERS = [f"r{n}@example.org" for n in range(60)]

MESSAGES = 500
STANDING = {"active": 0, "unsubscribed": 2, "bounced": 3, "complained": 4}


def _mailbox(site: Site, rng: random.Random) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Drop 500 mixed messages; returns what each reader got, by (reader, kind), and counts."""
    expected: Counter[tuple[str, str]] = Counter()
    kinds: Counter[str] = Counter()
    readers = [*READERS, "reader@example.org"]
    for n in range(MESSAGES):
        reader = rng.choice(readers)
        kind = rng.choice(["hard", "soft", "soft", "soft", "complaint", "unsubscribe",
                           "ignored", "ignored", "unparseable"])  # fmt: skip
        if kind == "hard" and rng.random() < 0.7:  # mostly soft ones: they count
            kind = "soft"
        message = _message(site, kind, reader, n)
        site.drop(message + f"X-Sequence: {n}\r\n".encode() if kind == "ignored" else message)
        kinds[kind] += 1
        if kind not in ("ignored", "unparseable"):
            expected[(reader, kind)] += 1
    return expected, kinds


def _message(site: Site, kind: str, reader: str, n: int) -> bytes:
    if kind == "hard":
        return samples.postfix_dsn(site.verp(reader), reader, queue=f"Q{n}")
    if kind == "soft":
        return samples.rfc3464_delayed(site.verp(reader), reader)
    if kind == "complaint":
        return samples.yahoo_arf(site.verp(reader), "redacted", "mailto:a@b.c")
    if kind == "unsubscribe":
        return samples.apple_mail_unsubscribe(reader, site.mailto(reader))
    if kind == "ignored":  # signed with another key
        return samples.postfix_dsn(site.verp(reader, key="forged"), reader)
    return (
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + str(n).encode() + b"\r\n--b--\r\n"
    )


def _expected_status(expected: Counter[tuple[str, str]], reader: str, limit: int) -> str:
    effects = ["active"]
    if expected[(reader, "hard")] or expected[(reader, "soft")] >= limit:
        effects.append("bounced")
    if expected[(reader, "complaint")]:
        effects.append("complained")
    if expected[(reader, "unsubscribe")]:
        effects.append("unsubscribed")
    return max(effects, key=STANDING.__getitem__)


def _processed(site: Site) -> int:
    return len(os.listdir(site.maildir / "cur"))


def _start(site: Site) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_SECRET"] = SECRET
    return subprocess.Popen(
        [sys.executable, "-m", "syndicate", "-q", "bounces", "--now", NOW.isoformat()],
        cwd=site.folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_sigkill_mid_mailbox_then_rerun_counts_every_message_exactly_once(
    sample: Path, tmp_path: Path
) -> None:
    site = bounce_site(sample, tmp_path, "soft_limit = 4\n", readers=len(READERS))
    expected, kinds = _mailbox(site, random.Random(16))
    assert sum(kinds.values()) == MESSAGES and min(kinds.values()) > 10
    killed_mid_run = 0
    for threshold in (60, 200, 340):
        process = _start(site)
        deadline = time.monotonic() + 120
        while process.poll() is None and _processed(site) < threshold:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += process.wait() == -signal.SIGKILL and _processed(site) < MESSAGES
        process.wait()
    assert killed_mid_run >= 1, "every run finished before it could be killed"
    print(f"killed mid-run {killed_mid_run} times")
    final = _start(site)
    assert final.wait(timeout=300) == 1  # done; the unparseable ones are left for the operator

    assert not os.listdir(site.maildir / "new") and _processed(site) == MESSAGES
    flagged = [n for n in os.listdir(site.maildir / "cur") if n.endswith(":2,FS")]
    assert len(flagged) == kinds["unparseable"]
    with sqlite3.connect(site.config.paths.database.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT email, kind FROM returned").fetchall()
    assert len(rows) == MESSAGES  # one row per message: nothing lost, nothing twice
    recorded = Counter((email, kind) for email, kind in rows if email is not None)
    assert recorded == expected  # every bounce, soft bounce, complaint and unsubscribe once
    assert Counter(kind for _, kind in rows) == kinds
    statuses = dict(
        sqlite3.connect(site.config.paths.database.removeprefix("sqlite:///"))
        .execute("SELECT email, status FROM subscribers")
        .fetchall()
    )
    for reader in [*READERS, "reader@example.org"]:
        assert statuses[reader] == _expected_status(expected, reader, 4), reader
    assert len(set(statuses.values())) >= 3  # a real mix, not everyone complained
