"""The email digest (syndicate.render.digest) and one recipient's MIME message (render.message)."""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import html5lib
import lxml.html
import premailer
import pytest

from syndicate.models import Delivery, Digest, Entry
from syndicate.render.common import Site, make_environment
from syndicate.render.digest import make_marker, personalise, placeholder, render_digest
from syndicate.render.message import build_message

from .factories import TEMPLATES, make_entry, newest_first
from .factories import make_site as make_default_site

CREATED = datetime(2024, 3, 15, 7, 0, tzinfo=UTC)
DIGEST_ID = "2024-03-15"
SENDER = "The Gazette <news@example.org>"
UNSUB = "https://example.org/unsubscribe?token=abc.def"
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


# The CTA, social link and postal address that the text-part test asserts on.
make_site = partial(
    make_default_site,
    cta_text="Forward this to a friend who likes local news.",
    cta_button="Sign me up",
    cta_links={"Mastodon": "https://social.example/@gazette"},
    address="Gazette Ltd, 1 Harbour Road, Helsinki",
)


@pytest.fixture(scope="module")
def env() -> Any:
    return make_environment(TEMPLATES)


def render(
    env: Any,
    entries: list[Entry] | None = None,
    *,
    site: Site | None = None,
    digest_id: str = DIGEST_ID,
    created: datetime = CREATED,
) -> Digest:
    return render_digest(
        env,
        site or make_site(),
        newest_first(3) if entries is None else entries,
        digest_id=digest_id,
        created=created,
    )


@pytest.fixture(scope="module")
def digest(env: Any) -> Digest:
    return render(env)


def values(email_address: str = "bob@example.com", url: str = UNSUB) -> dict[str, str]:
    return {"email": email_address, "unsubscribe_url": url}


def delivery(email_address: str = "bob@example.com", name: str = "Bob Reader") -> Delivery:
    return Delivery(DIGEST_ID, email_address, name, "pending")


def message(
    digest: Digest,
    recipient: Delivery | None = None,
    *,
    site: Site | None = None,
    unsubscribe_url: str = UNSUB,
) -> bytes:
    return build_message(
        site or make_site(),
        digest,
        recipient or delivery(),
        sender=SENDER,
        unsubscribe_url=unsubscribe_url,
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_headers(raw: bytes) -> list[bytes]:
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep, "no blank line after the headers"
    return head.split(b"\r\n")


def raw_header(raw: bytes, name: str) -> bytes:
    """One top-level header as it is on the wire, folded lines joined with their CRLF."""
    lines = raw_headers(raw)
    prefix = name.lower().encode() + b":"
    for i, line in enumerate(lines):
        if line.lower().startswith(prefix):
            end = i + 1
            while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
                end += 1
            return b"\r\n".join(lines[i:end])
    raise AssertionError(f"no {name} header")


def style_blocks(document: str) -> list[str]:
    return [s.text or "" for s in lxml.html.document_fromstring(document).iter("style")]


# --- CSS inlining (render_digest) -------------------------------------------------------------


@pytest.mark.parametrize("part", ["html", "web_html"])
def test_css_is_inlined_and_main_style_block_removed(digest: Digest, part: str) -> None:
    document = getattr(digest, part)
    tree = lxml.html.document_fromstring(document)
    body_style = tree.find("body").get("style")
    assert "background-color:#f2f2ef" in body_style.replace(" ", "")
    stories = tree.xpath("//div[@class='story']")
    assert len(stories) == 3
    assert all("padding:0 0 22px" in (s.get("style") or "") for s in stories)
    for link in tree.xpath("//h2/a"):
        assert "color:#0b57d0" in (link.get("style") or "")
    style = tree.xpath("//div[@class='preheader']/@style")[0].replace(" ", "")
    # hidden in layers, since no one property hides it in every client (caniemail): Gmail's
    # mobile web drops display:none, Outlook on Windows needs mso-hide (in an [if mso] block)
    for layer in ("display:none", "max-height:0", "max-width:0", "overflow:hidden",
                  "font-size:0", "line-height:0", "color:#f2f2ef", "opacity:0"):  # fmt: skip
        assert layer in style
    assert "<!--[if mso]><style>.preheader { mso-hide: all; }</style><![endif]-->" in document
    # the dark palette covers dates, the masthead line and the footer, not only the stories
    assert ".masthead p, .masthead p a, .meta, .footer, .footer a { color: #b4b8bc" in document
    # the plain <style> rules are gone; only the data-premailer="ignore" block is left
    blocks = style_blocks(document)
    assert len(blocks) == 1
    assert ".story {" not in document
    assert ".masthead {" not in document


@pytest.mark.parametrize("part", ["html", "web_html"])
def test_ignored_media_rules_survive_with_important(digest: Digest, part: str) -> None:
    (css,) = style_blocks(getattr(digest, part))
    assert "@media only screen and (max-width: 620px)" in css
    assert "padding-left: 16px !important" in css
    assert "@media (prefers-color-scheme: dark)" in css
    assert "background-color: #111314 !important" in css
    assert "color: #8ab4f8 !important" in css


@pytest.mark.parametrize("part", ["html", "web_html"])
def test_digest_documents_parse_as_html(digest: Digest, part: str) -> None:
    document = getattr(digest, part)
    assert document.startswith("<!DOCTYPE html>")
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(document)
    assert parser.errors == []


def test_premailer_runs_once_per_digest_not_per_recipient(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = render(env)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("premailer must not run after render_digest")

    monkeypatch.setattr(premailer, "Premailer", refuse)  # imported when a digest renders
    with pytest.raises(AssertionError):  # the patch does reach the inliner ...
        render(env)
    # ... and personalising or building messages never needs it
    for address in ("a@example.com", "b@example.com"):
        email_html, text = personalise(frozen, values(address))
        assert address in email_html
        assert address in text
        parsed = parse(message(frozen, delivery(address)))
        assert parsed["To"].addresses[0].addr_spec == address


# --- placeholders and personalise ---------------------------------------------------------------


def test_placeholders_present_in_digest_and_gone_after_personalise(digest: Digest) -> None:
    email_token = placeholder(digest.marker, "email")
    unsub_token = placeholder(digest.marker, "unsubscribe_url")
    assert email_token == f"%%{digest.marker}:email%%"
    for part in (digest.html, digest.text):
        assert email_token in part
        assert unsub_token in part
    tree = lxml.html.document_fromstring(digest.html)
    assert tree.xpath("//a[text()='Unsubscribe']/@href") == [unsub_token]

    email_html, text = personalise(digest, values())
    for part in (email_html, text):
        assert digest.marker not in part
        assert "%%" not in part
        assert "bob@example.com" in part
        assert UNSUB in part
    tree = lxml.html.document_fromstring(email_html)
    assert tree.xpath("//a[text()='Unsubscribe']/@href") == [UNSUB]


def test_personalise_does_not_change_the_frozen_digest(digest: Digest) -> None:
    before = (digest.html, digest.text)
    personalise(digest, values())
    assert (digest.html, digest.text) == before


def test_values_are_html_escaped_in_html_but_not_in_text(digest: Digest) -> None:
    address = "tom&jerry<b>@example.com"
    url = 'https://example.org/unsubscribe?token=a&list=<x>"y'
    email_html, text = personalise(digest, values(address, url))

    assert "tom&amp;jerry&lt;b&gt;@example.com" in email_html
    assert "jerry<b>" not in email_html
    assert "list=<x>" not in email_html
    assert 'list=<x>"y' not in email_html
    tree = lxml.html.document_fromstring(email_html)
    assert tree.xpath("//a[text()='Unsubscribe']/@href") == [url]  # attribute decodes back
    assert address in tree.xpath("string(//td[@class='footer'])")
    assert tree.xpath("//td[@class='footer']//b") == []

    assert f"because {address} subscribed" in text
    assert f"Unsubscribe: {url}" in text


def test_text_that_looks_like_a_placeholder_is_left_alone(env: Any) -> None:
    forged = "%%syn0123456789abcdef:email%%"
    frozen = render(env, [make_entry(1, summary=f"Say {forged} here.", title=f"T {forged}")])
    assert frozen.marker != "syn0123456789abcdef"
    email_html, text = personalise(frozen, values("secret@example.com"))
    assert forged in email_html
    assert f"Say {forged} here." in text
    assert email_html.count("secret@example.com") == 1
    assert text.count("secret@example.com") == 1


def test_marker_depends_on_content_and_digest_id() -> None:
    one, two = newest_first(2)
    changed = make_entry(1, content_hash="hash-1-edited")
    marker = make_marker(DIGEST_ID, [one, two])
    assert re.fullmatch(r"syn[0-9a-f]{16}", marker)
    assert make_marker(DIGEST_ID, [one, two]) == marker
    assert make_marker(DIGEST_ID, [one, changed]) != marker
    assert make_marker(DIGEST_ID, [one]) != marker
    assert make_marker("2024-03-22", [one, two]) != marker


def test_rendered_digests_with_different_content_have_different_markers(env: Any) -> None:
    first = render(env, newest_first(2))
    again = render(env, newest_first(2))
    other = render(env, [make_entry(2), make_entry(1, content_hash="edited")])
    assert first.marker == again.marker
    assert first.html == again.html
    assert other.marker != first.marker
    assert placeholder(other.marker, "email") in other.html


# --- subject, text part, web version ------------------------------------------------------------


def test_digest_fields(digest: Digest) -> None:
    assert digest.id == DIGEST_ID
    assert digest.created == CREATED
    assert digest.article_ids == ("story-3", "story-2", "story-1")


def test_subject_is_one_line_and_counts_the_rest(env: Any) -> None:
    assert render(env, newest_first(3)).subject == "The Gazette: Story number 3 and 2 more"
    assert render(env, newest_first(1)).subject == "The Gazette: Story number 1"
    split = make_entry(2, title="Line one\r\nBcc: evil@example.com\tand\n\nmore")
    subject = render(env, [split, make_entry(1)]).subject
    assert subject == "The Gazette: Line one Bcc: evil@example.com and more and 1 more"
    assert "\r" not in subject
    assert "\n" not in subject


def test_long_title_is_truncated_in_the_subject(env: Any) -> None:
    long_title = " ".join(["word"] * 60)
    subject = render(env, [make_entry(2, title=long_title), make_entry(1)]).subject
    assert subject.startswith("The Gazette: word word")
    assert subject.endswith("… and 1 more")
    first = subject.removeprefix("The Gazette: ").removesuffix(" and 1 more")
    assert len(first) <= 110


def test_text_part_lists_numbered_titles_links_cta_and_footer(digest: Digest) -> None:
    _, text = personalise(digest, values())
    lines = text.splitlines()
    assert lines[0] == "The Gazette · 15 March 2024"
    assert lines[1] == "=" * len(lines[0])
    for n, number in ((1, 3), (2, 2), (3, 1)):
        assert f"{n}. Story number {number} [{n}]" in lines
        assert f"   Summary of story {number}." in lines
    assert lines.index("1. Story number 3 [1]") < lines.index("3. Story number 1 [3]")

    links = lines.index("Links:")
    assert lines[links + 1 : links + 4] == [
        "[1] https://example.org/articles/story-3.html",
        "[2] https://example.org/articles/story-2.html",
        "[3] https://example.org/articles/story-1.html",
    ]
    # the reader already gets it: the call-to-action speaks to whoever it was forwarded to
    assert "Forwarded this? Subscribe at https://example.org/join" in lines
    assert "Forward this to a friend who likes local news." not in lines
    assert "Mastodon: https://social.example/@gazette" in lines
    assert f"Unsubscribe: {UNSUB}" in lines
    assert "View in browser: https://example.org/digests/2024-03-15.html" in lines
    assert "You receive this because bob@example.com subscribed to The Gazette." in lines
    assert "Gazette Ltd, 1 Harbour Road, Helsinki" in lines
    assert "<" not in text  # plain text, no markup


def test_text_part_wraps_long_summaries(env: Any) -> None:
    summary = " ".join(["paragraph"] * 40)
    frozen = render(env, [make_entry(1, summary=summary)])
    summary_lines = [line for line in frozen.text.splitlines() if "paragraph" in line]
    assert len(summary_lines) > 1
    assert all(len(line) <= 72 and line.startswith("   ") for line in summary_lines)


def test_email_html_has_view_in_browser_and_unsubscribe(digest: Digest) -> None:
    tree = lxml.html.document_fromstring(personalise(digest, values())[0])
    assert (
        tree.xpath("//a[text()='View in browser']/@href")
        == ["https://example.org/digests/2024-03-15.html"] * 2
    )
    assert tree.xpath("//a[text()='Unsubscribe']/@href") == [UNSUB]
    assert tree.xpath("//h2/a/@href") == [
        f"https://example.org/articles/story-{n}.html" for n in (3, 2, 1)
    ]
    assert tree.findtext(".//title") == digest.subject


def test_web_version_has_no_placeholder_or_unsubscribe(digest: Digest) -> None:
    assert digest.marker not in digest.web_html
    assert "%%" not in digest.web_html
    tree = lxml.html.document_fromstring(digest.web_html)
    assert tree.xpath("//a[text()='Unsubscribe']") == []
    assert tree.xpath("//a[text()='View in browser']") == []
    assert tree.xpath("//td[@class='footer']//a/@href") == ["https://example.org/subscribe.html"]
    assert "web version" in tree.xpath("string(//td[@class='footer'])")


def test_markup_in_titles_is_escaped_in_the_digest(env: Any) -> None:
    frozen = render(env, [make_entry(1, title="<script>alert(1)</script>", summary="<b>x</b>")])
    for document in (frozen.html, frozen.web_html):
        assert "<script" not in document
        assert "<b>x" not in document
    assert "<script>alert(1)</script>" in frozen.text  # plain text needs no escaping


# --- build_message ---------------------------------------------------------------------------


def test_message_is_multipart_alternative_text_then_html(digest: Digest) -> None:
    parsed = parse(message(digest))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    email_html, text = personalise(digest, values())
    # On the wire every line ends in CRLF, which the parser keeps; set_content ends a body
    # that lacks a final newline with one.
    decoded = [p.get_content().replace("\r\n", "\n") for p in parts]
    assert decoded[0] == text
    assert decoded[1].rstrip("\n") == email_html.rstrip("\n")


def test_message_headers(digest: Digest) -> None:
    raw = message(digest)
    parsed = parse(raw)
    assert parsed["From"].addresses[0].addr_spec == "news@example.org"
    assert parsed["From"].addresses[0].display_name == "The Gazette"
    assert parsed["To"].addresses[0].addr_spec == "bob@example.com"
    assert parsed["To"].addresses[0].display_name == "Bob Reader"
    assert parsed["Subject"] == digest.subject
    assert parsed["Date"].datetime == CREATED
    assert re.fullmatch(r"<2024-03-15\.[0-9a-f]{24}@example\.org>", parsed["Message-ID"])
    assert parsed["List-Id"] == "The Gazette <the-gazette.example.org>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["MIME-Version"] == "1.0"
    names = [line.split(b":", 1)[0] for line in raw_headers(raw) if line[:1] not in (b" ", b"\t")]
    assert sorted(names) == sorted(
        [
            b"From",
            b"To",
            b"Subject",
            b"Date",
            b"Message-ID",
            b"List-Id",
            b"List-Unsubscribe",
            b"List-Unsubscribe-Post",
            b"MIME-Version",
            b"Content-Type",
        ]
    )


def test_date_header_keeps_the_created_time_and_zone(env: Any) -> None:
    created = datetime(2024, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/Helsinki"))
    parsed = parse(message(render(env, created=created)))
    assert parsed["Date"].datetime == created
    assert parsed["Date"].datetime.utcoffset() == timedelta(hours=3)
    assert raw_header(message(render(env, created=created)), "Date").endswith(b"+0300")


def test_list_unsubscribe_has_https_and_mailto_and_is_not_encoded(digest: Digest) -> None:
    long_url = "https://example.org/unsubscribe?token=" + "A1b2C3d4" * 30  # 278 characters
    raw = message(digest, unsubscribe_url=long_url)
    header = raw_header(raw, "List-Unsubscribe")
    assert header == (
        f"List-Unsubscribe: <{long_url}>, <mailto:news@example.org?subject=unsubscribe>".encode()
    )
    assert b"=?" not in header
    assert b"\r\n" not in header  # one line, nothing for a client to unfold wrongly
    assert parse(raw)["List-Unsubscribe"] == (
        f"<{long_url}>, <mailto:news@example.org?subject=unsubscribe>"
    )
    assert raw_header(raw, "List-Unsubscribe-Post") == (
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    )


def test_title_with_crlf_cannot_inject_a_header(env: Any) -> None:
    evil = make_entry(2, title="Hello\r\nBcc: evil@example.com\r\n\r\nbody")
    frozen = render(env, [evil, make_entry(1)])
    raw = message(frozen)
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw_headers(raw))
    assert parsed["Subject"] == "The Gazette: Hello Bcc: evil@example.com body and 1 more"
    for name, value in parsed.items():
        assert "\r" not in str(value) and "\n" not in str(value), name


def test_name_with_crlf_cannot_inject_a_header(digest: Digest) -> None:
    raw = message(digest, delivery("bob@example.com", "Bob\r\nBcc: evil@example.com\nX-Evil: 1"))
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    assert parsed["X-Evil"] is None
    assert not any(line.lower().startswith((b"bcc:", b"x-evil:")) for line in raw_headers(raw))
    (to,) = parsed["To"].addresses
    assert to.addr_spec == "bob@example.com"
    assert to.display_name == "Bob Bcc: evil@example.com X-Evil: 1"
    for name, value in parsed.items():
        assert "\r" not in str(value) and "\n" not in str(value), name


def test_name_with_comma_and_quotes_stays_one_recipient(digest: Digest) -> None:
    parsed = parse(message(digest, delivery("bob@example.com", 'Doe, "Bob" <x@evil.example>')))
    (to,) = parsed["To"].addresses
    assert to.addr_spec == "bob@example.com"
    assert to.display_name == 'Doe, "Bob" <x@evil.example>'


def test_non_ascii_subject_and_name_are_rfc2047_encoded(env: Any) -> None:
    frozen = render(env, [make_entry(2, title="Café Größe ☕"), make_entry(1)])
    raw = message(frozen, delivery("zoe@example.com", "Zoë Müller"))
    subject = raw_header(raw, "Subject")
    assert ENCODED_WORD.search(subject)
    assert subject.isascii()
    assert str(make_header(decode_header(subject.decode().removeprefix("Subject: ")))) == (
        "The Gazette: Café Größe ☕ and 1 more"
    )
    parsed = parse(raw)
    assert parsed["Subject"] == "The Gazette: Café Größe ☕ and 1 more"
    assert ENCODED_WORD.search(raw_header(raw, "To"))
    assert parsed["To"].addresses[0].display_name == "Zoë Müller"
    assert all(line.isascii() for line in raw_headers(raw))


def test_long_non_ascii_subject_uses_rfc2047_sized_encoded_words(env: Any) -> None:
    # RFC 2047 section 2: an encoded-word is at most 75 characters, and a header line that
    # holds encoded-words is at most 76 characters; longer text takes several encoded-words.
    title = "Größere Änderungen für die Café-Kultur in Helsingør und überall, sagt Zoë heute"
    frozen = render(env, [make_entry(2, title=title), make_entry(1)])
    raw = message(frozen)
    subject = raw_header(raw, "Subject")
    words = ENCODED_WORD.findall(subject)
    assert words
    assert parse(raw)["Subject"] == f"The Gazette: {title} and 1 more"
    assert max(len(w) for w in words) <= 75, [len(w) for w in words]
    assert all(len(line) <= 76 for line in subject.split(b"\r\n") if ENCODED_WORD.search(line))


def test_message_id_is_per_digest_and_recipient(env: Any, digest: Digest) -> None:
    bob = parse(message(digest, delivery("bob@example.com")))["Message-ID"]
    assert parse(message(digest, delivery("bob@example.com", "Robert")))["Message-ID"] == bob
    alice = parse(message(digest, delivery("alice@example.com")))["Message-ID"]
    assert alice != bob
    later = render(env, digest_id="2024-03-22")
    assert parse(message(later, delivery("bob@example.com")))["Message-ID"] != bob
    assert bob.endswith("@example.org>")


def test_two_publications_mailing_one_reader_on_one_day_get_different_message_ids(
    env: Any,
) -> None:
    """Two publications on one domain (so one Message-ID domain), both with a digest dated the
    same day, mailing the same reader: receivers must not take one message for the other."""
    gazette, courier = make_site(title="The Gazette"), make_site(title="The Courier")
    ids = {}
    for site in (gazette, courier):
        digest = render(env, site=site)  # same digest id (the date) for both
        raws = [message(digest, delivery("bob@example.com"), site=site) for _ in range(2)]
        assert raws[0] == raws[1]  # a resend after a crash: the same bytes, the same id
        ids[site.title] = parse(raws[0])["Message-ID"]
        slug = site.title.lower().replace(" ", "-")
        assert parse(raws[0])["List-Id"] == f"{site.title} <{slug}.example.org>"
    assert ids["The Gazette"] != ids["The Courier"]
    assert all(i.endswith("@example.org>") and DIGEST_ID in i for i in ids.values())


def test_same_inputs_give_byte_identical_messages(env: Any, digest: Digest) -> None:
    first = message(digest)
    assert message(digest) == first
    assert message(render(env)) == first  # a fresh render of the same content too
    boundary = parse(first).get_boundary()
    assert boundary
    assert parse(message(digest, delivery("alice@example.com"))).get_boundary() != boundary


def test_line_lengths_and_line_endings(env: Any) -> None:
    long_word = "Supercalifragilistic" * 6
    entries = [
        make_entry(2, title="A rather long title " * 8, summary=f"{long_word} " * 5),
        make_entry(1, title="Ünïcödé " * 20),
    ]
    site = make_site(cta_links={"A very long link name": "https://example.org/" + "x" * 150})
    raw = message(render(env, entries, site=site), unsubscribe_url=UNSUB + "&x=" + "y" * 200)
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF only, no bare LF
    assert b"\r" not in raw.replace(b"\r\n", b"")  # no bare CR either
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    _, _, body = raw.partition(b"\r\n\r\n")
    assert max(len(line) for line in body.split(b"\r\n")) <= 78
    assert all(line.isascii() for line in lines)
