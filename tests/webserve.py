"""A real `syndicate serve` process on 127.0.0.1 for the web tests, and helpers to read what it
mailed (the outbox, or an aiosmtpd server) and to ask the state database."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

from syndicate.config import Config, load_config
from syndicate.pipeline import run_once
from syndicate.store import Store

from .conftest import NOW, SECRET, edit_config

LINK = re.compile(r"https?://\S+/confirm\?token=[A-Za-z0-9_%-]+")


def make_site(site: Path, port: int, web: str = "") -> str:
    """Point the sample at http://127.0.0.1:<port>/ with the web side on that port; returns
    the base URL. `web`: more `[web]` lines."""
    base = f"http://127.0.0.1:{port}/"
    edit_config(site, 'url = "https://example.org/"', f'url = "{base}"')
    edit_config(site, 'url = "https://example.org/subscribe.html#email"', "# url = ''")
    edit_config(site, 'listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"\n{web}')
    return base


def config_of(site: Path) -> Config:
    return load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET})


def publish(site: Path) -> None:
    assert run_once(config_of(site), NOW).ok


@contextmanager
def serving(site: Path, base: str, probe: str = "", listen: str = "") -> Iterator[Path]:
    """`python -m syndicate -v serve` until the block ends; yields its log file. `probe`: the
    URL that answers once it listens (default: subscribe.html under `base`); `listen`: run as
    another instance, on this address."""
    log = site / (f"serve-{listen.replace(':', '-')}.log" if listen else "serve.log")
    extra = ["--listen", listen] if listen else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_SECRET"] = SECRET
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicate", "--config", str(site / "config.toml"), "-v",
             "serve", *extra], stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded wait until it answers
            try:
                urllib.request.urlopen(probe or base + "subscribe.html", timeout=2).close()
                break
            except urllib.error.HTTPError:  # it answers (e.g. 405 for GET on a POST address)
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def confirmation_link(message: EmailMessage) -> str:
    found = LINK.search(text_of(message))
    assert found, text_of(message)
    return found[0]


def confirmations(site: Path, address: str) -> list[EmailMessage]:
    """The confirmation messages written to the outbox for `address`, oldest first."""
    found = sorted((site / "outbox" / "confirmations").glob(f"*/{address}.eml"),
                   key=lambda p: p.stat().st_mtime_ns)  # fmt: skip
    return [read_eml(p) for p in found]


def wait_for(check: object, timeout: float = 20) -> None:
    """Poll `check()` until true (the confirmation is sent after the answer)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status_of(site: Path, address: str) -> str | None:
    store = Store.open(config_of(site).paths.database)
    try:
        return next((p.status for p in store.subscribers() if p.email == address), None)
    finally:
        store.close()
