"""The email digest: Jinja2 HTML and plain text, CSS inlined by premailer once per digest.

Per-recipient values are left as placeholders (`%%<marker>:<name>%%`) that `personalise`
substitutes into the already-inlined HTML, so premailer never runs per recipient (PITFALLS P2,
P11). The marker is derived from the digest's content, so article text cannot forge one.
Pure: no disk, no network (premailer's network access is off), no clock.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2

from syndicate.models import Digest, Entry
from syndicate.render.common import Site, render_template
from syndicate.text import one_line, truncate

FIELDS = ("email", "unsubscribe_url")
IMAGE_WIDTH = 544  # the content column: 600 px less its padding


@dataclass(frozen=True)
class Picture:
    """An article's lead image as the digest shows it: absolute URL, display size, alt text."""

    url: str
    width: int
    height: int
    alt: str


def first_image(entry: Entry) -> str | None:
    """The path of the first local image the article shows, if any."""
    return next((a.path for a in entry.article.assets if a.alt is not None), None)


def pictures(
    site: Site, entries: Sequence[Entry], sizes: Mapping[str, tuple[int, int]]
) -> dict[str, Picture]:
    """Each article's lead image (its first local image whose size is known), by article id,
    scaled to fit the column: email clients that ignore CSS still lay it out right."""
    found = {}
    for entry in entries:
        path = first_image(entry)
        if path is None or path not in sizes:
            continue
        width, height = sizes[path]
        shown = min(width, IMAGE_WIDTH)
        alt = next(a.alt or "" for a in entry.article.assets if a.path == path)
        found[entry.article.id] = Picture(
            site.asset_url(path), shown, max(1, round(height * shown / width)), alt
        )
    return found


def placeholder(marker: str, name: str) -> str:
    return f"%%{marker}:{name}%%"


def make_marker(digest_id: str, entries: Sequence[Entry]) -> str:
    seed = "\x00".join([digest_id, *(e.article.content_hash for e in entries)])
    return "syn" + hashlib.sha256(seed.encode()).hexdigest()[:16]


def inline_css(document: str) -> str:
    """premailer, offline, keeping `!important` and the `data-premailer="ignore"` blocks."""
    from premailer import Premailer  # here: its import (requests, cssutils) costs every run 70 ms

    inliner = Premailer(
        allow_network=False,  # P3: never fetch
        allow_loading_external_files=False,  # P4
        strip_important=False,  # P9: responsive and dark-mode rules need !important
        keep_style_tags=False,
        disable_validation=True,
        # CSS `height: auto` must not become the attribute height="auto": images carry their
        # real width and height attributes, which clients without CSS lay out by
        disable_basic_attributes=["width", "height"],
        cssutils_logging_level=logging.CRITICAL,  # P5: mso-* properties are not errors
    )
    inlined: str = inliner.transform(document, pretty_print=False)  # P8
    return inlined if inlined.startswith("<!DOCTYPE") else "<!DOCTYPE html>\n" + inlined


def subject_for(site: Site, entries: Sequence[Entry]) -> str:
    first = entries[0].article.title
    more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
    return one_line(f"{site.title}: {truncate(first, 110)}{more}")


def render_digest(
    env: jinja2.Environment,
    site: Site,
    entries: Sequence[Entry],
    *,
    digest_id: str,
    created: datetime,
    sizes: Mapping[str, tuple[int, int]] | None = None,
) -> Digest:
    """Render and inline a digest once; the result is frozen and sent to every recipient.
    `sizes`: (width, height) of the linked images, by path (read by the caller)."""
    marker = make_marker(digest_id, entries)
    subject = subject_for(site, entries)
    context = {
        "site": site,
        "entries": entries,
        "created": created,
        "subject": subject,
        "preheader": truncate(" · ".join(e.article.title for e in entries), 140),
        "view_url": site.digest_url(digest_id),
        "pictures": pictures(site, entries, sizes or {}),
        **{name: placeholder(marker, name) for name in FIELDS},
    }
    email_html = inline_css(render_template(env, "digest.html.j2", web=False, **context))
    web_html = inline_css(render_template(env, "digest.html.j2", web=True, **context))
    text = render_template(env, "digest.txt.j2", web=False, **context)
    ids = tuple(e.article.id for e in entries)
    return Digest(digest_id, created, subject, email_html, text, web_html, marker, ids)


def substitute(document: str, marker: str, values: Mapping[str, str], *, escape: bool) -> str:
    """`document` with the placeholders replaced by `values` (HTML-escaped if `escape`)."""
    for name in FIELDS:
        value = values[name]
        document = document.replace(
            placeholder(marker, name), html.escape(value) if escape else value
        )
    return document


def personalise(digest: Digest, values: Mapping[str, str]) -> tuple[str, str]:
    """(html, text) of one recipient's copy: placeholders replaced, HTML-escaped in the HTML."""
    return (
        substitute(digest.html, digest.marker, values, escape=True),
        substitute(digest.text, digest.marker, values, escape=False),
    )
