"""Per-tag output: for every tag in use, its RSS, Atom and JSON feeds and its listing pages
(paginated like the main index), all under tags/<tag-slug>/ (slugs are collision-free:
`Site.tag_slugs`).

Pure: entries in, outputs out; never writes files, reads the database or reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import jinja2

from syndicate.models import Entry
from syndicate.render.common import Site
from syndicate.render.outputs import Output, feed_outputs, render_all
from syndicate.render.pages import listing_outputs


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
