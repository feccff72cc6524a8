"""Unit tests for syndicate.tokens: signed unsubscribe tokens."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.tokens import make_token, verify_token

SECRET = "correct horse battery staple"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def flip(text: str, index: int) -> str:
    """Replace one base64url character by a different one that changes the decoded bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    old = alphabet.index(text[index])
    new = alphabet[(old + 32) % 64]  # flips the top bit of this sextet
    return text[:index] + new + text[index + 1 :]


def test_round_trip() -> None:
    token = make_token(SECRET, "reader@example.org")
    assert verify_token(SECRET, token) == "reader@example.org"


def test_token_is_url_safe_and_deterministic() -> None:
    token = make_token(SECRET, "reader+news@example.org")
    assert token == make_token(SECRET, "reader+news@example.org")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 1
    assert "=" not in token


def test_surrounding_whitespace_is_tolerated() -> None:
    token = make_token(SECRET, "reader@example.org")
    assert verify_token(SECRET, f"  {token}\n") == "reader@example.org"


def test_different_addresses_get_different_tokens() -> None:
    assert make_token(SECRET, "a@example.org") != make_token(SECRET, "b@example.org")
    assert make_token(SECRET, "a@example.org") != make_token(SECRET, "A@example.org")


def test_other_secret_is_refused() -> None:
    token = make_token(SECRET, "reader@example.org")
    assert verify_token("another secret", token) is None
    assert verify_token("", token) is None


def test_token_for_another_address_cannot_be_reused() -> None:
    token = make_token(SECRET, "mallory@example.org")
    _, signature = token.split(".")
    forged = f"{b64(b'victim@example.org')}.{signature}"
    assert verify_token(SECRET, forged) is None


def test_swapped_signatures_are_refused() -> None:
    a_addr, a_sig = make_token(SECRET, "a@example.org").split(".")
    b_addr, b_sig = make_token(SECRET, "b@example.org").split(".")
    assert verify_token(SECRET, f"{a_addr}.{b_sig}") is None
    assert verify_token(SECRET, f"{b_addr}.{a_sig}") is None


@pytest.mark.parametrize("part", [0, 1])
def test_altered_tokens_are_refused(part: int) -> None:
    token = make_token(SECRET, "reader@example.org")
    pieces = token.split(".")
    # Every character except the last of each part (which may carry padding bits).
    for index in range(len(pieces[part]) - 1):
        altered = list(pieces)
        altered[part] = flip(pieces[part], index)
        assert verify_token(SECRET, ".".join(altered)) is None, (part, index)


def test_truncated_or_extended_signature_is_refused() -> None:
    token = make_token(SECRET, "reader@example.org")
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
    token = make_token(SECRET, "reader@example.org")
    encoded, signature = token.split(".")
    for forged in (f"{encoded[:4]}{junk}{encoded[4:]}.{signature}",
                   f"{encoded}.{signature[:4]}{junk}{signature[4:]}"):  # fmt: skip
        assert verify_token(SECRET, forged) is None, repr(forged)
