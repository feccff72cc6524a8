"""Dating articles without a front-matter date: each gets its own second, kept once given.

A dateless article is dated when first seen, from its file's modification time (never later
than `now`), and an edit is dated the same way. Files copied in one go share a second, and feed
readers (and the W3C validator's `DuplicateUpdated`) want every entry's time to be its own, so
each time given out is moved back to the nearest second that no other published article shows
as its published or updated time; between files of one second the later file name gets the
later time (file order). Only SQL reads here; the caller writes the times it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Article, FileStat
from syndicate.store.schema import LIVE, articles

SECOND = timedelta(seconds=1)
_TIMES = (articles.c.date, articles.c.first_seen, articles.c.updated, articles.c.changed_at)


def file_time(stat: FileStat | None, now: datetime) -> datetime:
    """When a file was last written, to the second, and never after `now`."""
    if stat is None:
        return now.replace(microsecond=0)
    when = datetime.fromtimestamp(stat.mtime_ns // 1_000_000_000, UTC)
    return min(when, now.replace(microsecond=0))


class _Taken:
    """The seconds (as epoch integers) that published articles already show, read from the
    database window by window, going back in time as far as a caller asks."""

    def __init__(self, conn: Connection, skip: set[str], extra: Iterable[datetime]) -> None:
        self.conn, self.skip = conn, skip
        self.seconds = {int(t.timestamp()) for t in extra}
        self.low: int | None = None  # every taken second at or after this is loaded

    def __contains__(self, second: int) -> bool:
        if self.low is None or second < self.low:
            self._load(second - 3600)
        return second in self.seconds

    def _load(self, since: int) -> None:
        start = datetime.fromtimestamp(since, UTC)
        window = sa.or_(*(column >= start for column in _TIMES))
        if self.low is not None:
            end = datetime.fromtimestamp(self.low, UTC)
            window = sa.and_(window, sa.or_(*(column < end for column in _TIMES)))
        query = sa.select(articles.c.id, *_TIMES).where(LIVE, window)
        for ident, *times in self.conn.execute(query):
            if ident not in self.skip:
                self.seconds.update(int(t.timestamp()) for t in times if t is not None)
        self.low = since


def distinct_times(
    conn: Connection,
    wanted: Mapping[str, tuple[datetime, str]],
    others: Iterable[datetime] = (),
) -> dict[str, datetime]:
    """A distinct second for each article id in `wanted` ((its file time, its file name)),
    none of them shown by another published article nor in `others`: each gets its file time
    or the nearest free second before it, the later file of a tie the later second."""
    taken = _Taken(conn, set(wanted), others)
    given: dict[str, datetime] = {}
    previous: int | None = None
    order = sorted(wanted.items(), key=lambda item: item[1], reverse=True)
    for ident, (when, _) in order:
        second = int(when.timestamp())
        if previous is not None:
            second = min(second, previous - 1)
        while second in taken:
            second -= 1
        given[ident] = datetime.fromtimestamp(second, UTC)
        previous = second
    return given


def shown_times(batch: Iterable[Article]) -> list[datetime]:
    """The front-matter times of articles being recorded (not in the database yet)."""
    return [t for a in batch for t in (a.date, a.updated) if t is not None]
