"""Per-tag output of syndicate.pipeline.plan and the collision-free tag slugs of syndicate.text."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import feedparser
import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from syndicate.pipeline.plan import by_tag, tag_files
from syndicate.render.common import make_environment
from syndicate.text import unique_slugs

from .factories import TEMPLATES, make_entry, make_site

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def env() -> Any:
    return make_environment(TEMPLATES)


def site_for_tags(*tags: str, **overrides: Any) -> Any:
    return make_site(tag_slugs=unique_slugs(tags), **overrides)


def test_every_tag_gets_three_feeds_and_a_page(env: Any) -> None:
    entries = [make_entry(2, tags=("news", "Économie")), make_entry(1, tags=("news",))]
    files = tag_files(env, site_for_tags("news", "Économie"), entries)
    assert sorted(files) == [
        f"tags/{slug}/{name}"
        for slug in ("news", "économie")
        for name in ("atom.xml", "feed.json", "index.html", "rss.xml")
    ]
    rss = etree.fromstring(files["tags/news/rss.xml"])
    assert rss.xpath("//item/guid/text()") == [
        "https://example.org/articles/story-2.html",
        "https://example.org/articles/story-1.html",
    ]
    assert rss.xpath("//channel/atom:link[@rel='self']/@href", namespaces={"atom": ATOM[1:-1]}) == [
        "https://example.org/tags/news/rss.xml"
    ]
    assert rss.findtext("channel/link") == "https://example.org/tags/news/index.html"
    feed = json.loads(files["tags/économie/feed.json"])
    assert feed["feed_url"] == "https://example.org/tags/%C3%A9conomie/feed.json"
    assert [i["id"] for i in feed["items"]] == ["https://example.org/articles/story-2.html"]


def test_tag_feeds_parse_without_bozo(env: Any) -> None:
    files = tag_files(env, site_for_tags("مرحبا"), [make_entry(1, tags=("مرحبا",))])
    for path, data in files.items():
        if path.endswith(".xml"):
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            assert parsed.feed.title == "The Gazette: مرحبا"


def test_tag_page_lists_its_articles_and_its_own_feeds(env: Any) -> None:
    entries = [make_entry(3, tags=("a",)), make_entry(2, tags=("b",)), make_entry(1, tags=("a",))]
    page = tag_files(env, site_for_tags("a", "b"), entries)["tags/a/index.html"]
    tree = lxml.html.document_fromstring(page)
    assert tree.xpath("//article[@class='teaser']//h2/a/@href") == [
        "https://example.org/articles/story-3.html",
        "https://example.org/articles/story-1.html",
    ]
    alternates = tree.xpath("//head/link[@rel='alternate']/@href")
    assert alternates[3:] == [
        "https://example.org/tags/a/rss.xml",
        "https://example.org/tags/a/atom.xml",
        "https://example.org/tags/a/feed.json",
    ]


def test_tags_that_slugify_alike_get_distinct_folders(env: Any) -> None:
    tags = ("News", "news", "NEWS!")
    site = site_for_tags(*tags)
    entries = [make_entry(n, tags=(tag,)) for n, tag in enumerate(tags, start=1)]
    folders = {path.split("/")[1] for path in tag_files(env, site, entries)}
    assert len(folders) == 3 and "news" in folders  # "news" is its own slug, so it keeps it
    assert unique_slugs(reversed(tags)) == unique_slugs(tags)  # order of discovery is irrelevant


def test_by_tag_keeps_order_and_counts_a_repeated_tag_once() -> None:
    entries = [make_entry(2, tags=("x", "x")), make_entry(1, tags=("x",))]
    assert [e.article.id for e in by_tag(entries)["x"]] == ["story-2", "story-1"]


@given(st.lists(st.text(min_size=1, max_size=30), max_size=12))
def test_unique_slugs_are_distinct_safe_path_segments(tags: list[str]) -> None:
    slugs = unique_slugs(tags)
    assert set(slugs) == set(tags)
    assert len(set(slugs.values())) == len(slugs)
    for slug in slugs.values():
        assert slug not in ("", ".", "..") and "/" not in slug and "\\" not in slug
        assert len(slug.encode("utf-8")) < 255
        assert "%" not in slug and unquote(slug) == slug
