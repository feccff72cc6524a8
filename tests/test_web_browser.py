"""The reader's whole round trip in a real browser, against a real `syndicate serve` process:
Chromium (Debian's, driven by Playwright) with JavaScript off fills the form on subscribe.html,
the confirmation message is read from the outbox or from an SMTP server (aiosmtpd), its link is
opened and the button pressed; then the `List-Unsubscribe` URL of a real digest gets the RFC
8058 one-click POST exactly as Gmail sends it (httpx: urlencoded body, no cookie, no redirect
followed), and the next digest leaves the address out.

Every page the web side shows passes the Nu Html Checker and axe-core (injected into the page)
in light and dark mode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from syndicate.pipeline import run_once
from syndicate.tokens import make_token

from .conftest import SECRET, free_port, use_smtp
from .test_email_clients import NODE_MODULES
from .test_html_valid import validator
from .webserve import (
    config_of,
    confirmation_link,
    confirmations,
    make_site,
    parse,
    publish,
    read_eml,
    serving,
    status_of,
    wait_for,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
READER = "bea.browser@example.net"


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_binary(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Mailbox:
    """Where the site's mail goes: the outbox (file delivery) or an aiosmtpd server."""

    def __init__(self, site: Path, handler: Any = None) -> None:
        self.site, self.handler = site, handler

    def received(self, address: str) -> list[EmailMessage]:
        if self.handler is None:
            files = sorted((self.site / "outbox").glob(f"*/{address}.eml"))
            return [read_eml(p) for p in files] + confirmations(self.site, address)
        return [parse(raw) for _, to, raw in list(self.handler.messages) if address in to]

    def confirmation(self, address: str) -> EmailMessage:
        def found() -> list[EmailMessage]:
            return [m for m in self.received(address) if m["Subject"].startswith("Confirm")]

        wait_for(found)
        return found()[0]

    def digests(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received(address) if m["List-Unsubscribe"]]


@pytest.fixture(params=["outbox", "smtp"])
def mailbox(request: pytest.FixtureRequest, sample: Path) -> Iterator[tuple[Mailbox, str]]:
    port = free_port()
    base = make_site(sample, port)
    handler = None
    if request.param == "smtp":
        controller, handler = request.getfixturevalue("smtp_server")
        use_smtp(sample, controller.port)
    publish(sample)
    with serving(sample, base):
        yield Mailbox(sample, handler), base


def add_story(site: Path, name: str) -> None:
    (site / "articles" / f"{name}.txt").write_text(
        f"A story called {name}\n\nIts first paragraph, long enough to be a summary.\n", "utf-8"
    )


def new_digest(site: Path) -> str:
    """A new story and a digest of it, delivered now (as the next `syndicate run` would)."""
    add_story(site, f"story-{datetime.now(UTC):%H%M%S%f}")
    report = run_once(config_of(site), datetime.now(UTC), force_digest=True)
    assert report.ok and report.digest_id, report
    return report.digest_id


def one_click_url(message: EmailMessage) -> str:
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.match(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
    assert found, message["List-Unsubscribe"]
    return found[1]


def test_sign_up_confirm_and_one_click_unsubscribe_without_javascript(
    browser: Any, mailbox: tuple[Mailbox, str]
) -> None:
    box, base = mailbox
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "index.html")
    page.click(".teaser h2 a")
    page.click("aside.cta a.button")  # every story's call-to-action leads to the form
    assert page.url == base + "subscribe.html#email"
    page.fill("#email", READER)
    page.fill("#name", "Bea Browser")
    page.click("form.signup button[type=submit]")
    assert page.text_content("h1") == "Check your inbox"

    message = box.confirmation(READER)
    assert message["To"] == f"Bea Browser <{READER}>"
    page.goto(confirmation_link(message))
    assert page.text_content("h1") == "Confirm your subscription"
    assert status_of(box.site, READER) is None  # opening the link is not confirming
    page.click("text=Confirm subscription")
    assert page.text_content("h1") == "You are subscribed"
    assert status_of(box.site, READER) == "active"
    context.close()

    new_digest(box.site)
    wait_for(lambda: box.digests(READER))
    digest = box.digests(READER)[-1]
    url = one_click_url(digest)
    assert url.startswith(base + "unsubscribe?token=u") and "bea" not in url
    answer = httpx.post(  # what Gmail sends: a form-encoded body, no cookie, no redirect
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "User-Agent": "Mozilla/5.0 (compatible; Google-Unsubscribe)"},
        follow_redirects=False, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert status_of(box.site, READER) == "unsubscribed"

    others = len(box.digests("reader@example.org"))
    new_digest(box.site)
    wait_for(lambda: len(box.digests("reader@example.org")) == others + 1)  # it went out...
    assert len(box.digests(READER)) == 1  # ...and not to the address that left


# -- validity and accessibility of every page -------------------------------------------------


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("axe.run(document)")
    assert len(result["passes"]) > 10  # it did check the page
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}
        for v in result["violations"]
    ]


def visit_every_page(page: Any, base: str, site: Path) -> Iterator[str]:
    """Walk the reader's pages in the browser, yielding each one's name once it shows."""
    page.goto(base + "subscribe.html")
    yield "subscribe.html"
    page.fill("#email", "axe.reader@example.net")
    page.click("form.signup button[type=submit]")
    yield "check your inbox"
    link = confirmation_link(Mailbox(site).confirmation("axe.reader@example.net"))
    page.goto(link)
    yield "confirm"
    page.click("text=Confirm subscription")
    yield "subscribed"
    page.goto(link)
    yield "link used (400)"
    page.goto(base + "confirm?token=cAAAA")
    yield "bad link (400)"
    page.goto(base + "unsubscribe?token=" + make_token(SECRET, "axe.reader@example.net"))
    yield "unsubscribe"
    page.click("text=Unsubscribe")
    yield "unsubscribed"
    page.goto(base + "no-such-page.html")
    yield "not found (404)"


@pytest.fixture
def served_file_site(sample: Path) -> Iterator[tuple[Path, str]]:
    base = make_site(sample, free_port(), web="signups_per_hour = 100\n")
    publish(sample)
    with serving(sample, base):
        yield sample, base


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_axe_violations(
    browser: Any, served_file_site: tuple[Path, str], scheme: str
) -> None:
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: npm install --prefix .cache/node axe-core (.ci/run)")
    site, base = served_file_site
    # axe is a script: this context runs it (past the pages' no-script policy); the pages
    # themselves carry none
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    seen, problems = [], {}
    for name in visit_every_page(page, base, site):
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        seen.append(name)
        if found := axe_violations(page):
            problems[name] = found
    context.close()
    assert len(seen) == 9
    assert problems == {}


def test_every_page_is_valid_html(served_file_site: tuple[Path, str], tmp_path: Path) -> None:
    command = validator()
    site, base = served_file_site
    http = httpx.Client(base_url=base, timeout=30)
    origin = {"Origin": base.rstrip("/")}
    pages = {
        "subscribe": http.get("subscribe.html"),
        "inbox": http.post("subscribe", data={"email": "vnu@example.net"}, headers=origin),
        "bad-address": http.post("subscribe", data={"email": "nope"}, headers=origin),
        "cross-origin": http.post(
            "subscribe", data={"email": "x@example.net"}, headers={"Origin": "https://evil.example"}
        ),
        "bad-link": http.get("confirm", params={"token": "nonsense"}),
        "not-found": http.get("nowhere.html"),
    }
    message = Mailbox(site).confirmation("vnu@example.net")
    link = confirmation_link(message)
    html_part = message.get_body(("html",))
    assert html_part is not None and link in str(html_part.get_content())
    token = link.split("token=", 1)[1]
    pages["confirm"] = http.get(link)
    pages["subscribed"] = http.post("confirm", data={"token": token}, headers=origin)
    pages["used"] = http.post("confirm", data={"token": token}, headers=origin)
    unsub = make_token(SECRET, "vnu@example.net")
    pages["unsubscribe"] = http.get("unsubscribe", params={"token": unsub})
    pages["unsubscribed"] = http.post(f"unsubscribe?token={unsub}", data={"token": unsub})
    files = []
    for name, answer in pages.items():
        assert answer.headers["content-type"].startswith("text/html"), name
        path = tmp_path / f"{name}.html"
        path.write_bytes(answer.content)
        files.append(str(path))
    (tmp_path / "confirmation-message.html").write_text(str(html_part.get_content()), "utf-8")
    files.append(str(tmp_path / "confirmation-message.html"))
    done = subprocess.run(
        [command, "--show-warnings", "--format", "text", *files],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
