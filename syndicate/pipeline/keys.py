"""The keys a pass signs with: the key of unsubscribe tokens and the DKIM key, resolved once per
pass (`resolve`) rather than per message or per call.

Reads key files and, for file delivery only, keeps a generated key in the state database; sends
nothing and renders nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from syndicate.config import Config
from syndicate.errors import ConfigError
from syndicate.render.dkim import DkimKey, sign
from syndicate.render.message import sender_domain
from syndicate.store import Store

log = logging.getLogger("syndicate")


@dataclass(frozen=True)
class Keys:
    """What a pass signs with: unsubscribe tokens (`signing`) and, if configured, DKIM."""

    signing: str
    dkim: DkimKey | None


def resolve(config: Config, store: Store) -> Keys:
    """Both keys, or a ConfigError naming the setting that is missing or unreadable."""
    return Keys(signing_key(config, store), dkim_key(config))


def signing_key(config: Config, store: Store) -> str:
    """The key that signs unsubscribe tokens: from `[email] secret_file` or the environment, or
    (file delivery only) a random key kept in the state database so that local trials work out
    of the box."""
    if config.email.secret:
        return config.email.secret
    if config.email.delivery == "smtp":
        raise ConfigError(
            f"no key to sign unsubscribe links: name a file holding it in [email] secret_file "
            f"(readable by its owner only: what cron needs) or set the environment variable "
            f"{config.email.secret_env}",
            key="email.secret_env",
        )
    stored = store.local_secret()
    if stored is None:
        stored = secrets.token_urlsafe(32)
        store.set_local_secret(stored)
        log.warning("event=secret-generated reason=%s-unset delivery=file", config.email.secret_env)
    return stored


def dkim_key(config: Config) -> DkimKey | None:
    """The DKIM signing key, read once per run, or None when `[email] dkim_key` is unset."""
    email = config.email
    if not email.dkim_key:
        return None
    try:
        pem = Path(email.dkim_key).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {email.dkim_key}: {exc.strerror}", key="email.dkim_key"
        ) from None
    key = DkimKey(pem, email.dkim_selector, email.dkim_domain or sender_domain(email.sender))
    sign(b"From: a@example.org\r\nSubject: key check\r\n\r\n", key)  # a bad key fails here
    return key
