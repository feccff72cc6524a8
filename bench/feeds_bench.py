"""Benchmark case 2: rendering and writing RSS, Atom and JSON Feed at `max_items` 20 and
10,000, beside bare lxml building and writing an equivalent RSS document (same channel
elements; per item title, link, guid, pubDate, author, category, description and
content:encoded with the full HTML), and beside feedgen alone writing our RSS from strings
prepared beforehand (the same bytes): the floor of any RSS built with feedgen, which the
targets table names as the limit when RSS misses 2x of bare lxml.

Run:  .venv/bin/python bench/feeds_bench.py [--repeat 3] [--json F]
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from common import ROOT, Report, arguments, paragraph, timed
from lxml import etree

from syndicate.config import load_config
from syndicate.models import Article, Entry
from syndicate.render import feeds, jsonfeed
from syndicate.render.common import Site, site_for
from syndicate.render.feedtext import plain, plain_as_html

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ATOM = "http://www.w3.org/2005/Atom"
DC = "http://purl.org/dc/elements/1.1/"


def entries(count: int) -> list[Entry]:
    rng = random.Random(3)
    out = []
    for n in range(count):
        when = START - timedelta(hours=n)
        paragraphs = [paragraph(rng) for _ in range(7)]
        article = Article(
            id=f"a{n:06}", source=f"a{n:06}.txt", title=f"Story {n}: {paragraphs[0][:60]}",
            slug=f"a{n:06}", body_html="".join(f"<p>{p}</p>\n" for p in paragraphs),
            body_text="\n\n".join(paragraphs), summary=paragraphs[0][:240],
            content_hash=f"h{n}", date=when, author="Desk", tags=("economy",),
        )  # fmt: skip
        out.append(Entry(article, when, when))
    return out


def bare_rss(site: Site, items: list[Entry]) -> bytes:
    nsmap = {"content": CONTENT, "atom": ATOM, "dc": DC}
    rss = etree.Element("rss", version="2.0", nsmap=nsmap)
    channel = etree.SubElement(rss, "channel")
    for tag, text in (("title", site.title), ("link", site.url), ("description", site.description),
                      ("language", site.language),
                      ("lastBuildDate", format_datetime(items[0].updated))):  # fmt: skip
        etree.SubElement(channel, tag).text = text
    self_link = site.url_for("rss.xml")
    etree.SubElement(channel, f"{{{ATOM}}}link", href=self_link, rel="self")
    for entry in items:
        item, article = etree.SubElement(channel, "item"), entry.article
        url = site.article_url(entry)
        etree.SubElement(item, "title").text = article.title
        etree.SubElement(item, "link").text = url
        etree.SubElement(item, "guid", isPermaLink="true").text = url
        etree.SubElement(item, "pubDate").text = format_datetime(entry.published)
        etree.SubElement(item, f"{{{DC}}}creator").text = article.author
        etree.SubElement(item, "category").text = article.tags[0]
        etree.SubElement(item, "description").text = article.summary
        etree.SubElement(item, f"{{{CONTENT}}}encoded").text = etree.CDATA(article.body_html)
    return bytes(etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def feedgen_alone(site: Site, items: list[Entry]) -> Callable[[], bytes]:
    """feedgen's own share: the feedgen calls feeds.rss makes, on the strings it would pass
    (cleaned, links made absolute) prepared here once, outside the timing."""
    prepared = []
    for entry in items:
        article, url = entry.article, site.article_url(entry)
        prepared.append((url, site.entry_id(entry), plain(article.title).strip(), entry.published,
                         feeds.feed_content(entry, url), plain_as_html(article.summary),
                         plain(article.author).strip(), [plain(t).strip() for t in article.tags]))  # fmt: skip

    def render() -> bytes:
        fg = feeds.build(site, site.main, "rss", [])
        fg.updated(max(e.updated for e in items))
        for url, ident, title, published, content, summary, author, tags in prepared:
            fe = fg.add_entry(feeds._FixedEntry(), order="append")
            fe.guid(ident, permalink=ident == url)
            fe.title(title)
            fe.link(href=url, rel="alternate", type="text/html")
            fe.published(published)
            fe.content(content, type="html")
            fe.description(summary, isSummary=True)
            fe.creator = author
            for tag in tags:
                fe.category(term=tag)
        return bytes(fg.rss_str(pretty=True))

    if render() != feeds.rss(site, items):
        raise SystemExit("feedgen alone no longer writes what feeds.rss writes: update the bench")
    return render


def writer(folder: Path, name: str, render: Callable[[], bytes]) -> Callable[[], None]:
    return lambda: (folder / name).write_bytes(render())


def measure(report: Report, base: Site, stories: list[Entry], items: int, folder: Path,
            repeat: int) -> None:  # fmt: skip
    site = dataclasses.replace(base, max_items=items)
    top = stories[:items]
    cases = {
        "RSS 2.0": writer(folder, "rss.xml", lambda: feeds.rss(site, top)),
        "Atom 1.0": writer(folder, "atom.xml", lambda: feeds.atom(site, top)),
        "JSON Feed 1.1": writer(folder, "feed.json", lambda: jsonfeed.json_feed(site, top)),
        "bare lxml RSS (baseline)": writer(folder, "bare.xml", lambda: bare_rss(site, top)),
        "feedgen alone, strings prepared (RSS floor)": writer(
            folder, "floor.xml", feedgen_alone(site, top)
        ),
    }
    medians, batch = {}, max(1, 2000 // items)  # a 20-item feed takes a millisecond: time 100
    for label, action in cases.items():
        runs = [t / batch for t in timed(lambda a=action: [a() for _ in range(batch)], repeat)]
        medians[label] = report.row(f"{items:,} items: {label}", runs, "s")
    three = sum(medians[k] for k in ("RSS 2.0", "Atom 1.0", "JSON Feed 1.1"))
    report.notes.append(f"{items:,} items: RSS + Atom + JSON together {three:.4f} s")
    bare = medians["bare lxml RSS (baseline)"]
    ratio, floor = (
        medians["RSS 2.0"] / bare,
        medians["feedgen alone, strings prepared (RSS floor)"] / bare,
    )
    limit = (f"feedgen alone (our strings prepared beforehand, same bytes) takes {floor:.2f}x "
             f"bare lxml; our per-entry text work (cleaning, absolute links) adds "
             f"{max(ratio - floor, 0):.2f}x")  # fmt: skip
    report.target(f"RSS at {items:,} items within 2x of bare lxml", f"{ratio:.2f}x", ratio <= 2,
                  limit="" if ratio <= 2 else limit)  # fmt: skip


def main() -> None:
    args = arguments(__doc__)
    config = load_config(ROOT / "config.toml")
    stories = entries(10_000)
    base = site_for(config, tags=["economy"])
    report = Report("Feeds")
    folder = args.work / "feeds-out"
    folder.mkdir(parents=True, exist_ok=True)
    for items in (20, 10_000):
        measure(report, base, stories, items, folder, args.repeat)
    report.notes.append(
        "Each case renders the document and writes it to a file; at 20 items each "
        "figure is the mean of 100 in a row."
    )
    report.write(args.json)


if __name__ == "__main__":
    main()
