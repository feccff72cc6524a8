"""One recipient's MIME message, as bytes ready for SMTP or an `.eml` file.

multipart/alternative (text/plain, then text/html), a deterministic Message-ID (per publication,
digest and recipient) and Date, and headers written by `render.headers`, so that no title or
name can break a line or add a header; each finished header block is checked before it leaves;
DKIM-signed (`render.dkim`) when a signer is given.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr

from syndicate.models import Delivery, Digest
from syndicate.render import headers
from syndicate.render.canon import Body, Fixed
from syndicate.render.common import Site
from syndicate.render.digest import substitute
from syndicate.render.dkim import Signer
from syndicate.text import slugify


def sender_domain(sender: str) -> str:
    """The From address's domain as ASCII (an internationalised one in punycode)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    try:
        return domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # refused by the header check, naming it


def list_id(site: Site, domain: str) -> str:
    """The publication's List-Id (RFC 2919) identifier: `<title-slug>.<sender's domain>`."""
    return f"{slugify(site.title)}.{domain}"


def message_id(list_ident: str, digest_id: str, email: str, domain: str) -> str:
    """The same (publication, digest, recipient) always gets the same Message-ID, so a resend
    after a crash is detectable; two publications on one domain that mail one reader on the
    same day (same digest id) get different ones, since the List-Id is in the hash."""
    key = f"{list_ident}\x00{digest_id}\x00{email}"
    return f"<{slugify(digest_id)}.{hashlib.sha256(key.encode()).hexdigest()[:24]}@{domain}>"


def _qp(text: str) -> bytes:
    """A quoted-printable body with CRLF line ends (binascii's C encoder: fast)."""
    crlf = "\r\n".join(text.splitlines()) + "\r\n"
    return binascii.b2a_qp(crlf.encode("utf-8"), istext=True)


Chunks = tuple[Fixed | str, ...]


def _chunks(document: str, marker: str) -> Chunks:
    """`document` quoted-printable-encoded once: runs of lines without a placeholder as `Fixed`
    pieces, lines with one kept as text to personalise and encode per recipient.
    Quoted-printable encodes each line on its own, so joining the pieces gives the same bytes
    as encoding all."""
    chunks: list[Fixed | str] = []
    plain: list[str] = []
    for line in document.splitlines():
        if f"%%{marker}:" in line:
            chunks += [Fixed(_qp("\n".join(plain)))] if plain else []
            chunks.append(line)
            plain = []
        else:
            plain.append(line)
    return tuple(chunks + ([Fixed(_qp("\n".join(plain)))] if plain else []))


def _personal(chunks: Chunks, marker: str, values: dict[str, str], *, escape: bool) -> Body:
    return [
        c if isinstance(c, Fixed) else _qp(substitute(c, marker, values, escape=escape))
        for c in chunks
    ]


_PART = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


@dataclass(frozen=True)
class Skeleton:
    """One digest's message with the recipient left out: every header that is the same for all
    recipients is folded once, so building a copy only folds To, Message-ID and
    List-Unsubscribe, substitutes the placeholders and quoted-printable-encodes two bodies;
    the bodies' unchanging lines are `Fixed` pieces, so a DKIM signer canonicalises them once
    per digest and per copy only the lines that differ."""

    digest: Digest
    domain: str
    mailto: str
    sender: bytes  # the From header
    about: bytes  # Subject and Date
    list_ident: str  # the List-Id identifier, part of every Message-ID's hash
    list_id: bytes  # the List-Id header
    text: Chunks  # the bodies, encoded once (see `_chunks`)
    html: Chunks

    @classmethod
    def for_digest(cls, site: Site, digest: Digest, sender: str) -> Skeleton:
        domain = sender_domain(sender)
        display, address = parseaddr(sender)
        address = f"{address.rpartition('@')[0]}@{domain}"
        about = headers.unstructured("Subject", digest.subject)
        about += headers.token("Date", format_datetime(digest.created))
        ident = list_id(site, domain)
        return cls(
            digest, domain, f"mailto:{address}?subject=unsubscribe",
            headers.mailbox("From", display, address), about, ident,
            headers.mailbox("List-Id", site.title, ident),
            _chunks(digest.text, digest.marker), _chunks(digest.html, digest.marker),
        )  # fmt: skip

    def build(
        self, delivery: Delivery, unsubscribe_url: str, mailto: str = "", dkim: Signer | None = None
    ) -> bytes:
        """This recipient's copy, signed by `dkim` if given; raises DeliveryError (permanent)
        if a header would not be exactly the one meant (see `headers.check_block`). `mailto`:
        this recipient's `mailto:` unsubscribe URI (default: the From address)."""
        head, body = self.parts(delivery, unsubscribe_url, mailto)
        signatures = b"" if dkim is None else dkim.signatures(head, body)
        raw = [piece.raw if isinstance(piece, Fixed) else piece for piece in body]
        return b"".join((signatures, head, b"\r\n", *raw))

    def parts(self, delivery: Delivery, unsubscribe_url: str, mailto: str) -> tuple[bytes, Body]:
        """This recipient's header block (checked) and body, the body as pieces whose `Fixed`
        ones are shared by every copy (so a signer canonicalises them once)."""
        values = {"email": delivery.email, "unsubscribe_url": unsubscribe_url}
        marker = self.digest.marker
        mid = message_id(self.list_ident, self.digest.id, delivery.email, self.domain)
        boundary = f"=_{hashlib.sha256(mid.encode()).hexdigest()[:32]}".encode()
        unsubscribe = f"<{headers.url(unsubscribe_url)}>, <{headers.url(mailto or self.mailto)}>"
        head = b"".join((
            self.sender, headers.mailbox("To", delivery.name, delivery.email),
            self.about, headers.token("Message-ID", mid), self.list_id,
            headers.token("List-Unsubscribe", unsubscribe),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="', boundary, b'"\r\n',
        ))  # fmt: skip
        headers.check_block(head)
        line = b"--" + boundary + b"\r\n"
        return head, [
            line + _PART % b"plain", *_personal(self.text, marker, values, escape=False),
            b"\r\n" + line + _PART % b"html", *_personal(self.html, marker, values, escape=True),
            b"\r\n--" + boundary + b"--\r\n",
        ]  # fmt: skip


def build_message(
    site: Site, digest: Digest, delivery: Delivery, *, sender: str, unsubscribe_url: str
) -> bytes:
    """One recipient's message (builds a skeleton first: for many recipients, keep one
    `Skeleton` per digest and call its `build`)."""
    return Skeleton.for_digest(site, digest, sender).build(delivery, unsubscribe_url)


def build_notice(
    *, sender: str, to: tuple[str, str], subject: str, parts: tuple[str, str], ident: str,
    created: datetime,
) -> bytes:  # fmt: skip
    """A one-off message to one reader (the sign-up confirmation): multipart/alternative, with
    the same hand-written, checked headers as the digests (DeliveryError if one would break).
    `to` is (name, address), `parts` (text, html), `ident` makes the Message-ID."""
    mid = f"<{slugify(ident)}.notice@{sender_domain(sender)}>"
    boundary = f"=_{hashlib.sha256(mid.encode()).hexdigest()[:32]}".encode()
    text, html = parts
    line = b"--" + boundary + b"\r\n"
    display, address = parseaddr(sender)
    address = f"{address.rpartition('@')[0]}@{sender_domain(sender)}"  # as in every digest
    head = b"".join((
        headers.mailbox("From", display, address), headers.mailbox("To", to[0], to[1]),
        headers.unstructured("Subject", subject), headers.token("Date", format_datetime(created)),
        headers.token("Message-ID", mid),
        b"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n",
        b'Content-Type: multipart/alternative;\r\n boundary="', boundary, b'"\r\n',
    ))  # fmt: skip
    headers.check_block(head)  # a name from the sign-up form can never add a header
    return b"".join((
        head, b"\r\n", line, _PART % b"plain", _qp(text), b"\r\n", line, _PART % b"html",
        _qp(html), b"\r\n--", boundary, b"--\r\n",
    ))  # fmt: skip
