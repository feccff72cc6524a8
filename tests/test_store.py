"""Store on real SQLite files: schema and migrations, article changes, digests, the ledger."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syndicate.errors import StoreError
from syndicate.ingest import Changes
from syndicate.models import Article, Digest, FileStat, Subscriber
from syndicate.render.common import publication_cta
from syndicate.store import SCHEMA_VERSION, Store, Was, migrations, schema

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def article(
    ident: str, *, content: str = "v1", date: datetime | None = None, source: str = ""
) -> Article:
    return Article(
        id=ident, source=source or f"{ident}.txt", title=f"Title {ident}", slug=ident,
        body_html=f"<p>{content}</p>", body_text=content, summary=content,
        content_hash=f"hash-{ident}-{content}", date=date, tags=("a", "b"),
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The same tests on a real SQLite file and on a real PostgreSQL 15 database."""
    if request.param == "postgresql":
        return Store.open(request.getfixturevalue("postgres_url"))
    return Store.open(f"sqlite:///{tmp_path}/state/db.sqlite")


def digest(ident: str, ids: tuple[str, ...]) -> Digest:
    return Digest(ident, T0, "subject", "<p>html</p>", "text", "<p>web</p>", "m", ids)


def test_open_creates_schema_and_reopens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new/state.db"
    Store.open(url).close()
    assert (tmp_path / "new" / "state.db").exists()
    again = Store.open(url)
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_newer_schema_is_refused_untouched(store: Store) -> None:
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer"):
        Store.open(str(store.engine.url))
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION + 1)


def test_migration_steps_run_in_order(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = []

    def step(conn: sa.engine.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE migrated_marker (x INTEGER)"))
        ran.append(SCHEMA_VERSION - 1)

    store.set_meta("schema_version", str(SCHEMA_VERSION - 1))
    monkeypatch.setitem(migrations.MIGRATIONS, SCHEMA_VERSION - 1, step)
    reopened = Store.open(str(store.engine.url))
    assert ran == [SCHEMA_VERSION - 1]
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert sa.inspect(reopened.engine).has_table("migrated_marker")


def test_values_kept_between_runs_read_back_typed_under_their_old_keys(store: Store) -> None:
    assert (store.folder_key(), store.parser_fingerprint(), store.last_live_count()) == (None,) * 3
    assert (store.local_secret(), store.pending_pings(), store.generation()) == (None, [], 0)
    store.set_folder_key("f1")
    store.set_parser_fingerprint("p1")
    store.set_last_live_count(12)
    store.set_local_secret("s1")
    store.set_pending_pings(["https://example.org/rss.xml"])
    assert (store.folder_key(), store.parser_fingerprint(), store.last_live_count()) == (
        "f1", "p1", 12,
    )  # fmt: skip
    assert (store.local_secret(), store.pending_pings()) == ("s1", ["https://example.org/rss.xml"])
    # the keys a database written by an earlier syndicate holds: it keeps its values
    assert (store.get_meta("folder"), store.get_meta("live")) == ("f1", "12")
    assert store.get_meta("websub.pending") == '["https://example.org/rss.xml"]'


def test_a_damaged_kept_value_reads_as_unset(store: Store) -> None:
    store.set_meta("live", "twelve")
    store.set_meta("websub.pending", "{not json")
    assert (store.last_live_count(), store.pending_pings()) == (None, [])
    store.set_meta("websub.pending", '["https://example.org/a", 3, null]')
    assert store.pending_pings() == ["https://example.org/a"]
    store.set_meta("websub.pending", '{"a": 1}')
    assert store.pending_pings() == []


def test_new_changed_moved_removed(store: Store) -> None:
    store.apply(Changes(new=(article("a"), article("b", date=T0 - timedelta(days=3)))), {}, T0)
    later = T0 + timedelta(hours=1)
    store.apply(
        Changes(changed=(article("a", content="v2"),), moved=(article("b", source="b2.txt"),)),
        {},
        later,
    )
    entries = {e.article.id: e for e in store.entries()}
    assert entries["a"].article.body_text == "v2"
    assert entries["a"].published == T0  # first seen, no front-matter date
    assert entries["a"].updated == later  # an edit bumps updated
    assert entries["b"].article.source == "b2.txt"
    assert entries["b"].published == T0 - timedelta(days=3)
    store.apply(Changes(removed=("a",)), {}, later)
    assert [e.article.id for e in store.entries()] == ["b"]
    assert set(store.known_articles()) == {"b"}


def test_entries_are_newest_first_and_aware(store: Store) -> None:
    store.apply(
        Changes(new=tuple(article(f"x{n}", date=T0 + timedelta(days=n)) for n in range(5))), {}, T0
    )
    published = [e.published for e in store.entries()]
    assert published == sorted(published, reverse=True)
    assert all(p.tzinfo is not None for p in published)
    assert len(store.entries(limit=2)) == 2


def test_removed_article_that_returns_keeps_first_seen(store: Store) -> None:
    store.apply(Changes(new=(article("a"),)), {}, T0)
    store.apply(Changes(removed=("a",)), {}, T0 + timedelta(days=1))
    store.apply(Changes(new=(article("a", content="back"),)), {}, T0 + timedelta(days=2))
    (entry,) = store.entries()
    assert entry.published == T0 and entry.article.body_text == "back"


def test_file_stats_skip_problem_files(store: Store) -> None:
    from syndicate.models import ArticleProblem

    stats = {"a.txt": FileStat("a.txt", 10, 123), "bad.txt": FileStat("bad.txt", 1, 5)}
    store.apply(
        Changes(new=(article("a"),), problems=(ArticleProblem("bad.txt", 1, "x"),)), stats, T0
    )
    assert store.file_stats() == {"a.txt": FileStat("a.txt", 10, 123)}


def test_freeze_digest_claims_articles_and_queues_active_subscribers(store: Store) -> None:
    store.apply(Changes(new=(article("a"), article("b"), article("old"))), {}, T0)
    store.add_subscribers([Subscriber("one@example.org", "One"), Subscriber("two@example.org")], T0)
    with store.engine.begin() as conn:
        conn.execute(
            schema.subscribers.update()
            .where(schema.subscribers.c.email == "two@example.org")
            .values(status="unsubscribed")
        )
    queued = store.freeze_digest(digest("d1", ("a", "b")), ["old"], T0)
    assert queued == 1
    assert [d.email for d in store.open_deliveries()] == ["one@example.org"]
    assert store.digest_candidates() == []  # claimed or exempt
    assert store.last_digest_time() == T0
    assert [d.id for d in store.digests()] == ["d1"]


def test_an_article_is_never_in_two_digests(store: Store) -> None:
    store.apply(Changes(new=(article("a"),)), {}, T0)
    store.add_subscribers([Subscriber("one@example.org")], T0)
    store.freeze_digest(digest("d1", ("a",)), [], T0)
    with pytest.raises(StoreError, match="already in another digest"):
        store.freeze_digest(digest("d2", ("a",)), [], T0)
    # the failed freeze left nothing behind: one digest, one delivery
    assert [d.id for d in store.digests()] == ["d1"]
    assert len(store.open_deliveries()) == 1


def test_config_subscribers_never_reactivate_an_unsubscribed_address(store: Store) -> None:
    assert store.add_subscribers([Subscriber("a@example.org", "A")], T0) == 1
    with store.engine.begin() as conn:
        conn.execute(schema.subscribers.update().values(status="unsubscribed"))
    assert store.add_subscribers([Subscriber("a@example.org", "New name")], T0) == 0
    assert store.subscribers() == [Subscriber("a@example.org", "New name", "unsubscribed")]


def test_ledger_transitions_and_counts(store: Store) -> None:
    store.apply(Changes(new=(article("a"),)), {}, T0)
    store.add_subscribers([Subscriber(f"{n}@example.org") for n in range(3)], T0)
    store.freeze_digest(digest("d1", ("a",)), [], T0)
    first, second, third = store.open_deliveries()
    store.mark_delivery(first, "sending", T0)
    store.mark_delivery(first, "sent", T0)
    store.mark_delivery(second, "sending", T0)  # a crash here leaves it `sending`
    store.mark_delivery(third, "sending", T0)
    store.mark_delivery(third, "failed", T0, "550 no such user")
    still_open = store.open_deliveries()
    assert [(d.email, d.status, d.attempts) for d in still_open] == [
        ("1@example.org", "sending", 1)
    ]
    counts = store.counts()
    assert counts["deliveries_sent"] == 1 and counts["deliveries_failed"] == 1
    assert counts["articles"] == 1 and counts["digests"] == 1 and counts["subscribers"] == 3


def test_claims_take_disjoint_batches_and_release_gives_back(store: Store) -> None:
    """A worker claims up to `limit` due messages in one statement; a second claim never gets
    the same rows; what a worker releases is pending again with its attempt uncounted, and a
    release by another worker touches nothing."""
    store.apply(Changes(new=(article("a"),)), {}, T0)
    store.add_subscribers([Subscriber(f"{n}@example.org") for n in range(5)], T0)
    store.freeze_digest(digest("d1", ("a",)), [], T0)
    lease = T0 + timedelta(minutes=10)
    first = store.claim("w1", T0, T0, lease, 2)
    second = store.claim("w2", T0, T0, lease, 2)
    assert [d.email for d in first] == ["0@example.org", "1@example.org"]
    assert [d.email for d in second] == ["2@example.org", "3@example.org"]
    assert {d.status for d in first + second} == {"sending"}
    assert {d.attempts for d in first + second} == {1}
    store.release(second, "w1", T0)  # not w1's: nothing changes
    assert [d.email for d in store.claim("w3", T0, T0, lease, 5)] == ["4@example.org"]
    store.release(second, "w2", T0)
    again = store.claim("w3", T0, T0, lease, 5)
    assert [(d.email, d.attempts) for d in again] == [("2@example.org", 1), ("3@example.org", 1)]
    assert store.claim("w4", T0, T0, lease, 5) == []  # every row is leased
    expired = store.claim("w4", T0, lease, lease + timedelta(minutes=10), 9)
    assert len(expired) == 5  # leases ran out (their workers died): taken over


def test_unused_digest_id(store: Store) -> None:
    assert store.unused_digest_id("2026-11-28") == "2026-11-28"
    store.apply(Changes(new=(article("a"), article("b"))), {}, T0)
    store.freeze_digest(digest("2026-11-28", ("a",)), [], T0)
    assert store.unused_digest_id("2026-11-28") == "2026-11-28-2"
    store.freeze_digest(digest("2026-11-28-2", ("b",)), [], T0)
    assert store.unused_digest_id("2026-11-28") == "2026-11-28-3"


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"):
        store.apply(Changes(new=(article("a"),)), {}, datetime(2026, 1, 1))


def test_runs_are_recorded(store: Store) -> None:
    assert store.last_run() is None
    store.record_run(T0, T0 + timedelta(seconds=3), 1, "new=1")
    assert store.last_run() == (T0 + timedelta(seconds=3), 1, "new=1")


def test_file_stats_are_updated_incrementally(store: Store) -> None:
    from syndicate.models import ArticleProblem

    first = {f"{n}.txt": FileStat(f"{n}.txt", n, n) for n in range(4)}
    store.apply(Changes(), first, T0)
    assert store.file_stats() == first
    now_stats = dict(first)
    del now_stats["0.txt"]  # deleted
    now_stats["1.txt"] = FileStat("1.txt", 99, 99)  # edited
    now_stats["9.txt"] = FileStat("9.txt", 9, 9)  # new
    problems = (ArticleProblem("2.txt", 1, "broken now"),)  # became bad: forget it
    store.apply(Changes(problems=problems), now_stats, T0, previous=store.file_stats())
    assert store.file_stats() == {
        "1.txt": FileStat("1.txt", 99, 99),
        "3.txt": FileStat("3.txt", 3, 3),
        "9.txt": FileStat("9.txt", 9, 9),
    }


# A child process that opens a fresh store and SIGKILLs itself right after creating one table,
# or right after the first step of a migration: the moment a crash hurts most.
KILL_AFTER_CREATE = """
import os, signal, sys
import sqlalchemy as sa
from syndicate.store import Store, schema
target = schema.md.tables[sys.argv[2]]
sa.event.listen(target, "after_create", lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
Store.open(sys.argv[1])
"""


@pytest.mark.parametrize("table", sorted(schema.md.tables))
def test_a_crash_while_creating_the_schema_leaves_nothing_half_made(
    tmp_path: Path, table: str
) -> None:
    import signal
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/state.db"
    child = subprocess.run([sys.executable, "-c", KILL_AFTER_CREATE, url, table], check=False)
    assert child.returncode == -signal.SIGKILL
    store = Store.open(url)  # the next run finds either no schema or a whole one
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert set(sa.inspect(store.engine).get_table_names()) >= set(schema.md.tables)
    store.close()


def test_a_failed_migration_step_is_rolled_back_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    Store.open(url).close()
    old = Store.open(url)
    old.set_meta("schema_version", "2")
    with old.engine.begin() as conn:  # undo v3 so that its step can run again
        conn.execute(sa.text("DROP INDEX ix_deliveries_status"))
        conn.execute(sa.text("ALTER TABLE deliveries DROP COLUMN worker"))
        conn.execute(sa.text("ALTER TABLE deliveries DROP COLUMN lease_until"))
        conn.execute(sa.text("CREATE INDEX ix_deliveries_status ON runs (id)"))  # step 3 fails
    old.close()
    with pytest.raises(StoreError, match="ix_deliveries_status"):
        Store.open(url)
    columns = {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("deliveries")}
    assert not {"lease_until", "worker"} & columns  # its ALTERs were rolled back with the rest


def test_listing_is_entries_without_bodies(store: Store) -> None:
    dated = article("dated", date=T0 - timedelta(days=3))
    tagged = dataclasses.replace(article("tagged"), tags=("é", "b"), author="Zoë", cta="Join")
    store.apply(Changes(new=(article("a"), dated, tagged)), {}, T0)
    store.apply(Changes(changed=(article("a", content="v2"),)), {}, T0 + timedelta(hours=1))
    light = [
        dataclasses.replace(e, article=dataclasses.replace(e.article, body_html="", body_text=""))
        for e in store.entries()
    ]
    assert store.listing() == light
    assert [e.updated.tzinfo for e in store.listing()] == [UTC] * 3


# -- v6: one subscriber per address, whatever its case ------------------------------------

V5_DUPLICATES = Path(__file__).parent / "data" / "state-v5-duplicates.sqlite"  # tests/tools
MERGED = [  # what v6 makes of the v5 list: one row per address, first spelling, strongest status
    Subscriber("Bounce@example.org", "B. Ounce", "bounced"),
    Subscriber("gone@example.org", "Gone", "unsubscribed"),
    Subscriber("reader.two@example.org", "R. Two", "active"),
    Subscriber("solo@example.org", "Solo", "active"),
    Subscriber("tri@example.org", "Tri", "active"),
]
LEDGER_AFTER = {  # digest 2026-10-03 went to every copy (history, kept); 2026-10-04 was waiting
    **{("2026-10-03", e): ("sent", "") for e in (
        "Bounce@example.org", "GONE@example.org", "READER.TWO@example.org", "TRI@example.org",
        "Tri@example.org", "reader.two@example.org", "solo@example.org", "tri@example.org")},
    ("2026-10-04", "Bounce@example.org"): ("failed", "cancelled: bounced"),
    ("2026-10-04", "GONE@example.org"): ("failed", "cancelled: unsubscribed"),
    ("2026-10-04", "READER.TWO@example.org"): (
        "failed", "cancelled: duplicate of reader.two@example.org"),
    ("2026-10-04", "reader.two@example.org"): ("pending", ""),
    ("2026-10-04", "TRI@example.org"): ("sent", ""),  # the copy that went out stays the one
    ("2026-10-04", "Tri@example.org"): ("failed", "cancelled: duplicate of TRI@example.org"),
    ("2026-10-04", "tri@example.org"): ("failed", "cancelled: duplicate of TRI@example.org"),
    ("2026-10-04", "solo@example.org"): ("pending", ""),
}  # fmt: skip


def _ledger(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.deliveries)).all()
    return {(r.digest_id, r.email): (r.status, r.last_error) for r in rows}


def _check_merged(store: Store) -> None:
    """The merged list works as one: tokens of either copy, imports, new digests."""
    from syndicate.tokens import make_token, verify_token

    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.subscribers() == MERGED
    assert _ledger(store) == LEDGER_AFTER
    later = T0.replace(year=2027)
    kept = store.upsert_subscribers(
        [Subscriber("GONE@EXAMPLE.ORG"), Subscriber("Solo@x.org")], later
    )
    assert kept.kept_inactive == ["GONE@EXAMPLE.ORG"]  # an import never reactivates, any case
    store.freeze_digest(digest("2027-01-01", ()), [], later)  # one message per reader now
    assert sorted(d.email for d in store.open_deliveries() if d.digest_id == "2027-01-01") == [
        "Solo@x.org", "reader.two@example.org", "solo@example.org", "tri@example.org"
    ]  # fmt: skip
    mailed = verify_token("k", make_token("k", "READER.TWO@example.org"))  # as a v5 mail had it
    assert mailed is not None and store.set_subscriber_status(mailed, "unsubscribed", later)
    assert Subscriber("reader.two@example.org", "R. Two", "unsubscribed") in store.subscribers()
    assert {d.email for d in store.open_deliveries()} == {"Solo@x.org", "solo@example.org",
                                                          "tri@example.org"}  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.subscribers.insert().values(
            email="SOLO@example.org", name="", status="active", created=later, updated=later))  # fmt: skip


def test_a_v5_database_with_copies_of_one_address_is_merged(tmp_path: Path) -> None:
    """The file was made by the v5 code itself (tests/tools/make_state_v5.py): its upserts
    took `READER.TWO@` for a new reader and re-activated `GONE@` after `gone@` had left."""
    import shutil

    path = tmp_path / "state.db"
    shutil.copy(V5_DUPLICATES, path)
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:  # as it was before
        assert conn.scalar(sa.text("SELECT value FROM meta WHERE key='schema_version'")) == "5"
        assert conn.scalar(sa.text("SELECT count(*) FROM subscribers")) == 10
    store = Store.open(f"sqlite:///{path}")
    try:
        _check_merged(store)
    finally:
        store.close()


def test_a_v5_postgresql_database_with_copies_is_merged(postgres_url: str) -> None:
    """The same v5 rows in PostgreSQL: the current schema taken back to v5 (no unique index),
    filled with the v5 file's rows, then opened."""
    store = Store.open(postgres_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ux_subscribers_address"))
        conn.execute(sa.text("DROP INDEX ix_articles_assets"))  # and v7's articles columns
        for column in ("language", "assets", "url_id"):
            conn.execute(sa.text(f"ALTER TABLE articles DROP COLUMN {column}"))
        conn.execute(sa.text("UPDATE meta SET value = '5' WHERE key = 'schema_version'"))
        source = sa.create_engine(f"sqlite:///{V5_DUPLICATES}")
        with source.connect() as old:
            for table in (schema.subscribers, schema.digests, schema.deliveries):
                rows = [dict(r._mapping) for r in old.execute(sa.select(table))]
                conn.execute(table.insert(), rows)
        source.dispose()
    store.close()
    store = Store.open(postgres_url)
    try:
        _check_merged(store)
    finally:
        store.close()


def test_v7_marks_every_article_published_before_as_keeping_its_url_id(store: Store) -> None:
    """From v6: v7 adds the language, the linked files and `url_id`, true for every article
    already published."""
    store.apply(Changes(new=(article("urn:uuid:1-2"),)), {}, T0)
    with store.engine.begin() as conn:  # back to the v6 table, as an older syndicate left it
        conn.execute(sa.text("DROP INDEX ix_articles_assets"))
        for column in ("language", "assets", "url_id"):
            conn.execute(sa.text(f"ALTER TABLE articles DROP COLUMN {column}"))
        conn.execute(
            schema.meta.update().values(value="6").where(schema.meta.c.key == "schema_version")
        )
    store.close()
    reopened = Store.open(str(store.engine.url.render_as_string(hide_password=False)))
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION)
    (old,) = reopened.entries()
    assert old.article.url_id and old.article.assets == () and old.article.language is None
    assert reopened.known_articles()["urn:uuid:1-2"].url_id
    fresh = dataclasses.replace(article("urn:uuid:3-4"), language="ru")
    reopened.apply(Changes(new=(fresh,)), {}, T0 + timedelta(hours=1))
    new = reopened.entries_by_id(["urn:uuid:3-4"])["urn:uuid:3-4"]
    assert not new.article.url_id and new.article.language == "ru"
    columns = [c["name"] for c in sa.inspect(reopened.engine).get_columns("articles")]
    if reopened.engine.dialect.name == "sqlite":  # the bodies stay last (v4)
        assert columns[-2:] == ["body_html", "body_text"]
    assert {"language", "assets", "url_id"} <= set(columns)
    indexes = {i["name"] for i in sa.inspect(reopened.engine).get_indexes("articles")}
    assert {"ix_articles_assets", "ix_articles_undigested"} <= indexes


# --- v10: the change log and the listing windows ------------------------------------------------


def test_each_change_is_logged_as_the_article_was_until_pruned(store: Store) -> None:
    store.apply(Changes(new=(article("a", date=T0), article("b", date=T0 + timedelta(days=1)))),
                {}, T0)  # fmt: skip
    first = store.generation()
    assert store.changes_since(first - 1) == {"a": Was("a", False), "b": Was("b", False)}
    edited = dataclasses.replace(article("a", content="v2", date=T0), slug="a2", tags=("c",))
    store.apply(Changes(changed=(edited,), removed=("b",)), {}, T0 + timedelta(hours=1))
    was = store.changes_since(first)
    assert was == {
        "a": Was("a", True, "a", ("a", "b"), T0, ()),
        "b": Was("b", True, "b", ("a", "b"), T0 + timedelta(days=1), ()),
    }
    assert store.changes_since(first - 1) == {"a": Was("a", False), "b": Was("b", False)}
    store.prune_changes(first)
    assert store.changes_since(first) == was
    assert store.changes_since(first - 1) is None  # pruned: only a full plan knows
    store.prune_changes(store.generation())
    assert store.changes_since(store.generation()) == {}
    last = store.generation()  # a new article and a removal in one pick-up: each as it was
    store.apply(Changes(new=(article("c", date=T0),), removed=("a",)), {}, T0 + timedelta(hours=2))
    assert store.changes_since(last) == {
        "c": Was("c", False), "a": Was("a", True, "a2", ("c",), T0, ())
    }  # fmt: skip


def test_windows_of_the_listing_read_what_the_whole_listing_holds(store: Store) -> None:
    dated = [article(f"x{n}", date=T0 + timedelta(hours=n % 4)) for n in range(9)]
    store.apply(Changes(new=tuple(dated)), {}, T0)
    store.apply(Changes(removed=("x5",)), {}, T0 + timedelta(days=1))
    whole = store.listing()
    assert [e.article.id for e in store.window(0, 100)] == [e.article.id for e in whole]
    assert store.window(2, 5) == whole[2:5]
    for at, entry in enumerate(whole):  # ties broken by id, as the listing does
        assert store.count_older(entry.published, entry.article.id) == len(whole) - 1 - at
    assert store.light_entries(["x1", "x5", "nope"]) == {
        "x1": whole[[e.article.id for e in whole].index("x1")]
    }
    tagged = store.tagged(["a", "zz", "_"])
    assert [e.article.id for e in tagged["a"]] == [e.article.id for e in whole]
    assert tagged["zz"] == [] and tagged["_"] == []  # LIKE's wildcards are matched as text
    assert store.tags_in_use() == ["a", "b"]


def test_v10_adds_the_change_log_complete_from_the_generation_it_finds(store: Store) -> None:
    store.apply(Changes(new=(article("old", date=T0),)), {}, T0)
    with store.engine.begin() as conn:  # back to v9, as an older syndicate left it
        conn.execute(sa.text("DROP TABLE changelog"))
        conn.execute(sa.text("DROP INDEX ix_articles_newest"))
        conn.execute(schema.meta.delete().where(schema.meta.c.key == "changelog.since"))
        conn.execute(
            schema.meta.update().values(value="9").where(schema.meta.c.key == "schema_version")
        )
    store.close()
    reopened = Store.open(str(store.engine.url.render_as_string(hide_password=False)))
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION) == "11"
    generation = reopened.generation()
    assert reopened.changes_since(generation) == {}
    assert reopened.changes_since(generation - 1) is None  # before v10: not logged
    reopened.apply(Changes(new=(article("new", date=T0),)), {}, T0 + timedelta(hours=1))
    assert reopened.changes_since(generation) == {"new": Was("new", False)}
    assert [e.article.id for e in reopened.window(0, 2)] == ["new", "old"]


def test_the_leading_cta_is_what_publication_cta_picks_from_every_article(store: Store) -> None:
    assert store.leading_cta() is None
    lifted = {"p": "Join", "q": "Follow", "r": "Join", "s": "Follow", "t": None, "u": ""}
    for n, (ident, cta) in enumerate(lifted.items()):  # two each; r and s the newest
        when = T0 + timedelta(hours=min(n, 2))
        store.apply(Changes(new=(dataclasses.replace(article(ident, date=when), cta=cta),)),
                    {}, T0)  # fmt: skip
    ctas = [e.article.cta for e in store.listing() if e.article.cta]
    assert publication_cta(ctas) == store.leading_cta() == "Join"  # a tie on time: r before s
    store.apply(Changes(removed=("r",)), {}, T0)
    assert publication_cta([e.article.cta for e in store.listing() if e.article.cta]) == "Follow"
    assert store.leading_cta() == "Follow"
