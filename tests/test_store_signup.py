"""The web form's store (`store/signup.py`) on SQLite and PostgreSQL: the per-client and
per-address limits counted in the database, sign-ups joining the list only through
`upsert_subscribers`, used-up links, case-insensitive addresses and leaving by link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.models import Subscriber
from syndicate.store import Signup, Store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LIMITS = {"per_address": 3, "per_client": 5, "forget": T0 - timedelta(days=7)}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "postgresql":
        return Store.open(request.getfixturevalue("postgres_url"))
    return Store.open(f"sqlite:///{tmp_path}/state/db.sqlite")


def signup(n: int, email: str, at: datetime = T0) -> Signup:
    return Signup(f"id{n}", email, "", at, True, None)


def test_the_client_limit_counts_the_past_hour(store: Store) -> None:
    outcomes = [store.record_signup(signup(n, f"a{n}@example.org"), "client-1", **LIMITS)
                for n in range(6)]  # fmt: skip
    assert outcomes == ["mail"] * 5 + ["client-limit"]
    assert store.signup("id5") is None  # a refused sign-up leaves nothing behind
    other = store.record_signup(signup(6, "b@example.org"), "client-2", **LIMITS)
    assert other == "mail"
    later = signup(7, "c@example.org", T0 + timedelta(hours=1, seconds=1))
    assert store.record_signup(later, "client-1", **LIMITS) == "mail"


def test_the_address_limit_is_case_insensitive_and_daily(store: Store) -> None:
    spellings = ["Ann@example.org", "ann@example.org", "ANN@example.org", "ann@example.org"]
    outcomes = [store.record_signup(signup(n, e), f"c{n}", **LIMITS)
                for n, e in enumerate(spellings)]  # fmt: skip
    assert outcomes == ["mail", "mail", "mail", "address-limit"]
    unmailed = store.signup("id3")
    assert unmailed is not None and not unmailed.mailed
    next_day = signup(9, "ann@example.org", T0 + timedelta(days=1, seconds=1))
    assert store.record_signup(next_day, "c9", **LIMITS) == "mail"
    assert store.pending_signups(T0 - timedelta(days=7)) == 4  # the unmailed one is no link


def test_old_sign_ups_are_forgotten(store: Store) -> None:
    store.record_signup(signup(1, "old@example.org"), "c", **LIMITS)
    later = T0 + timedelta(days=8)
    store.record_signup(
        signup(2, "new@example.org", later), "c", **{**LIMITS, "forget": later - timedelta(days=7)}
    )
    assert store.signup("id1") is None and store.signup("id2") is not None


def test_confirming_uses_up_every_open_link_of_the_address(store: Store) -> None:
    for n in range(2):
        store.record_signup(signup(n, "Bo@example.org"), f"c{n}", **LIMITS)
    store.record_signup(signup(5, "other@example.org"), "c5", **LIMITS)
    assert store.use_up_signups("bo@example.org", T0) == 2
    assert all(store.signup(f"id{n}").confirmed == T0 for n in range(2))  # type: ignore[union-attr]
    assert store.signup("id5").confirmed is None  # type: ignore[union-attr]
    assert store.pending_signups(T0 - timedelta(days=1)) == 1


def test_leaving_by_link(store: Store) -> None:
    store.upsert_subscribers([Subscriber("Carla@example.org"), Subscriber("dan@example.org")], T0)
    store.set_subscriber_status("dan@example.org", "bounced", T0)
    assert store.leave_by_link("carla@EXAMPLE.org", T0) is True  # another spelling, same address
    assert store.leave_by_link("carla@example.org", T0) is False  # again: nothing to change
    assert store.leave_by_link("dan@example.org", T0) is False  # a bounced address stays so
    assert store.leave_by_link("nobody@example.org", T0) is False
    statuses = {p.email: p.status for p in store.subscribers()}
    assert statuses == {"Carla@example.org": "unsubscribed", "dan@example.org": "bounced"}
