"""One recipient's MIME message, as bytes ready for SMTP or an `.eml` file.

multipart/alternative (text/plain, then text/html), deterministic Message-ID and Date, and
headers that cannot be broken by CR/LF in titles or names. Pure: no I/O, no clock.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.policy import SMTP, EmailPolicy
from email.utils import format_datetime, formataddr, parseaddr

from syndicate.models import Delivery, Digest
from syndicate.render.common import Site
from syndicate.render.digest import substitute
from syndicate.text import one_line, slugify

_WIDE = SMTP.clone(max_line_length=998)


class _Policy(EmailPolicy):
    """SMTP's policy with two header repairs.

    - List-Unsubscribe may use RFC 5322's 998-character lines: folded at 78, its long signed
      URL would become an RFC 2047 encoded-word, which clients do not recognise as a link.
    - A non-ASCII Subject is encoded by `email.header.Header`: the policy's own folder drops
      the space between some encoded words (seen on CPython 3.11 in ~7% of random titles),
      which would corrupt the title readers see.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "list-unsubscribe":
            return _WIDE.fold_binary(name, value)
        if name.lower() == "subject" and not str(value).isascii():
            encoded = Header(str(value), "utf-8", maxlinelen=76, header_name=name)
            return f"{name}: {encoded.encode(linesep=self.linesep)}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = _Policy(linesep="\r\n", max_line_length=76)  # RFC 2047: 76 with encoded words


def sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def message_id(digest_id: str, email: str, domain: str) -> str:
    """The same (digest, recipient) always gets the same Message-ID, so a resend is detectable."""
    digest = hashlib.sha256(f"{digest_id}\x00{email}".encode()).hexdigest()[:24]
    return f"<{slugify(digest_id)}.{digest}@{domain}>"


def _header(name: str, value: object) -> bytes:
    """One header line, folded and RFC 2047-encoded by the email package's policy."""
    return POLICY.fold_binary(name, POLICY.header_factory(name, value))


def _simple_header(name: str, value: str, limit: int) -> bytes:
    """A printable ASCII header that fits on one line is written as it is (what the policy
    would write, without its slow parser); anything else goes through `_header`."""
    if value.isascii() and value.isprintable() and len(name) + 2 + len(value) <= limit:
        return f"{name}: {value}\r\n".encode("ascii")
    return _header(name, value)


def _qp(text: str) -> bytes:
    """A quoted-printable body with CRLF line ends (binascii's C encoder: fast)."""
    crlf = "\r\n".join(text.splitlines()) + "\r\n"
    return binascii.b2a_qp(crlf.encode("utf-8"), istext=True)


Chunks = tuple[bytes | str, ...]


def _chunks(document: str, marker: str) -> Chunks:
    """`document` quoted-printable-encoded once: runs of lines without a placeholder as bytes,
    lines with one kept as text to personalise and encode per recipient. Quoted-printable
    encodes each line on its own, so joining the pieces gives the same bytes as encoding all."""
    chunks: list[bytes | str] = []
    plain: list[str] = []
    for line in document.splitlines():
        if f"%%{marker}:" in line:
            chunks += [_qp("\n".join(plain))] if plain else []
            chunks.append(line)
            plain = []
        else:
            plain.append(line)
    return tuple(chunks + ([_qp("\n".join(plain))] if plain else []))


def _personal(chunks: Chunks, marker: str, values: dict[str, str], *, escape: bool) -> bytes:
    return b"".join(
        c if isinstance(c, bytes) else _qp(substitute(c, marker, values, escape=escape))
        for c in chunks
    )


_PART = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
)


@dataclass(frozen=True)
class Skeleton:
    """One digest's message with the recipient left out: every header that is the same for all
    recipients is folded once, so building a copy only folds To, Message-ID and
    List-Unsubscribe, substitutes the placeholders and quoted-printable-encodes two bodies."""

    digest: Digest
    domain: str
    mailto: str
    sender: bytes  # the From header
    about: bytes  # Subject and Date
    list_id: bytes
    text: Chunks  # the bodies, encoded once (see `_chunks`)
    html: Chunks

    @classmethod
    def for_digest(cls, site: Site, digest: Digest, sender: str) -> Skeleton:
        domain = sender_domain(sender)
        about = _header("Subject", one_line(digest.subject))
        about += _header("Date", format_datetime(digest.created))
        list_id = formataddr((one_line(site.title), f"{slugify(site.title)}.{domain}"))
        return cls(
            digest, domain, f"mailto:{parseaddr(sender)[1]}?subject=unsubscribe",
            _header("From", one_line(sender)), about, _header("List-Id", list_id),
            _chunks(digest.text, digest.marker), _chunks(digest.html, digest.marker),
        )  # fmt: skip

    def build(self, delivery: Delivery, unsubscribe_url: str) -> bytes:
        values = {"email": delivery.email, "unsubscribe_url": unsubscribe_url}
        marker = self.digest.marker
        mid = message_id(self.digest.id, delivery.email, self.domain)
        boundary = f"=_{hashlib.sha256(mid.encode()).hexdigest()[:32]}".encode()
        head = b"".join((
            self.sender,
            _header("To", Address(one_line(delivery.name), addr_spec=delivery.email)),
            self.about, _simple_header("Message-ID", mid, 76), self.list_id,
            _simple_header("List-Unsubscribe", f"<{unsubscribe_url}>, <{self.mailto}>", 998),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="', boundary, b'"\r\n\r\n',
        ))  # fmt: skip
        line = b"--" + boundary + b"\r\n"
        return b"".join((
            head, line, _PART % b"plain", _personal(self.text, marker, values, escape=False),
            b"\r\n", line, _PART % b"html", _personal(self.html, marker, values, escape=True),
            b"\r\n--", boundary, b"--\r\n",
        ))  # fmt: skip


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
    """A one-off message to one reader (the sign-up confirmation): multipart/alternative, the
    same header folding as the digests. `to` is (name, address), `parts` (text, html), `ident`
    makes the Message-ID (printable ASCII)."""
    mid = f"<{slugify(ident)}.notice@{sender_domain(sender)}>"
    boundary = f"=_{hashlib.sha256(mid.encode()).hexdigest()[:32]}".encode()
    text, html = parts
    line = b"--" + boundary + b"\r\n"
    return b"".join((
        _header("From", one_line(sender)),
        _header("To", Address(one_line(to[0]), addr_spec=to[1])),
        _header("Subject", one_line(subject)), _header("Date", format_datetime(created)),
        _simple_header("Message-ID", mid, 76),
        b"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n",
        b'Content-Type: multipart/alternative;\r\n boundary="', boundary, b'"\r\n\r\n',
        line, _PART % b"plain", _qp(text), b"\r\n", line, _PART % b"html", _qp(html),
        b"\r\n--", boundary, b"--\r\n",
    ))  # fmt: skip
