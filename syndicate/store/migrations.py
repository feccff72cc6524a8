"""Schema migrations: one step per version, each upgrading a database from that version to the
next inside the transaction `StoreBase.open` runs them in. A step changes the schema and moves
the data it must; it never reads the clock and is never run twice on one database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.store.schema import (
    ASSETS_INDEX,
    CTA_INDEX,
    NEWEST_INDEX,
    OPEN_DELIVERIES_INDEX,
    SIGNUP_EMAIL_INDEX,
    SLUG_INDEX,
    SOURCE_INDEX,
    STANDING,
    SUBSCRIBER_ADDRESS_INDEX,
    TAGS_INDEX,
    UNDIGESTED_INDEX,
    UTCDateTime,
    articles,
    changelog,
    meta,
    returned,
    signups,
)

_V7_COLUMNS = ("language", "assets", "url_id")  # added by v7
V10_INDEXES = ("ix_articles_newest", "ix_articles_cta", "ix_articles_tags", "ix_articles_slug",
               "ix_articles_source")  # fmt: skip
CHANGELOG_SINCE = "changelog.since"  # the meta key: the log holds every change after it


def _v1_to_v2(conn: Connection) -> None:
    """v2 retries 4xx answers with exponential backoff: each delivery gets `next_attempt`."""
    column_type = sa.DateTime().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE deliveries ADD COLUMN next_attempt {column_type}"))


def _v2_to_v3(conn: Connection) -> None:
    """v3 lets several send workers share the ledger: claimed rows carry a lease and a worker."""
    column_type = sa.DateTime().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE deliveries ADD COLUMN lease_until {column_type}"))
    conn.execute(sa.text("ALTER TABLE deliveries ADD COLUMN worker VARCHAR(255)"))
    conn.execute(sa.text("CREATE INDEX ix_deliveries_status ON deliveries (status)"))


def _v3_to_v4(conn: Connection) -> None:
    """v4 stores article bodies after every other column. SQLite keeps a row's columns in order
    and a 7 KB row spills into overflow pages, so listing 100,000 articles read every body; now
    it reads none. SQLite rebuilds the table (PostgreSQL keeps large values apart already)."""
    if conn.dialect.name != "sqlite":
        return
    conn.execute(sa.text("ALTER TABLE articles RENAME TO articles_v3"))
    articles.create(conn)  # today's columns; those of later versions get their defaults
    kept = [c for c in articles.c if c.name not in _V7_COLUMNS]
    old = sa.table("articles_v3", *(sa.column(c.name) for c in kept))
    conn.execute(articles.insert().from_select(kept, sa.select(*old.c)))
    conn.execute(sa.text("DROP TABLE articles_v3"))


def _v4_to_v5(conn: Connection) -> None:
    """v5 indexes the articles a digest may still take (a partial index: it stays small)."""
    conn.execute(sa.schema.CreateIndex(UNDIGESTED_INDEX, if_not_exists=True))


_PROGRESS = {"failed": 0, "pending": 1, "sending": 2, "sent": 3}  # of one message in the ledger


# v5's columns only, whatever later versions add: what the v6 step reads and writes
_V5_PEOPLE = sa.table(
    "subscribers", sa.column("email"), sa.column("name"), sa.column("status"),
    sa.column("created", UTCDateTime), sa.column("updated", UTCDateTime),
)  # fmt: skip
_V5_LEDGER = sa.table(
    "deliveries", sa.column("digest_id"), sa.column("email"), sa.column("status"),
    sa.column("last_error"),
)  # fmt: skip


def _v5_to_v6(conn: Connection) -> None:
    """v6 makes an address one subscriber whatever its case: copies that differ only in case
    are merged into the first written (it keeps its spelling), with the strongest standing
    (an unsubscribed or bounced copy wins over an active one) and the newest non-empty name.

    The ledger keeps the address each message was, or will be, sent to: tokens and bounces
    name that spelling, and the store finds its subscriber case-insensitively. Of one digest's
    messages to one merged reader only the most advanced is kept; the others still waiting are
    cancelled (`failed`, `cancelled: duplicate of ...`), as are the waiting messages of a reader
    who left through another copy. `sent` rows stay as they are: they are what happened."""
    people, ledger = _V5_PEOPLE, _V5_LEDGER
    twins = (
        sa.select(sa.func.lower(people.c.email)).group_by(sa.func.lower(people.c.email))
        .having(sa.func.count() > 1).scalar_subquery()
    )  # fmt: skip
    copies = _grouped(conn, people, twins, people.c.created, people.c.email)
    messages = _grouped(conn, ledger, twins, ledger.c.digest_id, ledger.c.email)
    standing = {address: _merge_copies(conn, group) for address, group in copies.items()}
    for address, rows in messages.items():
        kept, status = standing[address]
        for digest_id in dict.fromkeys(r.digest_id for r in rows):
            group = [r for r in rows if r.digest_id == digest_id]
            for row, reason in _cancelled(group, kept, status):
                conn.execute(
                    ledger.update()
                    .where(ledger.c.digest_id == row.digest_id, ledger.c.email == row.email)
                    .values(status="failed", last_error=reason)
                )
    SUBSCRIBER_ADDRESS_INDEX.create(conn)


def _grouped(
    conn: Connection, table: Any, twins: Any, *order: sa.ColumnElement[Any]
) -> dict[str, list[Any]]:
    """The rows of `table` whose address has copies, by lowercased address, in `order`."""
    key = sa.func.lower(table.c.email)
    found: dict[str, list[Any]] = {}
    for row in conn.execute(
        sa.select(table, key.label("key")).where(key.in_(twins)).order_by(*order)
    ):
        found.setdefault(row.key, []).append(row)
    return found


def _merge_copies(conn: Connection, group: list[Any]) -> tuple[str, str]:
    """Fold one address's copies into the first written; returns (its spelling, standing)."""
    people, kept = _V5_PEOPLE, group[0]
    status = max((r.status for r in group), key=lambda s: STANDING.get(s, 0))
    names = [r for r in group if r.name]
    name = max(names, key=lambda r: r.updated).name if names else ""
    conn.execute(people.delete().where(people.c.email.in_([r.email for r in group[1:]])))
    conn.execute(
        people.update().where(people.c.email == kept.email)
        .values(status=status, name=name, updated=max(r.updated for r in group))
    )  # fmt: skip
    return str(kept.email), str(status)


def _cancelled(group: list[Any], kept: str, status: str) -> list[tuple[Any, str]]:
    """Which of one digest's messages to one merged reader to cancel, and why."""
    if status != "active":  # as `People.set_subscriber_status` does when a reader leaves
        return [(r, f"cancelled: {status}") for r in group if r.status == "pending"]
    best = max(group, key=lambda r: (_PROGRESS.get(r.status, 0), r.email == kept))
    return [
        (r, f"cancelled: duplicate of {best.email}")
        for r in group
        if r is not best and r.status in ("pending", "sending")
    ]


def _v6_to_v7(conn: Connection) -> None:
    """v7 keeps articles' languages and linked files, and marks every article published so far
    as keeping its page URL as its entry id: syndicate now keeps a URI front-matter id as the
    entry id, but readers already hold these entries under their URLs. SQLite rebuilds the
    table so that the bodies stay last (see v4); PostgreSQL adds the columns."""
    if conn.dialect.name != "sqlite":
        conn.execute(sa.text("ALTER TABLE articles ADD COLUMN language VARCHAR(64)"))
        conn.execute(sa.text("ALTER TABLE articles ADD COLUMN assets TEXT NOT NULL DEFAULT '[]'"))
        conn.execute(
            sa.text("ALTER TABLE articles ADD COLUMN url_id BOOLEAN NOT NULL DEFAULT true")
        )
        conn.execute(sa.text("ALTER TABLE articles ALTER COLUMN url_id SET DEFAULT false"))
        conn.execute(sa.schema.CreateIndex(ASSETS_INDEX, if_not_exists=True))
        return
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_articles_undigested"))
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_articles_assets"))
    for index in V10_INDEXES:  # v10's, made
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index}"))  # by v4's step
    conn.execute(sa.text("ALTER TABLE articles RENAME TO articles_v6"))
    articles.create(conn)
    kept = [c for c in articles.c if c.name not in _V7_COLUMNS]
    old = sa.table("articles_v6", *(sa.column(c.name) for c in kept))
    new = (sa.literal("[]"), sa.literal(True))
    query = sa.select(*old.c, *new)
    columns = [*kept, articles.c.assets, articles.c.url_id]
    conn.execute(articles.insert().from_select(columns, query))
    conn.execute(sa.text("DROP TABLE articles_v6"))
    conn.execute(sa.schema.CreateIndex(UNDIGESTED_INDEX, if_not_exists=True))
    conn.execute(sa.schema.CreateIndex(ASSETS_INDEX, if_not_exists=True))


def _v7_to_v8(conn: Connection) -> None:
    """v8 adds the web form's sign-ups (double opt-in, rate limits). Subscribers are already
    looked up by lower(email) through v6's unique index."""
    signups.create(conn, checkfirst=True)  # with its plain indexes
    conn.execute(sa.schema.CreateIndex(SIGNUP_EMAIL_INDEX, if_not_exists=True))  # an expression


def _v8_to_v9(conn: Connection) -> None:
    """v9 reads returned mail: the messages processed, so that none is counted twice."""
    returned.create(conn, checkfirst=True)


def _v9_to_v10(conn: Connection) -> None:
    """v10 plans a rerun from what changed: pick-ups log each article's previous state
    (`changelog`) and the listing order is indexed. The log starts empty: what was picked up
    before is known only to a full plan, which the first v10 run makes (its stamp is new), so
    the log is marked complete from the current generation on."""
    changelog.create(conn, checkfirst=True)
    for index in (NEWEST_INDEX, CTA_INDEX, TAGS_INDEX, SLUG_INDEX, SOURCE_INDEX):
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    generation = conn.scalar(sa.select(meta.c.value).where(meta.c.key == "generation")) or "0"
    conn.execute(meta.insert().values(key=CHANGELOG_SINCE, value=generation))


def _v10_to_v11(conn: Connection) -> None:
    """v11 indexes the deliveries still open (pending, sending) in claiming order, so that a
    claim costs the same at a million recipients as at ten thousand."""
    OPEN_DELIVERIES_INDEX.create(conn, checkfirst=True)


# version -> step that upgrades a database from that version to the next one.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6, 6: _v6_to_v7,
    7: _v7_to_v8, 8: _v8_to_v9, 9: _v9_to_v10, 10: _v10_to_v11,
}  # fmt: skip
