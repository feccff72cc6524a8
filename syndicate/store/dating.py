"""Dating articles without a front-matter date: each gets its own second, kept once given.

A dateless article is dated when first seen, from its file's modification time (never later
than `now`), and an edit is dated the same way. Files copied in one go share a second, and feed
readers (and the W3C validator's `DuplicateUpdated`) want every entry's time to be its own, so
a first-seen time is moved back to the nearest second that no published article shows as its
published or updated time, between files of one second the later file name getting the later
time (file order); an edit's time is moved forward from just after the article's published
time, so an edit always shows. Only SQL reads here; the caller writes the times it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Article, FileStat
from syndicate.store.schema import LIVE, articles

WINDOW = 6 * 3600  # seconds of taken times read per query
_TIMES = (articles.c.date, articles.c.first_seen, articles.c.updated, articles.c.changed_at)


def file_time(stat: FileStat | None, now: datetime) -> datetime:
    """When a file was last written, to the second, and never after `now`."""
    if stat is None:
        return now.replace(microsecond=0)
    when = datetime.fromtimestamp(stat.mtime_ns // 1_000_000_000, UTC)
    return min(when, now.replace(microsecond=0))


class Taken:
    """The seconds (as epoch integers) that published articles show, read from the database
    window by window, going back in time as far as a walk asks. One instance serves the chunks
    of a pick-up (a first run over 100,000 files applies 50): valid while the store's
    generation is the one it was last brought up to date at."""

    def __init__(self, generation: int = -1) -> None:
        self.seconds: set[int] = set()
        self.low: int | None = None  # every taken second at or after this is loaded
        self.generation = generation

    def has(self, conn: Connection, second: int) -> bool:
        if self.low is None or second < self.low:
            self._load(conn, second - WINDOW)
        return second in self.seconds

    def _load(self, conn: Connection, since: int) -> None:
        start = datetime.fromtimestamp(since, UTC)
        window = sa.or_(*(column >= start for column in _TIMES))
        if self.low is not None:
            end = datetime.fromtimestamp(self.low, UTC)
            window = sa.and_(window, sa.or_(*(column < end for column in _TIMES)))
        for times in conn.execute(sa.select(*_TIMES).where(LIVE, window)):
            self.seconds.update(int(t.timestamp()) for t in times if t is not None)
        self.low = since


def distinct_times(
    conn: Connection,
    wanted: Mapping[str, tuple[datetime, str]],
    others: Iterable[datetime] = (),
    after: Mapping[str, datetime] | None = None,
    taken: Taken | None = None,
) -> dict[str, datetime]:
    """A distinct second for each article id in `wanted` ((its file time, its file name)),
    none of them shown by another published article nor in `others`. An id without an entry
    in `after` (a first sighting) gets its file time or the nearest free second before it, the
    later file of a tie the later second; an id in `after` (an edit) gets the first free second
    from its file time, but after `after[id]` (its published time). `taken`: what earlier
    calls of this pick-up loaded and gave out (it is updated)."""
    after = after or {}
    taken = taken or Taken()
    taken.seconds.update(int(t.timestamp()) for t in others)
    given: dict[str, datetime] = {}
    previous: int | None = None
    firsts = sorted((i for i in wanted.items() if i[0] not in after), key=lambda i: i[1])
    for ident, (when, _) in reversed(firsts):
        second = int(when.timestamp())
        second = second if previous is None else min(second, previous - 1)
        while taken.has(conn, second):
            second -= 1
        given[ident], previous = datetime.fromtimestamp(second, UTC), second
        taken.seconds.add(second)
    for ident, (when, _) in sorted(
        (i for i in wanted.items() if i[0] in after), key=lambda i: i[1]
    ):
        second = max(int(when.timestamp()), int(after[ident].timestamp()) + 1)
        while taken.has(conn, second):
            second += 1
        given[ident] = datetime.fromtimestamp(second, UTC)
        taken.seconds.add(second)
    return given


def shown_times(batch: Iterable[Article]) -> list[datetime]:
    """The front-matter times of articles being recorded (not in the database yet)."""
    return [t for a in batch for t in (a.date, a.updated) if t is not None]


def published_times(conn: Connection, ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these recorded articles was published (its date, else first seen)."""
    wanted, found = list(ids), {}
    for start in range(0, len(wanted), 500):
        query = sa.select(articles.c.id, articles.c.date, articles.c.first_seen).where(
            articles.c.id.in_(wanted[start : start + 500])
        )
        found.update({ident: date or seen for ident, date, seen in conn.execute(query)})
    return found
