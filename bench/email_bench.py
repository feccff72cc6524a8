"""Email benchmark: a digest of 50 articles to 10,000 subscribers.

Prints, as median (min/max) over --repeat runs:
  - render + inline: one digest through Jinja2 and premailer (once per digest);
  - per-recipient build: token + personalise + MIME message, per message (and, with --dkim,
    the DKIM signature on its own);
  - messages/s into a local aiosmtpd sink (a separate process) through `syndicate send` (the
    real pipeline: ledger commits per message) with 1 and 4 connections, beside plain smtplib
    sending the same pre-built messages over one connection without a ledger.

Run:  .venv/bin/python bench/email_bench.py [--recipients 10000] [--smtp-messages 2000] [--dkim]
Nothing here is asserted by the test suite; figures depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate import pipeline
from syndicate.config import Config, load_config
from syndicate.models import Article, Delivery, Entry, Subscriber
from syndicate.render.common import make_environment, site_for
from syndicate.render.digest import render_digest
from syndicate.render.dkim import DkimKey, sign
from syndicate.render.message import Skeleton
from syndicate.store import Store
from syndicate.tokens import make_token

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "bench-secret"
PARAGRAPH = "Astana hosted a regional forum on water, grain and transit corridors this week. " * 4


def entries(count: int) -> list[Entry]:
    out = []
    for n in range(count, 0, -1):
        when = NOW - timedelta(hours=n)
        body = f"{PARAGRAPH}\n\n{PARAGRAPH}"
        article = Article(
            id=f"a{n:03}", source=f"a{n:03}.txt", title=f"Story {n}: forum on water and grain",
            slug=f"a{n:03}", body_html=f"<p>{body}</p>", body_text=body,
            summary=PARAGRAPH[:240], content_hash=f"h{n}", date=when,
        )  # fmt: skip
        out.append(Entry(article, when, when))
    return out


def timed(repeat: int, action: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def show(label: str, values: list[float], unit: str, scale: float = 1.0) -> None:
    scaled = [v * scale for v in values]
    print(
        f"{label:<44} {statistics.median(scaled):10.3f} {unit} "
        f"(min {min(scaled):.3f}, max {max(scaled):.3f})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def sink(port: int) -> Iterator[None]:
    """aiosmtpd's discarding Sink handler, in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
    )  # fmt: skip
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait()


def site_folder(folder: Path, port: int, connections: int) -> Config:
    (folder / "articles").mkdir(exist_ok=True)
    (folder / "config.toml").write_text(
        '[site]\ntitle = "Bench Times"\nurl = "https://example.org/"\n'
        '[email]\nfrom = "Bench Times <news@example.org>"\ndelivery = "smtp"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"max_connections = {connections}\n"
    )
    return load_config(folder / "config.toml", {"SYNDICATE_SECRET": SECRET})


def queue_digest(config: Config, people: int, stories: list[Entry]) -> None:
    """Freeze one digest for `people` subscribers straight into the store (nothing sent)."""
    store = Store.open(config.paths.database)
    try:
        store.upsert_subscribers([Subscriber(f"r{n:05}@example.net") for n in range(people)], NOW)
        site = site_for(config, stories)
        digest = render_digest(
            make_environment(config.paths.templates), site, stories,
            digest_id="2026-11-28", created=NOW,
        )  # fmt: skip
        from syndicate.ingest import Changes

        store.apply(Changes(new=tuple(e.article for e in stories)), {}, NOW)
        store.freeze_digest(digest, [], NOW)
    finally:
        store.close()


def dkim_key() -> DkimKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DkimKey(pem, "bench", "example.org")


def reset_ledger(config: Config) -> None:
    with sqlite3.connect(config.paths.database.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE deliveries SET status='pending', attempts=0, next_attempt=NULL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--smtp-messages", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dkim", action="store_true", help="also time DKIM signing")
    args = parser.parse_args()
    stories = entries(args.articles)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = site_folder(Path(tmp), port, 1)
        site = site_for(config, stories)
        env = make_environment(config.paths.templates)

        def render() -> object:
            return render_digest(env, site, stories, digest_id="2026-11-28", created=NOW)

        print(f"digest of {args.articles} articles; {args.recipients} recipients")
        show("render + inline, per digest", timed(args.repeat, render), "ms", 1e3)
        digest = render_digest(env, site, stories, digest_id="2026-11-28", created=NOW)
        people = [
            Delivery("2026-11-28", f"r{n:05}@example.net", f"Reader {n}", "pending")
            for n in range(args.recipients)
        ]
        url = config.email.unsubscribe_url

        def build_all() -> list[bytes]:
            skeleton = Skeleton.for_digest(site, digest, config.email.sender)  # once per digest
            return [
                skeleton.build(p, url.replace("{token}", make_token(SECRET, p.email)))
                for p in people
            ]

        show("build, per recipient", timed(args.repeat, build_all), "ms", 1e3 / len(people))
        if args.dkim:
            key = dkim_key()
            few = build_all()[:1000]

            def sign_all() -> None:
                for message in few:
                    sign(message, key)

            show("DKIM signature (RSA 2048), per recipient", timed(args.repeat, sign_all), "ms",
                 1e3 / len(few))  # fmt: skip
        messages = build_all()[: args.smtp_messages]
        size = statistics.median(len(m) for m in messages)
        print(f"message size {size / 1024:.1f} KiB; SMTP runs send {len(messages)} messages")
        with sink(port):
            smtp_rates(config, Path(tmp), port, messages, stories, args)


def smtp_rates(
    config: Config, folder: Path, port: int, messages: list[bytes],
    stories: list[Entry], args: argparse.Namespace,
) -> None:  # fmt: skip
    import smtplib

    def plain() -> None:
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for n, message in enumerate(messages):
                conn.sendmail("news@example.org", [f"r{n:05}@example.net"], message)

    count = len(messages)
    rates = [count / t for t in timed(args.repeat, plain)]
    show("plain smtplib, 1 connection, no ledger", rates, "msg/s")
    queue_digest(config, count, stories)
    for connections in (1, 4):
        cfg = site_folder(folder, port, connections)

        def send(cfg: Config = cfg) -> None:
            reset_ledger(cfg)
            report = pipeline.send(cfg, NOW)
            assert report.sent == count, report

        rates = [count / t for t in timed(args.repeat, send)]
        show(f"syndicate send, {connections} connection(s), ledger", rates, "msg/s")


if __name__ == "__main__":
    main()
