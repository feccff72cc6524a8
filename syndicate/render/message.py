"""One recipient's MIME message, as bytes ready for SMTP or an `.eml` file.

multipart/alternative (text/plain, then text/html), a deterministic Message-ID (per publication,
digest and recipient) and Date, and headers that cannot be broken by CR/LF in titles or names.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
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


def list_id(site: Site, domain: str) -> str:
    """The publication's List-Id (RFC 2919) identifier: `<title-slug>.<sender's domain>`."""
    return f"{slugify(site.title)}.{domain}"


def message_id(list_ident: str, digest_id: str, email: str, domain: str) -> str:
    """The same (publication, digest, recipient) always gets the same Message-ID, so a resend
    after a crash is detectable; two publications on one domain that mail one reader on the
    same day (same digest id) get different ones, since the List-Id is in the hash."""
    key = f"{list_ident}\x00{digest_id}\x00{email}"
    return f"<{slugify(digest_id)}.{hashlib.sha256(key.encode()).hexdigest()[:24]}@{domain}>"


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
    list_ident: str  # the List-Id identifier, part of every Message-ID's hash
    list_id: bytes  # the List-Id header
    text: Chunks  # the bodies, encoded once (see `_chunks`)
    html: Chunks

    @classmethod
    def for_digest(cls, site: Site, digest: Digest, sender: str) -> Skeleton:
        domain = sender_domain(sender)
        about = _header("Subject", one_line(digest.subject))
        about += _header("Date", format_datetime(digest.created))
        ident = list_id(site, domain)
        return cls(
            digest, domain, f"mailto:{parseaddr(sender)[1]}?subject=unsubscribe",
            _header("From", one_line(sender)), about, ident,
            _header("List-Id", formataddr((one_line(site.title), ident))),
            _chunks(digest.text, digest.marker), _chunks(digest.html, digest.marker),
        )  # fmt: skip

    def build(self, delivery: Delivery, unsubscribe_url: str, mailto: str = "") -> bytes:
        """`mailto`: this recipient's `mailto:` unsubscribe URI (default: the From address)."""
        values = {"email": delivery.email, "unsubscribe_url": unsubscribe_url}
        unsubscribe = f"<{unsubscribe_url}>, <{mailto or self.mailto}>"
        marker = self.digest.marker
        mid = message_id(self.list_ident, self.digest.id, delivery.email, self.domain)
        boundary = f"=_{hashlib.sha256(mid.encode()).hexdigest()[:32]}".encode()
        head = b"".join((
            self.sender,
            _header("To", Address(one_line(delivery.name), addr_spec=delivery.email)),
            self.about, _simple_header("Message-ID", mid, 76), self.list_id,
            _simple_header("List-Unsubscribe", unsubscribe, 998),
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
