"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), the same items and ids as RSS and Atom.

Pure: entries in, bytes out, keys in a fixed order, so the same entries give the same bytes.
feedgen has no JSON Feed (PITFALLS F12), so this builds the document with `json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from syndicate.models import Entry
from syndicate.render.common import Channel, Site
from syndicate.render.feedtext import absolute_html
from syndicate.text import xml_safe

VERSION = "https://jsonfeed.org/version/1.1"


def _time(value: datetime) -> str:
    """RFC 3339 in UTC, as the XML feeds' Atom dates are comparable to."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _item(site: Site, entry: Entry) -> dict[str, Any]:
    article = entry.article
    url = site.article_url(entry)
    item: dict[str, Any] = {
        "id": site.entry_id(entry),  # the same id as the RSS guid and the Atom id
        "url": url,
        "title": xml_safe(article.title).strip() or "Untitled",
        "content_html": absolute_html(article.body_html, url),
        "summary": xml_safe(article.summary),
        "date_published": _time(entry.published),
        "date_modified": _time(entry.updated),
        "language": site.language_of(entry),  # JSON Feed 1.1 allows `language` per item
    }
    if article.author:
        item["authors"] = [{"name": xml_safe(article.author)}]
    if article.tags:
        item["tags"] = [xml_safe(tag) for tag in article.tags]
    return item


def document(
    site: Site, entries: Sequence[Entry], channel: Channel | None = None
) -> dict[str, Any]:
    """The feed as a JSON-ready dict (entries must be newest first)."""
    channel = channel or site.main
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": xml_safe(channel.title).strip() or site.url,
        "home_page_url": channel.home,
        "feed_url": channel.feeds["json"],
        "description": xml_safe(channel.description),
        "language": site.language,
        "authors": [{"name": xml_safe(site.title), "url": site.url}],
    }
    if site.hub:
        feed["hubs"] = [{"type": "WebSub", "url": site.hub}]
    feed["items"] = [_item(site, entry) for entry in entries[: site.max_items]]
    return feed


def json_feed(site: Site, entries: Sequence[Entry], channel: Channel | None = None) -> bytes:
    """JSON Feed 1.1 of the newest `max_items` entries, UTF-8, ending in a newline."""
    text = json.dumps(document(site, entries, channel), ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")
