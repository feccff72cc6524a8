"""RSS 2.0 and Atom 1.0 output of syndicate.render.feeds, and each feedgen workaround (F1-F10)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicate.render.feeds import atom, rss
from syndicate.render.jsonfeed import json_feed

from .factories import BASE, make_entry, make_site, newest_first

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"atom": ATOM, "content": CONTENT, "dc": DC}

# Every character XML 1.0 cannot carry that syndicate.text.xml_safe is meant to remove.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
DESCRIPTION = "Local news, slowly"  # readers show it as the feed's description: nothing added
RFC822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def parse_xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False))


def channel(data: bytes) -> etree._Element:
    root = parse_xml(data)
    assert root.tag == "rss"
    found = root.find("channel")
    assert found is not None
    return found


def items(data: bytes) -> list[etree._Element]:
    return channel(data).findall("item")


def entries_of(data: bytes) -> list[etree._Element]:
    root = parse_xml(data)
    assert root.tag == f"{{{ATOM}}}feed"
    return root.findall(f"{{{ATOM}}}entry")


def atom_links(element: etree._Element) -> list[dict[str, str]]:
    return [dict(link.attrib) for link in element.findall(f"{{{ATOM}}}link")]


def all_text(root: etree._Element) -> str:
    """Every text node and attribute value of a parsed document, joined."""
    parts: list[str] = []
    for element in root.iter():
        parts.extend(str(v) for v in element.attrib.values())
        parts.extend(t for t in (element.text, element.tail) if t)
    return "\n".join(parts)


# --- well-formed, parseable, ordered ----------------------------------------------------------


@pytest.mark.parametrize("render", [rss, atom])
def test_feed_is_well_formed_xml_and_parses_without_bozo(render: Any) -> None:
    data = render(make_site(), newest_first(3))

    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    parse_xml(data)  # raises on malformed XML
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "The Gazette"
    assert [e.title for e in parsed.entries] == [
        "Story number 3",
        "Story number 2",
        "Story number 1",
    ]
    assert [e.link for e in parsed.entries] == [
        f"https://example.org/articles/story-{n}.html" for n in (3, 2, 1)
    ]


def test_rss_version_and_channel_basics() -> None:
    data = rss(make_site(language="fi"), newest_first(1))
    root = parse_xml(data)
    assert root.get("version") == "2.0"
    ch = channel(data)
    assert ch.findtext("title") == "The Gazette"
    assert ch.findtext("description") == DESCRIPTION
    assert ch.findtext("language") == "fi"
    assert ch.findtext("ttl") == "60"


def test_atom_feed_basics() -> None:
    data = atom(make_site(language="fi"), newest_first(1))
    root = parse_xml(data)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fi"
    assert root.findtext(f"{{{ATOM}}}id") == "https://example.org/"
    assert root.findtext(f"{{{ATOM}}}title") == "The Gazette"
    assert root.findtext(f"{{{ATOM}}}subtitle") == DESCRIPTION
    # RFC 4287: a feed whose entries may lack an author needs a feed-level author.
    assert root.findtext(f"{{{ATOM}}}author/{{{ATOM}}}name") == "The Gazette"


def test_rss_items_keep_newest_first_order_f10() -> None:
    entries = newest_first(5)
    titles = [item.findtext("title") for item in items(rss(make_site(), entries))]
    assert titles == [e.article.title for e in entries]
    dates = [parsedate_to_datetime(i.findtext("pubDate")) for i in items(rss(make_site(), entries))]
    assert dates == sorted(dates, reverse=True)


def test_atom_entries_keep_newest_first_order_f10() -> None:
    entries = newest_first(5)
    titles = [e.findtext(f"{{{ATOM}}}title") for e in entries_of(atom(make_site(), entries))]
    assert titles == [e.article.title for e in entries]


def test_order_given_is_kept_not_reversed_or_resorted() -> None:
    # The renderers trust the caller's order; feedgen's default would prepend (reverse) it.
    entries = [make_entry(2), make_entry(5), make_entry(1)]
    assert [i.findtext("title") for i in items(rss(make_site(), entries))] == [
        "Story number 2",
        "Story number 5",
        "Story number 1",
    ]
    assert [e.findtext(f"{{{ATOM}}}title") for e in entries_of(atom(make_site(), entries))] == [
        "Story number 2",
        "Story number 5",
        "Story number 1",
    ]


def test_max_items_keeps_only_the_newest() -> None:
    site = make_site(max_items=3)
    entries = newest_first(7)
    rss_titles = [i.findtext("title") for i in items(rss(site, entries))]
    atom_titles = [e.findtext(f"{{{ATOM}}}title") for e in entries_of(atom(site, entries))]
    expected = ["Story number 7", "Story number 6", "Story number 5"]
    assert rss_titles == expected
    assert atom_titles == expected


def test_fewer_entries_than_max_items_are_all_shown() -> None:
    site = make_site(max_items=10)
    assert len(items(rss(site, newest_first(4)))) == 4
    assert len(entries_of(atom(site, newest_first(4)))) == 4


# --- F1: Atom entry links keep rel and type -----------------------------------------------------


def test_atom_entry_link_keeps_rel_alternate_and_type_f1() -> None:
    entries = newest_first(3)
    for element, entry in zip(entries_of(atom(make_site(), entries)), entries, strict=True):
        links = atom_links(element)
        assert links == [
            {
                "href": f"https://example.org/articles/{entry.article.slug}.html",
                "rel": "alternate",
                "type": "text/html",
            }
        ]


def test_atom_feed_level_links_self_and_alternate() -> None:
    root = parse_xml(atom(make_site(), newest_first(1)))
    links = atom_links(root)
    assert {
        "href": "https://example.org/atom.xml",
        "rel": "self",
        "type": "application/atom+xml",
    } in (links)
    alternates = [link for link in links if link.get("rel") == "alternate"]
    assert [link["href"] for link in alternates] == ["https://example.org/"]


@pytest.mark.parametrize("hub", ["", "https://hub.example.net/"])
def test_atom_lists_alternate_before_self_and_rss_link_stays_the_site(hub: str) -> None:
    """Clients such as feed-extractor take Atom's first link for the site; feedgen's RSS <link>
    is the last link added (F2): both must name the site, with or without a hub."""
    site = make_site(hub=hub)
    rels = [link.get("rel") for link in atom_links(parse_xml(atom(site, newest_first(1))))]
    assert rels == ["alternate", "self", *(["hub"] if hub else [])]
    ch = channel(rss(site, newest_first(1)))
    assert ch.findtext("link") == "https://example.org/"
    rss_rels = [link.get("rel") for link in ch.findall(f"{{{ATOM}}}link")]
    assert rss_rels == ["self", *(["hub"] if hub else [])]


# --- F2: RSS channel link is the site, atom:link self is the feed -------------------------------


def test_rss_channel_link_is_site_url_and_self_link_is_feed_url_f2() -> None:
    ch = channel(rss(make_site(), newest_first(2)))
    assert ch.findtext("link") == "https://example.org/"
    self_links = [
        link.attrib for link in ch.findall(f"{{{ATOM}}}link") if link.get("rel") == "self"
    ]
    assert len(self_links) == 1
    assert self_links[0]["href"] == "https://example.org/rss.xml"
    assert self_links[0]["type"] == "application/rss+xml"


def test_rss_channel_link_is_site_url_even_with_a_hub_f2() -> None:
    ch = channel(rss(make_site(hub="https://hub.example.net/"), newest_first(2)))
    assert ch.findtext("link") == "https://example.org/"


# --- F3: WebSub hub -------------------------------------------------------------------------------


def test_hub_is_advertised_in_rss_and_atom_f3() -> None:
    site = make_site(hub="https://hub.example.net/")
    rss_links = atom_links(channel(rss(site, newest_first(2))))
    assert {"href": "https://hub.example.net/", "rel": "hub"} in rss_links
    atom_hubs = [x for x in atom_links(parse_xml(atom(site, newest_first(2)))) if x["rel"] == "hub"]
    assert [x["href"] for x in atom_hubs] == ["https://hub.example.net/"]
    # feedparser sees the hub as a link too
    assert "https://hub.example.net/" in [
        link.href for link in feedparser.parse(rss(site, newest_first(1))).feed.links
    ]


def test_hub_with_no_entries_still_advertised_f3() -> None:
    site = make_site(hub="https://hub.example.net/")
    assert {"href": "https://hub.example.net/", "rel": "hub"} in atom_links(channel(rss(site, [])))


def test_no_hub_configured_means_no_hub_link_f3() -> None:
    site = make_site(hub="")
    assert b"hub" not in rss(site, newest_first(2))
    assert b"hub" not in atom(site, newest_first(2))


def test_hub_does_not_leak_into_a_later_feed_without_hub_f3() -> None:
    rss(make_site(hub="https://hub.example.net/"), newest_first(1))
    atom(make_site(hub="https://hub.example.net/"), newest_first(1))
    assert b'rel="hub"' not in rss(make_site(), newest_first(1))
    assert b'rel="hub"' not in atom(make_site(), newest_first(1))


# --- F4: no timestamp from the clock --------------------------------------------------------------


@pytest.mark.parametrize("render", [rss, atom])
def test_rendering_twice_is_byte_identical_f4(render: Any) -> None:
    site = make_site(hub="https://hub.example.net/")
    entries = newest_first(4)
    assert render(site, entries) == render(site, list(entries))


def test_rss_last_build_date_is_newest_update_not_now_f4() -> None:
    # The second entry was updated after the first was published: that is the newest change.
    late = BASE + timedelta(days=30, hours=5)
    entries = [make_entry(3), make_entry(2, updated=late), make_entry(1)]
    ch = channel(rss(make_site(), entries))
    assert parsedate_to_datetime(ch.findtext("lastBuildDate")) == late


def test_atom_updated_values_come_from_the_entries_f4() -> None:
    late = BASE + timedelta(days=30, hours=5)
    entries = [make_entry(3), make_entry(2, updated=late), make_entry(1)]
    root = parse_xml(atom(make_site(), entries))
    assert datetime.fromisoformat(root.findtext(f"{{{ATOM}}}updated")) == late
    for element, entry in zip(root.findall(f"{{{ATOM}}}entry"), entries, strict=True):
        assert datetime.fromisoformat(element.findtext(f"{{{ATOM}}}updated")) == entry.updated
        assert datetime.fromisoformat(element.findtext(f"{{{ATOM}}}published")) == entry.published


def test_feed_updated_only_counts_the_entries_shown_f4() -> None:
    # The entry that falls off the feed (max_items) must not set the feed's date.
    entries = [make_entry(3), make_entry(2), make_entry(1, updated=BASE + timedelta(days=99))]
    site = make_site(max_items=2)
    ch = channel(rss(site, entries))
    assert parsedate_to_datetime(ch.findtext("lastBuildDate")) == entries[0].updated
    root = parse_xml(atom(site, entries))
    assert datetime.fromisoformat(root.findtext(f"{{{ATOM}}}updated")) == entries[0].updated


def test_empty_feed_gets_the_fixed_epoch_f4() -> None:
    ch = channel(rss(make_site(), []))
    assert ch.findall("item") == []
    assert ch.findtext("lastBuildDate") == "Sat, 01 Jan 2000 00:00:00 +0000"
    root = parse_xml(atom(make_site(), []))
    assert root.findall(f"{{{ATOM}}}entry") == []
    assert root.findtext(f"{{{ATOM}}}updated") == "2000-01-01T00:00:00+00:00"
    assert rss(make_site(), []) == rss(make_site(), [])
    assert atom(make_site(), []) == atom(make_site(), [])
    assert not feedparser.parse(rss(make_site(), [])).bozo
    assert not feedparser.parse(atom(make_site(), [])).bozo


# --- F5: aware datetimes in other zones ------------------------------------------------------------

ZONED = [
    datetime(2024, 7, 1, 23, 45, 7, tzinfo=ZoneInfo("America/Los_Angeles")),  # -07:00 (DST)
    datetime(2024, 1, 15, 6, 5, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2024, 2, 29, 0, 0, 0, tzinfo=ZoneInfo("Pacific/Chatham")),  # +13:45
]


@pytest.mark.parametrize("when", ZONED, ids=["los-angeles", "plus-0530", "chatham"])
def test_rss_pubdate_is_rfc822_with_the_right_offset_f5(when: datetime) -> None:
    entry = make_entry(1, published=when, updated=when + timedelta(hours=1))
    (item,) = items(rss(make_site(), [entry]))
    pub = item.findtext("pubDate")
    assert RFC822.match(pub), pub
    parsed = parsedate_to_datetime(pub)
    assert parsed == when
    assert parsed.utcoffset() == when.utcoffset()
    fp = feedparser.parse(rss(make_site(), [entry])).entries[0]
    assert datetime(*fp.published_parsed[:6], tzinfo=UTC) == when


@pytest.mark.parametrize("when", ZONED, ids=["los-angeles", "plus-0530", "chatham"])
def test_atom_dates_are_rfc3339_with_the_right_offset_f5(when: datetime) -> None:
    entry = make_entry(1, published=when, updated=when + timedelta(hours=1))
    (element,) = entries_of(atom(make_site(), [entry]))
    published = element.findtext(f"{{{ATOM}}}published")
    updated = element.findtext(f"{{{ATOM}}}updated")
    assert RFC3339.match(published), published
    assert RFC3339.match(updated), updated
    assert datetime.fromisoformat(published) == when
    assert datetime.fromisoformat(published).utcoffset() == when.utcoffset()
    assert datetime.fromisoformat(updated) == when + timedelta(hours=1)
    fp = feedparser.parse(atom(make_site(), [entry])).entries[0]
    assert datetime(*fp.published_parsed[:6], tzinfo=UTC) == when


# --- F6: XML-invalid characters -----------------------------------------------------------------

DIRTY = "a\x00b\x01c\x08d\x0be\x0cf\x1fg\ufffeh\uffffi\ud800j"
CLEAN = "abcdefghij"


@pytest.mark.parametrize("field", ["title", "body_html", "summary", "author", "tags"])
@pytest.mark.parametrize("render", [rss, atom])
def test_xml_invalid_characters_are_dropped_f6(render: Any, field: str) -> None:
    value: Any = (DIRTY, "ok") if field == "tags" else DIRTY
    entry = make_entry(1, **{field: value})
    data = render(make_site(), [entry])  # must not raise lxml's "XML compatible" ValueError

    root = parse_xml(data)
    text = all_text(root)
    assert not XML_INVALID.search(text)
    assert CLEAN in text
    assert not feedparser.parse(data).bozo


@pytest.mark.parametrize("render", [rss, atom])
def test_xml_invalid_characters_in_site_fields_are_dropped_f6(render: Any) -> None:
    site = make_site(title="The\x01 Gazette\x1f", description="Local\x0b news")
    data = render(site, newest_first(1))
    text = all_text(parse_xml(data))
    assert not XML_INVALID.search(text)
    assert "The Gazette" in text
    assert "Local news" in text


@pytest.mark.parametrize("render", [rss, atom])
def test_title_made_only_of_xml_invalid_characters_does_not_crash_f6(render: Any) -> None:
    # After F6 stripping the title is empty; the renderer must still produce a valid feed.
    entry = make_entry(1, title="\x01\x02\x0b")
    data = render(make_site(), [entry])
    parse_xml(data)
    assert not feedparser.parse(data).bozo


# --- F7, F8: content ---------------------------------------------------------------------------


def test_atom_content_is_escaped_html_never_cdata_f7() -> None:
    entry = make_entry(1, body_html="<p>One &amp; <b>two</b> ]]> three</p>")
    data = atom(make_site(), [entry])
    assert b"CDATA" not in data
    (element,) = entries_of(data)
    content = element.find(f"{{{ATOM}}}content")
    assert content is not None
    assert content.get("type") == "html"
    assert content.text == "<p>One &amp; <b>two</b> ]]> three</p>"
    assert len(content) == 0  # escaped text, not child elements
    assert element.findtext(f"{{{ATOM}}}summary") == "Summary of story 1."
    fp = feedparser.parse(data).entries[0]
    assert fp.content[0].type == "text/html"
    assert "<b>two</b>" in fp.content[0].value


def test_rss_has_description_summary_and_content_encoded_full_html_f8() -> None:
    entry = make_entry(1, body_html="<p>Full <strong>body</strong></p>", summary="Short one.")
    data = rss(make_site(), [entry])
    assert b"CDATA" not in data
    (item,) = items(data)
    assert item.findtext("description") == "Short one."
    assert item.findtext(f"{{{CONTENT}}}encoded") == "<p>Full <strong>body</strong></p>"
    fp = feedparser.parse(data).entries[0]
    assert fp.summary == "Short one."
    assert "<strong>body</strong>" in fp.content[0].value


# --- F9: authors and categories ------------------------------------------------------------------


def test_rss_author_is_dc_creator_f9() -> None:
    (item,) = items(rss(make_site(), [make_entry(1, author="Zoë Writer")]))
    assert item.findtext(f"{{{DC}}}creator") == "Zoë Writer"
    assert item.find("author") is None  # RSS <author> must be an email address; we have none


def test_atom_author_name_f9() -> None:
    (element,) = entries_of(atom(make_site(), [make_entry(1, author="Zoë Writer")]))
    assert element.findtext(f"{{{ATOM}}}author/{{{ATOM}}}name") == "Zoë Writer"
    assert feedparser.parse(atom(make_site(), [make_entry(1, author="Zoë")])).entries[0].author == (
        "Zoë"
    )


def test_no_author_means_no_creator() -> None:
    # An item without an author names no one: repeating the publication made rss2email send
    # `From: "The Gazette: The Gazette"`. Atom falls back to the feed's author by itself.
    (item,) = items(rss(make_site(), [make_entry(1, author=None)]))
    assert item.find(f"{{{DC}}}creator") is None and item.find("author") is None
    (element,) = entries_of(atom(make_site(), [make_entry(1, author=None)]))
    assert element.find(f"{{{ATOM}}}author") is None


def test_tags_become_categories_in_both_formats() -> None:
    entry = make_entry(1, tags=("politics", "city hall", "R&D <lab>"))
    (item,) = items(rss(make_site(), [entry]))
    # "<lab" would read as a tag (feedvalidator: ContainsHTML): a look-alike "＜" replaces "<"
    assert [c.text for c in item.findall("category")] == ["politics", "city hall", "R&D ＜lab>"]
    (element,) = entries_of(atom(make_site(), [entry]))
    terms = [c.get("term") for c in element.findall(f"{{{ATOM}}}category")]
    assert terms == ["politics", "city hall", "R&D ＜lab>"]


def test_no_tags_means_no_categories() -> None:
    (item,) = items(rss(make_site(), [make_entry(1, tags=())]))
    assert item.findall("category") == []
    (element,) = entries_of(atom(make_site(), [make_entry(1, tags=())]))
    assert element.findall(f"{{{ATOM}}}category") == []


# --- escaping, guids -----------------------------------------------------------------------------

NASTY_TITLE = "<script>alert(1)</script> & <b>bold</b>"
LOOKALIKE_TITLE = "＜script>alert(1)＜/script> & ＜b>bold＜/b>"


@pytest.mark.parametrize("render", [rss, atom])
def test_markup_in_title_is_escaped(render: Any) -> None:
    entry = make_entry(1, title=NASTY_TITLE, body_html="<script>alert(2)</script><p>x</p>")
    data = render(make_site(title="Site <script>x</script>"), [entry])
    assert b"<script" not in data
    assert b"<b>" not in data
    root = parse_xml(data)
    titles = [el.text for el in root.iter() if etree.QName(el).localname == "title"]
    # Plain-text fields must not look like HTML (feedvalidator: ContainsHTML), so "<" before a
    # letter or "/" becomes the look-alike "＜": the title reads the same and is never markup.
    assert LOOKALIKE_TITLE in titles
    assert "Site ＜script>x＜/script>" in titles
    assert feedparser.parse(data).entries[0].title == LOOKALIKE_TITLE


def test_rss_guid_is_permalink_article_url_and_unique() -> None:
    entries = newest_first(4)
    guids = [item.find("guid") for item in items(rss(make_site(), entries))]
    assert all(g is not None and g.get("isPermaLink") == "true" for g in guids)
    values = [g.text for g in guids if g is not None]
    assert values == [f"https://example.org/articles/{e.article.slug}.html" for e in entries]
    assert len(set(values)) == len(values)
    links = [item.findtext("link") for item in items(rss(make_site(), entries))]
    assert values == links


def test_atom_ids_are_article_urls_and_unique() -> None:
    entries = newest_first(4)
    ids = [e.findtext(f"{{{ATOM}}}id") for e in entries_of(atom(make_site(), entries))]
    assert ids == [f"https://example.org/articles/{e.article.slug}.html" for e in entries]
    assert len(set(ids)) == len(ids)


# --- property: arbitrary text ---------------------------------------------------------------------

# st.text() by default, plus text that may hold lone surrogates and other categories it leaves out.
any_text = st.one_of(st.text(), st.text(st.characters(exclude_categories=())))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(),
    body=any_text,
    summary=any_text,
    author=st.one_of(st.none(), any_text),
    tags=st.lists(any_text, max_size=3).map(tuple),
)
def test_arbitrary_text_gives_well_formed_deterministic_feeds(
    title: str, body: str, summary: str, author: str | None, tags: tuple[str, ...]
) -> None:
    entries = [
        make_entry(2, title=title, body_html=body, summary=summary, author=author, tags=tags),
        make_entry(1, title="Second: " + body, body_html=title, summary=title),
    ]
    site = make_site(hub="https://hub.example.net/")
    for render in (rss, atom):
        first = render(site, entries)
        root = parse_xml(first)  # well-formed
        assert not XML_INVALID.search(all_text(root))
        assert render(site, entries) == first


# --- URI ids and languages ------------------------------------------------------------------------

UUID = "urn:uuid:3f2a8c1e-7b4d-4e6a-9c0f-1d2e3f4a5b6c"


def test_a_uri_id_is_the_entry_id_everywhere() -> None:
    entry = make_entry(1, id=UUID, slug="a-story-moved-here")
    (item,) = items(rss(make_site(), [entry]))
    guid = item.find("guid")
    assert guid is not None and guid.text == UUID and guid.get("isPermaLink") == "false"
    assert item.findtext("link") == "https://example.org/articles/a-story-moved-here.html"
    (element,) = entries_of(atom(make_site(), [entry]))
    assert element.findtext(f"{{{ATOM}}}id") == UUID
    assert json.loads(json_feed(make_site(), [entry]))["items"][0]["id"] == UUID
    assert feedparser.parse(rss(make_site(), [entry])).entries[0].id == UUID


def test_an_entry_published_before_uri_ids_keeps_its_url_as_id() -> None:
    entry = make_entry(1, id=UUID, slug="urn-uuid-3f2a8c1e", url_id=True)
    url = "https://example.org/articles/urn-uuid-3f2a8c1e.html"
    (item,) = items(rss(make_site(), [entry]))
    assert item.findtext("guid") == url and item.find("guid").get("isPermaLink") == "true"  # type: ignore[union-attr]
    (element,) = entries_of(atom(make_site(), [entry]))
    assert element.findtext(f"{{{ATOM}}}id") == url


def test_an_entry_in_another_language_says_so() -> None:
    entries = [make_entry(2, language="ru"), make_entry(1)]
    russian, english = entries_of(atom(make_site(language="en"), entries))
    assert russian.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    assert english.get("{http://www.w3.org/XML/1998/namespace}lang") is None  # the feed's: en
    first, second = items(rss(make_site(language="en"), entries))
    assert first.findtext(f"{{{DC}}}language") == "ru" and second.find(f"{{{DC}}}language") is None
    feed = json.loads(json_feed(make_site(language="en"), entries))
    assert [i["language"] for i in feed["items"]] == ["ru", "en"]
