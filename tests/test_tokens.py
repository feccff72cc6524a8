"""Unit tests for syndicate.tokens: opaque unsubscribe and confirmation tokens, and the legacy
unsubscribe tokens mailed before them (which still verify)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.tokens import (
    make_confirm_token,
    make_legacy_token,
    make_token,
    verify_confirm_token,
    verify_token,
)

MAKERS = pytest.mark.parametrize("maker", [make_token, make_legacy_token], ids=["opaque", "legacy"])

SECRET = "correct horse battery staple"


Maker = Callable[[str, str], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def flip(text: str, index: int) -> str:
    """Replace one base64url character by a different one that changes the decoded bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    old = alphabet.index(text[index])
    new = alphabet[(old + 32) % 64]  # flips the top bit of this sextet
    return text[:index] + new + text[index + 1 :]


@MAKERS
def test_round_trip(maker: Maker) -> None:
    token = maker(SECRET, "reader@example.org")
    assert verify_token(SECRET, token) == "reader@example.org"


def test_legacy_token_is_url_safe_and_deterministic() -> None:
    token = make_legacy_token(SECRET, "reader+news@example.org")
    assert token == make_legacy_token(SECRET, "reader+news@example.org")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 1
    assert "=" not in token


@MAKERS
def test_surrounding_whitespace_is_tolerated(maker: Maker) -> None:
    token = maker(SECRET, "reader@example.org")
    assert verify_token(SECRET, f"  {token}\n") == "reader@example.org"


@MAKERS
def test_different_addresses_get_different_tokens(maker: Maker) -> None:
    assert maker(SECRET, "a@example.org") != maker(SECRET, "b@example.org")
    assert maker(SECRET, "a@example.org") != maker(SECRET, "A@example.org")


@MAKERS
def test_other_secret_is_refused(maker: Maker) -> None:
    token = maker(SECRET, "reader@example.org")
    assert verify_token("another secret", token) is None
    assert verify_token("", token) is None


def test_token_for_another_address_cannot_be_reused() -> None:
    token = make_legacy_token(SECRET, "mallory@example.org")
    _, signature = token.split(".")
    forged = f"{b64(b'victim@example.org')}.{signature}"
    assert verify_token(SECRET, forged) is None


def test_swapped_signatures_are_refused() -> None:
    a_addr, a_sig = make_legacy_token(SECRET, "a@example.org").split(".")
    b_addr, b_sig = make_legacy_token(SECRET, "b@example.org").split(".")
    assert verify_token(SECRET, f"{a_addr}.{b_sig}") is None
    assert verify_token(SECRET, f"{b_addr}.{a_sig}") is None


@pytest.mark.parametrize("part", [0, 1])
def test_altered_tokens_are_refused(part: int) -> None:
    token = make_legacy_token(SECRET, "reader@example.org")
    pieces = token.split(".")
    # Every character except the last of each part (which may carry padding bits).
    for index in range(len(pieces[part]) - 1):
        altered = list(pieces)
        altered[part] = flip(pieces[part], index)
        assert verify_token(SECRET, ".".join(altered)) is None, (part, index)


@MAKERS
def test_truncated_or_extended_signature_is_refused(maker: Maker) -> None:
    token = maker(SECRET, "reader@example.org")
    assert verify_token(SECRET, token[:-4]) is None
    assert verify_token(SECRET, token + "AAAA") is None


def test_signature_made_without_secret_is_refused() -> None:
    address = "reader@example.org"
    plain = hashlib.sha256(address.encode()).digest()
    assert verify_token(SECRET, f"{b64(address.encode())}.{b64(plain)}") is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "no-dot-at-all",
        "a.b.c",
        "!!!.???",
        "ab=c.de=f",
        "A.",
        ".AAAA",
        "____.____",  # decodes to bytes that are not UTF-8
        "é.é",  # non-ASCII
        "A",  # bad base64 length
        "\x00.\x00",
    ],
)
def test_malformed_tokens_return_none(token: str) -> None:
    assert verify_token(SECRET, token) is None


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=1), address=st.text(min_size=1).filter(lambda s: s.strip() == s))
def test_round_trip_property(secret: str, address: str) -> None:
    try:
        address.encode()
    except UnicodeEncodeError:
        return
    token = make_token(secret, address)
    assert verify_token(secret, token) == address
    assert verify_token(secret + "x", token) is None


@settings(max_examples=300, deadline=None)
@given(token=st.text())
def test_arbitrary_strings_never_raise(token: str) -> None:
    result = verify_token(SECRET, token)
    assert result is None or isinstance(result, str)


@pytest.mark.parametrize("junk", ["!", " ", "\x00", "é", "=", "+", "/", "..", "\n"])
def test_junk_characters_inside_a_token_are_refused(junk: str) -> None:
    """base64's decoder silently skips characters outside its alphabet: a token with junk in it
    would verify as the token without it. Both formats refuse it."""
    legacy = make_legacy_token(SECRET, "reader@example.org")
    encoded, signature = legacy.split(".")
    opaque = make_token(SECRET, "reader@example.org")
    for forged in (f"{encoded[:4]}{junk}{encoded[4:]}.{signature}",
                   f"{encoded}.{signature[:4]}{junk}{signature[4:]}",
                   f"{opaque[:5]}{junk}{opaque[5:]}"):  # fmt: skip
        assert verify_token(SECRET, forged) is None, repr(forged)
    assert verify_token(SECRET, legacy) == verify_token(SECRET, opaque) == "reader@example.org"


# -- the opaque tokens ---------------------------------------------------------------------


def test_opaque_token_names_no_address() -> None:
    token = make_token(SECRET, "reader@example.org")
    assert token == make_token(SECRET, "reader@example.org")  # one address, one token
    assert token.startswith("u") and "." not in token and "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for leak in ("reader", "example", b64(b"reader@example.org")[:8], b64(b"reader")[:6]):
        assert leak not in token
    assert make_token("other secret", "reader@example.org") != token


def test_every_altered_character_of_an_opaque_token_is_refused() -> None:
    token = make_token(SECRET, "reader@example.org")
    for index in range(1, len(token) - 1):
        assert verify_token(SECRET, flip(token, index)) is None, index
    assert verify_token(SECRET, "c" + token[1:]) is None  # another kind's prefix


def test_a_confirmation_token_is_no_unsubscribe_token_and_back() -> None:
    issued = datetime(2026, 11, 28, 12, tzinfo=UTC)
    confirm = make_confirm_token(SECRET, "abc123", issued)
    assert verify_token(SECRET, "u" + confirm[1:]) is None
    assert verify_confirm_token(SECRET, "c" + make_token(SECRET, "a@example.org")[1:]) is None


def test_confirmation_tokens_round_trip_and_expire() -> None:
    issued = datetime(2026, 11, 28, 12, 30, 15, tzinfo=UTC)
    token = make_confirm_token(SECRET, "Zx9_-id", issued)
    said = verify_confirm_token(SECRET, token)
    assert said is not None and said.ident == "Zx9_-id" and said.issued == issued
    assert "Zx9" not in token and token.startswith("c")
    week = timedelta(days=7)
    assert not said.expired(issued + week - timedelta(seconds=1), week)
    assert said.expired(issued + week, week)
    assert said.expired(issued - timedelta(hours=1), week)  # from the future: not ours
    assert verify_confirm_token("other", token) is None
    for index in range(1, len(token) - 1):
        assert verify_confirm_token(SECRET, flip(token, index)) is None, index


@pytest.mark.parametrize(
    "token", ["", "c", "u", "cAAAA", "c" + "A" * 40, "c" + "é" * 30, "c" * 5000]
)
def test_malformed_opaque_tokens(token: str) -> None:
    assert verify_confirm_token(SECRET, token) is None
    assert verify_token(SECRET, token) is None
