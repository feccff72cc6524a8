"""Zero warnings: RSS and Atom pass the W3C Feed Validation Service's rules (tests/feedrules.py),
parse without bozo in feedparser and load in a second client (atoma); also for any article text."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import atoma
import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.config import DEFAULT_CTA_PATTERNS, load_config
from syndicate.errors import ArticleError
from syndicate.ingest.parse import ParseOptions, parse_article
from syndicate.models import Entry
from syndicate.pipeline import run_once
from syndicate.render.feeds import atom, rss
from syndicate.render.jsonfeed import json_feed

from .conftest import NOW, SECRET
from .factories import BASE, make_entry, make_site
from .feedrules import atom_problems, nonhtml, rss_problems, safe_html
from .test_jsonfeed import SCHEMA

EARLIER = BASE - timedelta(hours=1)
OPTIONS = ParseOptions(BASE.tzinfo, tuple(re.compile(p) for p in DEFAULT_CTA_PATTERNS))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample, run once: its output folder holds main and per-tag feeds."""
    import shutil

    from .conftest import ROOT

    site = tmp_path_factory.mktemp("rules")
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    shutil.copytree(ROOT / "articles", site / "articles")
    text = (
        (site / "config.toml").read_text().replace('hub = ""', 'hub = "https://hub.example.net/"')
    )
    (site / "config.toml").write_text(text)
    assert run_once(load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET}), NOW).ok
    return site / "feeds"


def feeds_in(folder: Path, name: str) -> list[Path]:
    found = sorted(folder.rglob(name))
    assert len(found) > 5  # the main feed and the sample's tags
    return found


def url_of(folder: Path, path: Path) -> str:
    from urllib.parse import quote

    return "https://example.org/" + quote(str(path.relative_to(folder)))


def atoma_count(name: str, data: bytes) -> int:
    """How many entries the second client, atoma, reads."""
    if name == "rss.xml":
        return len(atoma.parse_rss_bytes(data).items)
    return len(atoma.parse_atom_bytes(data).entries)


@pytest.mark.parametrize(
    ("name", "check"), [("rss.xml", rss_problems), ("atom.xml", atom_problems)]
)
def test_every_xml_feed_has_no_warnings(published: Path, name: str, check: Any) -> None:
    for path in feeds_in(published, name):
        data = path.read_bytes()
        assert check(data, url_of(published, path)) == [], path
        assert b"xml-stylesheet" not in data  # no XSLT: browsers are removing it
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert atoma_count(name, data) == len(parsed.entries) > 0


def test_every_json_feed_is_valid_and_matches_its_atom_ids(published: Path) -> None:
    import jsonschema

    for path in feeds_in(published, "feed.json"):
        feed = json.loads(path.read_bytes())
        jsonschema.validate(feed, SCHEMA)
        assert feed["feed_url"] == url_of(published, path)
        atom_feed = feedparser.parse((path.parent / "atom.xml").read_bytes())
        assert [i["id"] for i in feed["items"]] == [e.id for e in atom_feed.entries]
        assert atoma.parse_json_feed_bytes(path.read_bytes()).items


def test_the_checks_catch_what_the_validator_reports() -> None:
    """The rules are not vacuous: each flags the kind of text the validator warns about."""
    assert nonhtml("a </b> b") and nonhtml("Tom &amp; Jerry") and nonhtml("<b>x")
    assert not nonhtml("R&D and AT&T, 3 < 4")
    assert safe_html('<a href="page.html">x</a>') and safe_html("<script>x</script>")
    assert safe_html("<p>a</b>") and not safe_html('<p><a href="https://e.org/">x</a></p>')
    same = [make_entry(2, published=BASE), make_entry(1, published=BASE)]
    assert atom_problems(atom(make_site(), same), "https://example.org/atom.xml") == [
        "DuplicateUpdated: 2024-03-10T08:00:00+00:00 on 2 entries"
    ]


def test_an_empty_feed_has_no_warnings() -> None:
    assert rss_problems(rss(make_site(), []), "https://example.org/rss.xml") == []
    assert atom_problems(atom(make_site(), []), "https://example.org/atom.xml") == []


def test_relative_links_in_bodies_become_absolute() -> None:
    article = parse_article(
        "Title\n\nSee [this](other.html) and ![i](/img/a.png).\n", "a.md", OPTIONS
    )
    entry = Entry(article, BASE, BASE)
    data = rss(make_site(), [entry])
    assert b"https://example.org/articles/other.html" in data
    assert b"https://example.org/img/a.png" in data
    assert rss_problems(data, "https://example.org/rss.xml") == []


# Any text: control characters, markup, right-to-left text, emoji, lone surrogates.
any_text = st.one_of(
    st.text(),
    st.text(st.characters(exclude_categories=())),
    st.sampled_from(
        ["<b>bold</b>", "&amp; &#38; &copy", "مرحبا بالعالم", "👩‍👩‍👧 🎉", "\x85\x9f\ufffd"]
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=any_text,
    body=any_text,
    author=any_text,
    tags=st.lists(any_text, max_size=3),
    markdown=st.booleans(),
)
def test_any_article_text_gives_feeds_with_no_warnings(
    title: str, body: str, author: str, tags: list[str], markdown: bool
) -> None:
    front = f"+++\nauthor = {json.dumps(author)}\ntags = {json.dumps(tags)}\n+++\n"
    heading = "# " if markdown else ""
    text = f"{front}{heading}{title}\n\n{body}\n\nSecond paragraph.\n"
    try:
        article = parse_article(text, "a.md" if markdown else "a.txt", OPTIONS)
    except ArticleError:
        return  # a clear per-file error is an accepted outcome for bad input
    entries = [
        Entry(article, BASE, BASE),
        # an hour older: the store gives every entry its own time (tests/test_publishing.py)
        Entry(parse_article("Other\n\nBody.\n", "b.txt", OPTIONS), EARLIER, EARLIER),
    ]
    site = make_site(max_items=2)
    for render, check, name in ((rss, rss_problems, "rss.xml"), (atom, atom_problems, "atom.xml")):
        data = render(site, entries)
        assert check(data, f"https://example.org/{name}") == []
        assert len(feedparser.parse(data).entries) == 2
        assert render(site, entries) == data
    feed = json.loads(json_feed(site, entries))
    assert len(feed["items"]) == 2 and json_feed(site, entries) == json_feed(site, entries)
