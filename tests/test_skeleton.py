"""The per-digest message skeleton: every recipient's copy decodes to exactly its personalised
text and HTML, with its own headers, whatever the name or address looks like."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.parser import BytesParser

import pytest

from syndicate.models import Delivery
from syndicate.render.common import make_environment
from syndicate.render.digest import personalise, render_digest
from syndicate.render.message import Skeleton, build_message, list_id, message_id

from .factories import TEMPLATES, make_entry, make_site

SENDER = "The Gazette <news@example.org>"
SITE = make_site(address="Gazette Ltd, Helsinki")
DIGEST = render_digest(
    make_environment(TEMPLATES),
    SITE,
    [make_entry(2, title="Ääkköset & <b>bold</b> = " + "long " * 30), make_entry(1)],
    digest_id="2024-03-15",
    created=datetime(2024, 3, 15, 7, tzinfo=UTC),
)
SKELETON = Skeleton.for_digest(SITE, DIGEST, SENDER)


def _lines(text: str) -> str:
    return "\n".join(text.splitlines()) + "\n"


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("bob@example.com", "Bob Reader"),
        ("anna.k@example.fi", 'Anna Kääriäinen-Lönnrot, "the" editor'),
        ("x+tag@example.org", ""),
        ("info@xn--hxajbheg2az3al.xn--jxalpdlp", "Δοκιμή"),
    ],
)
def test_each_copy_decodes_to_its_personalised_parts(address: str, name: str) -> None:
    url = f"https://example.org/unsubscribe?token={address}=="
    raw = SKELETON.build(Delivery(DIGEST.id, address, name, "pending"), url)
    assert raw == build_message(SITE, DIGEST, Delivery(DIGEST.id, address, name, "pending"),
                                sender=SENDER, unsubscribe_url=url)  # fmt: skip
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    html, text = personalise(DIGEST, {"email": address, "unsubscribe_url": url})
    assert _lines(message.get_body(("plain",)).get_content()) == _lines(text)
    assert _lines(message.get_body(("html",)).get_content()) == _lines(html)
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == name
    ident = list_id(SITE, "example.org")
    assert message["Message-ID"] == message_id(ident, DIGEST.id, address, "example.org")
    assert message["List-Unsubscribe"] == f"<{url}>, <mailto:news@example.org?subject=unsubscribe>"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert all(len(line) <= 76 for line in body_lines)  # quoted-printable's limit
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
