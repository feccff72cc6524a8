"""The state database's foundation: the engine, transactions, the schema migrations on open,
locks, the meta table and the copy a dry run works on. Every mixin of `Store` (articles,
digests, ledger, people, sign-ups) builds on `StoreBase`; nothing here knows their tables.

Database errors leave this module as `StoreError`, never as SQLAlchemy's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syndicate.dburl import sqlite_file
from syndicate.errors import StoreError
from syndicate.store.migrations import MIGRATIONS
from syndicate.store.schema import SCHEMA_VERSION, for_postgresql, md, meta


def _schema_version(value: str | None) -> int:
    """The stored schema version; anything but a plain number is damage, named as such."""
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit() and len(value) < 6):
        raise StoreError(f"the state database is damaged: its schema version is {value[:40]!r} "
                         "(restore a backup)")  # fmt: skip
    return int(value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def redact(url: str) -> str:
    """Hide a password in a database URL before it goes into a message."""
    return sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url


def copy_sqlite(source: Path, copy: Path) -> None:
    """Copy an SQLite state database, consistent even while a run writes it (the online backup
    API): what `--dry-run` and preview work on. A missing source copies nothing."""
    if not source.exists():
        return
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the state database {source}: {exc}") from None


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Database errors raised in the block leave it as StoreError."""
    try:
        yield
    except sa.exc.StatementError as exc:
        if isinstance(exc.orig, StoreError):
            raise exc.orig from None
        raise StoreError(f"state database error: {exc.orig}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"state database error: {exc}") from exc


class StoreBase:
    """Connection handling shared by every part of `Store`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Self:
        """Connect, creating (SQLite) or migrating the schema; refuse a newer schema."""
        file = sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sa.create_engine(url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            elif engine.dialect.name == "postgresql":
                for_postgresql()
            store = cls(engine)
            store._migrate()
        except ImportError as exc:
            raise StoreError(f"no driver for the state database {redact(url)}: {exc}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the state database {redact(url)}: {exc}") from None
        return store

    @classmethod
    def open_read_only(cls, url: str) -> Self:
        """`open`, or, for an SQLite file this process may not write (a read-only file or
        folder), the file opened immutable: enough to read it (`status`), never to change it."""
        try:
            return cls.open(url)
        except StoreError as exc:
            file = sqlite_file(url)
            denied = "readonly" in str(exc) or "unable to open" in str(exc)
            if file is None or not file.is_file() or not denied:
                raise
        uri = f"file:{quote(str(file.absolute()))}?mode=ro&immutable=1"
        store = cls(sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True)))
        if _schema_version(store.get_meta("schema_version")) != SCHEMA_VERSION:
            store.close()
            raise StoreError(f"the state database {file} is read-only and needs an upgrade to "
                             f"schema version {SCHEMA_VERSION}: run syndicate once with write "
                             "access")  # fmt: skip
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _tx(self, *, write: bool = True, single: bool = False) -> Iterator[Connection]:
        """A connection (a committed transaction when writing); database errors become
        StoreError, so callers see one error family. `single`: the block runs one statement,
        atomic by itself, so SQLite needs no explicit BEGIN IMMEDIATE (a sender saves it on
        every message)."""
        with (
            _errors(),
            self._begin(immediate=not single) if write else self.engine.connect() as conn,
        ):
            yield conn

    @contextlib.contextmanager
    def _session(self) -> Iterator[Connection]:
        """One connection for several transactions the caller commits itself (e.g. a bulk
        import: its temporary tables live as long as the connection); errors as in `_tx`."""
        with _errors(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def advisory_lock(self, name: str) -> Iterator[bool]:
        """PostgreSQL: hold a session advisory lock named `name` on a dedicated connection while
        the block runs; yields False at once if another session holds it. The lock dies with
        its connection, so a killed process never blocks the next one."""
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        try:
            conn = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"state database error: {exc}") from exc
        held = False
        try:
            held = bool(conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key))))
            conn.commit()
            yield held
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                if held:
                    conn.scalar(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()
                conn.close()

    @contextlib.contextmanager
    def _begin(self, *, immediate: bool = True) -> Iterator[Connection]:
        """A write transaction that covers every statement in it. Python's sqlite3 opens its
        own transaction only before INSERT/UPDATE/DELETE, so DDL and the reads before the first
        write would run outside it (a crash mid-schema left half a schema): on SQLite we begin
        explicitly, IMMEDIATE so that a read-then-write can never meet another writer."""
        with self.engine.begin() as conn:
            if immediate and conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _migrate(self) -> None:
        with self._begin() as conn:  # errors: see open()
            if not sa.inspect(conn).has_table("meta"):
                md.create_all(conn)
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            version = _schema_version(
                conn.scalar(sa.select(meta.c.value).where(meta.c.key == "schema_version"))
            )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the state database has schema version {version}, newer than this "
                    f"syndicate understands ({SCHEMA_VERSION}): upgrade syndicate"
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            self._put(conn, "schema_version", str(SCHEMA_VERSION))

    # -- the meta table: named values; `store.meta` gives the pipeline's ones types ----------

    @staticmethod
    def _put(conn: Connection, key: str, value: str) -> None:
        if conn.execute(meta.update().where(meta.c.key == key).values(value=value)).rowcount == 0:
            conn.execute(meta.insert().values(key=key, value=value))

    def get_meta(self, key: str) -> str | None:
        with self._tx(write=False) as conn:
            return conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            self._put(conn, key, value)

    @staticmethod
    def _generation(conn: Connection) -> int:
        return int(conn.scalar(sa.select(meta.c.value).where(meta.c.key == "generation")) or 0)

    def _bump(self, conn: Connection) -> None:
        """Move the generation on (see `Meta.generation`), inside the caller's transaction."""
        self._put(conn, "generation", str(self._generation(conn) + 1))
