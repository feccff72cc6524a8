"""Load `config.toml` into a typed, validated, frozen `Config`.

Unknown keys and values of the wrong type are errors that name the key (with a suggestion for
typos); relative paths are resolved against the config file's folder; secrets come from
environment variables or from the secret files the config names (`syndicate.secretfile`), never
from the config itself. This module reads the config, those files and the environment, and
nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from syndicate.cron import parse_crontab
from syndicate.dburl import sqlite_file
from syndicate.errors import ConfigError
from syndicate.models import Subscriber
from syndicate.secretfile import read_secret_file
from syndicate.verp import ID_LENGTH as VERP_ID_LENGTH

DEFAULT_CTA_PATTERNS = (
    r"(?i)\bsent directly to (you|your inbox)\b",
    r"(?i)^(sign up|subscribe)\b.{0,120}\b(newsletter|stories|updates)\b",
)


@dataclass(frozen=True)
class SiteConfig:
    title: str
    url: str
    description: str = ""
    language: str = "en"


@dataclass(frozen=True)
class PathsConfig:
    articles: Path = Path("articles")
    output: Path = Path("feeds")
    templates: Path = Path("templates")
    outbox: Path = Path("outbox")
    database: str = "sqlite:///state/syndicate.db"


@dataclass(frozen=True)
class FeedsConfig:
    max_items: int = 20
    hub: str = ""
    page_size: int = 20
    hub_timeout: float = 10
    max_tags: int = 20  # tags kept per article; the others are reported
    hub_budget: float = 30  # seconds for all hub pings of one run


@dataclass(frozen=True)
class DigestConfig:
    schedule: str = "0 7 * * *"
    first_digest_days: int = 7
    max_articles: int = 50  # a digest lists at most the newest this many; older ones are skipped


@dataclass(frozen=True)
class CtaConfig:
    text: str = ""
    url: str = ""
    button: str = "Subscribe"
    links: Mapping[str, str] = field(default_factory=dict)
    patterns: tuple[str, ...] = DEFAULT_CTA_PATTERNS


@dataclass(frozen=True)
class EmailConfig:
    sender: str = ""  # the `from` key
    delivery: Literal["file", "smtp"] = "file"
    secret_env: str = "SYNDICATE_SECRET"  # noqa: S105 (a variable name, not a secret)
    secret_file: str = ""  # or a file holding the key, readable by its owner only (for cron)
    address: str = ""
    unsubscribe_url: str = ""
    dkim_key: str = ""  # path of a PEM private key; empty = no DKIM signature
    dkim_selector: str = ""
    dkim_domain: str = ""  # default: the From address's domain
    secret: str | None = field(default=None, repr=False)  # from secret_env or secret_file


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "SYNDICATE_SMTP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: str = ""  # or a file holding the password, readable by its owner only
    max_connections: int = 4
    rate_per_second: float = 0
    timeout: float = 30
    max_attempts: int = 5
    retry_after: float = 300
    lease: float = 30  # seconds a dead worker's claims stay its own (live ones renew theirs)
    ca_file: str = ""
    password: str | None = field(default=None, repr=False)  # from password_env or _file


@dataclass(frozen=True)
class WebConfig:
    """`syndicate serve`: the reader's side on the web."""

    url: str = ""  # public base URL of subscribe, confirm, unsubscribe; default: site.url
    listen: str = "127.0.0.1:8080"
    static: bool = True  # also serve the output folder (behind nginx: false)
    confirm_days: float = 7  # how long a confirmation link works
    confirmations_per_day: int = 3  # the most confirmation messages one address gets a day
    signups_per_hour: int = 20  # the most sign-ups one client address (IPv6: its /64) makes
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")  # whose X-Forwarded-For counts

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class BouncesConfig:
    address: str = ""  # envelope sender: local+<VERP id>@domain per message; "" = no VERP
    unsubscribe_address: str = ""  # the List-Unsubscribe mailto: local+<token>@domain
    maildir: str = ""  # read returned mail from this Maildir, or:
    imap: str = ""  # imaps://user@host[:port]/FOLDER
    password_env: str = "SYNDICATE_IMAP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: str = ""
    ca_file: str = ""
    timeout: float = 30
    soft_limit: int = 3  # this many temporary failures within soft_days mark an address bounced
    soft_days: float = 30
    max_size: int = 1_048_576  # bytes read of one returned message (the rest is ignored)
    interval: int = 300  # seconds between two readings under `syndicate schedule`
    password: str | None = field(default=None, repr=False)  # from password_env or _file

    @property
    def reads(self) -> bool:
        """Whether a mailbox is configured (`syndicate bounces` has something to read)."""
        return bool(self.maildir or self.imap)


@dataclass(frozen=True)
class ScheduleConfig:
    timezone: str = "UTC"
    ingest_interval: int = 300

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Config:
    path: Path
    site: SiteConfig
    paths: PathsConfig = PathsConfig()
    feeds: FeedsConfig = FeedsConfig()
    digest: DigestConfig = DigestConfig()
    cta: CtaConfig = CtaConfig()
    email: EmailConfig = EmailConfig()
    smtp: SmtpConfig = SmtpConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    web: WebConfig = WebConfig()
    bounces: BouncesConfig = BouncesConfig()
    subscribers: tuple[Subscriber, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        """The publication's timezone: for naive dates, digest ids and the scheduler."""
        return self.schedule.tz


_SECTIONS: dict[str, type[Any]] = {
    "site": SiteConfig,
    "paths": PathsConfig,
    "feeds": FeedsConfig,
    "digest": DigestConfig,
    "cta": CtaConfig,
    "email": EmailConfig,
    "smtp": SmtpConfig,
    "schedule": ScheduleConfig,
    "web": WebConfig,
    "bounces": BouncesConfig,
}
_RENAMED = {("email", "from"): "sender"}
_FROM_ENV = {"secret", "password"}


def _unknown(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key.split(".")[-1], known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; known keys: {', '.join(sorted(known))}"


def _check_type(value: Any, hint: Any, key: str) -> Any:
    """Return value converted to the field's type, or raise ConfigError naming the key."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(repr(a) for a in typing.get_args(hint))
            raise ConfigError(f"must be one of {choices}, not {value!r}", key=key)
        return value
    if hint is Path:
        return _check_type(value, str, key) and Path(value)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("must be a list of strings", key=key)
        return tuple(value)
    if origin in (Mapping, dict):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError("must be a table of strings", key=key)
        return types.MappingProxyType(dict(value))
    expected = (int, float) if hint is float else hint
    if (isinstance(value, bool) and hint is not bool) or not isinstance(value, expected):
        raise ConfigError(f"must be {getattr(hint, '__name__', hint)}, not {value!r}", key=key)
    return value


def _section(name: str, table: Any) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError("must be a table", key=name)
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)} - _FROM_ENV
    known = [k for (s, k) in _RENAMED if s == name] + sorted(
        f for f in fields if f not in _RENAMED.values()
    )
    values: dict[str, Any] = {}
    for key, value in table.items():
        attr = _RENAMED.get((name, key), key)
        if attr not in fields or (attr in _RENAMED.values() and key == attr):
            raise ConfigError(_unknown(key, known), key=f"{name}.{key}")
        values[attr] = _check_type(value, hints[attr], f"{name}.{key}")
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        missing = re.findall(r"'(\w+)'", str(exc))
        raise ConfigError("is required", key=f"{name}.{missing[0] if missing else '?'}") from None


def _subscribers(items: Any) -> tuple[Subscriber, ...]:
    if not isinstance(items, list):
        raise ConfigError("must be an array of tables ([[subscribers]])", key="subscribers")
    result = []
    for n, item in enumerate(items):
        key = f"subscribers[{n}]"
        if not isinstance(item, dict) or set(item) - {"email", "name"} or "email" not in item:
            raise ConfigError("needs `email` and optionally `name`, nothing else", key=key)
        email = normalise_email(_check_type(item["email"], str, f"{key}.email"), f"{key}.email")
        result.append(Subscriber(email, _check_type(item.get("name", ""), str, f"{key}.name")))
    return tuple(result)


def normalise_email(address: str, key: str = "email") -> str:
    """Validate an address (syntax only, no DNS) and return its normalised ASCII form."""
    try:  # SMTPUTF8 (a non-ASCII local part) is refused: not every server can deliver it
        info = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"{address!r} is not a valid email address: {exc}", key=key) from None
    return str(info.ascii_email or info.normalized)  # an internationalised domain as punycode


def address_key(address: str) -> str:
    """One subscriber per key: the whole address with its case ignored, as every mailbox
    provider reads it. The store compares with SQL's lower(), which agrees on the ASCII
    addresses `normalise_email` returns."""
    return address.lower()


def _secret(env: Mapping[str, str], variable: str, file: str, key: str) -> str | None:
    """A secret from its environment variable or its file (config key `key`). Set both, and
    they must hold the same secret: two runs (a shell, cron) that signed with two keys would
    mail links that the other cannot verify."""
    from_env = env.get(variable) or None
    if not file:
        return from_env
    from_file = read_secret_file(Path(file), key)
    if from_env is not None and from_env != from_file:
        raise ConfigError(
            f"the file and the environment variable {variable} hold different secrets: "
            f"set one of them (or make them the same)",
            key=key,
        )
    return from_file


def _resolve(cfg: Config, root: Path, env: Mapping[str, str]) -> Config:
    paths = cfg.paths
    db = paths.database
    file = sqlite_file(db)
    if file is not None and not file.is_absolute():
        db = f"sqlite:///{root / file}"
    paths = dataclasses.replace(
        paths,
        articles=root / paths.articles,
        output=root / paths.output,
        templates=root / paths.templates,
        outbox=root / paths.outbox,
        database=db,
    )
    host = urlsplit(cfg.site.url).hostname or "localhost"
    secret_file = str(root / cfg.email.secret_file) if cfg.email.secret_file else ""
    password_file = str(root / cfg.smtp.password_file) if cfg.smtp.password_file else ""
    web = dataclasses.replace(cfg.web, url=cfg.web.url or cfg.site.url)
    email = dataclasses.replace(
        cfg.email,
        sender=cfg.email.sender or f"{cfg.site.title} <newsletter@{host}>",
        unsubscribe_url=cfg.email.unsubscribe_url or web.url + "unsubscribe?token={token}",
        secret=_secret(env, cfg.email.secret_env, secret_file, "email.secret_file"),
        secret_file=secret_file,
        dkim_key=str(root / cfg.email.dkim_key) if cfg.email.dkim_key else "",
    )
    smtp = dataclasses.replace(
        cfg.smtp,
        password=_secret(env, cfg.smtp.password_env, password_file, "smtp.password_file"),
        password_file=password_file,
        ca_file=str(root / cfg.smtp.ca_file) if cfg.smtp.ca_file else "",
    )
    bounces = _resolve_bounces(cfg.bounces, root, env)
    return dataclasses.replace(cfg, paths=paths, email=email, smtp=smtp, web=web, bounces=bounces)


# Every number's range, checked at load: a value outside it would wrap (a port over 65535),
# block (a timeout of 0 makes a socket non-blocking), overflow a date (1e308 seconds) or stall
# a run. README's config table lists the same ranges.
RANGES: dict[str, tuple[float, float]] = {
    "feeds.max_items": (1, 10_000),
    "feeds.page_size": (1, 10_000),
    "feeds.max_tags": (0, 100),
    "feeds.hub_timeout": (0.1, 300),
    "feeds.hub_budget": (1, 600),
    "digest.first_digest_days": (0, 36_500),
    "digest.max_articles": (1, 10_000),
    "smtp.port": (1, 65_535),
    "smtp.max_connections": (1, 100),
    "smtp.rate_per_second": (0, 100_000),
    "smtp.timeout": (0.1, 3_600),
    "smtp.max_attempts": (1, 1_000),
    "smtp.retry_after": (0, 604_800),
    "smtp.lease": (1, 604_800),
    "schedule.ingest_interval": (1, 604_800),
    "web.confirm_days": (0.01, 365),
    "web.confirmations_per_day": (1, 100),
    "web.signups_per_hour": (1, 100_000),
    "bounces.timeout": (0.1, 3_600),
    "bounces.soft_limit": (1, 1_000),
    "bounces.soft_days": (0.01, 3_650),
    "bounces.max_size": (1_024, 100 * 1_048_576),
    "bounces.interval": (1, 604_800),
}


def _check_ranges(cfg: Config) -> None:
    for key, (low, high) in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not (math.isfinite(value) and low <= value <= high):
            raise ConfigError(f"must be between {low:g} and {high:g}, not {value!r}", key=key)


def _resolve_bounces(bounces: BouncesConfig, root: Path, env: Mapping[str, str]) -> BouncesConfig:
    password_file = str(root / bounces.password_file) if bounces.password_file else ""
    password = None
    if bounces.imap:
        password = _secret(env, bounces.password_env, password_file, "bounces.password_file")
    return dataclasses.replace(
        bounces,
        unsubscribe_address=bounces.unsubscribe_address or bounces.address,
        maildir=str(root / bounces.maildir) if bounces.maildir else "",
        password=password,
        password_file=password_file,
        ca_file=str(root / bounces.ca_file) if bounces.ca_file else "",
    )


def _validate_bounces(bounces: BouncesConfig) -> None:
    """`[bounces]`: addresses that leave room for a token, one mailbox, sane limits."""
    for key in ("address", "unsubscribe_address"):
        value = getattr(bounces, key)
        if not value:
            continue
        address = normalise_email(value, f"bounces.{key}")
        local = address.rpartition("@")[0]
        if "+" in local or len(local) + 1 + VERP_ID_LENGTH > 64:
            raise ConfigError(
                f"the local part {local!r} must hold no '+' and at most "
                f"{63 - VERP_ID_LENGTH} characters (a token is appended after a '+')",
                key=f"bounces.{key}",
            )
    if bounces.maildir and bounces.imap:
        raise ConfigError("set either bounces.maildir or bounces.imap, not both", key="bounces")
    if bounces.reads and not (bounces.address or bounces.unsubscribe_address):
        raise ConfigError("is required to read returned mail", key="bounces.address")
    if bounces.imap:
        parts = urlsplit(bounces.imap)
        if parts.scheme != "imaps" or not parts.hostname or not parts.username:
            raise ConfigError(
                f"must be imaps://user@host/FOLDER (TLS only), not {bounces.imap!r}",
                key="bounces.imap",
            )


def _validate(cfg: Config) -> None:
    for key, url in (
        ("site.url", cfg.site.url),
        ("cta.url", cfg.cta.url),
        ("feeds.hub", cfg.feeds.hub),
        ("web.url", cfg.web.url),
    ):
        parts = urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ConfigError(f"must be an absolute http(s) URL, not {url!r}", key=key)
    for key, base in (("site.url", cfg.site.url), ("web.url", cfg.web.url or "/")):
        if not base.endswith("/"):
            raise ConfigError(f"must end with '/', as in {base + '/'!r}", key=key)
    validate_web(cfg.web)
    _check_ranges(cfg)
    try:
        tz = cfg.tz
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone {cfg.schedule.timezone!r}", key="schedule.timezone"
        ) from None
    try:
        parse_crontab(cfg.digest.schedule, tz)
    except ValueError as exc:
        raise ConfigError(
            f"bad crontab expression {cfg.digest.schedule!r}: {exc}", key="digest.schedule"
        ) from None
    for n, pattern in enumerate(cfg.cta.patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"bad regular expression {pattern!r}: {exc}", key=f"cta.patterns[{n}]"
            ) from None
    if cfg.email.unsubscribe_url and "{token}" not in cfg.email.unsubscribe_url:
        raise ConfigError("must contain {token}", key="email.unsubscribe_url")
    if cfg.email.dkim_key and not cfg.email.dkim_selector:
        raise ConfigError("is required when email.dkim_key is set", key="email.dkim_selector")
    if cfg.email.sender:
        normalise_email(re.sub(r"^.*<(.*)>\s*$", r"\1", cfg.email.sender), "email.from")
    _validate_bounces(cfg.bounces)


def validate_web(web: WebConfig, key: str = "web.listen") -> None:
    host, _, port = web.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be HOST:PORT, as in '127.0.0.1:8080', not {web.listen!r}",
                          key=key)  # fmt: skip


def parse_config(text: str, path: Path, env: Mapping[str, str]) -> Config:
    """Build a Config from TOML text; `path` is the file it came from (for relative paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from None
    try:
        sections: dict[str, Any] = {}
        for name, table in data.items():
            if name == "subscribers":
                sections[name] = _subscribers(table)
            elif name in _SECTIONS:
                sections[name] = _section(name, table)
            else:
                raise ConfigError(_unknown(name, [*_SECTIONS, "subscribers"]), key=name)
        if "site" not in sections:
            raise ConfigError("the [site] table with `title` and `url` is required", key="site")
        cfg = Config(path=path, **sections)
        _validate(cfg)
        return _resolve(cfg, path.parent, env)
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{exc.key}: ") if exc.key else str(exc)
        raise ConfigError(message, key=exc.key, path=str(path)) from None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at `path`."""
    path = path.absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            "config file not found (use --config PATH or `syndicate init`)", path=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", path=str(path)) from None
    return parse_config(text, path, os.environ if env is None else env)
