"""Signed unsubscribe tokens: HMAC-SHA256 over the address, so a token names one address only.

Pure functions of (secret, address); no I/O. A token is `<base64url(address)>.<base64url(mac)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

_PURPOSE = b"syndicate-unsubscribe-v1\x00"
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, address: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + address.encode(), hashlib.sha256).digest()


def make_token(secret: str, address: str) -> str:
    return f"{_b64(address.encode())}.{_b64(_mac(secret, address))}"


def verify_token(secret: str, token: str) -> str | None:
    """The address a token was made for, or None if it is forged, altered or malformed (any
    character outside base64url and the one dot: the decoder would silently skip it)."""
    if not _SHAPE.fullmatch(token.strip()):
        return None
    encoded, _, signature = token.strip().partition(".")
    try:
        address = _unb64(encoded).decode("utf-8")
        given = _unb64(signature)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return address if hmac.compare_digest(given, _mac(secret, address)) else None
