"""One recipient's MIME message, as bytes ready for SMTP or an `.eml` file.

multipart/alternative (text/plain, then text/html), deterministic Message-ID and Date, and
headers that cannot be broken by CR/LF in titles or names. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy
from email.utils import format_datetime, formataddr, parseaddr

from syndicate.models import Delivery, Digest
from syndicate.render.common import Site
from syndicate.render.digest import personalise
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


def build_message(
    site: Site, digest: Digest, delivery: Delivery, *, sender: str, unsubscribe_url: str
) -> bytes:
    domain = sender_domain(sender)
    html_part, text_part = personalise(
        digest, {"email": delivery.email, "unsubscribe_url": unsubscribe_url}
    )
    msg = EmailMessage(policy=POLICY)
    msg["From"] = one_line(sender)
    msg["To"] = Address(one_line(delivery.name), addr_spec=delivery.email)
    msg["Subject"] = one_line(digest.subject)
    msg["Date"] = format_datetime(digest.created)
    msg["Message-ID"] = message_id(digest.id, delivery.email, domain)
    msg["List-Id"] = formataddr((one_line(site.title), f"{slugify(site.title)}.{domain}"))
    mailto = f"mailto:{parseaddr(sender)[1]}?subject=unsubscribe"
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <{mailto}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text_part, cte="quoted-printable")
    msg.add_alternative(html_part, subtype="html", cte="quoted-printable")
    msg.set_boundary(f"=_{hashlib.sha256(msg['Message-ID'].encode()).hexdigest()[:32]}")
    return bytes(msg)
