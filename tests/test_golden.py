"""Golden files: the sample publication's feeds, pages and digest, byte for byte.

A change to any output shows up here as a diff to review. To accept intended changes, regenerate
on purpose with `make golden` (SYNDICATE_UPDATE_GOLDEN=1) and commit the new files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import DATA, NOW, SECRET

GOLDEN = DATA / "golden"
OUTPUTS = {
    "rss.xml": "feeds/rss.xml",
    "atom.xml": "feeds/atom.xml",
    "feed.json": "feeds/feed.json",
    "tag-rss.xml": "feeds/tags/культура/rss.xml",
    "tag-page.html": "feeds/tags/культура/index.html",
    "index.html": "feeds/index.html",
    "article.html": "feeds/articles/000-f36433ad3d5972c7.html",
    "markdown-article.html": "feeds/articles/005-56a1e901b4ddc4db.html",
    "digest-web.html": "feeds/digests/2026-11-28.html",
    "digest.eml": "outbox/2026-11-28/reader@example.org.eml",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    from .conftest import ROOT

    site = tmp_path_factory.mktemp("golden")
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    shutil.copytree(ROOT / "articles", site / "articles")
    shutil.copytree(ROOT / "templates", site / "templates")
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    report = run_once(config, NOW)
    assert report.ok and report.digest_id == "2026-11-28"
    return site


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_output_matches_golden_file(rendered: Path, name: str) -> None:
    actual = (rendered / OUTPUTS[name]).read_bytes()
    golden = GOLDEN / name
    if os.environ.get("SYNDICATE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
    assert golden.exists(), f"missing {golden}: run `make golden` to create it"
    assert actual == golden.read_bytes(), f"{name} differs from {golden}; see `make golden`"
