"""Frozen value types passed between the pipeline's stages.

Plain data only: no I/O, no behaviour beyond trivial derived properties, no imports from
other syndicate modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

SubscriberStatus = Literal["active", "unsubscribed", "bounced", "complained"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]


class Progress(Protocol):
    """Told how far a long task has got: `progress("pickup", done, total)`. For progress bars."""

    def __call__(self, task: str, done: int, total: int) -> None: ...


def no_progress(task: str, done: int, total: int) -> None:
    """The Progress that shows nothing (cron, tests, no terminal)."""


class FileStat(NamedTuple):
    """What a directory scan knows about an article file without reading it. A named tuple,
    not a dataclass: a scan makes 100,000 of them and compares them in C."""

    path: str  # relative to the articles folder, with forward slashes
    size: int
    mtime_ns: int


class Asset(NamedTuple):
    """A local file an article links to (an image or a download), published beside its page."""

    path: str  # relative to the articles folder, forward slashes, normalised, never escaping it
    line: int  # the line of the article file that links it (for `path:line: reason` reports)
    alt: str | None = None  # the alt text when linked as an image (`![alt](path)`), else None


@dataclass(frozen=True)
class Article:
    """One parsed article file: the result of `ingest.parse_article`."""

    id: str
    source: str
    title: str
    slug: str
    body_html: str
    body_text: str
    summary: str
    content_hash: str
    date: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    draft: bool = False
    cta: str | None = None
    language: str | None = None  # BCP 47 tag from front matter; None: the site's language
    assets: tuple[Asset, ...] = ()
    # The entry id is the page URL even though `id` is a URI: the article was published before
    # syndicate kept URI ids (schema v7), and its readers hold the URL as its id.
    url_id: bool = False
    title_slug: bool = False  # the slug comes from the title (a URI id without a `slug`)


@dataclass(frozen=True)
class Entry:
    """A published article with the times the store assigned to it (all timezone-aware)."""

    article: Article
    published: datetime
    updated: datetime


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str = ""
    status: SubscriberStatus = "active"


@dataclass(frozen=True)
class Digest:
    """A frozen digest: rendered once, then personalised per recipient by token substitution."""

    id: str
    created: datetime
    subject: str
    html: str  # inlined email HTML, with per-recipient placeholders
    text: str  # plain-text part, with the same placeholders
    web_html: str  # the "view in browser" page
    marker: str  # the placeholder prefix, unique to this digest's content
    article_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    digest_id: str
    email: str
    name: str
    status: DeliveryStatus
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class Mark:
    """One message's outcome, as the ledger records it: its new status and last error, when a
    pending one is due again (None: at once) and its attempts (None: as the claim counted)."""

    delivery: Delivery
    status: DeliveryStatus
    error: str = ""
    next_attempt: datetime | None = None
    attempts: int | None = None


@dataclass(frozen=True)
class Claim:
    """The messages one worker (`host/pid/thread`) holds `sending`, and its latest lease."""

    worker: str
    messages: int
    lease_until: datetime | None


@dataclass(frozen=True)
class ArticleProblem:
    """A reported, skipped article: mirrors `ArticleError` as plain data."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Known:
    """What the store knows about one published article."""

    id: str
    source: str
    slug: str
    content_hash: str
    url_id: bool = False  # published before URI ids were kept: its page keeps the id's slug


@dataclass(frozen=True)
class Changes:
    """What one pick-up found: `ingest.plan`'s answer, `Store.apply`'s input."""

    new: tuple[Article, ...] = ()
    changed: tuple[Article, ...] = ()
    moved: tuple[Article, ...] = ()  # same content under another file name
    unchanged: int = 0
    removed: tuple[str, ...] = ()  # ids of articles no longer published
    drafts: int = 0
    problems: tuple[ArticleProblem, ...] = ()


@dataclass(frozen=True)
class Tally:
    """What a pick-up did, in numbers (no article bodies: a run keeps this while it builds)."""

    new: int = 0
    changed: int = 0
    moved: int = 0
    unchanged: int = 0
    removed: int = 0
    drafts: int = 0
    problems: tuple[ArticleProblem, ...] = ()


@dataclass(frozen=True)
class RunReport:
    """What one pass did; the CLI turns it into log lines and an exit code. The pick-up's
    figures are its `picked` tally, also read as `report.new`, `report.problems`, ..."""

    skipped_locked: bool = False
    picked: Tally = Tally()
    warnings: tuple[str, ...] = ()
    files_written: tuple[str, ...] = ()
    files_removed: tuple[str, ...] = ()
    digest_id: str | None = None
    sent: int = 0
    failed: tuple[str, ...] = field(default=())  # final: never retried
    deferred: tuple[str, ...] = ()  # left pending for a later run (4xx, server unreachable)
    held: int = 0  # due, but claimed by other senders whose leases hold them
    held_until: datetime | None = None  # the latest of those leases
    undelivered: str = ""  # why no mail could be sent at all (a missing key), after publishing
    refused: tuple[str, ...] = ()  # output files left alone: "path: reason"

    @property
    def new(self) -> int:
        return self.picked.new

    @property
    def changed(self) -> int:
        return self.picked.changed

    @property
    def unchanged(self) -> int:
        return self.picked.unchanged

    @property
    def removed(self) -> int:
        return self.picked.removed

    @property
    def drafts(self) -> int:
        return self.picked.drafts

    @property
    def problems(self) -> tuple[ArticleProblem, ...]:
        return self.picked.problems

    @property
    def ok(self) -> bool:
        return not (
            self.problems or self.failed or self.deferred or self.undelivered or self.refused
        )

    @property
    def did_something(self) -> bool:
        """Whether the pass changed anything: articles, files, a digest, a message."""
        return bool(
            self.new or self.changed or self.removed or self.files_written
            or self.files_removed or self.digest_id or self.sent or self.failed or self.deferred
        )  # fmt: skip

    @property
    def exit_code(self) -> int:
        """0 all done (or skipped: another run holds the lock); 1 done, but some items failed or
        no mail could be sent; 2 nothing done, because no mail can be sent (a missing setting)."""
        if self.undelivered and not self.did_something:
            return 2
        return 0 if self.ok else 1
