"""The plan of a rerun from its change set: only the outputs that the articles changed since
the output folder's last publish can reach, and the files they leave behind.

The change set comes from the store's change log (`Store.changes_since`): each article changed
after the published generation, as it was when published (`Was`), beside what it is now. A
change reaches its article's page; the main listing and its tags' listings (old tags and new),
from the first position where the order changed up to the index (listing pages are counted
from the oldest: `render.pages`), and the page that shows an article edited in place; the main
feeds and its tags' feeds; the files it links. What the site as a whole depends on (settings,
templates, the tag folders, the default call-to-action) is the build's to compare: when that
changed, the build plans every output instead (`pipeline.build`).

Plans only: nothing here renders, writes files or runs SQL (the store's windows do).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import jinja2

from syndicate.models import Entry
from syndicate.pipeline.plan import article_output, listing_output
from syndicate.render.common import FEED_FILES, Channel, Site
from syndicate.render.outputs import Output, feed_outputs
from syndicate.render.pages import listing, page_count, slot
from syndicate.store import Store, Was

Position = tuple[datetime, str]  # in the listing order (newest first, then by id)


def older(a: Position, b: Position) -> bool:
    """Does the listing show `a` after (older than) `b`?"""
    return a[0] < b[0] or (a[0] == b[0] and a[1] > b[1])


def oldest(positions: Iterable[Position]) -> Position:
    return functools.reduce(lambda a, b: a if older(a, b) else b, positions)


def position(entry: Entry) -> Position:
    return (entry.published, entry.article.id)


@dataclass
class Part:
    """What an incremental plan writes and removes."""

    outputs: list[Output] = field(default_factory=list)
    removals: set[str] = field(default_factory=set)
    assets: list[Entry] = field(default_factory=list)  # whose linked files to publish
    linked: set[str] = field(default_factory=set)  # files linked before: gone unless linked now


@dataclass(frozen=True)
class Ordered:
    """A listing to plan part of: its length, and how to count and read positions of it."""

    total: int
    older: Callable[[Position], int]  # how many entries are older than a position
    window: Callable[[int, int], Sequence[Entry]]  # the entries at [start, stop)


def in_memory(entries: Sequence[Entry]) -> Ordered:
    """A tag's listing, read whole (a tag holds a part of the articles)."""
    keys = [position(e) for e in entries]
    count = functools.partial(_count_older, keys)
    return Ordered(len(entries), count, lambda a, b: entries[a:b])


def _count_older(keys: list[Position], at: Position) -> int:
    return sum(1 for k in keys if older(k, at))


def in_store(store: Store) -> Ordered:
    """The main listing, read from the store's index a window at a time."""
    return Ordered(store.count_live(), lambda at: store.count_older(*at), store.window)


Move = tuple[Position | None, Position | None]  # an entry's position before and after a change


def pages(site: Site, order: Ordered, moves: Iterable[Move]) -> tuple[set[int], range]:
    """The listing pages (numbers, 0 the index) that `moves` (each entry's position before
    and after; None: not listed) change, and the numbers of the pages that are gone."""
    size, total, moves = site.page_size, order.total, list(moves)
    old_total = total + sum((b is None) - (a is None) for a, b in moves)
    count, old_count = page_count(site, total), page_count(site, old_total)
    numbers: set[int] = set()
    shifted = [p for a, b in moves if a != b for p in (a, b) if p is not None]
    if shifted:  # the pages from the oldest shifted position up, and those whose links change
        first = order.older(oldest(shifted)) // size + 1
        numbers |= {0, *range(min(first, max(1, min(count, old_count))), count + 1)}
    for before, after in moves:
        if before == after and after is not None:  # edited in place: the page that shows it
            behind = order.older(after)
            numbers.add(0 if total - 1 - behind < size else behind // size + 1)
    return numbers, range(count + 1, old_count + 1)


def plan_part(
    env: jinja2.Environment, site: Site, base: str, store: Store, was: Mapping[str, Was]
) -> Part:
    """Every output the changes in `was` reach, and the files they leave behind."""
    now = store.light_entries(was)
    part = Part()
    for ident, before in was.items():
        entry = now.get(ident)
        if entry is not None:
            part.outputs.append(article_output(env, site, entry, base))
        if before.live and (entry is None or entry.article.slug != before.slug):
            part.removals.add(f"articles/{before.slug}.html")
        part.linked |= {f"articles/{path}" for path in before.assets}
    main = in_store(store)
    part.outputs += feed_outputs(site, main.window(0, site.max_items), site.main, "", base)
    moves = [(_at(w, None), _at(now.get(i), None)) for i, w in was.items()]
    _listings(env, site, base, part, main, moves, None, "")
    tags = {t for w in was.values() for t in w.tags}
    tags |= {t for e in now.values() for t in e.article.tags}
    for tag, entries in store.tagged(tags).items():
        folder = f"tags/{site.tag_slug(tag)}/"
        channel = site.channel(tag)
        if entries:
            part.outputs += feed_outputs(site, entries, channel, folder, base)
        else:  # no article carries it any more: its folder goes
            part.removals |= {folder + name for name in FEED_FILES.values()}
        moves = [(_at(w, tag), _at(now.get(i), tag)) for i, w in was.items()]
        moves = [m for m in moves if m != (None, None)]
        _listings(env, site, base, part, in_memory(entries), moves, channel, folder)
    part.assets = [e for i, e in now.items() if e.article.assets or was[i].assets]
    return part


def _at(item: Was | Entry | None, tag: str | None) -> Position | None:
    """Where `item` stands in the main listing (`tag` None) or in `tag`'s, None: not in it."""
    if isinstance(item, Entry):
        return position(item) if tag is None or tag in item.article.tags else None
    if item is None or not item.live or item.published is None:
        return None
    return (item.published, item.id) if tag is None or tag in item.tags else None


def _listings(
    env: jinja2.Environment,
    site: Site,
    base: str,
    part: Part,
    order: Ordered,
    moves: list[Move],
    channel: Channel | None,
    folder: str,
) -> None:
    numbers, gone = pages(site, order, moves)
    part.removals |= {slot(site, order.total, n, folder).path for n in gone}
    if channel is not None and order.total == 0:  # an empty tag has no index either
        part.removals.add(folder + "index.html")
        numbers.discard(0)
    for number in sorted(numbers):
        place = slot(site, order.total, number, folder)
        page = listing(place, order.window(place.start, place.stop))
        part.outputs.append(listing_output(env, site, page, base, channel))
