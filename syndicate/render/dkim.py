"""DKIM (RFC 6376) signatures for finished messages, with dkimpy.

Pure: takes the message bytes and the private key's bytes, returns the signed message; never
reads the key file, never looks anything up in DNS.
"""

from __future__ import annotations

from dataclasses import dataclass

import dkim

from syndicate.errors import ConfigError

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)  # fmt: skip


@dataclass(frozen=True)
class DkimKey:
    """`[email] dkim_key` (PEM bytes), `dkim_selector` and `dkim_domain`."""

    private_key: bytes
    selector: str
    domain: str


def sign(message: bytes, key: DkimKey) -> bytes:
    """`message` with a DKIM-Signature header in front (relaxed/simple, rsa-sha256)."""
    try:
        header = dkim.sign(
            message,
            key.selector.encode("ascii"),
            key.domain.encode("ascii"),
            key.private_key,
            include_headers=list(SIGNED_HEADERS),
        )
    except (dkim.DKIMException, UnicodeEncodeError, ValueError) as exc:
        raise ConfigError(f"cannot sign with this DKIM key: {exc}", key="email.dkim_key") from None
    return bytes(header) + message
