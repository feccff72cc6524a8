"""Opaque, signed identifiers for returned mail: the VERP envelope id and the mailto token.

`envelope_id(key, address, digest_id)` goes after the `+` of `[bounces] address`
(`bounces+v<id>@example.org`): a bounce or complaint sent back to it names its recipient and
digest without trusting the returned message's content. `mailto_token(key, address)` goes after
the `+` of the unsubscribe address in `List-Unsubscribe`. Both are truncated HMAC-SHA256 tags in
lowercase base32 (they survive MTAs that fold the case of local parts, and fit a local part),
so neither reveals the address, and nobody without the signing key can make one that names a
subscriber. A tag is reversed by `Directory`, built from the known addresses (one HMAC each).

Pure: no I/O, no clock; the key is passed in. It must not know about the store or the config.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

ENVELOPE, MAILTO = "v", "u"  # the first character tells the two kinds apart
_ADDRESS_BYTES, _DIGEST_BYTES = 15, 5  # 120 bits name the subscriber, 40 bind the digest
_ADDRESS_CHARS, _DIGEST_CHARS = 24, 8  # their lengths in base32
ID_LENGTH = 1 + _ADDRESS_CHARS + _DIGEST_CHARS  # the longest id: 33 characters
Kind = Literal["envelope", "mailto"]


@functools.lru_cache(maxsize=16)
def _keyed(key: str, purpose: str) -> hmac.HMAC:
    """The HMAC state after the key and the purpose, made once: each tag copies it (a tenth
    of the cost of a new HMAC, which matters for a `Directory` of 100,000 readers). Never
    updated itself, so copies from several sending threads are safe."""
    return hmac.new(key.encode("utf-8"), f"syndicate-{purpose}-v1\x00".encode(), hashlib.sha256)


def _tag(key: str, purpose: str, *parts: str) -> bytes:
    mac = _keyed(key, purpose).copy()
    mac.update("\x00".join(parts).encode("utf-8"))
    return mac.digest()


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    """The bytes of a base32 part (its length is a multiple of 8: no padding), or b"" when it
    is not base32."""
    try:
        return base64.b32decode(text.upper())
    except (binascii.Error, ValueError):
        return b""


def _address_part(key: str, purpose: str, address: str) -> str:
    return _b32(_tag(key, purpose, address.lower())[:_ADDRESS_BYTES])


def _digest_part(key: str, address: str, digest_id: str) -> str:
    return _b32(_tag(key, "verp-digest", address.lower(), digest_id)[:_DIGEST_BYTES])


def envelope_id(key: str, address: str, digest_id: str) -> str:
    """The VERP id of one message: names its recipient (any case) and its digest."""
    return ENVELOPE + _address_part(key, "verp", address) + _digest_part(key, address, digest_id)


def mailto_token(key: str, address: str) -> str:
    """The token of the `mailto:` unsubscribe address: names the subscriber (any case)."""
    return MAILTO + _address_part(key, "mailto-unsubscribe", address)


def tagged(local: str, domain: str, token: str) -> str:
    """`local+token@domain`."""
    return f"{local}+{token}@{domain}"


@dataclass(frozen=True)
class Named:
    """Whom a valid token names: its kind, the address as the directory knows it, and (for an
    envelope id) the digest part, checked with `Directory.sent_in`."""

    kind: Kind
    address: str
    digest_part: str = ""


class Directory:
    """Reverses tokens made with `key` for the given addresses: one HMAC per address, once."""

    def __init__(self, key: str, addresses: Iterable[str]) -> None:
        self.key = key
        self._envelope: dict[bytes, str] = {}  # raw tags: base32 in Python is slow to encode
        self._mailto: dict[bytes, str] = {}
        for address in addresses:
            self._envelope[_tag(key, "verp", address.lower())[:_ADDRESS_BYTES]] = address
            mailto = _tag(key, "mailto-unsubscribe", address.lower())[:_ADDRESS_BYTES]
            self._mailto[mailto] = address

    def name(self, token: str) -> Named | None:
        """Whom `token` names, or None: malformed, forged, made with another key, or naming
        an address that is not on the list."""
        token = token.strip().lower()
        kind, body = token[:1], token[1:]
        if kind == ENVELOPE and len(body) == _ADDRESS_CHARS + _DIGEST_CHARS:
            address = self._envelope.get(_unb32(body[:_ADDRESS_CHARS]))
            if address is not None:
                return Named("envelope", address, body[_ADDRESS_CHARS:])
        elif kind == MAILTO and len(body) == _ADDRESS_CHARS:
            address = self._mailto.get(_unb32(body))
            if address is not None:
                return Named("mailto", address)
        return None

    def sent_in(self, named: Named, digest_ids: Iterable[str]) -> str | None:
        """Which of `digest_ids` (the digests mailed to the address) an envelope id names."""
        for digest_id in digest_ids:
            expected = _digest_part(self.key, named.address, digest_id)
            if hmac.compare_digest(expected, named.digest_part):
                return digest_id
        return None
