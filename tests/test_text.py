"""Unit tests for syndicate.text: xml_safe, one_line, slugify, truncate."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicate.text import html_safe, one_line, slugify, truncate, xml_safe

ASCII_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

# --- xml_safe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "\x00",
        "\x01",
        "\x08",
        "\x0b",
        "\x0c",
        "\x0e",
        "\x1f",
        "\x7f",
        "\ud800",
        "\udfff",
        "\ufffe",
        "\uffff",
    ],
)
def test_xml_safe_removes_invalid_characters(bad: str) -> None:
    assert xml_safe(f"a{bad}b{bad}") == "ab"


def test_xml_safe_keeps_valid_text() -> None:
    text = "tab\tnewline\ncr\r café — “quotes” 😀 \u00a0 \u2028 \U0010fffd"
    assert xml_safe(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)))
@example("\x00\x01\x0b\x0c\x1f\ufffe\uffff")
@example("a\ud800b\udc00c")
def test_xml_safe_output_is_accepted_by_lxml(text: str) -> None:
    element = etree.Element("p")
    element.text = xml_safe(text)  # lxml raises ValueError for XML-incompatible strings
    element.set("title", xml_safe(text))
    assert etree.fromstring(etree.tostring(element)).text == (element.text or None)


# --- one_line -------------------------------------------------------------------------------


def test_one_line_removes_cr_and_lf() -> None:
    assert one_line("Subject\r\nBcc: victim@example.org") == "Subject Bcc: victim@example.org"
    assert one_line("a\rb\nc\r\n\r\nd") == "a b c d"


def test_one_line_collapses_all_whitespace_and_strips() -> None:
    assert (
        one_line("  a \t\t b\u00a0\u2028c\u2029d\x85e\x0cf  ") == "a b c d e f"
    )  # \x0c is whitespace too
    assert one_line("a\u3000b\u200ac") == "a b c"
    assert one_line("") == ""
    assert one_line(" \n\t ") == ""


def test_one_line_removes_control_characters() -> None:
    assert one_line("a\x00b\x01c") == "abc"


@given(st.text())
def test_one_line_property(text: str) -> None:
    result = one_line(text)
    assert "\n" not in result and "\r" not in result
    assert result == result.strip()
    assert "  " not in result
    assert one_line(result) == result


# --- slugify --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello-world"),
        ("  Many   spaces\tand\ttabs ", "many-spaces-and-tabs"),
        ("snake_case_name", "snake-case-name"),
        ("a/b\\c", "a-b-c"),
        ("../../etc/passwd", "etc-passwd"),
        ("Café Déjà Vu", "cafe-deja-vu"),
        ("Kazakhstan’s “new” era", "kazakhstans-new-era"),
        ("---trim---", "trim"),
        ("ﬁve ①", "five-1"),  # compatibility characters
        ("000_f36433ad3d5972c7", "000-f36433ad3d5972c7"),
    ],
)
def test_slugify_examples(text: str, expected: str) -> None:
    assert slugify(text) == expected


@pytest.mark.parametrize(
    "text", ["", " ", "..", ".", "/", "///", "!!!", "-", "_", "культура", "日本"]
)
def test_slugify_never_empty(text: str) -> None:
    assert slugify(text) == "untitled"


def test_slugify_keeps_unicode_only_when_asked() -> None:
    assert slugify("Культура и Музыка") == "untitled"
    assert slugify("Культура и Музыка", keep_unicode=True) == "культура-и-музыка"
    assert slugify("日本 語", keep_unicode=True) == "日本-語"
    assert slugify("Café", keep_unicode=True) == "café"
    assert slugify("Cafe\u0301", keep_unicode=True) == "café"  # NFKC composes


@pytest.mark.parametrize(
    "word",
    [
        "हिन्दी",  # Devanagari: vowel signs and virama are combining marks (Mn/Mc)
        "สวัสดี",  # Thai: vowel and tone marks are combining marks
        "İstanbul",  # 'İ'.lower() is 'i' + U+0307 COMBINING DOT ABOVE
    ],
)
def test_slugify_keep_unicode_does_not_split_words_at_combining_marks(word: str) -> None:
    slug = slugify(word, keep_unicode=True)
    assert "-" not in slug, slug  # one word is one slug segment
    assert len(slug) >= len(word) - 1


def test_slugify_max_length() -> None:
    slug = slugify("word " * 40)
    assert len(slug) <= 80
    assert not slug.endswith("-")
    assert slugify("abcdef ghij", max_length=7) == "abcdef"
    assert slugify("abc", max_length=10) == "abc"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=120))
def test_slugify_ascii_property(text: str, max_length: int) -> None:
    slug = slugify(text, max_length=max(max_length, 8))
    assert slug
    assert ASCII_SLUG.fullmatch(slug), slug
    assert len(slug) <= max(max_length, 8)
    assert slug not in (".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_slugify_unicode_property(text: str) -> None:
    slug = slugify(text, keep_unicode=True)
    assert slug
    assert "/" not in slug and "\\" not in slug and "." not in slug
    assert not any(ch.isspace() for ch in slug)
    assert not slug.startswith("-") and not slug.endswith("-")
    assert slug == slug.lower() or not slug.isascii()


# --- truncate -------------------------------------------------------------------------------


def test_truncate_short_text_is_unchanged_but_one_line() -> None:
    assert truncate("Short text.", 300) == "Short text."
    assert truncate("Two\nlines", 300) == "Two lines"
    assert truncate("exactly ten", 11) == "exactly ten"


def test_truncate_cuts_at_a_word_boundary() -> None:
    text = "The quick brown fox jumps over the lazy dog"
    for limit in range(5, len(text)):
        result = truncate(text, limit)
        assert len(result) <= limit
        assert result.endswith("…")
        kept = result[:-1]
        assert text.startswith(kept)
        assert text[len(kept)] == " "  # the cut falls between words
    assert truncate(text, 22) == "The quick brown fox…"


def test_truncate_keeps_a_word_that_ends_exactly_at_the_cut() -> None:
    # "The quick brown fox" is 19 characters: with the ellipsis it fits in 20.
    assert truncate("The quick brown fox jumps over the lazy dog", 20) == "The quick brown fox…"


def test_truncate_strips_trailing_punctuation_before_ellipsis() -> None:
    assert truncate("Alpha, beta; gamma delta epsilon", 14) == "Alpha, beta…"
    assert truncate("First sentence. Second sentence here", 18) == "First sentence…"


def test_truncate_single_long_word() -> None:
    result = truncate("Supercalifragilisticexpialidocious", 10)
    assert result == "Supercali…"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=400))
def test_truncate_property(text: str, limit: int) -> None:
    result = truncate(text, limit)
    assert len(result) <= limit
    assert "\n" not in result
    flat = one_line(text)
    if len(flat) <= limit:
        assert result == flat
    else:
        assert result.endswith("…")
        assert flat.startswith(result[:-1])


def _reference(text: str, allowed_c0: str) -> str:
    """The rule spelled out one character at a time: what the fast paths must equal."""

    def bad(c: str) -> bool:
        n = ord(c)
        return (
            (n < 0x20 and c not in allowed_c0)
            or 0x7F <= n <= 0x9F
            or 0xD800 <= n <= 0xDFFF
            or 0xFDD0 <= n <= 0xFDEF
            or (n & 0xFFFE) == 0xFFFE
        )

    return "".join(c for c in text if not bad(c))


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(codec=None, blacklist_categories=())))
@example("plain ascii\x00\x0c\x7f")
@example("astral \U0001fffe \U0010ffff \U0001f600 \ufffe \ud800 \x85")
def test_fast_paths_match_the_rule(text: str) -> None:
    assert xml_safe(text) == _reference(text, "\t\n\r")
    assert html_safe(text) == _reference(text, "\t\n\r\x0c")


def test_only_real_link_attributes_are_made_absolute_in_feeds() -> None:
    from syndicate.render.feedtext import absolute_html

    base = "https://example.org/articles/a.html"
    html = (
        '<p>Write <code>&lt;img src="x.png"&gt;</code> or type src="y.png" href="z" here.</p>\n'
        '<p><a href="/about">About</a> <img src="pic.png" alt="a src=&quot;q&quot;"></p>'
    )
    out = absolute_html(html, base)
    assert 'type src="y.png" href="z" here' in out  # plain text: untouched
    assert '&lt;img src="x.png"&gt;' in out
    assert '<a href="https://example.org/about">' in out
    assert '<img src="https://example.org/articles/pic.png"' in out


def test_a_plain_text_article_that_looks_like_an_attribute_reaches_the_feed_unchanged() -> None:
    from syndicate.ingest import ParseOptions
    from syndicate.ingest.parse import parse_article
    from syndicate.render.feedtext import absolute_html

    article = parse_article('Title\n\nSet src="local.png" in the config.\n', "a.txt",
                            ParseOptions(UTC, ()))  # fmt: skip
    out = absolute_html(article.body_html, "https://example.org/")
    assert 'src="local.png"' in out and "https://example.org/local.png" not in out
