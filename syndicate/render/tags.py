"""Per-tag output: for every tag in use, its RSS, Atom and JSON feeds and a page listing its
articles, all under tags/<tag-slug>/ (slugs are collision-free: `Site.tag_slugs`).

Pure: entries in, `{relative path: bytes}` out; never writes files or reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import jinja2

from syndicate.models import Entry
from syndicate.render import feeds, jsonfeed
from syndicate.render.common import Site, render_template


def by_tag(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Each tag's entries, keeping the given (newest-first) order; tags in sorted order."""
    tagged: dict[str, list[Entry]] = {}
    for entry in entries:
        for tag in dict.fromkeys(entry.article.tags):
            tagged.setdefault(tag, []).append(entry)
    return dict(sorted(tagged.items()))


def tag_files(env: jinja2.Environment, site: Site, entries: Sequence[Entry]) -> dict[str, bytes]:
    """Every tag's three feeds and page, keyed by path under the output folder."""
    files: dict[str, bytes] = {}
    for tag, tagged in by_tag(entries).items():
        channel = site.channel(tag)
        folder = f"tags/{site.tag_slug(tag)}/"
        files[folder + "rss.xml"] = feeds.rss(site, tagged, channel)
        files[folder + "atom.xml"] = feeds.atom(site, tagged, channel)
        files[folder + "feed.json"] = jsonfeed.json_feed(site, tagged, channel)
        page = render_template(env, "tag.html.j2", site=site, channel=channel, entries=tagged)
        files[folder + "index.html"] = page.encode("utf-8")
    return files
