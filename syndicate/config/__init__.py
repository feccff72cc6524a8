"""Load `config.toml` into a typed, validated, frozen `Config`.

The tables and their keys are declared in `sections` and validated by `schema`, which reports
every problem of a file at once, each naming its key (with a suggestion for typos). After
validation, this module resolves relative paths against the config file's folder, fills in
the defaults derived from `site.url`, and reads secrets from environment variables or from
the secret files the config names (`syndicate.secretfile`), never from the config itself.
It reads the config, those files and the environment, and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from syndicate.config.fields import normalise_email
from syndicate.config.mail import BouncesConfig, EmailConfig, SmtpConfig
from syndicate.config.schema import RANGES, validate
from syndicate.config.sections import (
    DEFAULT_CTA_PATTERNS,
    CtaConfig,
    DigestConfig,
    FeedsConfig,
    PathsConfig,
    ScheduleConfig,
    SiteConfig,
)
from syndicate.config.sections import Config as Config
from syndicate.config.web import WebConfig, check_listen
from syndicate.dburl import sqlite_file
from syndicate.errors import ConfigError
from syndicate.secretfile import read_secret_file

__all__ = [
    "DEFAULT_CTA_PATTERNS", "RANGES", "BouncesConfig", "Config", "CtaConfig", "DigestConfig",
    "EmailConfig", "FeedsConfig", "PathsConfig", "ScheduleConfig", "SiteConfig", "SmtpConfig",
    "WebConfig", "address_key", "load_config", "normalise_email", "parse_config", "sqlite_file",
    "validate_web",
]  # fmt: skip


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
    ed25519_key = cfg.email.dkim_ed25519_key
    web = dataclasses.replace(cfg.web, url=cfg.web.url or cfg.site.url)
    email = dataclasses.replace(
        cfg.email,
        sender=cfg.email.sender or f"{cfg.site.title} <newsletter@{host}>",
        unsubscribe_url=cfg.email.unsubscribe_url or web.url + "unsubscribe?token={token}",
        secret=_secret(env, cfg.email.secret_env, secret_file, "email.secret_file"),
        secret_file=secret_file,
        dkim_key=str(root / cfg.email.dkim_key) if cfg.email.dkim_key else "",
        dkim_ed25519_key=str(root / ed25519_key) if ed25519_key else "",
    )
    smtp = dataclasses.replace(
        cfg.smtp,
        password=_secret(env, cfg.smtp.password_env, password_file, "smtp.password_file"),
        password_file=password_file,
        ca_file=str(root / cfg.smtp.ca_file) if cfg.smtp.ca_file else "",
    )
    bounces = _resolve_bounces(cfg.bounces, root, env)
    return dataclasses.replace(cfg, paths=paths, email=email, smtp=smtp, web=web, bounces=bounces)


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


def validate_web(web: WebConfig, key: str = "web.listen") -> None:
    """Check `[web] listen` set from elsewhere (`serve --listen`), reported under `key`."""
    try:
        check_listen(web.listen)
    except ValueError as exc:
        raise ConfigError(str(exc), key=key) from None


def parse_config(text: str, path: Path, env: Mapping[str, str]) -> Config:
    """Build a Config from TOML text; `path` is the file it came from (for relative paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from None
    cfg = validate(data, str(path))
    try:
        return _resolve(dataclasses.replace(cfg, path=path), path.parent, env)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=exc.key, path=str(path)) from None


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
