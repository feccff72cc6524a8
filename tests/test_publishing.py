"""Publishing for every reader, end to end through `run_once` on real folders and databases:
dateless articles get distinct, stable times (W3C rules at the strict level, DuplicateUpdated
included), entries published before URI ids were kept keep their ids and URLs, and the files
articles link to are published with their bytes unchanged (and only those)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html

from syndicate.config import load_config
from syndicate.models import RunReport
from syndicate.pipeline import run_once

from .conftest import DATA, NOW, SECRET
from .corpus import png
from .feedrules import NS, atom_problems, rss_problems

CONFIG = """\
[site]
title = "The Gazette"
url = "https://example.org/"

[feeds]
page_size = 4

[[subscribers]]
email = "reader@example.org"
"""


def make_site(root: Path, config: str = CONFIG) -> Path:
    (root / "articles").mkdir(parents=True)
    (root / "config.toml").write_text(config)
    return root


def run(site: Path, now: datetime = NOW) -> RunReport:
    return run_once(load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET}), now)


def write(path: Path, text: str, mtime: datetime | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def atom_updated(data: bytes) -> list[str]:
    root = etree.fromstring(data)
    return [e.findtext("atom:updated", "", NS) for e in root.findall("atom:entry", NS)]


# --- 1. dateless articles ------------------------------------------------------------------------


def dateless_corpus(site: Path, count: int, mtime: datetime) -> None:
    for n in range(count):
        tags = '+++\ntags = ["news"]\n+++\n' if n % 2 else ""
        write(site / "articles" / f"{n:03d}.txt", f"{tags}Story {n}\n\nText of story {n}.\n", mtime)


@pytest.mark.parametrize(
    "mtime",
    [NOW + timedelta(days=3), NOW - timedelta(days=2, microseconds=1)],
    ids=["copied-with-a-clock-ahead", "copied-in-one-second"],
)
def test_a_corpus_of_only_dateless_files_has_no_validator_warnings(
    tmp_path: Path, mtime: datetime
) -> None:
    site = make_site(tmp_path)
    dateless_corpus(site, 10, mtime)
    assert run(site).ok
    feeds = site / "feeds"
    for folder, url in (
        (feeds, "https://example.org/"),
        (feeds / "tags/news", "https://example.org/tags/news/"),
    ):
        atom, rss = (folder / "atom.xml").read_bytes(), (folder / "rss.xml").read_bytes()
        assert atom_problems(atom, url + "atom.xml") == []
        assert rss_problems(rss, url + "rss.xml") == []
        updated = atom_updated(atom)
        assert len(set(updated)) == len(updated) >= 5
        pubdates = [e.published for e in feedparser.parse(rss).entries]
        assert len(set(pubdates)) == len(pubdates)
    # ties are broken by file order: the later file name is the newer story, one second apart
    titles = [e.title for e in feedparser.parse((feeds / "atom.xml").read_bytes()).entries]
    assert titles == [f"Story {n}" for n in range(9, -1, -1)]
    newest = datetime.fromisoformat(atom_updated((feeds / "atom.xml").read_bytes())[0])
    assert newest == min(mtime, NOW).replace(microsecond=0)  # never after the run's `now`


def test_dateless_times_are_kept_once_seen_and_new_files_get_their_own(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    first = NOW - timedelta(hours=1)
    dateless_corpus(site, 4, first)
    assert run(site).ok
    before = (site / "feeds/atom.xml").read_bytes()
    os.utime(site / "articles/001.txt", None)  # a touch: same bytes, a new mtime
    assert run(site, NOW + timedelta(hours=1)).ok
    assert (site / "feeds/atom.xml").read_bytes() == before  # kept once seen
    # two more files written in the same second as the first ones: each gets a second of its own
    write(site / "articles/004.txt", "Story 4\n\nLate.\n", first)
    write(site / "articles/005.txt", "Story 5\n\nLater.\n", first)
    (site / "articles/002.txt").write_text("Story 2\n\nEdited.\n")  # an edit, dated by its mtime
    os.utime(site / "articles/002.txt", (first.timestamp(), first.timestamp()))
    assert run(site, NOW + timedelta(hours=2)).ok
    after = (site / "feeds/atom.xml").read_bytes()
    updated = atom_updated(after)
    assert len(set(updated)) == len(updated) == 6
    assert atom_problems(after, "https://example.org/atom.xml") == []
    published = {
        e.title: e.published
        for e in feedparser.parse(after).entries
        if e.title in {"Story 0", "Story 3"}
    }
    assert published == {
        e.title: e.published for e in feedparser.parse(before).entries if e.title in published
    }


# --- 2. ids of entries published before URI ids were kept --------------------------------------


def test_entries_published_by_v5_keep_their_ids_and_urls(tmp_path: Path) -> None:
    """A database and feeds written by syndicate before this change (tests/data/published-v5):
    after the upgrade (schema v7) its URI-id entries keep their page-URL ids and pages, and a
    URI-id article added afterwards gets its URI as its id and a page named after its title."""
    site = tmp_path / "site"
    shutil.copytree(DATA / "published-v5", site)
    (site / "state").mkdir()
    shutil.move(site / "state.sqlite", site / "state/syndicate.db")
    old_atom = feedparser.parse((site / "atom.xml").read_bytes())
    old_rss = feedparser.parse((site / "rss.xml").read_bytes())
    old_json = json.loads((site / "feed.json").read_text())
    write(
        site / "articles/new.md",
        '+++\nid = "urn:uuid:0b7e6f2a-1111-4c4c-9d9d-123456789abc"\n'
        "date = 2026-11-29T09:00:00Z\n+++\n# Moved after the upgrade\n\nNew.\n",
    )
    # an edit to a legacy article must not move it either
    legacy = site / "articles/legacy.md"
    legacy.write_text(legacy.read_text().replace("hold its id.", "hold its id. Edited."))
    assert run(site, NOW + timedelta(days=2)).ok
    atom = feedparser.parse((site / "feeds/atom.xml").read_bytes())
    rss = feedparser.parse((site / "feeds/rss.xml").read_bytes())
    feed = json.loads((site / "feeds/feed.json").read_text())
    new_id = "urn:uuid:0b7e6f2a-1111-4c4c-9d9d-123456789abc"
    assert [(e.id, e.link) for e in atom.entries] == [
        (new_id, "https://example.org/articles/moved-after-the-upgrade.html"),
        *((e.id, e.link) for e in old_atom.entries),
    ]
    assert [e.id for e in rss.entries] == [new_id, *(e.id for e in old_rss.entries)]
    assert [i["id"] for i in feed["items"]] == [new_id, *(i["id"] for i in old_json["items"])]
    assert any("urn-uuid-3f2a8c1e" in e.link for e in atom.entries)  # the old page name
    pages = sorted(p.name for p in (site / "feeds/articles").iterdir())
    assert pages == [
        "moved-after-the-upgrade.html", "plain.html", "story-seven.html",
        "urn-uuid-3f2a8c1e-7b4d-4e6a-9c0f-1d2e3f4a5b6c.html",
    ]  # fmt: skip
    assert run(site, NOW + timedelta(days=3)).files_written == ()  # and they stay put
    edited = next(e for e in atom.entries if "urn-uuid" in e.link)
    assert edited.updated != edited.published  # the edit showed, under the same id
    # removed, then back: still its old page and id
    text = legacy.read_text()
    legacy.unlink()
    assert run(site, NOW + timedelta(days=4)).ok
    legacy.write_text(text)
    assert run(site, NOW + timedelta(days=5)).ok
    back = feedparser.parse((site / "feeds/atom.xml").read_bytes())
    assert (edited.id, edited.link) in [(e.id, e.link) for e in back.entries]


# --- 5. linked files -------------------------------------------------------------------------------


IMAGE_ARTICLE = """\
+++
date = 2026-11-27T10:00:00Z
+++
# Pictures from the concert

The orchestra on stage:

![The youth orchestra on stage](images/stage.png)

The [programme](files/programme.pdf) and a [missing photo](images/gone.jpg).
"""


def test_linked_files_are_published_unchanged_and_removed_only_when_we_wrote_them(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path)
    image, pdf = png(800, 600), b"%PDF-1.4 not really\n"
    (site / "articles/images").mkdir()
    (site / "articles/images/stage.png").write_bytes(image)
    (site / "articles/files").mkdir()
    (site / "articles/files/programme.pdf").write_bytes(pdf)
    (site / "articles/secret.txt.bak").write_text("not linked")
    write(site / "articles/concert.md", IMAGE_ARTICLE)
    report = run(site)
    assert report.ok
    assert report.warnings == (
        "concert.md:10: linked file 'images/gone.jpg' not found in the articles folder",
    )
    out = site / "feeds/articles"
    assert (out / "images/stage.png").read_bytes() == image
    assert (out / "files/programme.pdf").read_bytes() == pdf
    assert not (out / "secret.txt.bak").exists()
    page = html.fromstring((out / "concert.html").read_bytes())
    (src,) = page.xpath("//div[@class='body']//img/@src")
    assert src == "images/stage.png"  # relative to the page: articles/images/stage.png
    atom = (site / "feeds/atom.xml").read_text()
    assert "https://example.org/articles/images/stage.png" in atom
    # the digest: absolute URL, width and height from the file (scaled to the column), alt
    message = BytesParser(policy=policy.default).parsebytes(
        (site / "outbox/2026-11-28/reader@example.org.eml").read_bytes()
    )
    body = message.get_body(("html",))
    assert body is not None
    digest = html.fromstring(body.get_content())
    (img,) = digest.xpath("//img")
    assert dict(img.attrib, style="") == {
        "class": "lead", "src": "https://example.org/articles/images/stage.png",
        "width": "544", "height": "408", "alt": "The youth orchestra on stage", "style": "",
    }  # fmt: skip
    # unchanged: not rewritten; a file we did not write is never removed
    mtime = (out / "images/stage.png").stat().st_mtime_ns
    (out / "images/mine.txt").write_text("the operator's own file")
    (site / "articles/images/stage.png").write_bytes(image)  # same bytes, new mtime
    assert run(site, NOW + timedelta(minutes=10)).ok
    assert (out / "images/stage.png").stat().st_mtime_ns == mtime
    # a replaced image is republished though no article changed
    (site / "articles/images/stage.png").write_bytes(png(10, 10))
    assert run(site, NOW + timedelta(minutes=20)).ok
    assert (out / "images/stage.png").read_bytes() == png(10, 10)
    # no longer linked: removed, with its folder; the operator's file stays
    write(site / "articles/concert.md", IMAGE_ARTICLE.split("The orchestra")[0] + "No pictures.\n")
    assert run(site, NOW + timedelta(minutes=30)).ok
    assert not (out / "images/stage.png").exists() and not (out / "files").exists()
    assert (out / "images/mine.txt").read_text() == "the operator's own file"


def test_files_outside_the_articles_folder_are_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    (tmp_path / "private.png").write_bytes(png(2, 2))
    (site / "articles/inside").mkdir()
    (site / "articles/inside/link.png").symlink_to(tmp_path / "private.png")
    (site / "articles/.hidden.png").write_bytes(png(2, 2))
    write(
        site / "articles/a.md",
        "# Escapes\n\n![up](../private.png)\n\n![through a link](inside/link.png)\n\n"
        "![hidden](.hidden.png) and [an article](b.txt)\n",
    )
    write(site / "articles/b.txt", "B\n\nText.\n")
    report = run(site)
    assert report.ok and sorted(report.warnings) == [
        "a.md:3: linked file '../private.png' points outside the articles folder; not published",
        "a.md:5: linked file 'inside/link.png' is a symlink that leaves the articles folder; not published",
        "a.md:7: linked file '.hidden.png' is a hidden file; not published",
        "a.md:7: linked file 'b.txt' is an article file, not an asset: link to its page instead",
    ]
    published = {p.name for p in (site / "feeds").rglob("*") if p.is_file()}
    assert not published & {"private.png", "link.png", ".hidden.png", "b.txt"}


def test_check_lists_a_missing_linked_file_with_its_line(tmp_path: Path) -> None:
    from .conftest import run_cli

    site = make_site(tmp_path)
    write(site / "articles/a.md", "# Title\n\nText.\n\n![a chart](charts/q3.png)\n")
    done = run_cli(["check"], site)
    assert "a.md:5: linked file 'charts/q3.png' not found in the articles folder" in done.stderr
    assert done.returncode == 1 and not (site / "feeds").exists()  # check writes nothing
