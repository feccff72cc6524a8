"""The README's nginx snippet, run for real on 127.0.0.1: `nginx -t` accepts it, each feed gets
its Content-Type, text is gzipped, caching headers are set, an unchanged feed keeps its ETag
across runs (so readers get 304), and the manifest is hidden. In front of a real `syndicate
serve` (`[web] static = false`), it proxies sign-up, confirm and one-click unsubscribe, and a
client cannot pick its own address for the sign-up limit."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from syndicate.config import load_config
from syndicate.pipeline import run_once
from syndicate.tokens import make_token

from .conftest import NOW, ROOT, SECRET, edit_config, free_port
from .webserve import (
    confirmation_link,
    confirmations,
    make_site,
    publish,
    serving,
    status_of,
    wait_for,
)

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


def configure(tmp: Path, root: Path, port: int, upstream: int = 8080) -> Path:
    server = readme_snippet().replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("root /srv/newsletter/feeds;", f"root {root};")
    server = server.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};")
    conf = tmp / "nginx.conf"
    conf.write_text(WRAPPER.format(tmp=tmp, server=server))
    return conf


@pytest.fixture
def published(sample: Path) -> Path:
    assert run_once(load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET}), NOW).ok
    return sample / "feeds"


@contextlib.contextmanager
def running_nginx(tmp_path: Path, root: Path, port: int, upstream: int = 8080) -> Iterator[str]:
    binary = nginx()
    conf = configure(tmp_path, root, port, upstream)
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


@pytest.fixture
def server(published: Path, tmp_path: Path) -> Iterator[str]:
    with running_nginx(tmp_path, published, free_port()) as url:
        yield url


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


# -- in front of `syndicate serve` ------------------------------------------------------------


@pytest.fixture
def proxied(sample: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """nginx on one port in front of `syndicate serve` on another (static files from nginx)."""
    front, back = free_port(), free_port()
    base = make_site(sample, front)
    edit_config(sample, "static = true", "static = false")
    edit_config(sample, f'listen = "127.0.0.1:{front}"', f'listen = "127.0.0.1:{back}"')
    publish(sample)
    (tmp_path / "nginx").mkdir()
    with running_nginx(tmp_path / "nginx", sample / "feeds", front, back) as url:
        assert url == base
        with serving(sample, base, probe=f"http://127.0.0.1:{back}/subscribe"):
            yield sample, base


def test_nginx_proxies_the_readers_side(proxied: tuple[Path, str]) -> None:
    site, base = proxied
    http = httpx.Client(base_url=base, timeout=30)
    page = http.get("subscribe.html")  # from nginx's root
    assert page.status_code == 200 and "content-security-policy" not in page.headers
    answer = http.post("subscribe", data={"email": "via.nginx@example.net"},
                       headers={"Origin": base.rstrip("/")})  # fmt: skip
    assert answer.status_code == 200 and "<h1>Check your inbox</h1>" in answer.text
    assert answer.headers["cache-control"] == "no-store"  # not nginx's `expires 5m`
    wait_for(lambda: confirmations(site, "via.nginx@example.net"))
    link = confirmation_link(confirmations(site, "via.nginx@example.net")[0])
    assert link.startswith(base + "confirm?token=")
    assert http.get(link).status_code == 200
    token = link.split("token=", 1)[1]
    confirmed = http.post("confirm", data={"token": token}, headers={"Origin": base.rstrip("/")})
    assert confirmed.status_code == 200 and status_of(site, "via.nginx@example.net") == "active"
    one_click = http.post(
        "unsubscribe?token=" + make_token(SECRET, "via.nginx@example.net"),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "location" not in one_click.headers
    assert status_of(site, "via.nginx@example.net") == "unsubscribed"
    assert http.post("subscribe", content=b"x" * 20_000).status_code == 413  # nginx's limit


def test_behind_nginx_a_client_cannot_choose_its_address(proxied: tuple[Path, str]) -> None:
    _, base = proxied
    http = httpx.Client(base_url=base, timeout=30)
    codes = [
        http.post(
            "subscribe",
            data={"email": f"spoof{n}@example.net"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(21)
    ]
    assert codes == [200] * 20 + [429]  # all counted as 127.0.0.1, nginx's view of the client
