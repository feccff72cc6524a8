"""Load `config.toml` into a typed, validated, frozen `Config`.

Unknown keys and values of the wrong type are errors that name the key (with a suggestion for
typos); relative paths are resolved against the config file's folder; secrets come only from
environment variables. This module reads one file and the environment, and nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
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
from syndicate.errors import ConfigError
from syndicate.models import Subscriber

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
    address: str = ""
    unsubscribe_url: str = ""
    dkim_key: str = ""  # path of a PEM private key; empty = no DKIM signature
    dkim_selector: str = ""
    dkim_domain: str = ""  # default: the From address's domain
    secret: str | None = field(default=None, repr=False)  # from the environment only


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str = "SYNDICATE_SMTP_PASSWORD"  # noqa: S105 (a variable name)
    max_connections: int = 4
    rate_per_second: float = 0
    timeout: float = 30
    max_attempts: int = 5
    retry_after: float = 300
    lease: float = 600  # seconds a claimed message belongs to its worker (longer than one send)
    ca_file: str = ""
    password: str | None = field(default=None, repr=False)  # from the environment only


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


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite database URL (`sqlite:///path`), or None for any other database
    (PostgreSQL, or SQLite in memory)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///"))


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
    web = dataclasses.replace(cfg.web, url=cfg.web.url or cfg.site.url)
    email = dataclasses.replace(
        cfg.email,
        sender=cfg.email.sender or f"{cfg.site.title} <newsletter@{host}>",
        unsubscribe_url=cfg.email.unsubscribe_url or web.url + "unsubscribe?token={token}",
        secret=env.get(cfg.email.secret_env) or None,
        dkim_key=str(root / cfg.email.dkim_key) if cfg.email.dkim_key else "",
    )
    smtp = dataclasses.replace(
        cfg.smtp,
        password=env.get(cfg.smtp.password_env) or None,
        ca_file=str(root / cfg.smtp.ca_file) if cfg.smtp.ca_file else "",
    )
    return dataclasses.replace(cfg, paths=paths, email=email, smtp=smtp, web=web)


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
    for key, number in (
        ("feeds.max_items", cfg.feeds.max_items),
        ("feeds.page_size", cfg.feeds.page_size),
        ("schedule.ingest_interval", cfg.schedule.ingest_interval),
        ("smtp.max_connections", cfg.smtp.max_connections),
        ("smtp.max_attempts", cfg.smtp.max_attempts),
    ):
        if number < 1:
            raise ConfigError(f"must be at least 1, not {number}", key=key)
    for key, seconds in (
        ("smtp.rate_per_second", cfg.smtp.rate_per_second),
        ("smtp.retry_after", cfg.smtp.retry_after),
        ("smtp.timeout", cfg.smtp.timeout),
    ):
        if seconds < 0:
            raise ConfigError(f"must not be negative, not {seconds}", key=key)
    if cfg.feeds.hub_timeout <= 0:
        raise ConfigError("must be more than 0 seconds", key="feeds.hub_timeout")
    if cfg.smtp.lease < 1:
        raise ConfigError(f"must be at least 1 second, not {cfg.smtp.lease}", key="smtp.lease")
    if cfg.digest.first_digest_days < 0:
        raise ConfigError("must not be negative", key="digest.first_digest_days")
    if cfg.digest.max_articles < 1:
        raise ConfigError("must be at least 1", key="digest.max_articles")
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


def validate_web(web: WebConfig, key: str = "web.listen") -> None:
    host, _, port = web.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be HOST:PORT, as in '127.0.0.1:8080', not {web.listen!r}",
                          key=key)  # fmt: skip
    for key, number in (
        ("web.confirm_days", web.confirm_days),
        ("web.confirmations_per_day", web.confirmations_per_day),
        ("web.signups_per_hour", web.signups_per_hour),
    ):
        if number <= 0:
            raise ConfigError(f"must be more than 0, not {number}", key=key)


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
    except ConfigError as exc:
        message = str(exc).removeprefix(f"{exc.key}: ") if exc.key else str(exc)
        raise ConfigError(message, key=exc.key, path=str(path)) from None
    return _resolve(cfg, path.parent, env)


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
