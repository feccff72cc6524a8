"""The shape of `config.toml`: one frozen dataclass per table, each key with its type, default,
range and check beside it, validated by pydantic (`syndicate.config.schema`).

Types are strict where TOML gives exact types: "1" is not 1 and 1 is not true. A range is
`Field(ge=..., le=...)`; README's config table lists the same ranges. A check is a plain
function that raises ValueError, attached to its key with `AfterValidator`. The keys filled
in from outside (secrets, the file's own path) refuse a value written in the file. This module
reads nothing: no disk, no environment. To add a table: a dataclass here, a field in `Config`.
What many tables share (the table settings, address and URL checks, `Secret`) is in `fields`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationInfo, model_validator
from pydantic import StrictBool as Bool
from pydantic import StrictFloat as Float
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from syndicate.config.fields import TABLE, BaseUrl, Secret, Url, valid_address
from syndicate.cron import parse_crontab
from syndicate.models import Subscriber, SubscriberStatus
from syndicate.verp import ID_LENGTH as VERP_ID_LENGTH

DEFAULT_CTA_PATTERNS = (
    r"(?i)\bsent directly to (you|your inbox)\b",
    r"(?i)^(sign up|subscribe)\b.{0,120}\b(newsletter|stories|updates)\b",
)


def _sender(value: str) -> str:
    """`Name <address>` or a bare address: the address must be valid; the value is kept."""
    valid_address(re.sub(r"^.*<(.*)>\s*$", r"\1", value)) if value else None
    return value


def check_listen(value: str) -> str:
    """`HOST:PORT`, with the port in 1..65535."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, as in '127.0.0.1:8080', not {value!r}")
    return value


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


def _with_token(value: str) -> str:
    if value and "{token}" not in value:
        raise ValueError("must contain {token}")
    return value


def _selector(value: str, info: ValidationInfo) -> str:
    if info.data.get("dkim_key") and not value:
        raise ValueError("is required when email.dkim_key is set")
    return value


def _verp_local(value: str) -> str:
    """An address a token is appended to (`local+token@domain`): its local part must leave
    room for the token within the 64 characters a local part may hold."""
    if value:
        local = valid_address(value).rpartition("@")[0]
        if "+" in local or len(local) + 1 + VERP_ID_LENGTH > 64:
            raise ValueError(
                f"the local part {local!r} must hold no '+' and at most "
                f"{63 - VERP_ID_LENGTH} characters (a token is appended after a '+')"
            )
    return value


def _imaps(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme != "imaps" or not parts.hostname or not parts.username):
        raise ValueError(f"must be imaps://user@host/FOLDER (TLS only), not {value!r}")
    return value


def _reader(value: str, info: ValidationInfo) -> str:
    """`bounces.address`: needed once a mailbox is read (the fields it looks at come first)."""
    reads = info.data.get("maildir") or info.data.get("imap")
    if reads and not (value or info.data.get("unsubscribe_address")):
        raise ValueError("is required to read returned mail")
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
class EmailConfig:
    __pydantic_config__ = TABLE
    sender: Annotated[Str, Field(alias="from"), AfterValidator(_sender)] = ""
    delivery: Literal["file", "smtp"] = "file"
    secret_env: Str = "SYNDICATE_SECRET"  # noqa: S105 (a variable name, not a secret)
    secret_file: Str = ""  # or a file holding the key, readable by its owner only (for cron)
    address: Str = ""
    unsubscribe_url: Annotated[Str, AfterValidator(_with_token)] = ""
    dkim_key: Str = ""  # path of a PEM private key; empty = no DKIM signature
    dkim_selector: Annotated[Str, AfterValidator(_selector), Field(validate_default=True)] = ""
    dkim_domain: Str = ""  # default: the From address's domain
    secret: Secret = field(default=None, repr=False)  # from secret_env or secret_file


@dataclass(frozen=True)
class SmtpConfig:
    __pydantic_config__ = TABLE
    host: Str = "localhost"
    port: Annotated[Int, Field(ge=1, le=65_535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: Str = ""
    password_env: Str = "SYNDICATE_SMTP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: Str = ""  # or a file holding the password, readable by its owner only
    max_connections: Annotated[Int, Field(ge=1, le=100)] = 4
    rate_per_second: Annotated[Float, Field(ge=0, le=100_000)] = 0
    timeout: Annotated[Float, Field(ge=0.1, le=3_600)] = 30  # 0 would make sockets non-blocking
    max_attempts: Annotated[Int, Field(ge=1, le=1_000)] = 5
    retry_after: Annotated[Float, Field(ge=0, le=604_800)] = 300
    # seconds a dead worker's claims stay its own (live ones renew theirs)
    lease: Annotated[Float, Field(ge=1, le=604_800)] = 30
    ca_file: Str = ""
    password: Secret = field(default=None, repr=False)  # from password_env or _file


@dataclass(frozen=True)
class WebConfig:
    """`syndicate serve`: the reader's side on the web."""

    __pydantic_config__ = TABLE
    url: BaseUrl = ""  # public base URL of subscribe, confirm, unsubscribe; default: site.url
    listen: Annotated[Str, AfterValidator(check_listen)] = "127.0.0.1:8080"
    static: Bool = True  # also serve the output folder (behind nginx: false)
    confirm_days: Annotated[Float, Field(ge=0.01, le=365)] = 7  # how long a link works
    # the most confirmation messages one address gets a day
    confirmations_per_day: Annotated[Int, Field(ge=1, le=100)] = 3
    # the most sign-ups one client address (IPv6: its /64) makes an hour
    signups_per_hour: Annotated[Int, Field(ge=1, le=100_000)] = 20
    trusted_proxies: tuple[Str, ...] = ("127.0.0.1", "::1")  # whose X-Forwarded-For counts

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class BouncesConfig:
    """Returned mail: VERP addresses, and the mailbox `syndicate bounces` reads."""

    __pydantic_config__ = TABLE
    # Declared before `address`, whose check (required to read) looks at them.
    maildir: Str = ""  # read returned mail from this Maildir, or:
    imap: Annotated[Str, AfterValidator(_imaps)] = ""  # imaps://user@host[:port]/FOLDER
    # the List-Unsubscribe mailto: local+<token>@domain; default: address
    unsubscribe_address: Annotated[Str, AfterValidator(_verp_local)] = ""
    # envelope sender: local+<VERP id>@domain per message; "" = no VERP
    address: Annotated[
        Str, AfterValidator(_verp_local), AfterValidator(_reader), Field(validate_default=True)
    ] = ""
    password_env: Str = "SYNDICATE_IMAP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: Str = ""
    ca_file: Str = ""
    timeout: Annotated[Float, Field(ge=0.1, le=3_600)] = 30
    # this many temporary failures within soft_days mark an address bounced
    soft_limit: Annotated[Int, Field(ge=1, le=1_000)] = 3
    soft_days: Annotated[Float, Field(ge=0.01, le=3_650)] = 30
    # bytes read of one returned message (the rest is ignored)
    max_size: Annotated[Int, Field(ge=1_024, le=100 * 1_048_576)] = 1_048_576
    interval: Annotated[Int, Field(ge=1, le=604_800)] = 300  # seconds between two readings
    password: Secret = field(default=None, repr=False)  # from password_env or _file

    @model_validator(mode="after")
    def _one_mailbox(self) -> BouncesConfig:
        if self.maildir and self.imap:
            raise ValueError("set either bounces.maildir or bounces.imap, not both")
        return self

    @property
    def reads(self) -> bool:
        """Whether a mailbox is configured (`syndicate bounces` has something to read)."""
        return bool(self.maildir or self.imap)


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
