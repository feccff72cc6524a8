"""The state database: every SQL statement syndicate runs lives here (SQLAlchemy Core).

Articles (new/changed/removed by content hash), file stats for cheap rescans, digests,
subscribers and the per-message delivery ledger. Time is always passed in, never read; nothing
here renders, reads article files or sends mail.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syndicate.config import sqlite_file
from syndicate.errors import StoreError
from syndicate.ingest import Changes, Known
from syndicate.models import Article, Asset, Digest, Entry, FileStat
from syndicate.store.dating import (
    Taken,
    distinct_times,
    file_time,
    published_times,
    shown_times,
)
from syndicate.store.ledger import Ledger
from syndicate.store.people import People, Upserted
from syndicate.store.returned import LastBounce, Recorded, Returns
from syndicate.store.schema import (
    HAS_ASSETS,
    LIVE,
    MIGRATIONS,
    SCHEMA_VERSION,
    UNDIGESTED,
    UTCDateTime,
    articles,
    deliveries,
    digests,
    files,
    md,
    meta,
    subscribers,
)
from syndicate.store.signup import Outcome, Signup, Signups
from syndicate.text import slugify

__all__ = [
    "SCHEMA_VERSION",
    "LastBounce",
    "Outcome",
    "Recorded",
    "Signup",
    "Store",
    "Upserted",
]


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


def _entry(row: Any) -> Entry:
    article = Article(
        id=row.id,
        source=row.source,
        title=row.title,
        slug=row.slug,
        body_html=row.body_html,
        body_text=row.body_text,
        summary=row.summary,
        content_hash=row.content_hash,
        date=row.date,
        updated=row.updated,
        author=row.author,
        tags=() if row.tags == "[]" else tuple(json.loads(row.tags)),
        cta=row.cta,
        language=row.language,
        assets=_assets(row.assets),
        url_id=bool(row.url_id),
    )
    published = row.date or row.first_seen
    return Entry(article, published, max(published, row.updated or row.changed_at or published))


def _assets(text: str) -> tuple[Asset, ...]:
    return () if text == "[]" else tuple(Asset(*item) for item in json.loads(text))


_LISTING = """
SELECT id, source, title, slug, summary, content_hash, date, updated, author, tags, cta,
       first_seen, changed_at, language, assets, url_id
FROM articles WHERE deleted_at IS NULL
ORDER BY coalesce(date, first_seen) DESC, id"""


@functools.lru_cache(maxsize=65536)
def _parse_utc(text: str) -> datetime:
    """Cached: the articles of one pick-up share their first-seen and changed times."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    return _parse_utc(value) if isinstance(value, str) else value.replace(tzinfo=UTC)


def _light_entry(*row: Any) -> Entry:
    """An Entry without bodies from one row of `_LISTING` (times parsed only where needed)."""
    ident, source, title, slug, summary, content_hash, date, updated, author, tags, cta = row[:11]
    date, updated = _utc(date), _utc(updated)
    article = Article(
        ident, source, title, slug, "", "", summary, content_hash, date, updated, author,
        () if tags == "[]" else tuple(json.loads(tags)), False, cta, row[13], _assets(row[14]),
        bool(row[15]),
    )  # fmt: skip
    published = date or _utc(row[11])
    assert published is not None
    return Entry(article, published, max(published, updated or _utc(row[12]) or published))


def _article_values(article: Article) -> dict[str, Any]:
    return {
        "source": article.source,
        "slug": article.slug,
        "title": article.title,
        "body_html": article.body_html,
        "body_text": article.body_text,
        "summary": article.summary,
        "author": article.author,
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "cta": article.cta,
        "content_hash": article.content_hash,
        "date": article.date,
        "updated": article.updated,
        "language": article.language,
        "assets": json.dumps([list(a) for a in article.assets], ensure_ascii=False),
    }


_published = sa.func.coalesce(articles.c.date, articles.c.first_seen, type_=UTCDateTime)
_NEWEST = (_published.desc(), articles.c.id)


def candidates_query(since: datetime | None, limit: int | None) -> sa.Select[Any]:
    """What the next digest may take, newest first (served by the v5 partial index)."""
    query = sa.select(articles).where(UNDIGESTED)
    if since is not None:
        query = query.where(_published >= since)
    return query.order_by(*_NEWEST).limit(limit)


class Store(Ledger, People, Signups, Returns):
    """The one gateway to the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._taken = Taken()  # the times articles show, as far as read (see store.dating)

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, creating (SQLite) or migrating the schema; refuse a newer schema."""
        file = sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sa.create_engine(url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
            store._migrate()
        except ImportError as exc:
            raise StoreError(f"no driver for the state database {_redact(url)}: {exc}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the state database {_redact(url)}: {exc}") from None
        return store

    @classmethod
    def open_read_only(cls, url: str) -> Store:
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
        try:
            with self._begin(immediate=not single) if write else self.engine.connect() as conn:
                yield conn
        except sa.exc.StatementError as exc:
            if isinstance(exc.orig, StoreError):
                raise exc.orig from None
            raise StoreError(f"state database error: {exc.orig}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"state database error: {exc}") from exc

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

    # -- articles ---------------------------------------------------------------------------

    def known_articles(self) -> dict[str, Known]:
        query = (
            "SELECT id, source, slug, content_hash, url_id FROM articles WHERE deleted_at IS NULL"
        )
        with self._tx(write=False) as conn:  # plain SQL: no per-row processing at 100,000 rows
            return {
                row[0]: Known(row[0], row[1], row[2], row[3], bool(row[4]))
                for row in conn.exec_driver_sql(query).all()
            }

    def count_live(self) -> int:
        """How many articles are published."""
        with self._tx(write=False) as conn:
            return int(
                conn.scalar(sa.select(sa.func.count()).select_from(articles).where(LIVE)) or 0
            )

    def file_stats(self) -> dict[str, FileStat]:
        with self._tx(write=False) as conn:
            rows = conn.exec_driver_sql("SELECT path, size, mtime_ns FROM files")  # 100,000 rows:
            return {row[0]: FileStat._make(row) for row in rows.all()}  # no per-row processing

    def apply(
        self,
        changes: Changes,
        stats: Mapping[str, FileStat],
        now: datetime,
        previous: Mapping[str, FileStat] | None = None,
    ) -> None:
        """Record one scan's outcome in one transaction; only problem-free files are remembered.

        `previous` is what `file_stats()` returned before the scan: only the difference is
        written, so an unchanged folder costs no writes (None: rewrite every row).
        """
        if now.tzinfo is None:  # times are derived from it before any reaches the database
            raise StoreError(f"naive datetime {now!r} given to the store")
        bad = {p.path for p in changes.problems}
        with self._tx() as conn:
            existing = self._ids_and_url_ids(conn) if changes.new else {}
            times = self._times(conn, changes, existing, stats, now)
            fresh = []
            for article in changes.new:
                values = _article_values(article) | {"deleted_at": None}
                if article.id in existing:  # a removed article came back: keep its history
                    if existing[article.id] and article.title_slug:  # and its page (v7)
                        values["slug"] = slugify(article.id)
                    conn.execute(
                        articles.update()
                        .where(articles.c.id == article.id)
                        .values(**values, changed_at=times[article.id])
                    )
                else:
                    seen = times.get(article.id, now)
                    fresh.append(values | {"id": article.id, "first_seen": seen})
            if fresh:  # one executemany: a first run over 100,000 files
                conn.execute(articles.insert(), fresh)
            for article in changes.changed:
                conn.execute(
                    articles.update()
                    .where(articles.c.id == article.id)
                    .values(**_article_values(article), changed_at=times[article.id])
                )
            for article in changes.moved:
                conn.execute(
                    articles.update()
                    .where(articles.c.id == article.id)
                    .values(source=article.source)
                )
            if changes.removed:
                conn.execute(
                    articles.update()
                    .where(articles.c.id.in_(changes.removed))
                    .values(deleted_at=now)
                )
            self._record_files(conn, stats, bad, previous)
            if changes.new or changes.changed or changes.moved or changes.removed:
                self._bump(conn)

    @staticmethod
    def _ids_and_url_ids(conn: Connection) -> dict[str, bool]:
        """Every recorded article id (removed ones too), with its `url_id`."""
        query = sa.select(articles.c.id, articles.c.url_id)
        return {ident: bool(url_id) for ident, url_id in conn.execute(query)}

    def _times(
        self,
        conn: Connection,
        changes: Changes,
        existing: Mapping[str, bool],
        stats: Mapping[str, FileStat],
        now: datetime,
    ) -> dict[str, datetime]:
        """Distinct seconds for what a feed will show: the first-seen time of each new article
        without a date, the edit time of each changed or returning one (`store.dating`)."""
        wanted = [a for a in changes.new if a.date is None or a.id in existing]
        edits = set(changes.changed)
        wanted += changes.changed
        if not wanted:
            return {}
        files = {a.id: (file_time(stats.get(a.source), now), a.source) for a in wanted}
        edited = published_times(conn, [a.id for a in wanted if a.id in existing or a in edits])
        edited = {i: t.replace(tzinfo=UTC) if t.tzinfo is None else t for i, t in edited.items()}
        shown = shown_times((*changes.new, *changes.changed))
        generation = self._generation(conn)
        if self._taken.generation != generation:  # another process changed articles since
            self._taken = Taken(generation)
        given = distinct_times(conn, files, shown, after=edited, taken=self._taken)
        self._taken.generation = generation + 1  # apply() bumps it: still what we know
        return given

    @staticmethod
    def _record_files(
        conn: Connection,
        stats: Mapping[str, FileStat],
        bad: set[str],
        previous: Mapping[str, FileStat] | None,
    ) -> None:
        if previous is None:
            conn.execute(files.delete())
            previous = {}
        keep = {path: stat for path, stat in stats.items() if path not in bad}
        stale = [path for path, stat in previous.items() if keep.get(path) != stat]
        for chunk in range(0, len(stale), 500):
            conn.execute(files.delete().where(files.c.path.in_(stale[chunk : chunk + 500])))
        rows = [stat._asdict() for path, stat in keep.items() if previous.get(path) != stat]
        if rows:
            conn.execute(files.insert(), rows)

    def asset_paths(self) -> list[str]:
        """Every local file a published article links to (paths under the articles folder)."""
        query = sa.select(articles.c.assets).where(HAS_ASSETS)  # the v7 partial index
        with self._tx(write=False) as conn:
            return [item[0] for text in conn.scalars(query) for item in json.loads(text)]

    def ctas(self) -> list[str]:
        """The call-to-action lifted from each published article, newest first (no bodies)."""
        query = sa.select(articles.c.cta).where(LIVE, articles.c.cta.is_not(None))
        with self._tx(write=False) as conn:
            return list(conn.scalars(query.order_by(*_NEWEST)))

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Published articles, newest first."""
        with self._tx(write=False) as conn:
            return [
                _entry(r)
                for r in conn.execute(
                    sa.select(articles).where(LIVE).order_by(*_NEWEST).limit(limit)
                )
            ]

    def listing(self) -> list[Entry]:
        """Published articles, newest first, without their bodies (`body_html` and `body_text`
        are empty): enough for listings, keys and tags, light enough for 100,000 articles.

        Plain SQL and plain tuples: SQLAlchemy's per-row processing was most of a run's cost
        at 100,000 articles. Timestamps come back as text (SQLite) or naive datetimes."""
        with self._tx(write=False) as conn:
            return [_light_entry(*row) for row in conn.exec_driver_sql(_LISTING).all()]

    def entries_by_id(self, ids: Iterable[str]) -> dict[str, Entry]:
        """Whole published articles (bodies included) by id."""
        wanted, found = list(ids), {}
        with self._tx(write=False) as conn:
            for start in range(0, len(wanted), 500):
                query = sa.select(articles).where(
                    LIVE, articles.c.id.in_(wanted[start : start + 500])
                )
                found.update({r.id: _entry(r) for r in conn.execute(query)})
        return found

    def generation(self) -> int:
        """A counter that every change to what the output folder shows moves on (articles
        applied, a digest frozen): an unchanged generation means nothing to render."""
        return int(self.get_meta("generation") or 0)

    # -- digests ----------------------------------------------------------------------------

    def digest_candidates(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[Entry]:
        """Published articles that are in no digest yet, newest first; with `since`, only
        those published since then; with `limit`, at most that many."""
        with self._tx(write=False) as conn:
            return [_entry(r) for r in conn.execute(candidates_query(since, limit))]

    def last_digest_time(self) -> datetime | None:
        with self._tx(write=False) as conn:
            latest: datetime | None = conn.scalar(sa.select(sa.func.max(digests.c.created)))
        return latest

    def unused_digest_id(self, base: str) -> str:
        with self._tx(write=False) as conn:
            taken = set(conn.scalars(sa.select(digests.c.id).where(digests.c.id.like(f"{base}%"))))
        return next(
            c
            for n in range(1, len(taken) + 2)
            if (c := base if n == 1 else f"{base}-{n}") not in taken
        )

    def freeze_digest(
        self,
        digest: Digest,
        exempt: Iterable[str],
        now: datetime,
        exempt_before: datetime | None = None,
    ) -> int:
        """Record a digest, claim its articles and queue one delivery per active subscriber.
        Articles named in `exempt`, and those left in no digest published up to `exempt_before`,
        are marked never to be mailed (the first digest's flood guard).

        One transaction: either all of it happens or none. Returns the number of deliveries.
        """
        with self._tx() as conn:
            conn.execute(
                digests.insert().values(
                    id=digest.id,
                    created=digest.created,
                    subject=digest.subject,
                    html=digest.html,
                    text=digest.text,
                    web_html=digest.web_html,
                    marker=digest.marker,
                    article_ids=json.dumps(digest.article_ids),
                )
            )
            claimed = conn.execute(
                articles.update()
                .where(articles.c.id.in_(digest.article_ids), articles.c.digest_id.is_(None))
                .values(digest_id=digest.id)
            ).rowcount
            if claimed != len(digest.article_ids):
                raise StoreError(f"digest {digest.id}: some articles are already in another digest")
            exempt = list(exempt)
            if exempt:
                conn.execute(
                    articles.update().where(articles.c.id.in_(exempt)).values(digest_exempt=True)
                )
            if exempt_before is not None:
                conn.execute(
                    articles.update()
                    .where(LIVE, articles.c.digest_id.is_(None), _published <= exempt_before)
                    .values(digest_exempt=True)
                )
            active = conn.execute(
                sa.select(subscribers.c.email, subscribers.c.name).where(
                    subscribers.c.status == "active"
                )
            ).all()
            queued = {"digest_id": digest.id, "status": "pending", "attempts": 0, "updated": now}
            if active:
                rows = [
                    queued | {"email": s.email, "name": s.name, "last_error": ""} for s in active
                ]
                conn.execute(deliveries.insert(), rows)
            self._bump(conn)
            return len(active)

    @staticmethod
    def _generation(conn: Connection) -> int:
        return int(conn.scalar(sa.select(meta.c.value).where(meta.c.key == "generation")) or 0)

    def _bump(self, conn: Connection) -> None:
        value = conn.scalar(sa.select(meta.c.value).where(meta.c.key == "generation"))
        self._put(conn, "generation", str(int(value or 0) + 1))

    def digest_ids(self) -> list[str]:
        """Every frozen digest's id, newest first."""
        query = sa.select(digests.c.id).order_by(digests.c.created.desc(), digests.c.id.desc())
        with self._tx(write=False) as conn:
            return list(conn.scalars(query))

    def digest_page(self, ident: str) -> str:
        """The web version of one frozen digest."""
        with self._tx(write=False) as conn:
            page: str | None = conn.scalar(
                sa.select(digests.c.web_html).where(digests.c.id == ident)
            )
        if page is None:
            raise StoreError(f"no digest {ident!r}")
        return page

    def digests(self, ids: Iterable[str] | None = None) -> list[Digest]:
        """Frozen digests, newest first: all of them, or only those named by `ids`."""
        query = sa.select(digests).order_by(digests.c.created.desc(), digests.c.id.desc())
        if ids is not None:
            query = query.where(digests.c.id.in_(list(ids)))
        with self._tx(write=False) as conn:
            rows = conn.execute(query)
            return [
                Digest(
                    r.id,
                    r.created,
                    r.subject,
                    r.html,
                    r.text,
                    r.web_html,
                    r.marker,
                    tuple(json.loads(r.article_ids)),
                )
                for r in rows
            ]


def _redact(url: str) -> str:
    """Hide a password in a database URL before it goes into a message."""
    return sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
