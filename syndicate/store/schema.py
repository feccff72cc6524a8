"""The state database's schema: tables, indexes and the UTC datetime type, at SCHEMA_VERSION.

Declarations only: queries live in the other `syndicate.store` modules, the steps that bring
an older database here in `store.migrations`.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from syndicate.errors import StoreError

SCHEMA_VERSION = 11


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
    # v7: the front-matter language, the local files the article links (JSON), and whether its
    # entry id is its page URL although its id is a URI (published before URI ids were kept)
    sa.Column("language", sa.String(64)),
    sa.Column("assets", sa.Text, nullable=False, default="[]"),
    sa.Column("url_id", sa.Boolean, nullable=False, default=False),
    # v4: the bodies come last, so SQLite reads every other column without their overflow pages
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
)
LIVE = articles.c.deleted_at.is_(None)  # a published (not removed) article
# published and in no digest yet: what the next digest may take (few rows, whatever the archive)
UNDIGESTED = LIVE & articles.c.digest_id.is_(None) & ~articles.c.digest_exempt


def partial_index(name: str, *expressions: Any, where: sa.ColumnElement[bool]) -> sa.Index:
    """An index of the rows where `where` holds. Its PostgreSQL form is given by
    `for_postgresql`, not here: naming a `postgresql_` option imports that dialect (40 ms of
    every process's start-up, SQLite's included)."""
    index = sa.Index(name, *expressions, sqlite_where=where)
    index.info["where"] = where
    return index


UNDIGESTED_INDEX = partial_index(  # v5: a due digest with nothing new no longer scans the table
    "ix_articles_undigested", articles.c.first_seen, where=UNDIGESTED
)

# v7: the few articles that link files, which every run stats (without scanning the table)
HAS_ASSETS = LIVE & (articles.c.assets != "[]")
ASSETS_INDEX = partial_index("ix_articles_assets", articles.c.id, where=HAS_ASSETS)

# v10: the listing order (newest first) as an index, so that a rerun reads the listing pages a
# change touches (a window of the order) without sorting every article. Not partial: SQLite
# took a partial `deleted_at IS NULL` index for every query on published articles, walking
# it with a row lookup each; `deleted_at` is its last column, so that counts need no lookup.
NEWEST_INDEX = sa.Index(
    "ix_articles_newest",
    sa.func.coalesce(articles.c.date, articles.c.first_seen).desc(), articles.c.id,
    articles.c.deleted_at,
)  # fmt: skip
# v10: the lifted calls-to-action and the tags in use, read per value (not per article) to
# tell whether the site's default call-to-action or its tag folders changed
CTA_INDEX = partial_index(
    "ix_articles_cta", articles.c.cta, sa.func.coalesce(articles.c.date, articles.c.first_seen),
    articles.c.id, where=LIVE & articles.c.cta.is_not(None),
)  # fmt: skip
TAGS_INDEX = partial_index(
    "ix_articles_tags", articles.c.tags, where=LIVE & (articles.c.tags != "[]")
)
# v10: a pick-up of a few files finds the articles they concern by slug and by file
SLUG_INDEX = sa.Index("ix_articles_slug", articles.c.slug)
SOURCE_INDEX = sa.Index("ix_articles_source", articles.c.source)
# v10: what each pick-up changed, one row per article and generation, holding the article as it
# was before (`live` false: not published then): what a rerun's plan is derived from until the
# output folder has published that generation (then the rows are dropped)
changelog = sa.Table(
    "changelog",
    md,
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("id", sa.String(1024), nullable=False),
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("slug", sa.String(255)),
    sa.Column("tags", sa.Text),
    sa.Column("published", UTCDateTime),
    sa.Column("assets", sa.Text),
    sa.Index("ix_changelog_generation", "generation"),
)

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
# v6: one subscriber per address, whatever its case (the whole address: every mailbox provider
# treats the local part case-insensitively); the row keeps the address as first written
SUBSCRIBER_ADDRESS = sa.func.lower(subscribers.c.email)
SUBSCRIBER_ADDRESS_INDEX = sa.Index("ux_subscribers_address", SUBSCRIBER_ADDRESS, unique=True)
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
# v10: the rows a sender may still claim, in claiming order. A partial index: it holds only
# pending and sending rows, so a claim reads the next few of them whatever number of sent rows
# a million-reader digest leaves behind (without it, each claim sorted every pending row). A
# query reads it when its WHERE holds this very term, the values written literally (neither
# database can prove it from bound parameters), and no term the status index could serve
# instead: hence `coalesce(status, '')`, which the claim compares (the status is never NULL).
OPEN_STATUS = sa.func.coalesce(deliveries.c.status, sa.literal_column("''"))
OPEN_ROW = OPEN_STATUS.in_([sa.literal_column("'pending'"), sa.literal_column("'sending'")])
OPEN_DELIVERIES_INDEX = partial_index(
    "ix_deliveries_open", deliveries.c.digest_id, deliveries.c.email, where=OPEN_ROW
)
signups = sa.Table(  # v8: sign-ups through the web form, waiting for (or done with) confirmation
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
# v9: every returned message processed (bounce, complaint, mailto unsubscribe, ignored), by its
# mailbox key, recorded in the transaction that acts on it: a message is never counted twice
returned = sa.Table(
    "returned",
    md,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("email", sa.String(320)),  # the subscriber it concerns (None: ignored)
    sa.Column("kind", sa.String(16), nullable=False),  # hard soft complaint unsubscribe ...
    sa.Column("status", sa.String(32), nullable=False, default=""),  # 5.1.1, abuse
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("received", UTCDateTime, nullable=False),
    sa.Index("ix_returned_email", "email", "received"),
)
runs = sa.Table(
    "runs",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", UTCDateTime, nullable=False),
    sa.Column("finished", UTCDateTime, nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)

# A subscriber's standing: of several copies of one address, the one that asked for least mail
# wins (a reader who left through one copy has left through all of them); returned mail only
# ever moves an address to a stronger standing.
STANDING = {"active": 0, "pending": 1, "unsubscribed": 2, "bounced": 3, "complained": 4}


@functools.cache
def for_postgresql() -> None:
    """Give every partial index its PostgreSQL WHERE (see `partial_index`), before a
    PostgreSQL schema is created or migrated; the first PostgreSQL store a process opens does
    it, for all."""
    for table in md.tables.values():
        for index in table.indexes:
            if "where" in index.info:
                index.dialect_kwargs["postgresql_where"] = index.info["where"]
