"""WebSub: after a run changes feeds, syndicate pings the hub over real HTTP on 127.0.0.1; a hub
that is down or failing is logged, never fatal, and pinged again on the next run."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from syndicate import websub
from syndicate.config import load_config
from syndicate.pipeline import run_once
from syndicate.store import Store

from .conftest import NOW, SECRET, free_port


class Hub(ThreadingHTTPServer):
    """A tiny WebSub hub: records each POST's form fields and answers `status`."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), HubHandler)
        self.pings: list[dict[str, list[str]]] = []
        self.status = 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"


class HubHandler(BaseHTTPRequestHandler):
    server: Hub

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
        self.server.pings.append(parse_qs(self.rfile.read(length).decode("ascii")))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def start(port: int) -> Hub:
    hub = Hub(port)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    return hub


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = start(free_port())
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def configure(site: Path, hub_url: str) -> None:
    config = site / "config.toml"
    text = config.read_text().replace('hub = ""', f'hub = "{hub_url}"\nhub_timeout = 5')
    config.write_text(text)


def pinged(hub: Hub) -> list[str]:
    assert all(p["hub.mode"] == ["publish"] for p in hub.pings)
    return sorted(url for p in hub.pings for url in p["hub.url"])


def run(site: Path, minutes: int = 0) -> None:
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    assert run_once(config, NOW + timedelta(minutes=minutes)).ok


def pending(site: Path) -> str | None:
    config = load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    store = Store.open(config.paths.database)
    try:
        return store.get_meta("websub.pending")
    finally:
        store.close()


def test_first_run_pings_every_feed_then_only_changed_ones(sample: Path, hub: Hub) -> None:
    configure(sample, hub.url)
    run(sample)
    urls = pinged(hub)
    assert "https://example.org/rss.xml" in urls and "https://example.org/feed.json" in urls
    assert "https://example.org/tags/music/atom.xml" in urls
    assert all(u.endswith(("rss.xml", "atom.xml", "feed.json")) for u in urls)
    hub.pings.clear()
    run(sample, minutes=10)
    assert hub.pings == []  # nothing changed, nothing to announce
    article = sample / "articles" / "001_72ea94c1d4ec9672.txt"
    article.write_text(article.read_text().replace("1.4 million", "1.5 million"))
    run(sample, minutes=20)
    assert pinged(hub) == [
        "https://example.org/atom.xml",
        "https://example.org/feed.json",
        "https://example.org/rss.xml",
    ]
    assert pending(sample) == "[]"


def test_a_hub_that_is_down_is_logged_and_retried_next_run(
    sample: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens here yet
    configure(sample, f"http://127.0.0.1:{port}/hub")
    with caplog.at_level(logging.WARNING, logger="syndicate"):
        run(sample)  # still ok: a hub that is down is never fatal
    assert "event=websub-ping-failed" in caplog.text
    assert "https://example.org/rss.xml" in (pending(sample) or "")
    hub = start(port)
    try:
        run(sample, minutes=10)  # nothing changed, but the pending pings go out now
        assert "https://example.org/rss.xml" in pinged(hub)
        assert pending(sample) == "[]"
    finally:
        hub.shutdown()
        hub.server_close()


def test_a_hub_error_answer_keeps_the_ping_pending(sample: Path, hub: Hub) -> None:
    configure(sample, hub.url)
    hub.status = 503
    run(sample)
    assert hub.pings and "https://example.org/atom.xml" in (pending(sample) or "")
    hub.status = 202
    hub.pings.clear()
    run(sample, minutes=10)
    assert "https://example.org/atom.xml" in pinged(hub)
    assert pending(sample) == "[]"


def test_no_hub_configured_sends_nothing_and_queues_nothing(sample: Path, hub: Hub) -> None:
    run(sample)
    assert hub.pings == [] and pending(sample) is None


def test_ping_reports_each_url(hub: Hub) -> None:
    hub.status = 204
    result = websub.ping(hub.url, ["https://example.org/rss.xml"], timeout=5)
    assert result.accepted == ("https://example.org/rss.xml",) and result.failed == {}
    hub.status = 404
    result = websub.ping(hub.url, ["https://example.org/atom.xml"], timeout=5)
    assert result.failed == {"https://example.org/atom.xml": "hub answered 404 Not Found"}


def test_a_silent_hub_times_out_instead_of_hanging() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hub"
        result = websub.ping(url, ["https://example.org/rss.xml"], timeout=0.5)
    assert result.accepted == ()
    assert "timed out" in result.failed["https://example.org/rss.xml"]


def test_a_dry_run_tells_the_hub_nothing(sample: Path, hub: Hub) -> None:
    from syndicate.pipeline import dry_run

    configure(sample, hub.url)
    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    report, folder = dry_run(config, NOW)
    assert report.ok and (folder / "feeds" / "rss.xml").exists()
    assert hub.pings == []


def test_status_shows_the_pings_still_pending(sample: Path) -> None:
    from .conftest import run_cli

    configure(sample, f"http://127.0.0.1:{free_port()}/hub")  # nothing listens there
    run(sample)
    done = run_cli(["status"], sample)
    assert done.returncode == 0
    assert re.search(r"websub pings pending: [1-9]\d* \(retried on the next run\)", done.stdout)


class Silent(threading.Thread):
    """An HTTP server on 127.0.0.1 that accepts every connection, reads the request and never
    answers: it counts the connections it was offered."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hub"

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.connections.append(self.sock.accept()[0])

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    server.start()
    try:
        yield server
    finally:
        server.close()


FEEDS = [f"https://example.org/tags/t{n}/rss.xml" for n in range(30)]


def test_a_silent_hub_costs_one_timeout_not_one_per_feed(silent: Silent) -> None:
    result = websub.ping(silent.url, FEEDS, timeout=0.5, budget=60)
    assert len(silent.connections) == 1  # the first ping's silence stops the rest
    assert result.accepted == () and set(result.failed) == set(FEEDS)
    assert "timed out" in result.failed[FEEDS[0]]
    assert all("did not answer this run" in result.failed[u] for u in FEEDS[1:])


def test_a_run_with_nothing_new_makes_at_most_one_attempt(sample: Path, silent: Silent) -> None:
    configure(sample, silent.url)
    config = sample / "config.toml"
    config.write_text(config.read_text().replace("hub_timeout = 5", "hub_timeout = 0.5"))
    run(sample)  # publishes: every feed changed, the hub is silent
    assert len(silent.connections) == 1
    assert len(json.loads(pending(sample) or "[]")) > 10  # all kept for later
    assert list((sample / "outbox").rglob("*.eml"))  # the mail went out all the same
    run(sample, minutes=10)  # nothing new: one probe of the pending pings, no more
    assert len(silent.connections) == 2


class Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_redirect_is_a_failure_and_is_never_followed(hub: Hub) -> None:
    Redirect.target = hub.url
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hub"
        result = websub.ping(url, ["https://example.org/rss.xml"], timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert result.accepted == ()
    assert "307" in result.failed["https://example.org/rss.xml"]
    assert "redirect: not followed" in result.failed["https://example.org/rss.xml"]
    assert hub.pings == []  # the redirect target heard nothing


class Slow(HubHandler):
    def do_POST(self) -> None:
        time.sleep(0.3)
        super().do_POST()


def test_all_pings_of_a_run_share_one_time_budget() -> None:
    server = Hub(0)
    server.RequestHandlerClass = Slow
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = websub.ping(server.url, FEEDS, timeout=5, budget=1)
    finally:
        server.shutdown()
        server.server_close()
    assert len(result.accepted) < len(FEEDS)  # each ping takes 0.3 s: 30 cannot fit in 1 s
    left = [u for u in FEEDS if u not in result.accepted]
    reasons = ("hub_budget", "timed out", "did not answer this run")  # the last ping may time out
    assert all(any(r in result.failed[u] for r in reasons) for u in left)
