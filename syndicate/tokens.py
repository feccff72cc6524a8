"""Signed tokens for the links readers get: unsubscribe and confirm a sign-up.

Pure functions of the secret and their inputs; no I/O, no clock (times are passed in).

- Unsubscribe tokens (`u...`): the address encrypted and authenticated with AES-SIV (RFC 5297),
  under a key derived from the secret. Deterministic (one address, one token), opaque (no
  readable address in logs, Referers or link scanners) and unforgeable.
- Confirmation tokens (`c...`): an opaque sign-up id and the time it was issued, sealed the same
  way under another purpose, so one kind can never stand in for the other. They expire.
- Legacy unsubscribe tokens, `<base64url(address)>.<base64url(HMAC-SHA256)>`, were mailed before
  the opaque ones: they still verify, and are never made any more.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where first used: a pass that mails nobody never loads OpenSSL
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_PURPOSE = b"syndicate-unsubscribe-v1\x00"  # the legacy tokens' HMAC prefix
_UNSUBSCRIBE = b"syndicate-unsubscribe-v2"
_CONFIRM = b"syndicate-confirm-v2"
_KEY_LABEL = b"syndicate-token-key-v2"
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # a legacy token, whole
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")  # the decoder would silently skip anything else
MAX_TOKEN = 2048  # longer is malformed without looking further (an address is at most 320)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=8)
def _siv(secret: str) -> AESSIV:
    """AES-256-SIV under a key derived from the secret (HMAC-SHA512: 64 bytes, two AES keys)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    return AESSIV(hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha512).digest())


def _open(secret: str, token: str, prefix: str, purpose: bytes) -> bytes | None:
    """The payload sealed in `token`, or None if it is not a valid token of this kind."""
    token = token.strip()
    if not token.startswith(prefix) or len(token) > MAX_TOKEN:
        return None
    if not _BASE64URL.fullmatch(token[len(prefix) :]):
        return None
    from cryptography.exceptions import InvalidTag

    try:
        return _siv(secret).decrypt(_unb64(token[len(prefix) :]), [purpose])
    except (binascii.Error, InvalidTag, ValueError):
        return None


# -- unsubscribe ------------------------------------------------------------------------------


def make_token(secret: str, address: str) -> str:
    """The opaque unsubscribe token of `address` (the same every time)."""
    return "u" + _b64(_siv(secret).encrypt(address.encode(), [_UNSUBSCRIBE]))


def verify_token(secret: str, token: str) -> str | None:
    """The address an unsubscribe token (opaque or legacy) was made for, or None if it is
    forged, altered or malformed."""
    sealed = _open(secret, token, "u", _UNSUBSCRIBE)
    if sealed is not None:
        try:
            return sealed.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return _verify_legacy(secret, token)


def _mac(secret: str, address: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + address.encode(), hashlib.sha256).digest()


def make_legacy_token(secret: str, address: str) -> str:
    """A token in the format mailed before the opaque ones (for tests and migrations only)."""
    return f"{_b64(address.encode())}.{_b64(_mac(secret, address))}"


def _verify_legacy(secret: str, token: str) -> str | None:
    """The address of a legacy token; None for any character outside base64url and the one dot
    (the decoder would silently skip it)."""
    if not _SHAPE.fullmatch(token.strip()):
        return None
    encoded, _, signature = token.strip().partition(".")
    try:
        address = _unb64(encoded).decode("utf-8")
        given = _unb64(signature)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return address if hmac.compare_digest(given, _mac(secret, address)) else None


# -- confirmation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation token says: which sign-up, issued when."""

    ident: str
    issued: datetime

    def expired(self, now: datetime, lifetime: timedelta) -> bool:
        return now >= self.issued + lifetime or now < self.issued - timedelta(minutes=5)


def make_confirm_token(secret: str, ident: str, issued: datetime) -> str:
    """The token of sign-up `ident` (printable ASCII), issued at `issued` (aware)."""
    stamp = int(issued.timestamp()).to_bytes(8, "big", signed=True)
    return "c" + _b64(_siv(secret).encrypt(stamp + ident.encode("ascii"), [_CONFIRM]))


def verify_confirm_token(secret: str, token: str) -> Confirmation | None:
    """What a confirmation token says, or None if it is forged, altered or malformed (whether
    it has expired is the caller's question: see `Confirmation.expired`)."""
    sealed = _open(secret, token, "c", _CONFIRM)
    if sealed is None or len(sealed) < 9:
        return None
    try:
        ident = sealed[8:].decode("ascii")
    except UnicodeDecodeError:
        return None
    issued = datetime.fromtimestamp(int.from_bytes(sealed[:8], "big", signed=True), UTC)
    return Confirmation(ident, issued)
