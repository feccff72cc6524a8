"""What every renderer shares: the `Site` view of the config, URLs, and the Jinja environment.

Pure apart from the Jinja loader reading templates; never writes, never reads the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from textwrap import fill
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe

from syndicate.config import Config
from syndicate.errors import RenderError
from syndicate.models import Entry
from syndicate.text import direction, html_safe, is_uri_id, slugify, unique_slugs

GENERIC_CTA = "Get our stories sent directly to you: subscribe to the newsletter."
FEED_FILES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


@dataclass(frozen=True)
class Channel:
    """One set of feeds: the publication's main feeds, or one tag's."""

    title: str
    description: str
    home: str  # the web page the feeds mirror
    feeds: Mapping[str, str]  # absolute feed URL by format ("rss", "atom", "json")
    tag: str = ""


@dataclass(frozen=True)
class Site:
    """The publication as renderers see it: config values plus derived URLs."""

    title: str
    url: str
    description: str
    language: str
    tz: tzinfo
    cta_text: str
    cta_url: str
    cta_button: str
    cta_links: Mapping[str, str] = field(default_factory=dict)
    address: str = ""
    max_items: int = 20
    page_size: int = 20
    hub: str = ""
    ttl: int = 60  # minutes a reader may cache the feeds
    tag_slugs: Mapping[str, str] = field(default_factory=dict)
    web_url: str = ""  # where `syndicate serve` answers (default: the site's own URL)

    def url_for(self, path: str) -> str:
        return self.url + path

    def article_url(self, entry: Entry) -> str:
        return self.url_for(f"articles/{entry.article.slug}.html")

    def entry_id(self, entry: Entry) -> str:
        """The entry's id in every feed: its front-matter id when that is a URI (`urn:`,
        `tag:`, `http(s):`; not for articles published before such ids were kept), else its
        page URL."""
        article = entry.article
        return (
            article.id if not article.url_id and is_uri_id(article.id) else self.article_url(entry)
        )

    def language_of(self, entry: Entry) -> str:
        return entry.article.language or self.language

    def asset_url(self, path: str) -> str:
        """Where a file an article links to is published: beside the article pages."""
        return self.url_for("articles/" + quote(path))

    def digest_url(self, digest_id: str) -> str:
        return self.url_for(f"digests/{digest_id}.html")

    @property
    def feeds(self) -> dict[str, str]:
        """Feed URLs by format, in the order pages advertise them."""
        return {kind: self.url_for(name) for kind, name in FEED_FILES.items()}

    def tag_slug(self, tag: str) -> str:
        """The tag's folder name under tags/ (collision-free over the tags in use)."""
        return self.tag_slugs.get(tag) or slugify(tag, keep_unicode=True, max_length=48)

    def tag_url(self, tag: str, name: str = "index.html") -> str:
        return self.url_for(f"tags/{quote(self.tag_slug(tag))}/{name}")

    @property
    def reader_links(self) -> dict[str, str]:
        """One-click subscribe links to the RSS feed for popular readers, by reader name."""
        rss = self.feeds["rss"]
        rest = rss.split(":", 1)[1]  # "//host/path": feed:https://... is not a valid URL
        return {
            "Your feed reader (feed: link)": "feed:" + rest,
            "Feedly": "https://feedly.com/i/subscription/" + quote(f"feed/{rss}", safe=""),
            "Inoreader": "https://www.inoreader.com/?add_feed=" + quote(rss, safe=""),
            "NetNewsWire": "x-netnewswire-feed:" + rest,
        }

    @property
    def main(self) -> Channel:
        return Channel(self.title, self.description, self.url, self.feeds)

    def channel(self, tag: str) -> Channel:
        """The feeds of one tag: same items as the main feeds, only those with the tag."""
        feeds = {kind: self.tag_url(tag, name) for kind, name in FEED_FILES.items()}
        title = f"{self.title}: {tag}"
        description = f"Stories tagged “{tag}” from {self.title}"
        return Channel(title, description, self.tag_url(tag), feeds, tag)

    @property
    def subscribe_url(self) -> str:
        return self.cta_url or self.url_for("subscribe.html#email")

    @property
    def signup_url(self) -> str:
        """Where the sign-up form posts to (`syndicate serve`)."""
        return (self.web_url or self.url) + "subscribe"


def publication_cta(ctas: Sequence[str]) -> str | None:
    """The call-to-action lifted from the articles (given newest first): the most frequent,
    the newest on a tie."""
    counts = Counter(ctas)
    if not counts:
        return None
    best = max(counts.values())
    return next(cta for cta in ctas if counts[cta] == best)


def site_for(config: Config, ctas: Sequence[str] = (), tags: Iterable[str] = ()) -> Site:
    """The Site for `config`. `ctas`: the articles' lifted calls-to-action, newest first (for
    the default call-to-action); `tags`: every tag in use (for their folders)."""
    return Site(
        title=config.site.title,
        url=config.site.url,
        description=config.site.description or config.site.title,
        language=config.site.language,
        tz=config.tz,
        cta_text=config.cta.text or publication_cta(ctas) or GENERIC_CTA,
        cta_url=config.cta.url or config.site.url + "subscribe.html#email",
        cta_button=config.cta.button,
        cta_links=dict(config.cta.links),
        address=config.email.address,
        max_items=config.feeds.max_items,
        page_size=config.feeds.page_size,
        hub=config.feeds.hub,
        ttl=max(1, -(-config.schedule.ingest_interval // 60)),
        tag_slugs=unique_slugs(tags),
        web_url=config.web.url,
    )


def _date(value: datetime, tz: tzinfo, style: str = "long") -> str:
    local = value.astimezone(tz)
    if style == "iso":
        return local.isoformat()
    return f"{local.day} {local:%B %Y}"


def _wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Fill text to `width`; `first` is the first line's prefix (default: `indent`)."""
    first = indent if first is None else first
    return fill(text, width, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False)


def _finalize(value: Any) -> Any:
    """Every value a template prints, without characters that make HTML invalid."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(html_safe(value))  # noqa: S704 (markup already; only drops characters)
    return html_safe(value) if isinstance(value, str) else value


class _Compiled(jinja2.BytecodeCache):
    """Compiled templates, kept in memory for the life of the process: each pass makes a new
    environment, and compiling the templates again cost more than the rest of rendering one
    new article. Jinja checks each against its source's checksum before using it."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        found = self.code.get(bucket.key)
        if found is not None:
            bucket.bytecode_from_string(found)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _Compiled()


def make_environment(templates: Path) -> jinja2.Environment:
    """Templates from the publication's folder first, then syndicate's bundled defaults."""
    env = jinja2.Environment(
        bytecode_cache=_COMPILED,
        finalize=_finalize,
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(templates), jinja2.PackageLoader("syndicate", "templates")]
        ),
        autoescape=jinja2.select_autoescape(["html", "html.j2", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date
    env.filters["wrap"] = _wrap
    env.filters["direction"] = direction
    return env


def render_template(env: jinja2.Environment, name: str, **context: Any) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name!r} not found in the templates folder") from None
    except jinja2.TemplateError as exc:
        where = f"{getattr(exc, 'filename', None) or name}:{getattr(exc, 'lineno', '?')}"
        raise RenderError(f"{where}: {exc}") from None
