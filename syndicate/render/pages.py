"""The web archive: listing pages, one page per article, digest web versions, subscribe page.

What each listing page holds (a story is on exactly one of them):
- `index.html` (or a tag's `index.html`): the newest `page_size` stories;
- `page/<n>.html`: the older stories, counted from the oldest: `page/1.html` holds the oldest
  `page_size`, `page/2.html` the next `page_size`, and the highest page the rest (between 1 and
  `page_size`, just older than the index).
So a story never moves from one numbered page to another: a new story pushes the index's oldest
onto the highest page (or a new one once it is full), and only the index and that page change.
Page URLs stay permalinks, and no page the pager links to repeats what the index shows.

Pure: entries in, bytes out. Templates come through the Jinja loader; nothing here writes
files, reads the database or reads the clock. Which pages a build plans, and their keys, is
`syndicate.pipeline.plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import jinja2

from syndicate.models import Entry
from syndicate.render.common import Channel, Site, render_template


@dataclass(frozen=True)
class Listing:
    """One listing page: where it lives, the entries it shows (newest first), its neighbours."""

    path: str  # under the output folder
    url: str
    entries: Sequence[Entry]
    number: int  # 0 for the index
    newer: str | None  # absolute URL of the page with newer stories
    older: str | None


@dataclass(frozen=True)
class Slot:
    """Where one listing page lives and which of the entries (newest first) it shows: those at
    positions [start, stop); `layout` places them without the entries themselves."""

    path: str
    url: str
    number: int  # 0 for the index
    newer: str | None
    older: str | None
    start: int
    stop: int


def page_count(site: Site, total: int) -> int:
    """How many numbered pages `total` entries take (the index holds the newest)."""
    return -(-max(total - site.page_size, 0) // site.page_size)


def slot(site: Site, total: int, number: int, folder: str = "") -> Slot:
    """Listing page `number` (0: the index) of `total` entries under `folder`."""
    size, count = site.page_size, page_count(site, total)
    index_url = site.url_for(quote(folder)) + "index.html"

    def url(page: int) -> str:
        return index_url if page > count else f"{site.url_for(quote(folder))}page/{page}.html"

    if number == 0:
        return Slot(folder + "index.html", index_url, 0, None, url(count) if count else None,
                    0, min(size, total))  # fmt: skip
    start, stop = max(total - number * size, size), total - (number - 1) * size
    previous = url(number - 1) if number > 1 else None
    path = f"{folder}page/{number}.html"
    return Slot(path, url(number), number, url(number + 1), previous, start, stop)


def listing(place: Slot, entries: Sequence[Entry]) -> Listing:
    """The page at `place`, showing `entries` (those at its positions)."""
    return Listing(place.path, place.url, entries, place.number, place.newer, place.older)


def listings(site: Site, entries: Sequence[Entry], folder: str = "") -> list[Listing]:
    """The index and the numbered pages of `entries` (newest first) under `folder`."""
    total = len(entries)
    places = [slot(site, total, n, folder) for n in range(page_count(site, total) + 1)]
    return [listing(p, entries[p.start : p.stop]) for p in places]


def listing_page(
    env: jinja2.Environment, site: Site, page: Listing, channel: Channel | None = None
) -> bytes:
    """The main index (or page), or one tag's, when `channel` is that tag's."""
    name, extra = ("tag.html.j2", {"channel": channel}) if channel else ("index.html.j2", {})
    html = render_template(env, name, site=site, page=page, entries=page.entries, **extra)
    return html.encode("utf-8")


def article_page(env: jinja2.Environment, site: Site, entry: Entry) -> bytes:
    return render_template(env, "article.html.j2", site=site, entry=entry).encode("utf-8")


def subscribe_page(env: jinja2.Environment, site: Site) -> bytes:
    return render_template(env, "subscribe.html.j2", site=site).encode("utf-8")


def stylesheet(env: jinja2.Environment) -> bytes:
    """The shared stylesheet, served as is (found by the loader like every template)."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "style.css")
    return source.encode("utf-8")
