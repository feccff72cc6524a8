"""Where a finished message goes: the `Sender` protocol every sender meets, and `FileSender`,
one private `.eml` per recipient under the outbox (`[email] delivery = "file"`; the SMTP
sender is `smtp.SmtpSender`). Renders nothing, decides nothing about who gets what."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from syndicate.deliver.atomic import write_into
from syndicate.deliver.folder import Folder, split
from syndicate.errors import DeliveryError


class Sender(Protocol):
    """Hands one finished message to its destination; raises DeliveryError if it cannot."""

    def send(
        self, digest_id: str, recipient: str, message: bytes, envelope_from: str = ""
    ) -> None: ...

    def close(self) -> None: ...


def eml_name(recipient: str) -> str:
    """A file name for a recipient's `.eml`: the address where it can be one (no `/`, not
    hidden, at most 200 bytes), else a readable start and a hash of the whole address."""
    name = recipient.replace("/", "%2F").replace("\x00", "")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name.encode("utf-8", "surrogatepass")) > 200:
        digest = hashlib.sha256(recipient.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = name.encode("utf-8", "surrogatepass")[:160].decode("utf-8", "ignore")
        name = f"{name}-{digest}"
    return name + ".eml"


class FileSender:
    """`[email] delivery = "file"`: one private (0600) `.eml` per recipient under
    outbox/<digest-id>/."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def path_for(self, digest_id: str, recipient: str) -> str:
        """The `.eml`'s path under the outbox (DeliveryError if it would leave it)."""
        path = f"{digest_id}/{eml_name(recipient)}"
        split(self.outbox, path)
        return path

    def send(self, digest_id: str, recipient: str, message: bytes, envelope_from: str = "") -> None:
        """`envelope_from` has no place in a file (the message itself is what is written)."""
        path = self.path_for(digest_id, recipient)
        try:
            with Folder(self.outbox) as folder:
                folder.dir(path.rsplit("/", 1)[0], create=True)
                write_into(folder, path, message, private=True)
        except OSError as exc:
            raise DeliveryError(f"cannot write the .eml for {recipient}: {exc.strerror}") from exc

    def close(self) -> None:
        pass
