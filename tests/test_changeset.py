"""Reruns planned from their change set (issue 18): what they read, write and keep, the
fallbacks to a full plan, `syndicate run --full`, and publishing part of a folder (the
manifest's journal). That the bytes equal a full build's is tests/test_changeset_property.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate import deliver
from syndicate.config import load_config
from syndicate.deliver import manifest as records
from syndicate.deliver import publishing
from syndicate.errors import DeliveryError
from syndicate.models import RunReport
from syndicate.pipeline import run_once
from syndicate.pipeline.context import Pass
from syndicate.pipeline.pickup import pick_up
from syndicate.store import Store

from .conftest import NOW, SECRET

CONFIG = """\
[site]
title = "The Gazette"
url = "https://example.org/"

[feeds]
page_size = 3

[paths]
output = "output"
"""


def make_site(root: Path, count: int = 10) -> Path:
    (root / "articles").mkdir(parents=True)
    (root / "config.toml").write_text(CONFIG)
    for n in range(count):
        tag = "odd" if n % 2 else "even"
        (root / "articles" / f"{n:02d}.md").write_text(
            f'+++\ndate = 2026-01-{n + 1:02d}T10:00:00Z\ntags = ["{tag}"]\n+++\n# Story {n}\n\nText.\n'
        )
    return root


def run(site: Path, hours: int, **options: bool) -> RunReport:
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    return run_once(config, NOW + timedelta(hours=hours), **options)


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".syndicate-")
    }


def no_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading every article (the full plan's listing) fail the test."""

    def refuse(self: Store) -> None:
        raise AssertionError("the whole listing was read")

    monkeypatch.setattr(Store, "listing", refuse)


def test_one_new_article_touches_its_pages_only_and_reads_no_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path)
    run(site, 1)
    before = stats(site / "output")
    no_listing(monkeypatch)
    (site / "articles" / "new.md").write_text(
        '+++\ndate = 2026-02-01T10:00:00Z\ntags = ["odd"]\n+++\n# New\n\nText.\n'
    )
    done = run(site, 2)
    assert sorted(done.files_written) == [
        "articles/new.html", "atom.xml", "feed.json", "index.html", "page/3.html",
        "rss.xml", "tags/odd/atom.xml", "tags/odd/feed.json", "tags/odd/index.html",
        "tags/odd/page/1.html", "tags/odd/rss.xml",
    ]  # fmt: skip
    after = stats(site / "output")
    untouched = set(before) - set(done.files_written)
    assert untouched and all(after[p] == before[p] for p in untouched)  # not even rewritten
    recorded = deliver.read_manifest(site / "output")
    assert set(recorded) == set(after)  # every record kept, the new ones added
    assert (site / "output" / deliver.JOURNAL).exists()


def test_a_pick_up_whose_run_died_is_published_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path)
    run(site, 1)
    (site / "articles" / "03.md").unlink()
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    store = Store.open(config.paths.database)
    try:  # the run that picked this up was killed before it built
        pick_up(Pass.start(config, store, NOW + timedelta(hours=2)))
    finally:
        store.close()
    no_listing(monkeypatch)
    done = run(site, 3)  # the folder is unchanged since: only the change log tells
    assert "articles/03.html" in done.files_removed
    assert not (site / "output" / "articles" / "03.html").exists()
    assert "Story 3" not in (site / "output" / "tags" / "odd" / "index.html").read_text()


def test_what_the_whole_site_depends_on_plans_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path)
    run(site, 1)
    with monkeypatch.context() as patched:
        no_listing(patched)
        (site / "config.toml").write_text(CONFIG.replace("The Gazette", "The Herald"))
        with pytest.raises(AssertionError, match="whole listing"):
            run(site, 2)
    run(site, 3)  # a full plan
    assert "The Herald" in (site / "output" / "articles" / "00.html").read_text()
    with monkeypatch.context() as patched:  # a new tag changes the tag folders: full as well
        no_listing(patched)
        (site / "articles" / "x.md").write_text('+++\ntags = ["new"]\n+++\n# X\n\nText.\n')
        with pytest.raises(AssertionError, match="whole listing"):
            run(site, 4)


def test_run_full_plans_every_file(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    env = {**os.environ, "SYNDICATE_SECRET": SECRET}
    command = [sys.executable, "-m", "syndicate", "-v", "run", "--now", "2026-11-28T12:00:00Z"]
    first = subprocess.run(command, cwd=site, env=env, capture_output=True, text=True, check=True)
    assert "plan=full" in first.stderr
    (site / "articles" / "new.md").write_text("# New\n\nText.\n")
    command[-1] = "2026-11-28T13:00:00Z"
    second = subprocess.run(command, cwd=site, env=env, capture_output=True, text=True, check=True)
    assert "plan=changes" in second.stderr
    (site / "output" / "articles" / "00.html").unlink()  # only a full plan notices
    command[-1] = "2026-11-28T14:00:00Z"
    third = subprocess.run(
        [*command, "--full"], cwd=site, env=env, capture_output=True, text=True, check=True
    )
    assert "plan=full" in third.stderr and (site / "output" / "articles" / "00.html").exists()


# --- publishing part of a folder -----------------------------------------------------------------


def test_a_publish_in_part_keeps_every_other_file_and_record(tmp_path: Path) -> None:
    root = tmp_path / "out"
    deliver.publish(root, {"a.html": b"a", "b.html": b"b", "c/d.html": b"d"}, stamp="s1")
    assert deliver.publishes_in_part(root)
    done = deliver.publish(
        root, [("a.html", b"A")], {"a.html": "k"}, "s2", removals={"c/d.html", "gone.html"}
    )
    assert (done.written, done.removed) == (("a.html",), ("c/d.html",))
    assert (root / "b.html").read_bytes() == b"b" and not (root / "c").exists()
    assert set(deliver.read_manifest(root)) == {"a.html", "b.html"}
    assert deliver.read_manifest(root)["a.html"] == "k"
    assert deliver.read_stamp(root) == "s2"
    (root / "b.html").write_bytes(b"by hand")  # not syndicate's any more: never overwritten
    done = deliver.publish(root, [("b.html", b"B")], {"b.html": "k"}, "s3", removals=set())
    assert done.refused and (root / "b.html").read_bytes() == b"by hand"
    assert deliver.read_stamp(root) == ""  # refused: the next run plans in full


def test_the_journal_is_folded_into_the_manifest_and_a_whole_publish_supersedes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "out"
    deliver.publish(root, {f"{n}.html": b"x" for n in range(5)}, stamp="s")
    monkeypatch.setattr(publishing, "COMPACT", 2)
    deliver.publish(root, [("0.html", b"0")], {"0.html": "k0"}, "s", removals=set())
    assert json.loads((root / deliver.JOURNAL).read_bytes())["files"]["0.html"][0] == "k0"
    deliver.publish(root, [("1.html", b"1"), ("9.html", b"9")], {"1.html": "k1", "9.html": "k9"},
                    "s", removals={"2.html"})  # fmt: skip
    assert not (root / deliver.JOURNAL).exists()  # folded: 4 records > COMPACT
    whole = records.parse((root / deliver.MANIFEST).read_bytes()).files
    assert {p: r.key for p, r in whole.items()} == {
        "0.html": "k0",
        "1.html": "k1",
        "3.html": "",
        "4.html": "",
        "9.html": "k9",
    }
    deliver.publish(root, [("3.html", b"3")], {"3.html": "k3"}, "s", removals=set())
    deliver.publish(root, {"3.html": b"3", "4.html": b"x"}, stamp="s")  # whole: 3 and 4 only
    assert set(deliver.read_manifest(root)) == {"3.html", "4.html"}
    assert not (root / deliver.JOURNAL).exists()


def test_a_damaged_journal_or_a_killed_publish_asks_for_a_whole_publish(tmp_path: Path) -> None:
    root = tmp_path / "out"
    deliver.publish(root, {"a.html": b"a"}, stamp="s")
    (root / deliver.JOURNAL).write_text("{not json")
    assert not deliver.publishes_in_part(root)
    assert deliver.load_manifest(root).damage
    (root / deliver.JOURNAL).unlink()
    assert deliver.publishes_in_part(root)
    (root / deliver.PENDING).write_text('{"files": {}}')
    assert not deliver.publishes_in_part(root)
    with pytest.raises(DeliveryError, match="publish it whole"):
        deliver.publish(root, [], {}, "s", removals=set())
