"""JSON Feed 1.1 of syndicate.render.jsonfeed: the spec's required fields and types, and the same
items and ids as the RSS and Atom feeds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import atoma
import jsonschema
import pytest
from lxml import etree

from syndicate.render.feeds import atom, rss
from syndicate.render.jsonfeed import json_feed

from .factories import make_entry, make_site, newest_first

ATOM = "{http://www.w3.org/2005/Atom}"
STRING = {"type": "string"}
URL = {"type": "string", "pattern": "^https?://"}
AUTHORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"name": STRING, "url": STRING, "avatar": STRING},
        "anyOf": [{"required": ["name"]}, {"required": ["url"]}, {"required": ["avatar"]}],
    },
}
# JSON Feed 1.1 (https://jsonfeed.org/version/1.1): what it requires and the types it names.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": STRING,
        "home_page_url": URL,
        "feed_url": URL,
        "description": STRING,
        "language": STRING,
        "authors": AUTHORS,
        "hubs": {
            "type": "array",
            "items": {"type": "object", "required": ["type", "url"]},
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": STRING,
                    "url": URL,
                    "title": STRING,
                    "content_html": STRING,
                    "summary": STRING,
                    "date_published": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                    "authors": AUTHORS,
                    "tags": {"type": "array", "items": STRING},
                    "language": STRING,
                },
            },
        },
    },
}


def load(data: bytes) -> dict[str, Any]:
    feed: dict[str, Any] = json.loads(data.decode("utf-8"))
    return feed


def test_feed_matches_the_json_feed_1_1_schema() -> None:
    site = make_site(hub="https://hub.example/")
    feed = load(json_feed(site, newest_first(3)))
    checker = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    assert sorted(e.message for e in checker.iter_errors(feed)) == []
    assert feed["feed_url"] == "https://example.org/feed.json"
    assert feed["home_page_url"] == "https://example.org/"
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]


def test_an_item_carries_every_field_the_issue_names() -> None:
    entry = make_entry(1, updated=datetime.fromisoformat("2024-04-01T10:00:00+03:00"))
    item = load(json_feed(make_site(language="fi"), [entry]))["items"][0]
    assert item == {
        "id": "https://example.org/articles/story-1.html",
        "url": "https://example.org/articles/story-1.html",
        "title": "Story number 1",
        "content_html": entry.article.body_html,
        "summary": "Summary of story 1.",
        "date_published": "2024-03-11T08:00:00Z",
        "date_modified": "2024-04-01T07:00:00Z",
        "language": "fi",
        "authors": [{"name": "Ann Author"}],
        "tags": ["news", "local"],
    }


def test_no_author_and_no_tags_leave_the_keys_out() -> None:
    item = load(json_feed(make_site(), [make_entry(1, author=None, tags=())]))["items"][0]
    assert "authors" not in item and "tags" not in item


def test_same_items_and_ids_as_rss_and_atom() -> None:
    site = make_site(max_items=4)
    entries = newest_first(6)
    ids = [item["id"] for item in load(json_feed(site, entries))["items"]]
    guids = etree.fromstring(rss(site, entries)).xpath("//item/guid/text()")
    atom_ids = [e.findtext(f"{ATOM}id") for e in etree.fromstring(atom(site, entries))]
    assert ids == guids == [i for i in atom_ids if i and i.endswith(".html")]
    assert len(ids) == 4 and len(set(ids)) == 4


def test_a_real_client_reads_it() -> None:
    feed = atoma.parse_json_feed_bytes(json_feed(make_site(), newest_first(2)))
    assert feed.title == "The Gazette"
    assert [i.id_ for i in feed.items] == [
        "https://example.org/articles/story-2.html",
        "https://example.org/articles/story-1.html",
    ]


@pytest.mark.parametrize("nasty", ["<b>x</b>", "a\x00b", "مرحبا 🎉", '"quoted"\\'])
def test_any_text_gives_valid_json_in_utf8(nasty: str) -> None:
    entry = make_entry(1, title=nasty, summary=nasty, author=nasty, tags=(nasty,))
    data = json_feed(make_site(), [entry])
    item = load(data)["items"][0]
    assert item["title"] == nasty.replace("\x00", "")
    assert data == json_feed(make_site(), [entry])


def test_empty_feed_still_has_the_required_fields() -> None:
    feed = load(json_feed(make_site(), []))
    assert feed["items"] == [] and feed["title"] == "The Gazette"
