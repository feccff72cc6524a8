"""The web archive: listing pages, one page per article, digest web versions, subscribe page.

What each listing page holds (a story is on exactly one of them):
- `index.html` (or a tag's `index.html`): the newest `page_size` stories;
- `page/<n>.html`: the older stories, counted from the oldest: `page/1.html` holds the oldest
  `page_size`, `page/2.html` the next `page_size`, and the highest page the rest (between 1 and
  `page_size`, just older than the index).
So a story never moves from one numbered page to another: a new story pushes the index's oldest
onto the highest page (or a new one once it is full), and only the index and that page change.
Page URLs stay permalinks, and no page the pager links to repeats what the index shows.

Pure: entries and digests in, bytes out. Templates come through the Jinja loader; nothing here
writes files, reads the database or reads the clock.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import jinja2

from syndicate.models import Digest, Entry
from syndicate.render.common import Channel, Site, render_template
from syndicate.render.outputs import Bodies, Output, entry_key, fingerprint, render_all, tags_key


@dataclass(frozen=True)
class Listing:
    """One listing page: where it lives, the entries it shows (newest first), its neighbours."""

    path: str  # under the output folder
    url: str
    entries: Sequence[Entry]
    number: int  # 0 for the index
    newer: str | None  # absolute URL of the page with newer stories
    older: str | None


def listings(site: Site, entries: Sequence[Entry], folder: str = "") -> list[Listing]:
    """The index and the numbered pages of `entries` (newest first) under `folder`."""
    size = site.page_size
    base = site.url_for(quote(folder))
    index_url = base + "index.html"
    older = list(reversed(entries[size:]))  # what the numbered pages hold, oldest first
    count = -(-len(older) // size)

    def url(number: int) -> str:
        return index_url if number > count else f"{base}page/{number}.html"

    index = Listing(
        folder + "index.html", index_url, entries[:size], 0, None, url(count) if count else None
    )
    pages = [index]
    for number in range(1, count + 1):
        chunk = older[(number - 1) * size : number * size][::-1]  # newest first on the page
        previous = url(number - 1) if number > 1 else None
        path = f"{folder}page/{number}.html"
        pages.append(Listing(path, url(number), chunk, number, url(number + 1), previous))
    return pages


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


def _listing(
    env: jinja2.Environment, site: Site, page: Listing, channel: Channel | None, _: Bodies
) -> bytes:
    return listing_page(env, site, page, channel)


def _article(env: jinja2.Environment, site: Site, ident: str, bodies: Bodies) -> bytes:
    return article_page(env, site, bodies[ident])


def listing_outputs(
    env: jinja2.Environment,
    site: Site,
    entries: Sequence[Entry],
    base: str,
    channel: Channel | None = None,
    folder: str = "",
) -> list[Output]:
    """The index and numbered pages of `entries`; teasers need no article bodies."""
    outputs = []
    for page in listings(site, entries, folder):
        shown = [entry_key(e) for e in page.entries]
        key = fingerprint(base, page.path, page.url, page.newer, page.older, channel, shown)
        outputs.append(
            Output(page.path, key, functools.partial(_listing, env, site, page, channel))
        )
    return outputs


def archive_outputs(
    env: jinja2.Environment, site: Site, entries: Sequence[Entry], base: str
) -> list[Output]:
    """The main listings, one page per article, the subscribe page and the stylesheet."""
    outputs = listing_outputs(env, site, entries, base)
    for entry in entries:
        ident = entry.article.id
        tagged = tags_key(site, [entry]) if entry.article.tags else ()
        key = fingerprint(base, "article", entry_key(entry), tagged)
        render = functools.partial(_article, env, site, ident)
        outputs.append(Output(f"articles/{entry.article.slug}.html", key, render, (ident,)))
    subscribe = Output(
        "subscribe.html", fingerprint(base, "subscribe"), lambda _: subscribe_page(env, site)
    )
    outputs.append(subscribe)
    outputs.append(Output("style.css", fingerprint(base, "style"), lambda _: stylesheet(env)))
    return outputs


def archive(
    env: jinja2.Environment, site: Site, entries: Sequence[Entry], digests: Sequence[Digest]
) -> dict[str, bytes]:
    """Every archive file in memory, keyed by its path under the output folder (for small sites
    and tests; a run renders only the outputs whose keys changed)."""
    files = render_all(archive_outputs(env, site, entries, ""), entries)
    for item in digests:
        files[f"digests/{item.id}.html"] = item.web_html.encode("utf-8")
    return files
