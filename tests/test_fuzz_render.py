"""Fuzzing the renderers with hypothesis: any article text gives parseable pages and digests,
well-formed XML feeds, and messages whose headers never break."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import html5lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.models import Delivery
from syndicate.pipeline.plan import archive
from syndicate.render.common import make_environment
from syndicate.render.digest import render_digest
from syndicate.render.message import build_message
from syndicate.text import one_line, xml_safe

from .factories import TEMPLATES, make_entry, make_site

TEXT = st.text(st.characters(codec="utf-8"), max_size=200)
ENV = make_environment(TEMPLATES)
WHEN = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _entry(title: str, body: str, author: str, tag: str):  # type: ignore[no-untyped-def]
    return make_entry(
        1,
        title=title,
        body_html=f"<p>{body}</p>",
        summary=body,
        author=author or None,
        tags=(tag,) if tag else (),
    )


def _strict_parse(document: str) -> None:
    html5lib.HTMLParser(strict=True).parse(document)  # raises on any parse error


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, TEXT, TEXT, TEXT)
def test_pages_always_parse(title: str, body: str, author: str, tag: str) -> None:
    entry = _entry(
        one_line(title) or "t", html.escape(xml_safe(body)), one_line(author), one_line(tag)
    )
    for path, data in archive(ENV, make_site(), [entry], []).items():
        if path.endswith(".html"):
            _strict_parse(data.decode("utf-8"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, TEXT, TEXT)
def test_digest_and_message_survive_any_text(title: str, body: str, name: str) -> None:
    entry = _entry(one_line(title) or "t", html.escape(xml_safe(body)), "", "")
    digest = render_digest(ENV, make_site(), [entry], digest_id="2026-11-28", created=WHEN)
    _strict_parse(digest.html)
    _strict_parse(digest.web_html)
    delivery = Delivery("2026-11-28", "a@example.org", name, "pending")
    raw = build_message(make_site(), digest, delivery, sender="News <news@example.org>",
                        unsubscribe_url="https://example.org/u?t=1")  # fmt: skip
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or b":" in line  # every line is a header or a fold
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None and parsed["To"].addresses[0].addr_spec == "a@example.org"
    assert "\n" not in str(parsed["Subject"])
