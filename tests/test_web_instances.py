"""Two `syndicate serve` instances on one PostgreSQL database, as README "Serving" describes:
they share nothing but the database, so a sign-up made on one is confirmed on the other, the
per-client and per-address limits count across both, and a one-click unsubscribe on either
takes effect for both."""

from __future__ import annotations

from pathlib import Path

import httpx

from syndicate.tokens import make_token

from .conftest import SECRET, edit_config, free_port
from .webserve import (
    confirmation_link,
    confirmations,
    make_site,
    publish,
    serving,
    status_of,
    wait_for,
)


def test_two_instances_share_one_postgresql(sample: Path, postgres_url: str) -> None:
    first, second = free_port(), free_port()
    base = make_site(sample, first)
    edit_config(sample, 'database = "sqlite:///state/syndicate.db"', f'database = "{postgres_url}"')
    publish(sample)
    other = f"http://127.0.0.1:{second}/"
    with serving(sample, base), serving(sample, other, listen=f"127.0.0.1:{second}"):
        one, two = (httpx.Client(base_url=u, timeout=30) for u in (base, other))
        origin = {"Origin": base.rstrip("/"), "X-Forwarded-For": "192.0.2.9"}
        assert one.post(
            "subscribe", data={"email": "shared@example.net"}, headers=origin
        ).is_success
        wait_for(lambda: confirmations(sample, "shared@example.net"))
        token = confirmation_link(confirmations(sample, "shared@example.net")[0]).split("=", 1)[1]
        assert two.post("confirm", data={"token": token}, headers=origin).is_success
        assert status_of(sample, "shared@example.net") == "active"
        assert one.post("confirm", data={"token": token}, headers=origin).status_code == 400  # used

        # both limits count sign-ups on both instances: per address (3 a day), per client (20)
        for client in (one, two, one, two):
            assert client.post("subscribe", data={"email": "limit@example.net"},
                               headers=origin).status_code == 200  # fmt: skip
        codes = [c.post("subscribe", data={"email": f"h{n}@example.net"}, headers=origin).status_code
                 for n, c in enumerate([one, two] * 8)]  # fmt: skip
        assert codes == [200] * 15 + [429]  # 1 + 4 + 15 = 20 from this client, then refused
        wait_for(lambda: len(confirmations(sample, "h14@example.net")) == 1)
        wait_for(lambda: len(confirmations(sample, "limit@example.net")) >= 3)
        assert len(confirmations(sample, "limit@example.net")) == 3

        unsubscribe = make_token(SECRET, "shared@example.net")
        answer = two.post(
            f"unsubscribe?token={unsubscribe}", data={"List-Unsubscribe": "One-Click"}
        )
        assert (
            answer.status_code == 200 and status_of(sample, "shared@example.net") == "unsubscribed"
        )
