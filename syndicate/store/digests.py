"""Frozen digests: what the next one may take, freezing one (claiming its articles and queueing
a message per active subscriber, in one transaction) and reading them back for the archive. A
mixin of `Store`; SQL only, time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syndicate.errors import StoreError
from syndicate.models import Digest, Entry
from syndicate.store.base import StoreBase
from syndicate.store.rows import (
    DIGEST,
    ENTRY,
    NEWEST,
    PUBLISHED,
    digest_values,
    to_digest,
    to_entry,
)
from syndicate.store.schema import LIVE, UNDIGESTED, articles, deliveries, digests, subscribers


def candidates_query(since: datetime | None, limit: int | None) -> sa.Select[Any]:
    """What the next digest may take, newest first (served by the v5 partial index)."""
    query = sa.select(*ENTRY).where(UNDIGESTED)
    if since is not None:
        query = query.where(since <= PUBLISHED)
    # `id || ''` is an order no index provides: SQLite then takes the small partial index for
    # the WHERE and sorts the few rows it gives, instead of walking the whole newest-first
    # listing index (v10) to find them. The same order, as `id` is text.
    return query.order_by(NEWEST[0], articles.c.id.concat(sa.literal_column("''"))).limit(limit)


C = deliveries.c


def _queue(digest_id: str, now: datetime) -> sa.Insert:
    """One pending delivery per active subscriber, made by the database in one INSERT ...
    SELECT (a million readers never pass through Python), in address order: the order the
    ledger's keys and the claims take, so its indexes grow at their ends."""
    values = {
        C.digest_id: sa.literal(digest_id, C.digest_id.type),
        C.email: subscribers.c.email,
        C.name: subscribers.c.name,
        C.status: sa.literal("pending", C.status.type),
        C.attempts: sa.literal(0, C.attempts.type),
        C.last_error: sa.literal("", C.last_error.type),
        C.updated: sa.literal(now, C.updated.type),
    }
    active = (
        sa.select(*values.values())
        .where(subscribers.c.status == "active")
        .order_by(subscribers.c.email)
    )
    insert = deliveries.insert().from_select(list(values), active)
    return insert.execution_options(preserve_rowcount=True)  # SQLAlchemy counts INSERTs so


class Digests(StoreBase):
    """Digests; `StoreBase` supplies the connection handling."""

    def digest_candidates(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[Entry]:
        """Published articles that are in no digest yet, newest first; with `since`, only
        those published since then; with `limit`, at most that many."""
        with self._tx(write=False) as conn:
            return [to_entry(*r) for r in conn.execute(candidates_query(since, limit))]

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
            conn.execute(digests.insert().values(**digest_values(digest)))
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
                    .where(LIVE, articles.c.digest_id.is_(None), exempt_before >= PUBLISHED)
                    .values(digest_exempt=True)
                )
            queued = conn.execute(_queue(digest.id, now)).rowcount
            self._bump(conn)
            return int(queued)

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
        query = sa.select(*DIGEST).order_by(digests.c.created.desc(), digests.c.id.desc())
        if ids is not None:
            query = query.where(digests.c.id.in_(list(ids)))
        with self._tx(write=False) as conn:
            return [to_digest(*r) for r in conn.execute(query)]
