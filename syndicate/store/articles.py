"""Articles and file stats: what a pick-up records (new, changed, moved, removed by content
hash, in one transaction) and what rendering reads back. A mixin of `Store`; SQL only. Time is
passed in, never read; nothing here reads article files or renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from syndicate.errors import StoreError
from syndicate.models import Changes, Entry, FileStat, Known
from syndicate.store.base import StoreBase
from syndicate.store.changelog import log_changes
from syndicate.store.dating import Taken, distinct_times, file_time, published_times, shown_times
from syndicate.store.rows import ENTRY, LIGHT, NEWEST, article_values, to_entry
from syndicate.store.schema import LIVE, articles, files
from syndicate.text import slugify

# Plain SQL and plain tuples: SQLAlchemy's per-row processing was most of a run's cost at
# 100,000 articles. Timestamps come back as text (SQLite) or naive datetimes (`rows.to_entry`).
_LISTING = (  # constant column names only
    f"SELECT {LIGHT} FROM articles WHERE deleted_at IS NULL "  # noqa: S608
    "ORDER BY coalesce(date, first_seen) DESC, id"
)


_HAS_ASSETS = "deleted_at IS NULL AND assets != '[]'"  # HAS_ASSETS, as the index says it


class Articles(StoreBase):
    """Articles and file stats; `StoreBase` supplies the connection handling."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._taken = Taken()  # the times articles show, as far as read (see store.dating)

    def known_articles(self) -> dict[str, Known]:
        query = (
            "SELECT id, source, slug, content_hash, url_id FROM articles WHERE deleted_at IS NULL"
        )
        with self._tx(write=False) as conn:  # plain SQL: no per-row processing at 100,000 rows
            return {
                row[0]: Known(row[0], row[1], row[2], row[3], bool(row[4]))
                for row in conn.exec_driver_sql(query).all()
            }

    def known_for(
        self, ids: Iterable[str], slugs: Iterable[str], sources: Iterable[str]
    ) -> dict[str, Known]:
        """The published articles among `ids`, with one of `slugs` or read from one of
        `sources`: what a pick-up of a few files compares them with (not 100,000 rows)."""
        found: dict[str, Known] = {}
        query = "SELECT id, source, slug, content_hash, url_id FROM articles WHERE deleted_at IS NULL AND "  # noqa: E501
        with self._tx(write=False) as conn:
            for column, values in (("id", ids), ("slug", slugs), ("source", sources)):
                wanted = list(dict.fromkeys(values))
                for start in range(0, len(wanted), 500):
                    chunk = {f"v{n}": v for n, v in enumerate(wanted[start : start + 500])}
                    names = ", ".join(f":{name}" for name in chunk)
                    rows = conn.execute(sa.text(f"{query}{column} IN ({names})"), chunk)
                    found |= {r[0]: Known(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}
        return found

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
            existing = self._ids_and_url_ids(conn, [a.id for a in changes.new])
            self._log(conn, changes, existing)
            times = self._times(conn, changes, existing, stats, now)
            fresh = []
            for article in changes.new:
                values = article_values(article) | {"deleted_at": None}
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
                    .values(**article_values(article), changed_at=times[article.id])
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

    def _log(self, conn: Connection, changes: Changes, existing: Mapping[str, bool]) -> None:
        """Log what each article was before this change, under the generation it makes."""
        back = [a.id for a in changes.new if a.id in existing]  # removed once, returning
        known = [a.id for a in (*changes.changed, *changes.moved)] + back + list(changes.removed)
        fresh = [a.id for a in changes.new if a.id not in existing]
        log_changes(conn, self._generation(conn) + 1, known, fresh)

    @staticmethod
    def _ids_and_url_ids(conn: Connection, ids: list[str]) -> dict[str, bool]:
        """Which of `ids` are recorded (removed ones too), with their `url_id`."""
        found: dict[str, bool] = {}
        for start in range(0, len(ids), 500):
            query = sa.select(articles.c.id, articles.c.url_id).where(
                articles.c.id.in_(ids[start : start + 500])
            )
            found |= {ident: bool(url_id) for ident, url_id in conn.execute(query)}
        return found

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
        with self._tx(write=False) as conn:  # the v7 partial index, named for SQLite (which
            hint = "INDEXED BY ix_articles_assets " if conn.dialect.name == "sqlite" else ""
            query = f"SELECT assets FROM articles {hint}WHERE {_HAS_ASSETS}"  # noqa: S608
            rows = conn.exec_driver_sql(query).all()  # else walks the newest-first index)
            return [item[0] for (text,) in rows for item in json.loads(text)]

    def ctas(self) -> list[str]:
        """The call-to-action lifted from each published article, newest first (no bodies)."""
        query = sa.select(articles.c.cta).where(LIVE, articles.c.cta.is_not(None))
        with self._tx(write=False) as conn:
            return list(conn.scalars(query.order_by(*NEWEST)))

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Published articles, newest first."""
        with self._tx(write=False) as conn:
            return [
                to_entry(*r)
                for r in conn.execute(sa.select(*ENTRY).where(LIVE).order_by(*NEWEST).limit(limit))
            ]

    def listing(self) -> list[Entry]:
        """Published articles, newest first, without their bodies (`body_html` and `body_text`
        are empty): enough for listings, keys and tags, light enough for 100,000 articles."""
        with self._tx(write=False) as conn:
            return [to_entry(*row) for row in conn.exec_driver_sql(_LISTING).all()]

    def entries_by_id(self, ids: Iterable[str]) -> dict[str, Entry]:
        """Whole published articles (bodies included) by id."""
        wanted, found = list(ids), {}
        with self._tx(write=False) as conn:
            for start in range(0, len(wanted), 500):
                query = sa.select(*ENTRY).where(
                    LIVE, articles.c.id.in_(wanted[start : start + 500])
                )
                found.update({r[0]: to_entry(*r) for r in conn.execute(query)})
        return found
