"""deliver: atomic writes on real files, the output manifest, the run lock across real
processes, the .eml outbox, and SMTP against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syndicate.deliver import FileSender, SmtpSender, publish, run_lock, write_atomic
from syndicate.errors import DeliveryError

from .conftest import free_port


def test_write_atomic_leaves_identical_bytes_alone(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "feed.xml"
    assert write_atomic(target, b"one") is True
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    assert write_atomic(target, b"one") is False
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["feed.xml"]  # no temp files left


def test_publish_removes_only_what_it_wrote_before(tmp_path: Path) -> None:
    (tmp_path / "robots.txt").write_text("mine")
    first = publish(
        tmp_path, {"index.html": b"i", "articles/a.html": b"a", "articles/b.html": b"b"}
    )
    assert set(first.written) == {"index.html", "articles/a.html", "articles/b.html"}
    second = publish(tmp_path, {"index.html": b"i2", "articles/a.html": b"a"})
    assert second.written == ("index.html",)
    assert second.removed == ("articles/b.html",)
    assert not (tmp_path / "articles" / "b.html").exists()
    assert (tmp_path / "robots.txt").read_text() == "mine"


def test_publish_removes_folders_it_emptied_and_keeps_others(tmp_path: Path) -> None:
    publish(tmp_path, {"tags/a/rss.xml": b"a", "tags/b/rss.xml": b"b", "tags/c/rss.xml": b"c"})
    (tmp_path / "tags" / "c" / "notes.txt").write_text("mine")
    publish(tmp_path, {"tags/a/rss.xml": b"a"})
    assert not (tmp_path / "tags" / "b").exists()  # emptied by the removal: gone
    assert (tmp_path / "tags" / "c" / "notes.txt").read_text() == "mine"  # not empty: kept
    assert (tmp_path / "tags" / "a" / "rss.xml").exists()


@pytest.mark.parametrize("bad", ["../escape.html", "/etc/passwd", "articles/../../x"])
def test_publish_refuses_paths_outside_the_folder(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DeliveryError, match="outside"):
        publish(out, {bad: b"x"})
    assert list(tmp_path.iterdir()) == [out]


def test_publish_reports_an_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DeliveryError, match="cannot write"):
        publish(blocker, {"index.html": b"x"})


HOLDER = """
import sys, time
from pathlib import Path
from syndicate.deliver import run_lock
with run_lock(Path(sys.argv[1])) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(60)
"""


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_run_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "db.lock"
    holder = _hold_lock(lock)
    try:
        with run_lock(lock) as held:
            assert held is False
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run_lock(lock) as held:  # a killed holder never blocks the next run
        assert held is True


def test_file_sender_writes_one_eml_per_recipient(tmp_path: Path) -> None:
    sender = FileSender(tmp_path / "outbox")
    sender.send("2026-11-28", "reader@example.org", b"Subject: x\r\n\r\nbody\r\n")
    assert (
        (tmp_path / "outbox" / "2026-11-28" / "reader@example.org.eml")
        .read_bytes()
        .startswith(b"Subject")
    )
    with pytest.raises(DeliveryError):
        sender.send("..", "../../evil", b"x")


def _smtp(port: int) -> SmtpSender:
    return SmtpSender(
        host="127.0.0.1", port=port, security="none", envelope_from="news@example.org", timeout=5
    )


MESSAGE = b"From: news@example.org\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


def test_smtp_sender_delivers_over_one_reused_connection(smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    sender = _smtp(controller.port)
    for n in range(3):
        sender.send("d1", f"r{n}@example.org", MESSAGE)
    first = sender._conn
    sender.send("d1", "r3@example.org", MESSAGE)
    assert sender._conn is first  # the connection is reused
    sender.close()
    assert [rcpts for _, rcpts, _ in handler.messages] == [[f"r{n}@example.org"] for n in range(4)]
    assert all(mail_from == "news@example.org" for mail_from, _, _ in handler.messages)
    assert handler.messages[0][2].endswith(b"hello\r\n")


def test_smtp_5xx_fails_only_that_recipient(smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    handler.refuse["gone@example.org"] = "550 5.1.1 no such user"
    sender = _smtp(controller.port)
    with pytest.raises(DeliveryError, match="550") as caught:
        sender.send("d1", "gone@example.org", MESSAGE)
    assert caught.value.permanent is True
    sender.send("d1", "ok@example.org", MESSAGE)
    sender.close()
    assert [rcpts for _, rcpts, _ in handler.messages] == [["ok@example.org"]]


def test_smtp_4xx_is_temporary(smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtp_server
    handler.refuse["busy@example.org"] = "451 4.3.0 try again later"
    with pytest.raises(DeliveryError, match="451") as caught:
        _smtp(controller.port).send("d1", "busy@example.org", MESSAGE)
    assert caught.value.permanent is False


def test_smtp_server_down_is_a_temporary_failure() -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="cannot reach") as caught:
        _smtp(free_port()).send("d1", "a@example.org", MESSAGE)
    assert caught.value.permanent is False
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "body",
    [
        b".starts with a dot\r\n.\r\n..two\r\n.. \r\nend\r\n",
        b"a line\r\n.\r\nno final line break",
        b"\r\n.\r\n",
    ],
)
def test_smtp_dot_stuffing_keeps_every_line(smtp_server, body: bytes) -> None:  # type: ignore[no-untyped-def]
    """Our DATA stuffs dots with bytes.replace (smtplib uses a slow regex): a line that is a
    lone dot must not end the message early, and the server must get back every byte."""
    controller, handler = smtp_server
    message = b"Subject: dots\r\n\r\n" + body
    sender = _smtp(controller.port)
    sender.send("d1", "r@example.org", body)
    sender.send("d1", "r@example.org", message)
    sender.close()
    received = [content for _, _, content in handler.messages]
    assert received == [m if m.endswith(b"\r\n") else m + b"\r\n" for m in (body, message)]
