"""RSS 2.0 and Atom 1.0 with feedgen 1.0.0, its known bugs worked around (PITFALLS F1-F10).

Pure: entries in, bytes out. Every timestamp comes from the content, so the same entries always
give the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicate import __version__
from syndicate.models import Entry
from syndicate.render.common import FEED_TYPES, Channel, Site
from syndicate.render.feedtext import absolute_html, plain, plain_as_html

# `updated` of a feed with no entries: fixed (F4), and after 1990, which the W3C validator
# reports as an implausible date.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# libxml2, under most feed readers, refuses a text node over 10 MB (escaping grows HTML), so a
# huge article would make the whole feed unreadable: past this size an item carries its summary
# and a link to the full article instead.
MAX_CONTENT_CHARS = 1_000_000
_LINK_ATTRS = ("rel", "type", "hreflang", "title", "length")
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DC_NS = "http://purl.org/dc/elements/1.1/"
DC_CREATOR, DC_LANGUAGE = f"{{{DC_NS}}}creator", f"{{{DC_NS}}}language"


class _RssHub(BaseExtension):  # type: ignore[misc]
    """F3: feedgen's RSS keeps only the rel=self atom:link; add rel=hub (WebSub) ourselves."""

    hub = ""

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM_NS}

    def extend_rss(self, feed: Any) -> Any:
        if self.hub:
            channel = feed[0]
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=self.hub, rel="hub")
        return feed


class _DcNamespace(BaseExtension):  # type: ignore[misc]
    """Declares the `dc` prefix on the RSS root, as feedgen's dc extension does (F9: RSS names
    an author by `dc:creator`). Entries write their own dc elements (_FixedEntry.rss_entry):
    feedgen's entry extension sets fifteen fields and probes each on every item, which was a
    fifth of our per-item cost."""

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS}


class _FixedEntry(FeedEntry):  # type: ignore[misc]
    """F1: feedgen 1.0.0 drops rel/type/... from Atom entry links; put them back. Also carries
    the entry's `xml:lang`, which feedgen has no setter for, and its RSS `dc:creator` and
    `dc:language` (written after feedgen's own elements, in the order its dc extension used)."""

    language = ""
    creator = ""
    dc_language = ""

    def rss_entry(self, extensions: bool = True) -> Any:
        item = super().rss_entry(extensions)
        if self.creator:
            etree.SubElement(item, DC_CREATOR).text = self.creator
        if self.dc_language:
            etree.SubElement(item, DC_LANGUAGE).text = self.dc_language
        return item

    def atom_entry(self, extensions: bool = True) -> Any:
        entry = super().atom_entry(extensions)
        for element, data in zip(entry.findall("link"), self.link() or [], strict=True):
            for attr in _LINK_ATTRS:
                if data.get(attr):
                    element.set(attr, str(data[attr]))
        if self.language:
            entry.set(XML_LANG, self.language)
        return entry


def _generator(site: Site, channel: Channel, kind: str, entries: Sequence[Entry]) -> FeedGenerator:
    fg = FeedGenerator()
    # F9: RSS <author> needs an email; use dc:creator. No entry class: entries write their own.
    fg.register_extension("dc", _DcNamespace, None, atom=False, rss=True)
    fg.id(channel.home)
    fg.title(plain(channel.title).strip() or site.url)
    fg.description(plain(channel.description))
    _links(fg, site, channel, kind)
    fg.language(site.language)
    fg.ttl(site.ttl)
    fg.author(name=plain(site.title).strip() or site.url)
    fg.generator("syndicate", __version__)
    fg.updated(max((e.updated for e in entries), default=EPOCH))  # F4: never the clock
    return fg


def _links(fg: FeedGenerator, site: Site, channel: Channel, kind: str) -> None:
    """The feed's links. Atom lists them in the order added, and clients that take the first
    link for the site want `alternate` first; feedgen's RSS `<link>` is the *last* link added
    (F2), so RSS adds `alternate` last. RSS carries only the self (and, by _RssHub, hub) links."""
    alternate = {"href": channel.home, "rel": "alternate", "type": "text/html"}
    self_link = {"href": channel.feeds[kind], "rel": "self", "type": FEED_TYPES[kind]}
    hub = [{"href": site.hub, "rel": "hub"}] if site.hub else []
    if site.hub and kind == "rss":
        fg.register_extension("websub", _RssHub, atom=False, rss=True)
        fg.websub.hub = site.hub
    order = [self_link, *hub, alternate] if kind == "rss" else [alternate, self_link, *hub]
    for link in order:
        fg.link(**link)


def _add(fg: FeedGenerator, site: Site, entry: Entry, kind: str) -> None:
    """One item. Each feedgen setter runs only for the format that prints what it sets (the
    setters validate and copy on every call): RSS has no entry `updated` and no `author`
    without an email (F9), Atom no dc elements."""
    article = entry.article
    url = site.article_url(entry)
    ident = site.entry_id(entry)
    fe = fg.add_entry(_FixedEntry(), order="append")  # F10: keep our newest-first order
    fe.guid(ident, permalink=ident == url)  # the Atom id too; a URI id is no link
    language = site.language_of(entry)
    if language != site.language:  # else the feed's own language holds
        fe.language = language
        fe.dc_language = language
    fe.title(plain(article.title).strip() or "Untitled")  # Atom requires a title
    fe.link(href=url, rel="alternate", type="text/html")
    fe.published(entry.published)  # F4, F5: aware datetimes from the content
    fe.content(feed_content(entry, url), type="html")  # F7: never type="CDATA"
    author = plain(article.author or "").strip()
    if kind == "rss":  # F8: with a description, content:encoded appears; description is HTML
        fe.description(plain_as_html(article.summary), isSummary=True)  # F13: never isSummary=False
        fe.creator = author  # F9: RSS <author> needs an email; without one RSS names no one
    else:
        fe.updated(entry.updated)
        fe.summary(plain(article.summary).strip() or "…")  # Atom text: must not be blank
        if author:  # without one, Atom has the feed's author (the publication)
            fe.author(name=author)
    for tag in article.tags:
        term = plain(tag).strip()
        if term:
            fe.category(term=term)


def feed_content(entry: Entry, url: str) -> str:
    """The entry's full HTML with absolute links, or for a huge article its summary and a link
    to its page (feed readers' XML parsers refuse text nodes over 10 MB)."""
    if len(entry.article.body_html) <= MAX_CONTENT_CHARS:
        return absolute_html(entry.article.body_html, url)
    summary = plain_as_html(entry.article.summary)
    return f'<p>{summary}</p>\n<p><a href="{html.escape(url)}">Read the full article</a></p>\n'


def build(site: Site, channel: Channel, kind: str, entries: Sequence[Entry]) -> FeedGenerator:
    shown = entries[: site.max_items]
    fg = _generator(site, channel, kind, shown)
    for entry in shown:
        _add(fg, site, entry, kind)
    return fg


def rss(site: Site, entries: Sequence[Entry], channel: Channel | None = None) -> bytes:
    """RSS 2.0 of the newest `max_items` entries (entries must be newest first)."""
    data: bytes = build(site, channel or site.main, "rss", entries).rss_str(pretty=True)
    return data


def atom(site: Site, entries: Sequence[Entry], channel: Channel | None = None) -> bytes:
    """Atom 1.0 of the newest `max_items` entries (entries must be newest first)."""
    data: bytes = build(site, channel or site.main, "atom", entries).atom_str(pretty=True)
    return data
