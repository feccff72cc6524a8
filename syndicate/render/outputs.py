"""Outputs: each file of the output folder as a path, a key and a way to render it, so that a
run renders and writes only the files whose inputs changed.

A key digests everything a file's bytes depend on: the site settings, the templates and
syndicate's version (the `base` key) and the entries the file shows. Rendering is deferred:
`render(bodies)` receives the full entries (article bodies included) named by `needs`, so that
a caller can stream bodies from the store in batches instead of holding them all.

Pure: nothing here touches the disk, the database or the clock.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import jinja2

from syndicate.models import Entry
from syndicate.render import jsonfeed
from syndicate.render.common import FEED_FILES, Channel, Site

Bodies = Mapping[str, Entry]


class Output(NamedTuple):
    """One file to publish (a named tuple: a run plans 100,000 of them)."""

    path: str  # under the output folder
    key: str
    render: Callable[[Bodies], bytes]
    needs: tuple[str, ...] = ()  # ids of the entries whose bodies `render` reads


def fingerprint(*parts: object) -> str:
    """A short stable hash of `parts` (their repr), for output keys."""
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def base_key(site: Site, env: jinja2.Environment, version: str) -> str:
    """What every output depends on: syndicate's version, the site settings (minus the tag
    folder names, which each output that shows tags adds itself) and every template's source."""
    assert env.loader is not None
    sources = [(name, env.loader.get_source(env, name)[0]) for name in env.list_templates()]
    return fingerprint(version, repr(dataclasses.replace(site, tag_slugs={})), sources)


def entry_key(entry: Entry) -> tuple[str, str, str, float, float, bool]:
    """What an entry contributes to a key: the file's hash covers title, body and front matter;
    the instants (timestamps: cheaper than text at 100,000 entries) cover dates from the store."""
    article = entry.article
    return (
        article.id,
        article.content_hash,
        article.slug,
        entry.published.timestamp(),
        entry.updated.timestamp(),
        article.url_id,  # decides the entry id; language and links are in the file's hash
    )


def tags_key(site: Site, entries: Iterable[Entry]) -> tuple[str, ...]:
    """The folder names of the tags `entries` carry, which their pages and feeds link to."""
    return tuple(site.tag_slug(t) for e in entries if e.article.tags for t in e.article.tags)


def _feed(kind: str, site: Site, channel: Channel, ids: Sequence[str], bodies: Bodies) -> bytes:
    entries = [bodies[i] for i in ids]
    if kind == "json":
        return jsonfeed.json_feed(site, entries, channel)
    from syndicate.render import feeds  # feedgen and lxml: only a pass that writes a feed

    return (
        feeds.rss(site, entries, channel) if kind == "rss" else feeds.atom(site, entries, channel)
    )


def feed_outputs(
    site: Site, entries: Sequence[Entry], channel: Channel, folder: str, base: str
) -> list[Output]:
    """RSS, Atom and JSON Feed of `channel`: its newest `max_items` entries."""
    top = entries[: site.max_items]
    ids = tuple(e.article.id for e in top)
    shown = (channel, [entry_key(e) for e in top], tags_key(site, top))
    return [
        Output(
            folder + name,
            fingerprint(base, kind, shown),
            functools.partial(_feed, kind, site, channel, ids),
            ids,
        )
        for kind, name in FEED_FILES.items()
    ]


def render_all(outputs: Iterable[Output], entries: Iterable[Entry]) -> dict[str, bytes]:
    """Render every output in memory (for small sites and tests), bodies from `entries`."""
    bodies = {e.article.id: e for e in entries}
    return {o.path: o.render(bodies) for o in outputs}
