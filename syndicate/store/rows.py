"""Rows to models and models to rows for the article, digest and delivery tables: one column
list and one mapping per row type, whichever query reads them. No SQL runs here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from syndicate.models import Article, Asset, Delivery, Digest, Entry
from syndicate.store.schema import UTCDateTime, articles, deliveries, digests

# What an Entry is read from, in `to_entry()`'s order. `listing()` reads the same columns as
# plain SQL with the bodies left out (BODIES become empty strings).
ENTRY_COLUMNS = (
    "id", "source", "title", "slug", "body_html", "body_text", "summary", "content_hash",
    "date", "updated", "author", "tags", "cta", "language", "assets", "url_id",
    "first_seen", "changed_at",
)  # fmt: skip
BODIES = frozenset({"body_html", "body_text"})
LIGHT = ", ".join("''" if name in BODIES else name for name in ENTRY_COLUMNS)  # SQL, no bodies
ENTRY = tuple(articles.c[name] for name in ENTRY_COLUMNS)
PUBLISHED = sa.func.coalesce(articles.c.date, articles.c.first_seen, type_=UTCDateTime)
NEWEST = (PUBLISHED.desc(), articles.c.id)


@functools.lru_cache(maxsize=65536)
def _parse_utc(text: str) -> datetime:
    """Cached: the articles of one pick-up share their first-seen and changed times."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _utc(value: datetime | str | None) -> datetime | None:
    """A time as SQLAlchemy gives it (aware), or as plain SQL does: text (SQLite) or naive."""
    if value is None:
        return None
    return _parse_utc(value) if isinstance(value, str) else value.replace(tzinfo=UTC)


def _assets(text: str) -> tuple[Asset, ...]:
    return () if text == "[]" else tuple(Asset(*item) for item in json.loads(text))


def to_entry(*row: Any) -> Entry:
    """An Entry from one row of ENTRY_COLUMNS (times parsed only where needed)."""
    ident, source, title, slug, html, text, summary, content_hash, date, updated = row[:10]
    author, tags, cta, language, assets, url_id, first_seen, changed_at = row[10:]
    date, updated = _utc(date), _utc(updated)
    article = Article(
        ident, source, title, slug, html, text, summary, content_hash, date, updated, author,
        () if tags == "[]" else tuple(json.loads(tags)), False, cta, language, _assets(assets),
        bool(url_id),
    )  # fmt: skip
    published = date or _utc(first_seen)
    assert published is not None
    return Entry(article, published, max(published, updated or _utc(changed_at) or published))


def article_values(article: Article) -> dict[str, Any]:
    """The columns an article's parse sets (not its history: first seen, digest, removal)."""
    return {
        "source": article.source,
        "slug": article.slug,
        "title": article.title,
        "body_html": article.body_html,
        "body_text": article.body_text,
        "summary": article.summary,
        "author": article.author,
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "cta": article.cta,
        "content_hash": article.content_hash,
        "date": article.date,
        "updated": article.updated,
        "language": article.language,
        "assets": json.dumps([list(a) for a in article.assets], ensure_ascii=False),
    }


DIGEST = (
    digests.c.id, digests.c.created, digests.c.subject, digests.c.html, digests.c.text,
    digests.c.web_html, digests.c.marker, digests.c.article_ids,
)  # fmt: skip


def to_digest(*row: Any) -> Digest:
    """A Digest from one row of DIGEST."""
    ident, created, subject, html, text, web_html, marker, article_ids = row
    return Digest(
        ident, created, subject, html, text, web_html, marker, tuple(json.loads(article_ids))
    )


def digest_values(frozen: Digest) -> dict[str, Any]:
    """The row of a digest being frozen (Digest's fields are DIGEST's columns, in order)."""
    values = [getattr(frozen, field.name) for field in dataclasses.fields(frozen)]
    row = dict(zip((column.name for column in DIGEST), values, strict=True))
    return row | {"article_ids": json.dumps(frozen.article_ids)}


DELIVERY = (
    deliveries.c.digest_id, deliveries.c.email, deliveries.c.name, deliveries.c.status,
    deliveries.c.attempts, deliveries.c.last_error,
)  # fmt: skip


def to_delivery(*row: Any) -> Delivery:
    """A Delivery from one row of DELIVERY."""
    digest_id, email, name, status, attempts, last_error = row
    return Delivery(digest_id, email, name, status, attempts, last_error)
