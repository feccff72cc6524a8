"""A million subscribers, tested at a size that runs quickly: the streamed CSV import (with
duplicates, bad rows and addresses already on the list), the fast address check against
email-validator itself, the freeze by one INSERT ... SELECT, and claims that read the index
of open deliveries. Real SQLite files and the throwaway PostgreSQL of tests/pg.py."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syndicate.config import address_key, normalise_email
from syndicate.errors import ConfigError, SyndicateError
from syndicate.ingest import Changes
from syndicate.models import Article, Digest, Subscriber
from syndicate.store import Store
from syndicate.store.schema import deliveries
from syndicate.subscribers import normalise_address, parse_csv, stream_csv

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 11, 2, tzinfo=UTC)
ROWS = 20_000


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "postgresql":
        return Store.open(request.getfixturevalue("postgres_url"))
    return Store.open(f"sqlite:///{tmp_path}/state.db")


# -- the address check: the shortcut answers exactly as email-validator ---------------------

_LOCAL = st.text(alphabet="abcXYZ019.-_+'!#%&*/=?^`{|}~\"@ (),:;<>[]\\é", min_size=0, max_size=12)
_DOMAIN = st.sampled_from([
    "example.org", "EXAMPLE.org", "mail.example.co.uk", "localhost", "example.invalid",
    "a..b.org", "-a.org", "a-.org", "xn--bcher-kva.example", "bücher.example", "1.2.3.4",
    "[127.0.0.1]", "example", "x.y", "e.x" + "a" * 70 + ".org", "example.org.", "ex_ample.org",
    "test", "a.local", "a.b.123",
])  # fmt: skip


def _outcome(check: object, address: str) -> str:
    try:
        return str(check(address, "k"))  # type: ignore[operator]
    except ConfigError as exc:
        return f"refused: {exc}"


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, pad=st.integers(0, 250))
@example(local="Postmaster", domain="EXAMPLE.org", pad=0)
@example(local="info", domain="example.org", pad=0)
@example(local="a" * 64, domain="example.org", pad=200)
def test_the_shortcut_agrees_with_email_validator(local: str, domain: str, pad: int) -> None:
    address = f"{local}{'x' * pad if pad > 180 else ''}@{domain}"
    assert _outcome(normalise_address, address) == _outcome(normalise_email, address)


# -- the import --------------------------------------------------------------------------------


def _list_file(folder: Path, rng: random.Random) -> tuple[Path, dict[str, Subscriber], int, int]:
    """ROWS rows: good ones, duplicates in another case, bad ones; the expected first rows by
    key, the duplicates and the bad rows."""
    first: dict[str, Subscriber] = {}
    duplicates = bad = 0
    lines = ["email,name"]
    for n in range(ROWS):
        roll = rng.random()
        if roll < 0.05 and first:
            address = rng.choice(list(first.values())[-50:]).email.upper()
            lines.append(f"{address},Later {n}")
            duplicates += 1
        elif roll < 0.08:
            lines.append(rng.choice([f"broken-{n}@", f"x{n}@localhost", f",name {n}",
                                     f"c{n}@example.org,bad\x07name"]))  # fmt: skip
            bad += 1
        else:
            email, name = f"Reader.{n}@Mail{n % 37}.Example.org", rng.choice(["", f"R {n}"])
            lines.append(f"{email},{name}")
            person = Subscriber(normalise_email(email), name)
            first[address_key(person.email)] = person
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, first, duplicates, bad


def test_a_large_import_keeps_the_first_of_each_address(db: Store, tmp_path: Path) -> None:
    path, first, duplicates, bad = _list_file(tmp_path, random.Random(4))
    known = list(first.values())[:300]  # already on the list: 200 active, 100 who left
    db.upsert_subscribers([Subscriber(p.email.upper(), "Old name") for p in known], T0)
    for person in known[200:]:
        db.set_subscriber_status(person.email, "unsubscribed", T0)
    problems: list[str] = []
    merged = db.import_subscribers(stream_csv(path, problems.append), T1)
    assert len(problems) == bad and all(p.startswith(f"{path}:") for p in problems)
    assert (merged.added, merged.updated, merged.kept_inactive, merged.duplicates) == (
        len(first) - 300,
        200,
        100,
        duplicates,
    )
    listed = {address_key(p.email): p for p in db.subscribers()}
    assert listed.keys() == first.keys()
    for key, person in first.items():
        got = listed[key]
        kept = person.email.upper() if key in {address_key(p.email) for p in known} else None
        assert got.email == (kept or person.email)  # a known address keeps its first spelling
        assert got.name == (person.name or ("Old name" if kept else ""))
    assert sum(p.status == "unsubscribed" for p in listed.values()) == 100  # never brought back
    assert parse_csv(path.read_text(), str(path)).duplicates == duplicates  # the small way agrees


def test_an_unreadable_file_changes_nothing_and_names_its_line(db: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"email\n" + b"".join(b"r%d@example.org\n" % n for n in range(5000))
                     + b"caf\xe9@example.org\n")  # fmt: skip
    with pytest.raises(SyndicateError, match=r"people\.csv:5002: cannot read"):
        db.import_subscribers(stream_csv(path, print), T1)
    assert db.subscribers() == []
    path.write_text("email\nr@example.org\n" + "x" * (1 << 20) + "\n")
    with pytest.raises(SyndicateError, match=r"people\.csv:3: a line over"):
        db.import_subscribers(stream_csv(path, print), T1)
    assert db.subscribers() == []
    with pytest.raises(SyndicateError, match=r"none\.csv: cannot read the subscriber file"):
        db.import_subscribers(stream_csv(path.with_name("none.csv"), print), T1)


# -- freezing and claiming -----------------------------------------------------------------


def _digest(store: Store, ident: str) -> int:
    article = Article(ident, f"{ident}.txt", "T", ident, "<p>x</p>", "x", "x", "h")
    store.apply(Changes(new=(article,)), {}, T0)
    return store.freeze_digest(Digest(ident, T0, "s", "h", "t", "w", "m", (ident,)), [], T0)


def test_a_freeze_queues_every_active_subscriber_once(db: Store) -> None:
    people = [Subscriber(f"r{n}@example.org", f"R {n}") for n in range(ROWS)]
    db.import_subscribers(people, T0)
    for person in people[::10]:
        db.set_subscriber_status(person.email, "bounced", T0)
    assert _digest(db, "d1") == ROWS - ROWS // 10
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(deliveries.c.email, deliveries.c.name, deliveries.c.status))
        queued = sorted(rows)
    active = sorted((p.email, p.name, "pending") for k, p in enumerate(people) if k % 10)
    assert queued == active


def test_claims_read_the_open_rows_in_order_through_their_index(db: Store) -> None:
    db.import_subscribers([Subscriber(f"r{n:05}@example.org") for n in range(3000)], T0)
    _digest(db, "d1")
    sent: list[str] = []
    while batch := db.claim("w1", T0, T0, T1, limit=64):
        assert len(batch) <= 64
        for delivery in batch:
            db.mark_delivery(delivery, "sent", T0)
        sent += [d.email for d in batch]
    assert sent == [f"r{n:05}@example.org" for n in range(3000)]  # each once, in order
    assert "ix_deliveries_open" in _plan(db)  # so a claim's cost does not grow with the ledger


def _plan(store: Store) -> str:
    """The database's plan for the claim a sender runs: the statement and parameters it
    sends, caught on their way to the driver and explained instead of run."""
    caught: list[tuple[str, object]] = []

    def catch(conn: object, cursor: object, statement: str, parameters: object, *_: object) -> None:
        if "UPDATE deliveries" in statement and "picked" in statement:
            caught.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", catch)
    try:
        store.claim("w2", T0, T0, T1, limit=32)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", catch)
    statement, parameters = caught[0]
    with store.engine.connect() as conn:
        explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(explain + statement, parameters)
        return "\n".join(str(tuple(row)) for row in cursor.fetchall())
