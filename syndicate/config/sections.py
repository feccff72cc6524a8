"""The shape of `config.toml`: one frozen dataclass per table, each key with its type, default,
range and check beside it, validated by pydantic (`syndicate.config.schema`).

Types are strict where TOML gives exact types: "1" is not 1 and 1 is not true. A range is
`Field(ge=..., le=...)`; README's config table lists the same ranges. A check is a plain
function that raises ValueError, attached to its key with `AfterValidator`. The keys filled
in from outside (secrets, the file's own path) refuse a value written in the file. This module
reads nothing: no disk, no environment. Here: the publication's tables and `Config`, which
composes every table; the mail tables ([email], [smtp], [bounces]) are in `mail`, [web] in
`web`, and what many tables share (the table settings, address and URL checks, `Secret`) in
`fields`. To add a table: a dataclass here (or beside its kind), a field in `Config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from pydantic import StrictFloat as Float
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from syndicate.config.fields import TABLE, BaseUrl, Url, valid_address
from syndicate.config.mail import BouncesConfig, EmailConfig, SmtpConfig
from syndicate.config.web import WebConfig
from syndicate.cron import parse_crontab
from syndicate.models import Subscriber, SubscriberStatus

DEFAULT_CTA_PATTERNS = (
    r"(?i)\bsent directly to (you|your inbox)\b",
    r"(?i)^(sign up|subscribe)\b.{0,120}\b(newsletter|stories|updates)\b",
)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


def _crontab(value: str) -> str:
    try:  # the syntax does not depend on the timezone
        parse_crontab(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"bad crontab expression {value!r}: {exc}") from None
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value


def _internal(value: object) -> object:
    raise ValueError("is not a config key")


# Fields syndicate fills in itself: not keys of the file (nor offered as hints).
NOT_KEYS = frozenset({"secret", "password", "status", "path"})


@dataclass(frozen=True)
class SiteConfig:
    __pydantic_config__ = TABLE
    title: Str
    url: BaseUrl
    description: Str = ""
    language: Str = "en"


@dataclass(frozen=True)
class PathsConfig:
    __pydantic_config__ = TABLE
    articles: Path = Path("articles")
    output: Path = Path("feeds")
    templates: Path = Path("templates")
    outbox: Path = Path("outbox")
    database: Str = "sqlite:///state/syndicate.db"


@dataclass(frozen=True)
class FeedsConfig:
    __pydantic_config__ = TABLE
    max_items: Annotated[Int, Field(ge=1, le=10_000)] = 20
    hub: Url = ""
    page_size: Annotated[Int, Field(ge=1, le=10_000)] = 20
    hub_timeout: Annotated[Float, Field(ge=0.1, le=300)] = 10
    max_tags: Annotated[Int, Field(ge=0, le=100)] = 20  # tags kept per article; others reported
    hub_budget: Annotated[Float, Field(ge=1, le=600)] = 30  # seconds for one run's hub pings


@dataclass(frozen=True)
class DigestConfig:
    __pydantic_config__ = TABLE
    schedule: Annotated[Str, AfterValidator(_crontab)] = "0 7 * * *"
    first_digest_days: Annotated[Int, Field(ge=0, le=36_500)] = 7
    # a digest lists at most the newest this many; older ones are skipped
    max_articles: Annotated[Int, Field(ge=1, le=10_000)] = 50


@dataclass(frozen=True)
class CtaConfig:
    __pydantic_config__ = TABLE
    text: Str = ""
    url: Url = ""
    button: Str = "Subscribe"
    links: Annotated[Mapping[str, Str], AfterValidator(MappingProxyType)] = field(
        default_factory=lambda: MappingProxyType({})
    )
    patterns: tuple[Annotated[Str, AfterValidator(_regex)], ...] = DEFAULT_CTA_PATTERNS


@dataclass(frozen=True)
class ScheduleConfig:
    __pydantic_config__ = TABLE
    timezone: Annotated[Str, AfterValidator(_timezone)] = "UTC"
    ingest_interval: Annotated[Int, Field(ge=1, le=604_800)] = 300

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Listed(Subscriber):
    """A `[[subscribers]]` entry: `email` and optionally `name`, nothing else."""

    __pydantic_config__ = TABLE
    email: Annotated[Str, AfterValidator(valid_address)]
    name: Str = ""
    status: Annotated[SubscriberStatus, AfterValidator(_internal)] = "active"


@dataclass(frozen=True)
class Config:
    __pydantic_config__ = TABLE
    site: SiteConfig
    paths: PathsConfig = field(default_factory=PathsConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    cta: CtaConfig = field(default_factory=CtaConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    subscribers: tuple[Listed, ...] = ()
    path: Annotated[Path, AfterValidator(_internal)] = Path()  # the file's own, set on loading

    @property
    def tz(self) -> ZoneInfo:
        """The publication's timezone: for naive dates, digest ids and the scheduler."""
        return self.schedule.tz
