"""A link check over the whole output: every href and src in the pages, the feeds (their
links and the HTML they carry) and the emails that points into the publication resolves to a
file of the output folder. Links to `syndicate serve`'s endpoints (INTERFACE: subscribe,
confirm, unsubscribe) are answered by the web side, not by files, and are left out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from lxml import etree, html

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, SECRET
from .corpus import build

SITE = "https://example.org/"
ENDPOINTS = {"subscribe", "confirm", "unsubscribe"}  # served by `syndicate serve`
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"]+")


def html_links(markup: str, base: str) -> Iterator[str]:
    if not markup.strip():
        return
    tree = html.fromstring(markup)
    for element in tree.iter():
        for name in ("href", "src"):
            value = element.get(name) if isinstance(element.tag, str) else None
            if value is not None:
                yield urljoin(base, value.strip())


def xml_links(data: bytes) -> Iterator[str]:
    root = etree.fromstring(data)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name == "link" and element.get("href"):
            yield element.get("href", "")
        elif name == "link" and element.text:  # RSS <link>
            yield element.text.strip()
        elif name == "guid" and element.get("isPermaLink", "true") == "true":
            yield (element.text or "").strip()
        elif name in ("description", "encoded", "content") and element.text:
            yield from html_links(element.text, SITE)


def json_links(data: bytes) -> Iterator[str]:
    feed = json.loads(data)
    yield from (feed["home_page_url"], feed["feed_url"])
    for item in feed["items"]:
        yield item["url"]
        yield from html_links(item["content_html"], item["url"])


def email_links(data: bytes) -> Iterator[str]:
    message = BytesParser(policy=policy.default).parsebytes(data)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    yield from html_links(html_part.get_content(), SITE)
    yield from URL_IN_TEXT.findall(text_part.get_content())
    for header in ("List-Unsubscribe", "List-Archive", "List-Help"):
        yield from URL_IN_TEXT.findall(str(message.get(header, "")).replace(">", " "))


def links_of(path: Path, base: str) -> Iterator[str]:
    data = path.read_bytes()
    if path.suffix == ".html":
        yield from html_links(data.decode("utf-8"), base)
    elif path.suffix == ".xml":
        yield from xml_links(data)
    elif path.suffix == ".json":
        yield from json_links(data)
    elif path.suffix == ".eml":
        yield from email_links(data)


def target(url: str, output: Path) -> Path | None:
    """The output file a URL into the publication names (None: a `syndicate serve` endpoint)."""
    path = unquote(urlsplit(url).path[len(urlsplit(SITE).path) :])
    if path.split("/")[0] in ENDPOINTS:
        return None
    return output / (path + "index.html" if path.endswith("/") or not path else path)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("links") / "site")


def broken_links(published: Path) -> tuple[list[str], int]:
    """Every link into the publication from its pages, feeds and emails that names no file of
    the output folder, and how many links were checked."""
    output = published / "feeds"
    sources = [
        p
        for p in sorted(output.rglob("*"))
        if p.suffix in {".html", ".xml", ".json"} and not p.name.startswith(".")  # bookkeeping
    ] + sorted((published / "outbox").rglob("*.eml"))
    kinds = {p.suffix for p in sources}
    assert kinds == {".html", ".xml", ".json", ".eml"} and len(sources) > 40
    checked, broken = 0, []
    for source in sources:
        base = SITE + str(source.relative_to(output)) if source.is_relative_to(output) else SITE
        for link in links_of(source, base):
            if not link.startswith(SITE):
                continue
            file = target(link, output)
            checked += 1
            if file is not None and not file.is_file():
                broken.append(f"{source.relative_to(published)}: {link}")
    return broken, checked


def test_every_link_into_the_publication_resolves_to_a_file(published: Path) -> None:
    output = published / "feeds"
    broken, checked = broken_links(published)
    assert broken == []
    assert checked > 500  # the check saw the links it is meant to
    # it covers what the issue found broken: linked images, numbered and tag pages
    assert (output / "articles/images/stage.png").is_file() and (output / "page/1.html").is_file()


def test_links_still_resolve_after_reruns_that_publish_only_the_change_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rerun writes only what its changes reach (`pipeline.incremental`): the pages it leaves
    alone must not link to pages it removed or moved, and its new pages must link to files."""
    site = build(tmp_path / "site")
    articles = site / "articles"
    (articles / "moved.md").unlink()  # gone: its page, and its place in the listings and tag
    concert = articles / "pictures.md"
    concert.write_text(concert.read_text().replace('tags = ["culture"]', 'tags = ["music"]'))
    (articles / "900_new.md").write_text(
        '+++\ndate = 2026-11-29T09:00:00Z\ntags = ["music"]\n+++\n# New on stage\n\n'
        "![The stage](images/stage.png)\n",
        encoding="utf-8",
    )
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    with caplog.at_level(logging.INFO, logger="syndicate"):
        report = run_once(config, NOW + timedelta(hours=1))
    assert report.ok, report
    assert "plan=changes" in caplog.text and "plan-every-file" not in caplog.text
    output = site / "feeds"
    assert (output / "tags/music/index.html").is_file()
    broken, checked = broken_links(site)
    # Only the digest sent before the deletion still names the deleted article (its web copy
    # and its emails are frozen, as a full build leaves them too); every other link resolves.
    gone = "https://example.org/articles/a-story-moved-from-another-system.html"
    assert checked > 500 and {b.split(": ")[1] for b in broken} == {gone}
    assert all(
        b.startswith(("feeds/digests/2026-11-28.html", "outbox/2026-11-28/")) for b in broken
    )


def test_the_link_check_finds_a_broken_link(published: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<a href="https://example.org/articles/nowhere.html">x</a><img src="images/stage.png">'
    )
    links = list(links_of(page, SITE + "articles/page.html"))
    assert links == [SITE + "articles/nowhere.html", SITE + "articles/images/stage.png"]
    output = published / "feeds"
    assert [target(u, output).is_file() for u in links] == [False, True]  # type: ignore[union-attr]
