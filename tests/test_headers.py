"""Mail headers: whatever a title or a subscriber's name holds (RFC 2047 encoded words that
decode to CR LF, bare CR, LF, NUL, 5,000-character words, any Unicode), every message parses
back to exactly the headers syndicate meant to write, each line at most 998 bytes.

CPython before 3.11.10 / 3.12.5 (CVE-2024-6923) writes decoded CR LF raw when its own header
folder re-folds an encoded word; these tests run on this machine's interpreter (3.11.7, without
that fix), so they would fail if syndicate let the email package fold untrusted text.
"""

from __future__ import annotations

import dataclasses
import email.policy
import sys
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import parseaddr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.errors import DeliveryError
from syndicate.models import Delivery
from syndicate.render import headers
from syndicate.render.common import make_environment
from syndicate.render.digest import render_digest
from syndicate.render.message import Skeleton
from syndicate.text import one_line

from .factories import TEMPLATES, make_entry, make_site

SENDER = "The Gazette <news@example.org>"
SITE = make_site()
EXPECTED = [
    "From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
]  # fmt: skip
ATTACKS = [
    "=?utf-8?q?Hi=0D=0ABcc:_victim@example.org=0D=0AX-Evil:_1?=",
    "=?UTF-8?B?SGkNClJlcGx5LVRvOiBldmlsQGV4YW1wbGUub3JnDQoNCjxoMT5ldmlsPC9oMT4=?=",
    "=?utf-8?q?=0D=0A=0D=0A<b>body</b>?= =?utf-8?q?x?=",
    "a\r\nReply-To: evil@example.org",
    "a\rX-Evil: 1",
    "a\nX-Evil: 1",
    "a\x00b",
    '"quoted" <evil@example.org>, other@example.org',
    '\\"',
    "=?",
    "?=",
]
_PIECE = st.one_of(
    st.sampled_from(ATTACKS),
    st.text(max_size=40),
    st.sampled_from(["\r\n", "\r", "\n", "\x00", " ", "\t", "\u2028", "\x85"]),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(4000, 6000)),  # one long word
)
UNTRUSTED = st.lists(_PIECE, max_size=5).map("".join)


DIGEST = render_digest(
    make_environment(TEMPLATES), SITE, [make_entry(1)], digest_id="2024-03-15",
    created=datetime(2024, 3, 15, 7, tzinfo=UTC),
)  # fmt: skip


def _message(subject: str, name: str) -> bytes:
    digest = dataclasses.replace(DIGEST, subject=subject)
    delivery = Delivery(digest.id, "bob@example.com", name, "pending")
    return Skeleton.for_digest(SITE, digest, SENDER).build(delivery, "https://example.org/u?t=x")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(UNTRUSTED, UNTRUSTED)
def test_any_title_and_name_give_exactly_the_meant_headers(subject: str, name: str) -> None:
    raw = _message(subject, name)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert head.isascii()
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert list(parsed.keys()) == EXPECTED
    assert parsed["Subject"] == one_line(subject)
    assert _display_name(raw) == (one_line(name), "bob@example.com")
    assert not parsed["To"].defects and not parsed["Subject"].defects
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert "The Gazette" in parsed.get_body(("html",)).get_content()


def _display_name(raw: bytes) -> tuple[str, str]:
    """The To header's (display name, address) decoded as RFC 2047 6.2 says (whitespace
    between adjacent encoded words is not text), as mail clients and `email.header` do. The
    email package's address parser keeps that whitespace, adding a space where syndicate had
    to split a long word; its structure (one address, no defects) is checked separately."""
    to = BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)["To"]
    display, address = parseaddr(str(to).replace("\r\n", ""))
    return str(make_header(decode_header(display))), address


@pytest.mark.parametrize("attack", ATTACKS)
def test_encoded_words_in_a_title_stay_literal_text(attack: str) -> None:
    raw = _message(attack, attack)
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert parsed["Reply-To"] is None and parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"] == one_line(attack)  # the reader sees the text, not its decoding
    assert _display_name(raw)[0] == one_line(attack)
    assert len(parsed["To"].addresses) == 1


def test_a_long_word_and_a_long_name_are_folded() -> None:
    raw = _message("x" * 5000, "y" * 2000)
    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in lines if b"=?" in line) <= 76  # RFC 2047 section 2
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert parsed["Subject"] == "x" * 5000
    assert _display_name(raw)[0] == "y" * 2000


@pytest.mark.parametrize(
    "block",
    [
        b"Subject: a\r\nX-Evil: 1\rMore: x\r\n",  # bare CR
        b"Subject: a\nBcc: v@example.org\r\n",  # bare LF
        b"Subject: a\r\n\r\nbody\r\n",  # a blank line ends the block early
        b"Subject: a\r\n   \r\n",  # a whitespace-only fold
        b"Subject: a\r\nnot a header\r\n",
        b"Subject: " + b"x" * 998 + b"\r\n",
        b"Subject: \xc3\xa4\r\n",
        b"Subject: a\x00\r\n",
    ],
)
def test_a_damaged_header_block_is_refused_before_it_is_sent(block: bytes) -> None:
    with pytest.raises(DeliveryError):
        headers.check_block(block)


def test_an_address_that_is_not_a_plain_token_is_refused() -> None:
    with pytest.raises(DeliveryError, match="cannot stand in a mail header"):
        headers.mailbox("To", "x", "a@example.org>\r\nBcc: v@example.org")


def test_runs_on_an_interpreter_without_the_cve_2024_6923_fix_or_with_it() -> None:
    """Records which interpreter ran the property tests (see the module docstring)."""
    assert sys.version_info >= (3, 11)


def test_an_internationalised_sender_domain_is_written_in_punycode() -> None:
    delivery = Delivery(DIGEST.id, "bob@example.com", "Bob", "pending")
    raw = Skeleton.for_digest(SITE, DIGEST, "Uutiset <uutiset@esimerkkiä.fi>").build(
        delivery, "https://example.org/u"
    )
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert parsed["From"].addresses[0].addr_spec == "uutiset@xn--esimerkki-32a.fi"
    assert parsed["Message-ID"].endswith("@xn--esimerkki-32a.fi>")
