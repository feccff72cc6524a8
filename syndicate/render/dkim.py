"""DKIM signatures (RFC 6376, relaxed/relaxed) with RSA-SHA256 and, as an option, Ed25519-SHA256
(RFC 8463), computed with `cryptography` (OpenSSL).

`Signer` holds the loaded keys (one or two: an Ed25519 signature beside the RSA one, since many
verifiers know only RSA). It signs a finished message (`sign`), or a message still in pieces
(`signatures`): a digest's skeleton hands over the header block and the body as pieces whose
recipient-independent parts are canonicalised once per digest (`render.canon`), so per
recipient only the differing parts are canonicalised, the body hashed and the signature made.
Every present signed header is listed once more in `h=` than it occurs, so no copy of it can
be added later. No `t=`: the signature carries no clock.

Pure: takes the key's bytes, never reads the key file, never looks anything up in DNS.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from syndicate.errors import ConfigError
from syndicate.render import canon

if TYPE_CHECKING:  # `cryptography` is imported where a key is loaded: a pass that signs
    # nothing (no key, no mail) never loads OpenSSL's bindings
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)  # fmt: skip
Algorithm = Literal["rsa-sha256", "ed25519-sha256"]
_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*")
_WIDTH = 78


@dataclass(frozen=True)
class DkimKey:
    """A configured key: its file's bytes (PEM; for Ed25519 also the 32-byte seed in base64),
    selector, `d=` domain, algorithm, and the config key it came from (for errors)."""

    private_key: bytes
    selector: str
    domain: str
    algorithm: Algorithm = "rsa-sha256"
    setting: str = "email.dkim_key"


def _parse(key: DkimKey) -> PrivateKeyTypes:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        return serialization.load_pem_private_key(key.private_key, password=None)
    except TypeError:
        raise ConfigError(
            "the DKIM key is encrypted: give it unencrypted", key=key.setting
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        pass
    seed = b""
    if key.algorithm == "ed25519-sha256":
        try:
            seed = base64.b64decode(key.private_key.strip(), validate=True)
        except ValueError:
            seed = b""
    if len(seed) != 32:
        raise ConfigError("the DKIM key is not a PEM private key", key=key.setting)
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def load(key: DkimKey) -> PrivateKey:
    """The private key in `key`, checked against its algorithm; ConfigError naming the setting."""
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    for what, value in (("selector", key.selector), ("domain", key.domain)):
        if not _NAME.fullmatch(value):
            setting = "email.dkim_domain"
            setting = (
                key.setting.removesuffix("_key") + "_selector" if what == "selector" else setting
            )
            raise ConfigError(
                f"DKIM {what} {value!r} is not a DNS name (ASCII letters, digits, '-', '_' and "
                f"dots; an internationalised domain in its xn-- form)",
                key=setting,
            )
    loaded = _parse(key)
    if isinstance(loaded, rsa.RSAPrivateKey) and key.algorithm == "rsa-sha256":
        if loaded.key_size < 1024:
            raise ConfigError(
                f"the DKIM key has {loaded.key_size} bits: verifiers ignore RSA keys under 1024 "
                f"bits (RFC 8301); use 2048",
                key=key.setting,
            )
        return loaded
    if isinstance(loaded, ed25519.Ed25519PrivateKey) and key.algorithm == "ed25519-sha256":
        return loaded
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        hint = ": an Ed25519 key goes in email.dkim_ed25519_key"
    elif isinstance(loaded, rsa.RSAPrivateKey):
        hint = ": an RSA key goes in email.dkim_key"
    else:
        hint = f" ({type(loaded).__name__.removeprefix('_')})"
    kind = "RSA" if key.algorithm == "rsa-sha256" else "Ed25519"
    raise ConfigError(f"the DKIM key is not an {kind} key{hint}", key=key.setting)


def _fold(tags: Sequence[str]) -> bytes:
    """`DKIM-Signature:` and the tags, folded before a tag or after a colon of `h=` so that
    lines stay within 78 characters."""
    line, lines = "DKIM-Signature:", []
    for tag in tags:
        words = tag.split(":") if tag.startswith("h=") else [tag]
        for n, word in enumerate(words):
            word += ":" if n < len(words) - 1 else ";"
            gap = " " if n == 0 else ""
            if len(line) + len(gap) + len(word) > _WIDTH and line.strip():
                lines.append(line)
                line, gap = "", " "
            line += gap + word
    return "\r\n".join([*lines, line]).encode("ascii")


def _b64_lines(signature: bytes) -> bytes:
    """The signature's base64, folded: 73 characters after ` b=`, then 76 a line."""
    text = base64.b64encode(signature)
    parts = [text[:73]] + [text[i : i + 76] for i in range(73, len(text), 76)]
    return b"\r\n ".join(parts) + b"\r\n"


class Signer:
    """Signs with each loaded key in turn (the RSA signature first, on top). Remembers the
    canonical form of header fields it has met (a digest's shared From, Subject, Date, List-Id
    are the same bytes in every copy) and of its own tags before `bh=`."""

    def __init__(self, keys: Sequence[DkimKey]) -> None:
        self.keys = tuple((key, load(key)) for key in keys)
        self._signs = tuple(_signing(private) for _, private in self.keys)
        self._fields: dict[bytes, bytes] = {}
        self._tags: dict[tuple[int, tuple[bytes, ...]], tuple[bytes, bytes]] = {}

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line ends, as syndicate writes them) with its signatures in front."""
        head, blank, body = message.partition(b"\r\n\r\n")
        head += b"\r\n"
        if not blank:  # no body: the header block ends at the message's end
            head, body = message, b""
        return self.signatures(head, [body]) + message

    def signatures(self, head: bytes, body: canon.Body) -> bytes:
        """The DKIM-Signature header fields for the message `head` (a header block, each field
        ending with CRLF, without the blank line) followed by `body`'s pieces."""
        hashed = b"bh=" + base64.b64encode(canon.body_hash(body)) + b";"
        present = canon.fields(head)
        names = [name for name, _ in present]
        signed = tuple(
            n for n in SIGNED_HEADERS for _ in range(names.count(n) + 1 if n in names else 0)
        )
        data = b"".join(self._canonical(field) for field in _select(present, signed))
        out = []
        for index, sign in enumerate(self._signs):
            tags, canonical = self._prefix(index, signed)
            signature = sign(hashlib.sha256(data + canonical + b" " + hashed + b" b=").digest())
            out.append(tags + b"\r\n " + hashed + b"\r\n b=" + _b64_lines(signature))
        return b"".join(out)

    def _canonical(self, field: bytes) -> bytes:
        found = self._fields.get(field)
        if found is None:
            if len(self._fields) >= 1024:  # the per-recipient fields pile up: start afresh
                self._fields.clear()
            found = self._fields[field] = canon.relaxed_header(field)
        return found

    def _prefix(self, index: int, signed: tuple[bytes, ...]) -> tuple[bytes, bytes]:
        """Key `index`'s tags up to `h=`, folded, and their canonical form (no final CRLF)."""
        found = self._tags.get((index, signed))
        if found is None:
            key = self.keys[index][0]
            tags = _fold([
                "v=1", f"a={key.algorithm}", "c=relaxed/relaxed", f"d={key.domain}",
                f"s={key.selector}", "h=" + ":".join(n.decode("ascii") for n in signed),
            ])  # fmt: skip
            found = self._tags[(index, signed)] = (tags, canon.relaxed_header(tags)[:-2])
        return found


def _signing(private: PrivateKey) -> Callable[[bytes], bytes]:
    """The signature of a SHA-256 digest: RSA PKCS#1 v1.5 over it as prehashed, or Ed25519
    over the digest's bytes (RFC 8463)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    if isinstance(private, rsa.RSAPrivateKey):
        pad, prehashed = padding.PKCS1v15(), Prehashed(hashes.SHA256())
        return lambda digest: private.sign(digest, pad, prehashed)
    return private.sign


def _select(present: list[tuple[bytes, bytes]], signed: Sequence[bytes]) -> list[bytes]:
    """The fields `h=` names, in its order: for a name met again, the next instance up from the
    bottom (RFC 6376 5.4.2); a name listed more often than it occurs selects nothing more."""
    taken: dict[bytes, int] = {}
    chosen = []
    for name in signed:
        instances = [field for n, field in present if n == name]
        used = taken.get(name, 0)
        if used < len(instances):
            chosen.append(instances[len(instances) - 1 - used])
        taken[name] = used + 1
    return chosen


def sign(message: bytes, key: DkimKey) -> bytes:
    """`message` signed with `key` alone (loads the key on every call: keep a `Signer`)."""
    return Signer([key]).sign(message)
