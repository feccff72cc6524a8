"""The archive in a real browser: headless Chromium loads index.html, an article page and
subscribe.html from a real HTTP server on 127.0.0.1 at 375 px and 1280 px wide, and the test
checks that nothing overflows sideways, the stylesheet applies and the feed links are there.

The pages themselves carry no JavaScript; the test's own probe page frames each page at the
wanted width and writes what it measured into its DOM, which `--dump-dom` prints.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, SECRET, free_port

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title></head><body style="margin:0">
<iframe id="f" src="{page}" style="width:{width}px;height:800px;border:0"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {{
  var d = this.contentDocument, root = d.documentElement;
  var feeds = Array.prototype.map.call(
    d.querySelectorAll("link[rel=alternate]"), function (l) {{ return l.type + " " + l.href; }});
  var result = {{scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    maxWidth: getComputedStyle(d.body).maxWidth, feeds: feeds,
    subscribe: d.querySelectorAll("a[href$='subscribe.html']").length}};
  document.body.setAttribute("data-result", JSON.stringify(result));
}});
</script></body></html>
"""
PAGES = ("index.html", "articles/000-f36433ad3d5972c7.html", "articles/wide.html", "subscribe.html")
WIDE = (  # what breaks phone layouts: long words, long lines of code, wide tables and images
    "# Supercalifragilistic"
    + "expialidocious" * 12
    + "\n\n"
    + "https://example.org/"
    + "a" * 300
    + "\n\n"
    + "    "
    + "code_that_never_wraps(" * 12
    + "\n\n"
    + "![wide](data:image/gif;base64,R0lGODlhAQABAAAAACw=)\n"
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    return found


@pytest.fixture
def served(sample: Path) -> Iterator[tuple[Path, str]]:
    """The sample published for http://127.0.0.1:<port>/ and served from there."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    config = sample / "config.toml"
    config.write_text(
        config.read_text().replace('url = "https://example.org/"', f'url = "{url}"', 1)
    )
    (sample / "articles" / "wide.md").write_text(WIDE, encoding="utf-8")
    assert run_once(load_config(config, env={"SYNDICATE_SECRET": SECRET}), NOW).ok
    output = sample / "feeds"
    with serving(output, port):
        yield output, url


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path, port: int) -> Iterator[None]:
    """A static HTTP server for `folder` on 127.0.0.1:`port` while the block runs."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def measure(browser: str, output: Path, url: str, page: str, width: int) -> dict[str, object]:
    probe = f"_probe-{width}-{page.replace('/', '-')}"
    (output / probe).write_text(PROBE.format(page=page, width=width), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url + probe],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    found = re.search(r'data-result="([^"]*)"', done.stdout)
    assert found, f"no measurement for {page}: {done.stderr[-2000:]}"
    result: dict[str, object] = json.loads(html.unescape(found[1]))
    return result


@pytest.mark.parametrize("width", [375, 1280])
def test_pages_fit_the_screen_and_link_the_feeds(served: tuple[Path, str], width: int) -> None:
    browser = chromium()
    output, url = served
    for page in PAGES:
        result = measure(browser, output, url, page, width)
        client = int(str(result["clientWidth"]))
        assert width - 20 <= client <= width, result  # the frame's width less a scrollbar
        assert int(str(result["scrollWidth"])) <= client, (page, result)  # no sideways scroll
        assert result["maxWidth"] != "none", f"{page}: the stylesheet did not apply"
        assert result["feeds"] == [
            f"application/rss+xml {url}rss.xml",
            f"application/atom+xml {url}atom.xml",
            f"application/feed+json {url}feed.json",
        ], page
        assert int(str(result["subscribe"])) >= 1, page
