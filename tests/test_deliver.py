"""deliver: atomic writes on real files, the output manifest, the run lock across real
processes, the .eml outbox, and SMTP against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syndicate.deliver import (
    BACKUP,
    MANIFEST,
    FileSender,
    load_manifest,
    publish,
    run_lock,
    write_atomic,
)  # fmt: skip
from syndicate.deliver.smtp import SmtpSender
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


_LIBC = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> None:
    """renameat2(RENAME_EXCHANGE): swap two names atomically (neither is ever absent)."""
    if _LIBC.renameat2(_AT_FDCWD, bytes(a), _AT_FDCWD, bytes(b), _RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


class _Swap(threading.Thread):
    """Exchanges a real folder (or file) at `path` with a symlink to `outside`, in a loop until
    stopped: the check-then-write race of issue 14, on the output side."""

    def __init__(self, path: Path, outside: Path, *, folder: bool) -> None:
        super().__init__(daemon=True)
        self.path, self.outside = path, outside
        self.stop, self.swaps = threading.Event(), 0
        path.mkdir() if folder else path.write_bytes(b"old")
        os.symlink(outside, path.with_name(".link"))

    def run(self) -> None:
        while not self.stop.is_set():
            _exchange(self.path, self.path.with_name(".link"))
            self.swaps += 1


@pytest.mark.parametrize("folder", [True, False])
def test_publish_never_writes_through_a_symlink_swapped_in(tmp_path: Path, folder: bool) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir() if folder else outside.write_bytes(b"precious")
    target = "articles/a.html" if folder else "index.html"
    swap = _Swap(out / target.split("/")[0], outside, folder=folder)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    swap.start()
    refused = written = 0
    try:
        for n in range(2000):  # at least 200 runs, more until the symlink was met a few times
            result = publish(out, {target: f"page {n}".encode()})
            refused += bool(result.refused)
            written += bool(result.written)
            if n >= 200 and refused >= 3:
                break
    finally:
        swap.stop.set()
        swap.join()
        sys.setswitchinterval(interval)
    assert swap.swaps > 10 and refused > 0
    if folder:
        assert list(outside.iterdir()) == []
    else:
        assert outside.read_bytes() == b"precious"


def test_a_symlink_between_two_outputs_is_refused(tmp_path: Path) -> None:
    publish(tmp_path, {"index.html": b"<html>", "rss.xml": b"<rss>"})
    (tmp_path / "rss.xml").unlink()
    os.symlink("index.html", tmp_path / "rss.xml")
    result = publish(tmp_path, {"index.html": b"<html>", "rss.xml": b"<rss> new"})
    assert result.refused == ("rss.xml: rss.xml: a symlink; left alone",)
    assert (tmp_path / "index.html").read_bytes() == b"<html>"  # no RSS written into it
    assert result.written == ()


def test_a_hand_written_file_is_never_overwritten_or_deleted(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "mine.html").write_text("hand-written")
    result = publish(tmp_path, {"index.html": b"i", "articles/mine.html": b"rendered"})
    assert result.written == ("index.html",)
    assert [r.split(":")[0] for r in result.refused] == ["articles/mine.html"]
    assert (tmp_path / "articles" / "mine.html").read_text() == "hand-written"
    assert publish(tmp_path, {"index.html": b"i"}).removed == ()
    assert (tmp_path / "articles" / "mine.html").read_text() == "hand-written"


def test_a_file_edited_by_hand_after_publishing_is_left_alone(tmp_path: Path) -> None:
    publish(tmp_path, {"index.html": b"i", "a.html": b"a", "b.html": b"b"})
    (tmp_path / "a.html").write_text("edited by hand")
    (tmp_path / "b.html").write_text("edited by hand too")
    result = publish(tmp_path, {"index.html": b"i", "a.html": b"a2"})
    assert [r.split(":")[0] for r in result.refused] == ["a.html", "b.html"]
    assert (tmp_path / "a.html").read_text() == "edited by hand"
    assert (tmp_path / "b.html").read_text() == "edited by hand too"  # stale, but not ours now
    assert publish(tmp_path, {"index.html": b"i"}).removed == ()


@pytest.mark.parametrize(
    "damage",
    [b"{", b"[1, 2]", b'{"files": []}', b'{"files": {"../x": ["k", 1, 2]}}',
     b'{"files": {"a.html": ["k", -1, "x"]}}', b"\xff\xfe", b"[" * 100_000],
)  # fmt: skip
def test_a_damaged_manifest_is_rebuilt_from_what_syndicate_wrote(
    tmp_path: Path, damage: bytes
) -> None:
    publish(tmp_path, {"index.html": b"i", "a.html": b"a", "old.html": b"o"})
    backup = load_manifest(tmp_path).files
    (tmp_path / MANIFEST).write_bytes(damage)
    assert "recovered from" in load_manifest(tmp_path).damage
    assert load_manifest(tmp_path).files == backup  # the backup copy is whole: used
    (tmp_path / BACKUP).write_bytes(damage)  # both damaged: only bytes prove a file ours
    assert "rebuilt" in load_manifest(tmp_path).damage
    result = publish(tmp_path, {"index.html": b"i2", "a.html": b"a"})
    # a.html is the same bytes: provably ours, adopted; index.html changed: unprovable, kept
    assert result.written == () and [r.split(":")[0] for r in result.refused] == ["index.html"]
    assert (tmp_path / "old.html").exists()  # the record of it is lost: not deleted
    assert load_manifest(tmp_path).damage == ""
    assert set(load_manifest(tmp_path).files) == {"a.html"}
    assert publish(tmp_path, {"index.html": b"i2", "a.html": b"a3"}).written == ("a.html",)


def test_temp_files_of_a_killed_run_are_cleaned(tmp_path: Path) -> None:
    publish(tmp_path, {"articles/a.html": b"a"})
    stale = tmp_path / "articles" / ".syndicate-0123456789abcdef.tmp"
    stale.write_bytes(b"half a page")
    (tmp_path / "articles" / ".notes.tmp").write_text("mine")
    publish(tmp_path, {"articles/a.html": b"a2"})
    assert not stale.exists()
    assert (tmp_path / "articles" / ".notes.tmp").read_text() == "mine"


def test_eml_files_and_exports_are_private_and_keep_a_stricter_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        FileSender(tmp_path / "outbox").send("d", "a@example.org", b"Subject: x\r\n\r\n")
        assert (
            stat.S_IMODE((tmp_path / "outbox" / "d" / "a@example.org.eml").stat().st_mode) == 0o600
        )
        export = tmp_path / "export.csv"
        assert write_atomic(export, b"email\n", private=True)
        assert stat.S_IMODE(export.stat().st_mode) == 0o600
        export.chmod(0o400)
        assert write_atomic(export, b"email\na@example.org\n", private=True)
        assert stat.S_IMODE(export.stat().st_mode) == 0o400  # never loosened
        os.umask(0o077)
        assert write_atomic(tmp_path / "strict.csv", b"x", private=True)
        assert stat.S_IMODE((tmp_path / "strict.csv").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_254_character_address_gets_an_eml_file(tmp_path: Path) -> None:
    address = "a" * 64 + "@" + ".".join(["b" * 62, "b" * 62, "b" * 60]) + ".cd"
    assert len(address) == 254
    sender = FileSender(tmp_path / "outbox")
    sender.send("d", address, b"Subject: x\r\n\r\n")
    (eml,) = (tmp_path / "outbox" / "d").iterdir()
    assert eml.name.startswith("a" * 64 + "@") and eml.name.endswith(".eml")
    assert len(eml.name.encode()) <= 255


def test_a_publish_killed_after_its_renames_does_not_wedge_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed between putting new files in place and recording them in the manifest
    (test_crash hit this: `atom.xml: not written by syndicate`, exit 1 on every later run).
    The publish writes its records ahead; the next one proves the files are syndicate's."""
    import syndicate.deliver.publishing as deliver

    publish(tmp_path, {"atom.xml": b"one", "index.html": b"home"})
    real_write = deliver.write_into

    def killed_before_the_manifest(folder, name, data, *, private):  # type: ignore[no-untyped-def]
        if name in (deliver.BACKUP, deliver.MANIFEST):
            raise KeyboardInterrupt("SIGKILL stand-in: the process ends here")
        return real_write(folder, name, data, private=private)

    monkeypatch.setattr(deliver, "write_into", killed_before_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        publish(tmp_path, {"atom.xml": b"two", "index.html": b"home"})
    monkeypatch.undo()
    assert (tmp_path / "atom.xml").read_bytes() == b"two"  # renamed before the "kill"
    assert (tmp_path / deliver.PENDING).exists()

    result = publish(tmp_path, {"atom.xml": b"three", "index.html": b"home"})
    assert result.refused == ()
    assert (tmp_path / "atom.xml").read_bytes() == b"three"
    assert not (tmp_path / deliver.PENDING).exists()
    (tmp_path / "index.html").write_bytes(b"edited by hand")  # and a hand edit is still refused
    edited = publish(tmp_path, {"atom.xml": b"three", "index.html": b"home 2"})
    assert [r.split(":")[0] for r in edited.refused] == ["index.html"]


def test_temp_files_are_cleaned_from_the_listing_the_caller_made(tmp_path: Path) -> None:
    """The pipeline hands publish the listing it already walked: stale temps in it still go."""
    from syndicate.deliver import present

    publish(tmp_path, {"articles/a.html": b"a"})
    stale = tmp_path / "articles" / ".syndicate-0123456789abcdef.tmp"
    stale.write_bytes(b"half a page")
    publish(tmp_path, {"articles/a.html": b"a2"}, on_disk=present(tmp_path))
    assert not stale.exists() and (tmp_path / "articles" / "a.html").read_bytes() == b"a2"
