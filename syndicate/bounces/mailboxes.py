"""The mailbox returned mail arrives in: a Maildir or an IMAP folder over TLS.

Each lists the messages not yet processed (each named by a key that stays the same while the
message waits, is read, and is marked), reads at most `max_size` bytes of one, and marks one
as processed: Maildir moves it to `cur/` with the Seen flag (`S`; `FS`, flagged, for a message
left for the operator), IMAP sets `\\Seen` (and `\\Flagged`). Both mark after the store has
recorded the message, so a crash between the two only repeats a mark, never a count.

It never parses mail and never touches the store.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import re
import ssl
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from syndicate.errors import MailboxError


class Mailbox(Protocol):
    where: str

    def keys(self) -> list[str]: ...

    def read(self, key: str) -> bytes: ...

    def mark(self, key: str, *, flagged: bool) -> None: ...

    def close(self) -> None: ...


def _flags(name: str) -> str:
    return name.partition(":2,")[2] if ":2," in name else ""


class Maildir:
    """A Maildir (as `mailbox.Maildir` reads it: `new/` then `cur/`). Python 3.11's
    `mailbox.Maildir` changes flags only by rewriting the whole message, so marking renames
    the file itself, as the Maildir specification describes (an atomic rename; the unique name
    before `:2,` is the key)."""

    def __init__(self, path: str, max_size: int) -> None:
        self.where, self.max_size = path, max_size
        try:
            self.box = mailbox.Maildir(path, factory=None, create=False)
        except (OSError, mailbox.Error) as exc:  # NoSuchMailboxError: no such folder
            raise MailboxError(f"{path}: no Maildir there ([bounces] maildir): {exc!r}") from None
        self.root = Path(path)
        if not (self.root / "new").is_dir() or not (self.root / "cur").is_dir():
            raise MailboxError(f"{path}: not a Maildir (no new/ and cur/): check [bounces] maildir")
        self.files: dict[str, Path] = {}

    def keys(self) -> list[str]:
        """Every message in `new/`, and those in `cur/` nobody has seen, oldest name first."""
        self.files = {}
        try:
            for sub in ("new", "cur"):
                for entry in os.scandir(self.root / sub):
                    key = entry.name.partition(":")[0]
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    if sub == "cur" and "S" in _flags(entry.name):
                        continue
                    self.files[key] = Path(entry.path)
        except OSError as exc:
            raise MailboxError(f"{self.where}: cannot list the Maildir: {exc}") from None
        return sorted(self.files)

    def read(self, key: str) -> bytes:
        try:
            with self.files[key].open("rb") as file:
                return file.read(self.max_size)
        except OSError as exc:
            raise MailboxError(f"{self.files[key]}: cannot read: {exc.strerror}") from None

    def mark(self, key: str, *, flagged: bool) -> None:
        path = self.files[key]
        flags = set(_flags(path.name)) | {"S"} | ({"F"} if flagged else set())
        target = self.root / "cur" / f"{key}:2,{''.join(sorted(flags))}"
        try:
            os.rename(path, target)
        except FileNotFoundError:  # moved meanwhile (another reader, the operator): fine
            return
        except OSError as exc:
            raise MailboxError(f"{path}: cannot mark it processed: {exc.strerror}") from None
        self.files[key] = target

    def close(self) -> None:
        self.files = {}


_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class Imap:
    """An IMAP folder over TLS (imaps://user@host[:port]/FOLDER, INBOX by default). Keys are
    `imaps://user@host/FOLDER;UIDVALIDITY=v/;UID=n` (RFC 5092's form), unique per message."""

    def __init__(
        self, url: str, password: str | None, *, ca_file: str, timeout: float, max_size: int
    ) -> None:
        parts = urlsplit(url)
        self.user, self.host = unquote(parts.username or ""), parts.hostname or ""
        self.port = parts.port or 993
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"
        self.where = f"imaps://{self.user}@{self.host}:{self.port}/{self.folder}"
        self.max_size = max_size
        self.conn = self._connect(password, ca_file, timeout)
        self.validity = self._select()

    def _connect(self, password: str | None, ca_file: str, timeout: float) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=ca_file or None)
        try:
            conn = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"cannot verify the TLS certificate of {self.where}: {exc.verify_message}; "
                "a private CA can be trusted with [bounces] ca_file"
            ) from None
        except OSError as exc:
            raise MailboxError(f"cannot reach {self.where} ([bounces] imap): {exc}") from None
        try:
            conn.login(self.user, password or "")
        except imaplib.IMAP4.error as exc:
            conn.shutdown()
            raise MailboxError(
                f"{self.where} refused the login as {self.user!r}: check [bounces] imap and "
                f"password_env or password_file ({exc})"
            ) from None
        return conn

    def _select(self) -> bytes:
        _, data = self._call("SELECT", self.conn.select, _quoted(self.folder))
        found = _UIDVALIDITY.search(b" ".join(d for d in data if isinstance(d, bytes)))
        response = self.conn.response("UIDVALIDITY")[1]
        validity = response[0] if response and response[0] else None
        if validity is None and found is not None:
            validity = found.group(1)
        return validity or b"0"

    def _call(self, what: str, method: object, *args: object) -> tuple[str, list[object]]:
        try:
            kind, data = method(*args)  # type: ignore[operator]
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"{self.where}: {what} failed: {exc}") from None
        if kind != "OK":
            raise MailboxError(f"{self.where}: {what} failed: {data!r}")
        return str(kind), list(data)

    def key(self, uid: bytes) -> str:
        return f"{self.where};UIDVALIDITY={self.validity.decode()}/;UID={uid.decode()}"

    def keys(self) -> list[str]:
        """The messages without `\\Seen`, oldest first."""
        _, data = self._call("SEARCH", self.conn.uid, "SEARCH", "UNSEEN")
        uids = b" ".join(d for d in data if isinstance(d, bytes)).split()
        self.uids = {self.key(uid): uid for uid in uids if uid.isdigit()}
        return list(self.uids)

    def read(self, key: str) -> bytes:
        """At most `max_size` bytes of the message (a partial fetch; PEEK: not marked seen)."""
        uid = self.uids[key].decode()
        _, data = self._call(
            "FETCH", self.conn.uid, "FETCH", uid, f"(BODY.PEEK[]<0.{self.max_size}>)"
        )
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise MailboxError(f"{key}: the server sent no message body")

    def mark(self, key: str, *, flagged: bool) -> None:
        flags = r"(\Seen \Flagged)" if flagged else r"(\Seen)"
        self._call("STORE", self.conn.uid, "STORE", self.uids[key].decode(), "+FLAGS", flags)

    def close(self) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.conn.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
