"""Pick-up in chunks (`pickup.CHUNK`) decides exactly what one big pass decides: moves across
chunks, an article turned draft, a deleted file, newcomers and an id conflict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from syndicate.config import load_config
from syndicate.pipeline import pickup, run_once
from syndicate.store import Store

from .conftest import NOW


def _edit(site: Path) -> None:
    articles = site / "articles"
    (articles / "000_f36433ad3d5972c7.txt").rename(articles / "zz_renamed.txt")  # a new id
    (articles / "001_mover.txt").rename(articles / "zz_mover.txt")  # same id, a late chunk
    draft = articles / "002_642c34c5d4d49eab.txt"
    draft.write_text("+++\ndraft = true\n+++\n" + draft.read_text())
    (articles / "004_7fa11cc48f4579dc.txt").unlink()
    for n in range(5):
        (articles / f"1{n}_new.txt").write_text(f"Newcomer {n}\n\nText {n}.\n")
    (articles / "15_clash.txt").write_text('+++\nid = "10_new"\n+++\nClash\n\nText.\n')


def _outcome(site: Path, chunk: int, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    monkeypatch.setattr(pickup, "CHUNK", chunk)
    config = load_config(site / "config.toml")
    (site / "articles" / "001_mover.txt").write_text('+++\nid = "mover"\n+++\nMover\n\nText.\n')
    run_once(config, NOW)
    _edit(site)
    report = run_once(config, NOW.replace(hour=13))
    store = Store.open(config.paths.database)
    live = sorted((e.article.id, e.article.source) for e in store.entries())
    stats = sorted(store.file_stats())
    store.close()
    counts = (report.new, report.changed, report.removed, report.unchanged, report.drafts)
    return counts, sorted(str(p) for p in report.problems), live, stats


def test_chunks_decide_what_one_pass_decides(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    shutil.copytree(sample, other)
    chunked = _outcome(sample, 2, monkeypatch)
    whole = _outcome(other, 10_000, monkeypatch)
    assert chunked == whole
    counts, problems, live, _ = chunked
    assert ("mover", "zz_mover.txt") in live  # moved, not removed and re-added
    assert len(problems) == 1 and "15_clash.txt" in problems[0]
    assert counts[0] == 6 and counts[2] == 3  # newcomers and the renamed file; the old name,
    # the draft and the deleted file leave
