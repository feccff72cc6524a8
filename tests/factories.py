"""Factories shared by the renderer tests: a `Site`, numbered `Entry`s and the times they use.

The defaults here are only filler. A test that asserts on a value (a CTA text, tags, a body)
passes that value itself, as a keyword argument or through a module-level partial.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from syndicate.models import Article, Entry
from syndicate.render.common import Site

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # /work/main/templates
BASE = datetime(2024, 3, 10, 8, 0, tzinfo=UTC)


def make_site(**overrides: Any) -> Site:
    values: dict[str, Any] = {
        "title": "The Gazette",
        "url": "https://example.org/",
        "description": "Local news, slowly",
        "language": "en",
        "tz": ZoneInfo("Europe/Helsinki"),
        "cta_text": "Get every story by email.",
        "cta_url": "https://example.org/join",
        "cta_button": "Subscribe",
        "max_items": 20,
        "page_size": 20,
    }
    values.update(overrides)
    return Site(**values)


def make_entry(
    n: int,
    *,
    published: datetime | None = None,
    updated: datetime | None = None,
    **fields: Any,
) -> Entry:
    """Entry number n; higher numbers are newer (one day apart) unless times are given."""
    article_fields: dict[str, Any] = {
        "id": f"story-{n}",
        "source": f"story-{n}.md",
        "title": f"Story number {n}",
        "slug": f"story-{n}",
        "body_html": f"<p>Body of story {n} with <em>emphasis</em> &amp; an ampersand.</p>\n",
        "body_text": f"Body of story {n} with emphasis & an ampersand.",
        "summary": f"Summary of story {n}.",
        "content_hash": f"hash-{n}",
        "author": "Ann Author",
        "tags": ("news", "local"),
    }
    article_fields.update(fields)
    when = published or BASE + timedelta(days=n)
    return Entry(Article(**article_fields), when, updated or when)


def newest_first(count: int) -> list[Entry]:
    """Entries count down to 1, newest first, as the store hands them to the renderers."""
    return [make_entry(n) for n in range(count, 0, -1)]
