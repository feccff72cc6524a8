"""The keys a pass signs with: the key of unsubscribe tokens and the DKIM keys (RSA and, as an
option, Ed25519, loaded into one `Signer`), resolved once per pass (`resolve`) rather than per
message or per call.

Reads key files (with the secret-file checks: owner-only) and, for file delivery only, keeps a
generated key in the state database; sends nothing and renders nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from syndicate.config import Config
from syndicate.errors import ConfigError
from syndicate.render.dkim import Algorithm, DkimKey, Signer
from syndicate.render.message import sender_domain
from syndicate.secretfile import read_secret_file
from syndicate.store import Store

log = logging.getLogger("syndicate")
_ED25519 = "email.dkim_ed25519_key"


@dataclass(frozen=True)
class Keys:
    """What a pass signs with: unsubscribe tokens (`signing`) and, if configured, DKIM."""

    signing: str
    dkim: Signer | None


def resolve(config: Config, store: Store) -> Keys:
    """Both keys, or a ConfigError naming the setting that is missing or unreadable."""
    return Keys(signing_key(config, store), dkim_signer(config))


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


def dkim_signer(config: Config) -> Signer | None:
    """The DKIM keys (`[email] dkim_key`, RSA, and `dkim_ed25519_key`), read once per run and
    checked as secrets are (readable by their owner only), or None when neither is set."""
    email = config.email
    domain = email.dkim_domain or sender_domain(email.sender)
    configured: tuple[tuple[str, str, Algorithm, str], ...] = (
        (email.dkim_key, email.dkim_selector, "rsa-sha256", "email.dkim_key"),
        (email.dkim_ed25519_key, email.dkim_ed25519_selector, "ed25519-sha256", _ED25519),
    )
    keys = [
        DkimKey(read_secret_file(Path(path), setting).encode(), selector, domain, kind, setting)
        for path, selector, kind, setting in configured
        if path
    ]
    return Signer(keys) if keys else None  # a key of the wrong kind fails here, named
