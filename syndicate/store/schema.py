"""The state database's schema: tables, the UTC datetime type, and the migration steps.

Declarations only; queries live in `syndicate.store`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.errors import StoreError

SCHEMA_VERSION = 7


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StoreError(f"naive datetime {value!r} given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


md = sa.MetaData()
meta = sa.Table(
    "meta", md, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text)
)
files = sa.Table(
    "files",
    md,
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
)
articles = sa.Table(
    "articles",
    md,
    sa.Column("id", sa.String(1024), primary_key=True),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("slug", sa.String(255), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("author", sa.Text),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("cta", sa.Text),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("date", UTCDateTime),
    sa.Column("updated", UTCDateTime),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("changed_at", UTCDateTime),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("digest_id", sa.String(64)),
    sa.Column("digest_exempt", sa.Boolean, nullable=False, default=False),
    # v4: the bodies come last, so SQLite reads every other column without their overflow pages
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
)
LIVE = articles.c.deleted_at.is_(None)  # a published (not removed) article
# published and in no digest yet: what the next digest may take (few rows, whatever the archive)
UNDIGESTED = LIVE & articles.c.digest_id.is_(None) & ~articles.c.digest_exempt
UNDIGESTED_INDEX = sa.Index(  # v5: a due digest with nothing new no longer scans the table
    "ix_articles_undigested", articles.c.first_seen,
    sqlite_where=UNDIGESTED, postgresql_where=UNDIGESTED,
)  # fmt: skip

digests = sa.Table(
    "digests",
    md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("web_html", sa.Text, nullable=False),
    sa.Column("marker", sa.String(64), nullable=False),
    sa.Column("article_ids", sa.Text, nullable=False),
)
subscribers = sa.Table(
    "subscribers",
    md,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False, default="active"),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)
deliveries = sa.Table(
    "deliveries",
    md,
    sa.Column("digest_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.Column("next_attempt", UTCDateTime),  # v2: a 4xx answer waits until then (backoff)
    sa.Column("lease_until", UTCDateTime),  # v3: a `sending` row belongs to its worker until then
    sa.Column("worker", sa.String(255)),  # v3: who claimed it (host/pid/thread), for status
    sa.Index("ix_deliveries_status", "status"),
)
# v7: addresses compare case-insensitively; unsubscribe links look them up by lower(email)
SUBSCRIBER_EMAIL_INDEX = sa.Index("ix_subscribers_email_lower", sa.func.lower(subscribers.c.email))
signups = sa.Table(  # v7: sign-ups through the web form, waiting for (or done with) confirmation
    "signups",
    md,
    sa.Column("id", sa.String(64), primary_key=True),  # opaque: sealed in the confirmation token
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("client", sa.String(64), nullable=False),  # a keyed hash of the client's network
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("mailed", sa.Boolean, nullable=False),  # False: over the address's daily limit
    sa.Column("confirmed", UTCDateTime),  # when this or a later sign-up was confirmed: used up
    sa.Index("ix_signups_client", "client", "created"),
    sa.Index("ix_signups_created", "created"),
)
SIGNUP_EMAIL_INDEX = sa.Index("ix_signups_email_lower", sa.func.lower(signups.c.email))
runs = sa.Table(
    "runs",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", UTCDateTime, nullable=False),
    sa.Column("finished", UTCDateTime, nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)


def _v1_to_v2(conn: Connection) -> None:
    """v2 retries 4xx answers with exponential backoff: each delivery gets `next_attempt`."""
    column_type = sa.DateTime().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE deliveries ADD COLUMN next_attempt {column_type}"))


# version -> step that upgrades a database from that version to the next one.
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
    articles.create(conn)
    old = sa.table("articles_v3", *(sa.column(c.name) for c in articles.c))
    conn.execute(articles.insert().from_select(list(articles.c), sa.select(*old.c)))
    conn.execute(sa.text("DROP TABLE articles_v3"))


def _v4_to_v5(conn: Connection) -> None:
    """v5 indexes the articles a digest may still take (a partial index: it stays small)."""
    UNDIGESTED_INDEX.create(conn, checkfirst=True)


def _v5_to_v6(conn: Connection) -> None:
    """Reserved for the people branch's v6 (case-insensitive addresses, duplicates merged);
    nothing in this branch. v7 below does not depend on it."""


def _v6_to_v7(conn: Connection) -> None:
    """v7 adds the web form's sign-ups (double opt-in, rate limits) and looks subscribers up
    by lower(email) for unsubscribe links. Self-contained: creates only what is missing."""
    signups.create(conn, checkfirst=True)  # with its plain indexes
    for index in (SIGNUP_EMAIL_INDEX, SUBSCRIBER_EMAIL_INDEX):  # expressions: not reflected
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6, 6: _v6_to_v7,
}  # fmt: skip
