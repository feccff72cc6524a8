"""A subscriber import of any size: rows streamed into a temporary table, then merged into the
list by a few set-based statements. A mixin of `Store`; SQL only, time passed in.

The rows (already validated, in file order) go into a temporary table in batches: SQLite by
`executemany`, PostgreSQL by COPY. The first row of each address wins, whatever the case of
the others (they count as duplicates); then, in one transaction, addresses already on the
list get the new name (when the row gives one) and keep their status (an import never brings
back a reader who left: `People.upsert_subscribers` explains the rule), and new ones are
inserted active. Staging holds no lock on the list; the merge holds other writers off (SQLite's
write lock, a PostgreSQL table lock that lets readers on). Memory stays flat whatever the
size: no row outlives its batch in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Subscriber
from syndicate.store.base import StoreBase
from syndicate.store.schema import SUBSCRIBER_ADDRESS, UTCDateTime, subscribers

BATCH = 10_000  # rows per executemany: large enough to amortise it, small enough to forget

_temp = sa.MetaData()
staged = sa.Table(  # every good row of the file, in order (`seq`); `key`: the address, lowered
    "import_rows", _temp,
    sa.Column("seq", sa.Integer, nullable=False),  # no index to keep up while rows come in
    sa.Column("key", sa.String(320), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    prefixes=["TEMPORARY"],
)  # fmt: skip
firsts = sa.Table(  # the first row of each address
    "import_first", _temp,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    prefixes=["TEMPORARY"],
)  # fmt: skip


@dataclass(frozen=True)
class Merged:
    """What an import did: addresses added, updated (active), kept off the list (they had
    left), and rows that repeated an earlier row's address."""

    added: int = 0
    updated: int = 0
    kept_inactive: int = 0
    duplicates: int = 0


class Bulk(StoreBase):
    """Bulk imports; `StoreBase` supplies the connections."""

    def import_subscribers(self, people: Iterable[Subscriber], now: datetime) -> Merged:
        """Add `people` (in file order; the first of each address wins) to the list, as one
        transaction. The iterable is consumed once, batch by batch."""
        with self._session() as conn:
            try:
                _create(conn)
                rows = _stage(conn, people)
                conn.commit()  # the temporary table only: nothing of the list changed yet
                _lock(conn)
                merged = _merge(conn, rows, now)
                conn.commit()
            finally:
                conn.rollback()
                _temp.drop_all(conn, checkfirst=True)  # the pooled connection outlives them
                conn.commit()
        return merged


def _lock(conn: Connection) -> None:
    """Begin the merge as the list's only writer: SQLite's write lock; on PostgreSQL a lock
    that lets readers (senders, the web side's look-ups) on but holds other writers (a web
    sign-up) until the merge commits, so that its counts and inserts stay exact. PostgreSQL
    also learns the temporary table's size (autovacuum never analyses one) and may sort in
    memory, its own (the server's), not ours."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    conn.exec_driver_sql("ANALYZE import_rows")
    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    conn.exec_driver_sql("LOCK TABLE subscribers IN SHARE ROW EXCLUSIVE MODE")


def _create(conn: Connection) -> None:
    _temp.drop_all(conn, checkfirst=True)
    _temp.create_all(conn)


def _numbered(people: Iterable[Subscriber]) -> Iterator[tuple[int, str, str, str]]:
    for seq, person in enumerate(people):
        yield seq, person.email.lower(), person.email, person.name


def _stage(conn: Connection, people: Iterable[Subscriber]) -> int:
    """Every row into `import_rows`; returns how many."""
    rows = _numbered(people)
    count = 0
    if conn.dialect.name == "postgresql":
        copy, driver = "COPY import_rows (seq, key, email, name) FROM STDIN", conn.connection
        assert driver.driver_connection is not None  # psycopg's own connection
        with driver.driver_connection.cursor() as cursor, cursor.copy(copy) as into:
            for row in rows:
                into.write_row(row)
                count += 1
        return count
    insert = "INSERT INTO import_rows (seq, key, email, name) VALUES (?, ?, ?, ?)"
    while batch := list(itertools.islice(rows, BATCH)):
        conn.exec_driver_sql(insert, batch)
        count += len(batch)
    return count


def _merge(conn: Connection, rows: int, now: datetime) -> Merged:
    """Set-based: keep the first row of each address, then update known addresses and insert
    the new ones (in address order, so the list's indexes grow at their ends)."""
    first = sa.select(sa.func.min(staged.c.seq)).group_by(staged.c.key)
    chosen = (
        sa.select(staged.c.key, staged.c.email, staged.c.name)
        .where(staged.c.seq.in_(first))
        .order_by(staged.c.key)
    )
    conn.execute(firsts.insert().from_select(["key", "email", "name"], chosen))
    if conn.dialect.name == "postgresql":  # its size, for the joins below
        conn.exec_driver_sql("ANALYZE import_first")
    distinct = int(conn.scalar(sa.select(sa.func.count()).select_from(firsts)) or 0)
    known = firsts.c.key == SUBSCRIBER_ADDRESS
    standing = {
        str(status): int(count)
        for status, count in conn.execute(
            sa.select(subscribers.c.status, sa.func.count())
            .select_from(subscribers.join(firsts, known))
            .group_by(subscribers.c.status)
        )
    }
    active = int(standing.pop("active", 0))
    stamp = sa.literal(now, UTCDateTime())
    renamed = sa.case((firsts.c.name != "", firsts.c.name), else_=subscribers.c.name)
    conn.execute(subscribers.update().where(known).values(name=renamed, updated=stamp))
    added = conn.execute(_insert_new(stamp)).rowcount
    return Merged(int(added), active, sum(standing.values()), rows - distinct)


def _insert_new(stamp: sa.ColumnElement[datetime]) -> sa.Insert:
    """The addresses not on the list yet, inserted active, in address order."""
    absent = ~sa.exists().where(firsts.c.key == SUBSCRIBER_ADDRESS)
    new = (
        sa.select(firsts.c.email, firsts.c.name, sa.literal("active"), stamp, stamp)
        .where(absent)
        .order_by(firsts.c.key)
    )
    columns = ["email", "name", "status", "created", "updated"]
    insert = subscribers.insert().from_select(columns, new)
    return insert.execution_options(preserve_rowcount=True)  # SQLAlchemy counts INSERTs so
