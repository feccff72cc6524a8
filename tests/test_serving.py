"""The README's nginx snippet, run for real on 127.0.0.1: `nginx -t` accepts it, each feed gets
its Content-Type, text is gzipped, caching headers are set, an unchanged feed keeps its ETag
across runs (so readers get 304), and the manifest is hidden."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, ROOT, SECRET, free_port

WRAPPER = """daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ }}
http {{
    types {{ text/html html; text/css css; }}   # what the distribution's mime.types has
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
{server}
}}
"""


def nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )
    if found is None:
        pytest.skip("nginx is not installed (.ci/run installs nginx-light)")
    return found


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    serving = text.split("## Serving", 1)[1]
    found = re.search(r"```nginx\n(.*?)```", serving, re.S)
    assert found, "the README's Serving section has no nginx snippet"
    return found[1]


def configure(tmp: Path, root: Path, port: int) -> Path:
    server = readme_snippet().replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("root /srv/newsletter/feeds;", f"root {root};")
    conf = tmp / "nginx.conf"
    conf.write_text(WRAPPER.format(tmp=tmp, server=server))
    return conf


@pytest.fixture
def published(sample: Path) -> Path:
    assert run_once(load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET}), NOW).ok
    return sample / "feeds"


@pytest.fixture
def server(published: Path, tmp_path: Path) -> Iterator[str]:
    binary, port = nginx(), free_port()
    conf = configure(tmp_path, published, port)
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp_path)])
    try:
        _wait_until_it_answers(process, port, tmp_path / "error.log")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_it_answers(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until nginx serves; a deadline, not a count of tries: a busy machine may take seconds."""
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"nginx is not serving on port {port}: {text}") from None
            time.sleep(0.05)


def get(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_nginx_accepts_the_readme_snippet(tmp_path: Path) -> None:
    conf = configure(tmp_path, tmp_path, free_port())
    done = subprocess.run(
        [nginx(), "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("rss.xml", "application/rss+xml; charset=utf-8"),
        ("atom.xml", "application/atom+xml; charset=utf-8"),
        ("feed.json", "application/feed+json; charset=utf-8"),
        (f"tags/{quote('культура')}/atom.xml", "application/atom+xml; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ],
)
def test_types_compression_and_caching(server: str, path: str, content_type: str) -> None:
    status, headers = get(server + path, **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers.get("Content-Encoding") == "gzip"
    assert headers["ETag"] and headers["Last-Modified"]
    max_age = "86400" if path == "style.css" else "300"
    assert headers["Cache-Control"] == f"max-age={max_age}"


def test_an_unchanged_feed_keeps_its_etag_across_runs(
    server: str, published: Path, sample: Path
) -> None:
    _, first = get(server + "rss.xml")
    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    assert run_once(config, NOW).ok  # nothing changed: no file is rewritten
    status, _ = get(server + "rss.xml", **{"If-None-Match": first["ETag"]})
    assert status == 304
    _, later = get(server + "rss.xml")
    assert later["ETag"] == first["ETag"] and later["Last-Modified"] == first["Last-Modified"]


def test_bookkeeping_files_are_hidden(server: str, published: Path) -> None:
    assert (published / ".syndicate-manifest.json").exists()
    assert get(server + ".syndicate-manifest.json")[0] == 404
