"""The change log and windows of the listing order: what a rerun plans from instead of every
article. A pick-up logs each article it touches as it was before (`log_changes`, inside the
pick-up's transaction, under the generation it makes); a build reads the log after the
generation its output folder last published (`changes_since`), then only the parts of the
listing those changes reach (`window`, `count_older`, `tagged`). A mixin of `Store`; SQL only.

Nothing here decides what to render; the log is dropped only when told (`prune_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Entry
from syndicate.store.base import StoreBase
from syndicate.store.migrations import CHANGELOG_SINCE
from syndicate.store.rows import LIGHT, PUBLISHED, to_entry
from syndicate.store.schema import LIVE, UTCDateTime, articles, changelog, meta

_ORDER = "ORDER BY coalesce(date, first_seen) DESC, id"  # the listing order (v10 index)
_OLDER = (
    "deleted_at IS NULL AND (coalesce(date, first_seen) < :published "
    "OR (coalesce(date, first_seen) = :published AND id > :id))"
)
_FIRST_CTA = f"SELECT cta FROM articles WHERE deleted_at IS NULL AND cta IN :tied {_ORDER} LIMIT 1"  # noqa: S608
_TIME = sa.bindparam("published", type_=UTCDateTime)  # stored as every other time is


class Was(NamedTuple):
    """An article as it was before a change (`live` false: it was not published then)."""

    id: str
    live: bool
    slug: str = ""
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    assets: tuple[str, ...] = ()  # the paths of the files it linked


def log_changes(
    conn: Connection, generation: int, known: Sequence[str], fresh: Iterable[str]
) -> None:
    """Log the state before `generation` of the recorded articles `known` and of the `fresh`
    ones (never recorded: not published before), in the caller's transaction."""
    empty = {"slug": None, "tags": None, "published": None, "assets": None}  # every row: one
    rows = [{"generation": generation, "id": i, "live": False, **empty} for i in fresh]  # INSERT
    query = sa.select(articles.c.id, LIVE, articles.c.slug, articles.c.tags, PUBLISHED,
                      articles.c.assets)  # fmt: skip
    for start in range(0, len(known), 500):
        for ident, live, slug, tags, published, assets in conn.execute(
            query.where(articles.c.id.in_(known[start : start + 500]))
        ):
            rows.append({"generation": generation, "id": ident, "live": bool(live), "slug": slug,
                         "tags": tags, "published": published, "assets": assets})  # fmt: skip
    for start in range(0, len(rows), 5000):
        conn.execute(changelog.insert(), rows[start : start + 5000])


def _was(ident: str, live: bool, slug: str | None, tags: str | None, published: datetime | None,
         assets: str | None) -> Was:  # fmt: skip
    if not live:
        return Was(ident, False)
    paths = tuple(item[0] for item in json.loads(assets or "[]"))
    return Was(ident, True, slug or "", tuple(json.loads(tags or "[]")), published, paths)


class Changelog(StoreBase):
    """The change log and the listing windows; `StoreBase` supplies the connection handling."""

    def changes_since(self, generation: int) -> dict[str, Was] | None:
        """Each article changed after `generation`, as it was then; None when the log does
        not reach back that far (pruned, or older than the log): only a full plan knows."""
        query = (
            sa.select(changelog.c.id, changelog.c.live, changelog.c.slug, changelog.c.tags,
                      changelog.c.published, changelog.c.assets)
            .where(changelog.c.generation > generation)
            .order_by(changelog.c.generation.desc())
        )  # fmt: skip
        with self._tx(write=False) as conn:
            since = self._get(conn, CHANGELOG_SINCE)
            if since is not None and not (since.isdigit() and int(since) <= generation):
                return None
            return {row[0]: _was(*row) for row in conn.execute(query)}  # the oldest row wins

    def prune_changes(self, generation: int) -> None:
        """Forget the changes up to `generation` (published): the log starts after it."""
        with self._tx() as conn:
            conn.execute(changelog.delete().where(changelog.c.generation <= generation))
            since = self._get(conn, CHANGELOG_SINCE)
            if since is None or not since.isdigit() or int(since) < generation:
                self._put(conn, CHANGELOG_SINCE, str(generation))

    @staticmethod
    def _get(conn: Connection, key: str) -> str | None:
        value = conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))
        return None if value is None else str(value)

    def leading_cta(self) -> str | None:
        """The call-to-action most published articles lift, the newest of those on a tie (as
        `render.common.publication_cta` picks from all of them), read per value."""
        query = (
            "SELECT cta, count(*), max(coalesce(date, first_seen)) FROM articles "
            "WHERE deleted_at IS NULL AND cta IS NOT NULL AND cta != '' GROUP BY cta"
        )
        with self._tx(write=False) as conn:
            counted = conn.exec_driver_sql(query).all()
            if not counted:
                return None
            best = max(row[1] for row in counted)
            leaders = [row for row in counted if row[1] == best]
            newest = max(str(row[2]) for row in leaders)
            tied = sorted(str(row[0]) for row in leaders if str(row[2]) == newest)
            if len(tied) == 1:
                return tied[0]
            # the same newest time: the listing's order goes on by id
            first = sa.text(_FIRST_CTA).bindparams(sa.bindparam("tied", expanding=True))
            return str(conn.scalar(first, {"tied": tied}))

    def tags_in_use(self) -> list[str]:
        """Every tag a published article carries (for the site's tag folders), sorted."""
        query = "SELECT DISTINCT tags FROM articles WHERE deleted_at IS NULL AND tags != '[]'"
        with self._tx(write=False) as conn:
            found = {t for (text,) in conn.exec_driver_sql(query) for t in json.loads(text)}
        return sorted(found)

    def light_entries(self, ids: Iterable[str]) -> dict[str, Entry]:
        """The published articles among `ids`, without their bodies."""
        wanted, found = list(ids), {}
        with self._tx(write=False) as conn:
            for start in range(0, len(wanted), 500):
                chunk = {f"i{n}": i for n, i in enumerate(wanted[start : start + 500])}
                names = ", ".join(f":{name}" for name in chunk)
                query = f"SELECT {LIGHT} FROM articles WHERE deleted_at IS NULL AND id IN ({names})"  # noqa: S608
                found.update({r[0]: to_entry(*r) for r in conn.execute(sa.text(query), chunk)})
        return found

    def window(self, start: int, stop: int) -> list[Entry]:
        """The published articles at positions [start, stop) of the listing (newest first)."""
        query = (
            f"SELECT {LIGHT} FROM articles WHERE deleted_at IS NULL {_ORDER} LIMIT :n OFFSET :skip"  # noqa: S608
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.text(query), {"n": max(stop - start, 0), "skip": start})
            return [to_entry(*row) for row in rows]

    def count_older(self, published: datetime, ident: str) -> int:
        """How many published articles the listing shows after (older than) this position."""
        query = sa.text(f"SELECT count(*) FROM articles WHERE {_OLDER}").bindparams(_TIME)  # noqa: S608
        with self._tx(write=False) as conn:
            return int(conn.scalar(query, {"published": published, "id": ident}) or 0)

    def tagged(self, tags: Iterable[str]) -> dict[str, list[Entry]]:
        """Each of `tags` with its published articles, newest first (no bodies)."""
        wanted = sorted(set(tags))
        if not wanted:
            return {}
        patterns = {f"t{n}": f"%{_like(json.dumps(t, ensure_ascii=False))}%"
                    for n, t in enumerate(wanted)}  # fmt: skip
        match = " OR ".join(f"tags LIKE :{name} ESCAPE '\\'" for name in patterns)
        query = f"SELECT {LIGHT} FROM articles WHERE deleted_at IS NULL AND ({match}) {_ORDER}"  # noqa: S608
        found: dict[str, list[Entry]] = {t: [] for t in wanted}
        with self._tx(write=False) as conn:
            for row in conn.execute(sa.text(query), patterns):
                entry = to_entry(*row)
                for tag in dict.fromkeys(entry.article.tags):
                    if tag in found:
                        found[tag].append(entry)
        return found


def _like(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
