"""Stable forever, end to end through `run_once`: ids, guids and URLs survive edits, renames with
a front-matter id and a rebuild from an empty database; an edit bumps only its own entry's
`updated` and the feeds'; a deleted article leaves every feed, its tags' feeds included.
(tests/test_pipeline.py covers which files an edit rewrites and that a page goes.)"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import feedparser

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, SECRET

STORY = """+++
id = "council-budget"
date = 2026-11-20T09:00:00
tags = ["city hall"]
+++
# Council passes the budget

The council met on Tuesday and passed the budget.
"""


def run(site: Path, minutes: int = 0) -> None:
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    assert run_once(config, NOW + timedelta(minutes=minutes)).ok


def atom_entries(site: Path, path: str = "atom.xml") -> dict[str, dict[str, str]]:
    parsed = feedparser.parse((site / "feeds" / path).read_bytes())
    assert not parsed.bozo
    return {e.id: {"updated": e.updated, "link": e.link, "title": e.title} for e in parsed.entries}


def ids_everywhere(site: Path) -> tuple[list[str], list[str], list[str]]:
    feeds = site / "feeds"
    rss = [e.id for e in feedparser.parse((feeds / "rss.xml").read_bytes()).entries]
    atom = [e.id for e in feedparser.parse((feeds / "atom.xml").read_bytes()).entries]
    json_ids = [i["id"] for i in json.loads((feeds / "feed.json").read_bytes())["items"]]
    return rss, atom, json_ids


def test_edit_and_rename_keep_the_id_and_bump_only_that_entry(sample: Path) -> None:
    story = sample / "articles" / "budget.md"
    story.write_text(STORY)
    run(sample)
    url = "https://example.org/articles/council-budget.html"
    before = atom_entries(sample)
    assert url in before
    feed_updated = feedparser.parse((sample / "feeds" / "atom.xml").read_bytes()).feed.updated

    story.write_text(STORY.replace("passed the budget.", "passed the budget, 7 to 2."))
    run(sample, minutes=30)
    after = atom_entries(sample)
    assert set(after) == set(before)
    assert after[url]["updated"] == (NOW + timedelta(minutes=30)).isoformat()
    assert {k: v for k, v in after.items() if k != url} == {
        k: v for k, v in before.items() if k != url
    }
    parsed = feedparser.parse((sample / "feeds" / "atom.xml").read_bytes())
    assert parsed.feed.updated == after[url]["updated"] != feed_updated

    story.rename(sample / "articles" / "2026-budget-renamed.md")
    run(sample, minutes=60)
    assert atom_entries(sample) == after  # same id, guid, URL and times after a rename
    rss, atom, json_ids = ids_everywhere(sample)
    assert rss == atom == json_ids and url in rss


def test_rebuild_from_an_empty_database_keeps_ids_and_urls(sample: Path) -> None:
    (sample / "articles" / "budget.md").write_text(STORY)
    run(sample)
    before = ids_everywhere(sample)
    tag_feed = atom_entries(sample, "tags/city-hall/atom.xml")
    shutil.rmtree(sample / "state")
    run(sample, minutes=5)
    assert ids_everywhere(sample) == before
    rebuilt = atom_entries(sample, "tags/city-hall/atom.xml")
    assert set(rebuilt) == set(tag_feed)  # front-matter date: same published time too
    assert [v["link"] for v in rebuilt.values()] == [v["link"] for v in tag_feed.values()]


def test_a_deleted_article_leaves_the_main_and_its_tag_feeds(sample: Path) -> None:
    story = sample / "articles" / "budget.md"
    story.write_text(STORY)
    run(sample)
    tag_folder = sample / "feeds" / "tags" / "city-hall"
    assert (tag_folder / "rss.xml").exists()
    story.unlink()
    run(sample, minutes=10)
    assert "council-budget" not in json.dumps(ids_everywhere(sample))
    assert not (sample / "feeds" / "articles" / "council-budget.html").exists()
    assert not tag_folder.exists()  # its only tag's feeds and page went, and so did the folder
    assert (sample / "feeds" / "tags" / "music" / "rss.xml").exists()
