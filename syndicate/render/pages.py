"""The web archive: paginated index, one page per article, digest web versions, subscribe page.

Pure: entries and digests in, `{relative path: bytes}` out. Templates come through the Jinja
loader; nothing here writes files or reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import jinja2

from syndicate.models import Digest, Entry
from syndicate.render.common import Site, render_template


def _pages(entries: Sequence[Entry], size: int) -> list[Sequence[Entry]]:
    return [entries[i : i + size] for i in range(0, len(entries), size)] or [[]]


def _page_path(number: int) -> str:
    return "index.html" if number == 1 else f"page/{number}.html"


def stylesheet(env: jinja2.Environment) -> bytes:
    """The shared stylesheet, served as is (found by the loader like every template)."""
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, "style.css")
    return source.encode("utf-8")


def archive(
    env: jinja2.Environment, site: Site, entries: Sequence[Entry], digests: Sequence[Digest]
) -> dict[str, bytes]:
    """Every archive file, keyed by its path under the output folder."""
    files: dict[str, bytes] = {"style.css": stylesheet(env)}
    pages = _pages(entries, site.page_size)
    for number, chunk in enumerate(pages, start=1):
        html = render_template(
            env, "index.html.j2", site=site, entries=chunk, page=number, pages=len(pages)
        )
        files[_page_path(number)] = html.encode("utf-8")
    for entry in entries:
        html = render_template(env, "article.html.j2", site=site, entry=entry)
        files[f"articles/{entry.article.slug}.html"] = html.encode("utf-8")
    for digest in digests:
        files[f"digests/{digest.id}.html"] = digest.web_html.encode("utf-8")
    files["subscribe.html"] = render_template(env, "subscribe.html.j2", site=site).encode("utf-8")
    return files
