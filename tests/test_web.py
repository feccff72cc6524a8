"""`syndicate serve` as a real process on 127.0.0.1, driven over HTTP: sign-up with double
opt-in, confirm, unsubscribe (page and RFC 8058 one-click, new and legacy tokens), and every
refusal: tampered, expired and reused links, the honeypot, both rate limits, a post from
another site, a body of 1 MB. Sign-ups for a new and an active address get identical answers.

Each test uses its own addresses and its own client address (X-Forwarded-For from 127.0.0.1,
which the server trusts as a proxy), so the shared server's rate limits keep them apart."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from syndicate.store import Store
from syndicate.tokens import (
    make_confirm_token,
    make_legacy_token,
    make_token,
    verify_confirm_token,
)

from .conftest import ROOT, SECRET, free_port, run_cli
from .webserve import (
    config_of,
    confirmation_link,
    confirmations,
    make_site,
    publish,
    serving,
    status_of,
    wait_for,
)

CLIENTS = (f"198.51.100.{n}" for n in itertools.count(1))


class Web:
    def __init__(self, site: Path, base: str, log: Path) -> None:
        self.site, self.base, self.log = site, base, log
        self.http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, client: str | None = None,
        origin: str | None = "", **kwargs: object,
    ) -> httpx.Response:  # fmt: skip
        """A form post as a browser on our own page makes it (Origin: the site), from
        `client` (a fresh client address unless given)."""
        headers = {"X-Forwarded-For": client or next(CLIENTS)}
        if origin is not None:
            headers["Origin"] = origin or self.base.rstrip("/")
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.http.post(path, data=data, headers=headers, **kwargs)  # type: ignore[arg-type]

    def sign_up(self, address: str, name: str = "", **kwargs: object) -> httpx.Response:
        return self.post("subscribe", {"email": address, "name": name, "website": ""}, **kwargs)

    def link_for(self, address: str, count: int = 1) -> str:
        wait_for(lambda: len(confirmations(self.site, address)) >= count)
        return confirmation_link(confirmations(self.site, address)[-1])


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    site = tmp_path_factory.mktemp("web") / "site"
    site.mkdir()
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    shutil.copytree(ROOT / "articles", site / "articles")
    shutil.copytree(ROOT / "templates", site / "templates")
    base = make_site(site, free_port())
    publish(site)
    with serving(site, base) as log:
        yield Web(site, base, log)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def flip(token: str, index: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:index] + alphabet[(alphabet.index(token[index]) + 32) % 64] + token[index + 1 :]


def test_sign_up_confirm_and_the_list(web: Web) -> None:
    answer = web.sign_up("new.reader@example.net", "Nadia  Reader")
    assert answer.status_code == 200 and "<h1>Check your inbox</h1>" in answer.text
    link = web.link_for("new.reader@example.net")
    message = confirmations(web.site, "new.reader@example.net")[0]
    assert message["To"] == "Nadia Reader <new.reader@example.net>"
    assert message["Subject"] == "Confirm your subscription to The Astana Times"
    assert link.startswith(web.base + "confirm?token=c")
    assert "new.reader" not in link  # the token names no address
    assert status_of(web.site, "new.reader@example.net") is None  # not on the list yet
    pending = run_cli(["status"], web.site)
    assert "pending_confirmations: " in pending.stdout

    page = web.http.get(link)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and 'type="submit">Confirm subscription</button>' in page.text
    assert status_of(web.site, "new.reader@example.net") is None
    done = web.post("confirm", {"token": token_of(link)})
    assert done.status_code == 200 and "<h1>You are subscribed</h1>" in done.text
    assert status_of(web.site, "new.reader@example.net") == "active"
    listed = run_cli(["subscribers", "list"], web.site).stdout
    assert "new.reader@example.net\tNadia Reader\tactive" in listed


def test_status_counts_pending_confirmations(web: Web) -> None:
    def pending() -> int:
        out = run_cli(["status"], web.site).stdout
        return int(out.split("pending_confirmations: ")[1].split()[0])

    before = pending()
    web.sign_up("pending.one@example.net")
    web.link_for("pending.one@example.net")
    assert pending() == before + 1


def test_answers_for_new_pending_active_and_unsubscribed_addresses_are_identical(
    web: Web,
) -> None:
    assert run_cli(["subscribers", "add", "active.one@example.net"], web.site).returncode == 0
    assert run_cli(["subscribers", "add", "gone.one@example.net"], web.site).returncode == 0
    assert run_cli(["subscribers", "remove", "gone.one@example.net"], web.site).returncode == 0
    web.sign_up("pending.two@example.net")
    answers = [
        web.sign_up(address, client="203.0.113.7")
        for address in ("brand.new@example.net", "active.one@example.net",
                        "pending.two@example.net", "gone.one@example.net")
    ]  # fmt: skip
    first = answers[0]
    for other in answers[1:]:
        assert other.status_code == first.status_code == 200
        assert other.content == first.content  # byte-identical
        assert sorted(k for k in other.headers if k != "date") == sorted(
            k for k in first.headers if k != "date"
        )
        assert {k: v for k, v in other.headers.items() if k != "date"} == {
            k: v for k, v in first.headers.items() if k != "date"
        }


def test_confirming_brings_back_an_address_that_left(web: Web) -> None:
    assert run_cli(["subscribers", "add", "came.back@example.net"], web.site).returncode == 0
    assert run_cli(["subscribers", "remove", "came.back@example.net"], web.site).returncode == 0
    web.sign_up("came.back@example.net")
    assert web.post(
        "confirm", {"token": token_of(web.link_for("came.back@example.net"))}
    ).is_success
    assert status_of(web.site, "came.back@example.net") == "active"


# -- refusals -------------------------------------------------------------------------------


def test_tampered_and_malformed_confirmation_links_are_refused(web: Web) -> None:
    web.sign_up("tamper.confirm@example.net")
    token = token_of(web.link_for("tamper.confirm@example.net"))
    bad = [flip(token, n) for n in (1, len(token) // 2, len(token) - 2)]
    bad += [token[:-3], token + "AA", "", "c", "x" * 3000, make_token(SECRET, "a@example.org")]
    for forged in bad:
        for answer in (web.http.get("confirm", params={"token": forged}),
                       web.post("confirm", {"token": forged})):  # fmt: skip
            assert answer.status_code == 400, forged
            assert "<h1>This link does not work</h1>" in answer.text
    assert status_of(web.site, "tamper.confirm@example.net") is None


def test_an_expired_confirmation_link_is_refused(web: Web) -> None:
    web.sign_up("late.reader@example.net")
    said = verify_confirm_token(SECRET, token_of(web.link_for("late.reader@example.net")))
    assert said is not None
    old = make_confirm_token(SECRET, said.ident, datetime.now(UTC) - timedelta(days=7, minutes=1))
    for answer in (web.http.get("confirm", params={"token": old}),
                   web.post("confirm", {"token": old})):  # fmt: skip
        assert answer.status_code == 400
        assert "<h1>This link has expired</h1>" in answer.text
    assert status_of(web.site, "late.reader@example.net") is None


def test_a_used_confirmation_link_is_refused_and_cannot_bring_a_reader_back(web: Web) -> None:
    web.sign_up("twice@example.net")
    web.sign_up("twice@example.net")  # two open links
    token = token_of(web.link_for("twice@example.net", 2))
    first = token_of(confirmation_link(confirmations(web.site, "twice@example.net")[0]))
    assert web.post("confirm", {"token": token}).status_code == 200
    assert status_of(web.site, "twice@example.net") == "active"
    run_cli(["subscribers", "remove", "twice@example.net"], web.site)
    for used in (token, first):  # the other open link was used up by the first confirmation
        answer = web.post("confirm", {"token": used})
        assert answer.status_code == 400 and "<h1>This link has been used</h1>" in answer.text
    assert status_of(web.site, "twice@example.net") == "unsubscribed"


def test_tampered_unsubscribe_links_are_refused_and_change_nothing(web: Web) -> None:
    run_cli(["subscribers", "add", "stays@example.net"], web.site)
    token = make_token(SECRET, "stays@example.net")
    legacy = make_legacy_token(SECRET, "stays@example.net")
    bad = [flip(token, 3), token[:-2], flip(legacy, 2), legacy.replace(".", ".A"), "", "u"]
    bad.append(make_token("another secret", "stays@example.net"))
    for forged in bad:
        for answer in (
            web.http.get("unsubscribe", params={"token": forged}),
            web.post(f"unsubscribe?token={forged}", {"List-Unsubscribe": "One-Click"}),
        ):
            assert answer.status_code == 400, forged
            assert "<h1>This link does not work</h1>" in answer.text
    assert status_of(web.site, "stays@example.net") == "active"


def test_the_honeypot_sends_nothing(web: Web) -> None:
    answer = web.post("subscribe", {"email": "bot.target@example.net", "website": "http://spam"})
    assert answer.status_code == 200 and "<h1>Check your inbox</h1>" in answer.text
    web.sign_up("after.bot@example.net")  # sent after the honeypot's: by then it would be there
    web.link_for("after.bot@example.net")
    assert confirmations(web.site, "bot.target@example.net") == []


def test_an_address_gets_at_most_three_confirmations_a_day(web: Web) -> None:
    for _ in range(5):  # each from another client: only the address's limit applies
        assert web.sign_up("bombed@example.net").status_code == 200
    web.sign_up("bombed.marker@example.net")
    web.link_for("bombed.marker@example.net")
    assert len(confirmations(web.site, "bombed@example.net")) == 3
    for _ in range(2):
        web.sign_up("BOMBED@example.net")  # the same address in other letters
    web.sign_up("bombed.marker2@example.net")
    web.link_for("bombed.marker2@example.net")
    assert confirmations(web.site, "BOMBED@example.net") == []


def test_a_client_gets_twenty_sign_ups_an_hour(web: Web) -> None:
    client = "192.0.2.44"
    for n in range(20):  # a household: several addresses, a few tries each
        assert web.sign_up(f"house{n}@example.net", client=client).status_code == 200
    refused = web.sign_up("house20@example.net", client=client)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "3600"
    assert "Too many sign-ups" in refused.text
    assert web.sign_up("house21@example.net", client="192.0.2.45").status_code == 200
    # IPv6: one /64 is one client
    for n in range(20):
        web.sign_up(f"six{n}@example.net", client=f"2001:db8:1:2::{n + 1:x}")
    assert web.sign_up("six20@example.net", client="2001:db8:1:2:ffff::1").status_code == 429
    assert web.sign_up("six21@example.net", client="2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/form.html"},
        {"Origin": "http://127.0.0.1:1", "Referer": "http://127.0.0.1:1/"},
    ],
)
def test_a_form_post_from_another_site_is_refused(web: Web, headers: dict[str, str]) -> None:
    address = f"csrf{abs(hash(str(headers)))}@example.net"
    answer = web.post("subscribe", {"email": address}, origin=None, headers=headers)
    assert answer.status_code == 403 and "another web site" in answer.text
    web.sign_up("after.csrf@example.net")
    web.link_for("after.csrf@example.net")
    assert confirmations(web.site, address) == []


def test_a_post_without_origin_or_referer_is_a_client_of_our_own(web: Web) -> None:
    answer = web.post("subscribe", {"email": "curl.user@example.net"}, origin=None)
    assert answer.status_code == 200
    assert web.link_for("curl.user@example.net")


def test_a_body_of_one_megabyte_is_refused(web: Web) -> None:
    big = {"email": "big@example.net", "name": "x" * 1_000_000}
    answer = web.post("subscribe", big)
    assert answer.status_code == 413
    chunked = web.http.post(  # no Content-Length: counted as it streams in
        "subscribe", content=iter([b"email=a%40example.net&name="] + [b"y" * 65536] * 16),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert chunked.status_code == 413
    assert web.sign_up("small@example.net").status_code == 200  # still serving
    assert confirmations(web.site, "big@example.net") == []


# -- unsubscribe ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["opaque", "legacy"])
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_as_mail_providers_post_it(
    web: Web, kind: str, encoding: str
) -> None:
    address = f"oneclick.{kind}.{encoding}@example.net"
    run_cli(["subscribers", "add", address], web.site)
    token = (make_token if kind == "opaque" else make_legacy_token)(SECRET, address)
    url = f"unsubscribe?token={token}"
    for _ in range(2):  # idempotent
        if encoding == "urlencoded":
            answer = web.http.post(url, content=b"List-Unsubscribe=One-Click", headers={
                "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        else:
            answer = web.http.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        assert answer.status_code == 200
        assert "set-cookie" not in answer.headers and "location" not in answer.headers
        assert status_of(web.site, address) == "unsubscribed"


def test_the_unsubscribe_page_asks_first(web: Web) -> None:
    run_cli(["subscribers", "add", "scanned@example.net"], web.site)
    token = make_token(SECRET, "scanned@example.net")
    page = web.http.get("unsubscribe", params={"token": token})
    assert page.status_code == 200 and 'type="submit">Unsubscribe</button>' in page.text
    assert status_of(web.site, "scanned@example.net") == "active"  # a GET changes nothing
    assert page.headers["referrer-policy"] == "no-referrer"
    answer = web.post("unsubscribe", {"token": token})  # the page's button
    assert answer.status_code == 200 and "<h1>You are unsubscribed</h1>" in answer.text
    assert status_of(web.site, "scanned@example.net") == "unsubscribed"


def test_a_bounced_address_stays_bounced(web: Web) -> None:
    run_cli(["subscribers", "add", "bounced.one@example.net"], web.site)
    store = Store.open(config_of(web.site).paths.database)
    try:
        store.set_subscriber_status("bounced.one@example.net", "bounced", datetime.now(UTC))
    finally:
        store.close()
    token = make_token(SECRET, "bounced.one@example.net")
    assert web.http.post(
        f"unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"}
    ).is_success
    assert status_of(web.site, "bounced.one@example.net") == "bounced"


# -- headers, logs, static files --------------------------------------------------------------


def test_security_headers(web: Web) -> None:
    token = make_token(SECRET, "reader@example.org")
    signed_up = web.sign_up("headers@example.net")
    assert signed_up.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    for answer in (
        signed_up,
        web.http.get("unsubscribe", params={"token": token}),
        web.http.get("confirm", params={"token": "cAAAA"}),
        web.post("confirm", {"token": "cAAAA"}),
    ):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script" not in policy  # no script at all
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        if answer is not signed_up:  # a link's page: its address holds a token
            assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "<script" not in answer.text
    static = web.http.get("index.html")
    assert "script-src 'none'" in static.headers["content-security-policy"]
    assert static.headers["x-content-type-options"] == "nosniff"


def test_logs_never_carry_a_whole_token(web: Web) -> None:
    web.sign_up("logged@example.net")
    token = token_of(web.link_for("logged@example.net"))
    web.http.get("confirm", params={"token": token})
    web.post("confirm", {"token": token})
    unsub = make_token(SECRET, "logged@example.net")
    web.http.post(f"unsubscribe?token={unsub}", data={"List-Unsubscribe": "One-Click"})
    web.http.get("confirm", params={"token": flip(token, 5)})
    wait_for(lambda: "path=/confirm status=400" in web.log.read_text())
    log = web.log.read_text()
    assert "event=confirmed" in log and "event=unsubscribed" in log
    for secret in (token, unsub, flip(token, 5), token[:16], unsub[:16]):
        assert secret not in log


def test_static_files_and_the_subscribe_address(web: Web) -> None:
    assert web.http.get("rss.xml").headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert web.http.get(".syndicate-manifest.json").status_code == 404
    missing = web.http.get("no/such/page.html")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    moved = web.http.get("subscribe")  # the old default call-to-action address
    assert moved.status_code == 303
    assert moved.headers["location"] == web.base + "subscribe.html#email"


def test_a_bad_address_gets_the_form_again(web: Web) -> None:
    for bad in ("not-an-address", "", "a@b", "x@example.org\r\nBcc: victim@example.org"):
        answer = web.sign_up(bad)
        assert answer.status_code == 400, bad
        assert 'name="email"' in answer.text and "Check the address" in answer.text


def test_a_name_cannot_add_a_mail_header(web: Web) -> None:
    web.sign_up("named@example.net", "Eve\r\nBcc: victim@example.org\r\nX-Evil: 1")
    web.link_for("named@example.net")
    message = confirmations(web.site, "named@example.net")
    assert message[0]["Bcc"] is None and message[0]["X-Evil"] is None
    assert message[0]["To"].addresses[0].addr_spec == "named@example.net"
    assert "Eve" in message[0]["To"].addresses[0].display_name
