"""Regression: a non-ASCII subject must decode back to exactly the title readers should see.

CPython 3.11's header folder drops the space between some RFC 2047 encoded words; the message
policy encodes Subject itself to avoid it (syndicate/render/message.py).
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.render.message import POLICY
from syndicate.text import one_line

WORDS = st.sampled_from(
    ["Größere", "Änderungen", "für", "die", "Café-Kultur", "Helsingør", "☕", "the", "a",
     "Kazakhstan’s", "«Астана»", "日本語", "news", "x" * 40, "emoji😀"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=30))
def test_subject_survives_folding(words: list[str]) -> None:
    title = " ".join(words)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = title
    message.set_content("body")
    raw = bytes(message)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 76 for line in head.split(b"\r\n") if b"=?" in line)
    assert message_from_bytes(raw, policy=default)["Subject"] == one_line(title)


@given(st.text(min_size=1, max_size=200))
def test_any_subject_is_one_header_line_that_round_trips(title: str) -> None:
    clean = one_line(title) or "x"
    message = EmailMessage(policy=POLICY)
    message["Subject"] = clean
    message.set_content("body")
    parsed = message_from_bytes(bytes(message), policy=default)
    assert parsed["Subject"] == clean
    assert list(parsed.keys()).count("Subject") == 1
