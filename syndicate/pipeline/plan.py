"""The build's plan: every file of the output folder as an `Output` (its path, the key that
says when it must be rendered again, and the partial that renders it): the web archive's
listings and article pages, every tag's feeds and listings, the files articles link to, and the
digests' web versions. `build` renders only the outputs whose keys changed.

Plans only: the markup is the renderers' (`syndicate.render`), the writing is `deliver`'s.
Listing pages are laid out by `render.pages.listings`; tags live under tags/<tag-slug>/
(collision-free: `Site.tag_slugs`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jinja2

from syndicate.models import Digest, Entry
from syndicate.render.common import Channel, Site
from syndicate.render.outputs import (
    Bodies,
    Output,
    entry_key,
    feed_outputs,
    fingerprint,
    render_all,
    tags_key,
)  # fmt: skip
from syndicate.render.pages import (
    Listing,
    article_page,
    listing_page,
    listings,
    stylesheet,
    subscribe_page,
)


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
    return [
        listing_output(env, site, page, base, channel) for page in listings(site, entries, folder)
    ]


def listing_output(
    env: jinja2.Environment, site: Site, page: Listing, base: str, channel: Channel | None
) -> Output:
    """One listing page (the main one's, or a tag's when `channel` is that tag's)."""
    shown = [entry_key(e) for e in page.entries]
    key = fingerprint(base, page.path, page.url, page.newer, page.older, channel, shown)
    return Output(page.path, key, functools.partial(_listing, env, site, page, channel))


def article_output(env: jinja2.Environment, site: Site, entry: Entry, base: str) -> Output:
    """One article's page (its bodies are read when it renders)."""
    ident = entry.article.id
    tagged = tags_key(site, [entry]) if entry.article.tags else ()
    key = fingerprint(base, "article", entry_key(entry), tagged)
    render = functools.partial(_article, env, site, ident)
    return Output(f"articles/{entry.article.slug}.html", key, render, (ident,))


def archive_outputs(
    env: jinja2.Environment, site: Site, entries: Sequence[Entry], base: str
) -> list[Output]:
    """The main listings, one page per article, the subscribe page and the stylesheet."""
    outputs = listing_outputs(env, site, entries, base)
    outputs += [article_output(env, site, entry, base) for entry in entries]
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


def by_tag(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Each tag's entries, keeping the given (newest-first) order; tags in sorted order."""
    tagged: dict[str, list[Entry]] = {}
    for entry in entries:
        for tag in dict.fromkeys(entry.article.tags):
            tagged.setdefault(tag, []).append(entry)
    return dict(sorted(tagged.items()))


def tag_outputs(
    env: jinja2.Environment, site: Site, entries: Sequence[Entry], base: str
) -> list[Output]:
    """Every tag's three feeds and listing pages."""
    outputs: list[Output] = []
    for tag, tagged in by_tag(entries).items():
        channel = site.channel(tag)
        folder = f"tags/{site.tag_slug(tag)}/"
        outputs += feed_outputs(site, tagged, channel, folder, base)
        outputs += listing_outputs(env, site, tagged, base, channel, folder)
    return outputs


def tag_files(env: jinja2.Environment, site: Site, entries: Sequence[Entry]) -> dict[str, bytes]:
    """Every tag's files in memory, keyed by path under the output folder (small sites, tests)."""
    return render_all(tag_outputs(env, site, entries, ""), entries)
