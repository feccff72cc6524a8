"""Unit tests for syndicate.ingest.parse: decode() and parse_article()."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.config import DEFAULT_CTA_PATTERNS, load_config
from syndicate.errors import ArticleError
from syndicate.ingest import options_for
from syndicate.ingest.parse import ParseOptions, decode, parse_article
from syndicate.models import Article

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "articles" / "000_f36433ad3d5972c7.txt"
SEED_TITLE = (
    "Kazakhstan launches UNSC presidency with January work programme, new flag raising ceremony"
)
SEED_CTA = (
    "Get The Astana Times stories sent directly to you! Sign up via the website or subscribe "
    "to our X, Facebook, Instagram, Telegram, YouTube and Tiktok!"
)
BERLIN = ZoneInfo("Europe/Berlin")
OPTIONS = ParseOptions(BERLIN, tuple(re.compile(p) for p in DEFAULT_CTA_PATTERNS))


def parse(text: str, path: str = "story.txt", options: ParseOptions = OPTIONS) -> Article:
    return parse_article(text, path, options)


def parse_bytes(data: bytes, path: str = "story.txt") -> Article:
    text, _ = decode(data, path)
    return parse_article(text, path, OPTIONS)


def paragraphs(article: Article) -> list[str]:
    return article.body_text.split("\n\n")


def article_error(text: str, path: str = "story.txt") -> ArticleError:
    with pytest.raises(ArticleError) as info:
        parse(text, path)
    return info.value


# --- the real publisher article -------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> Article:
    config = load_config(ROOT / "config.toml", env={})
    text, warnings = decode(SEED.read_bytes(), SEED.name)
    assert warnings == []
    return parse_article(text, SEED.name, options_for(config))


def test_seed_title(seed: Article) -> None:
    assert seed.title == SEED_TITLE


def test_seed_has_exactly_the_twelve_real_paragraphs(seed: Article) -> None:
    body = paragraphs(seed)
    assert len(body) == 12
    assert seed.body_html.count("<p>") == 12
    assert seed.body_html.count("</p>") == 12
    assert body[0].startswith("Kazakhstan began its month-long mission as UN Security Council")
    assert body[1].startswith("The work plan was approved by the council")
    assert body[-1].startswith("Press representatives included Al-Arabiya")
    assert body[-1].endswith("Tokyo Shimbun and NHK.")


def test_seed_noise_is_gone(seed: Article) -> None:
    for placeholder in ("5a4c803ad4af2", "5a4c803ad59ed", "5a4c803ade6b9"):
        assert placeholder not in seed.body_html
        assert placeholder not in seed.body_text
    assert "\u00a0" not in seed.body_text
    assert "\u00a0" not in seed.body_html
    assert "<p></p>" not in seed.body_html
    assert all(p.strip() for p in paragraphs(seed))


def test_seed_cta_is_lifted_out_of_the_body(seed: Article) -> None:
    last_paragraph = SEED.read_text(encoding="utf-8").rsplit("\n\n", 1)[1].strip()
    assert last_paragraph == SEED_CTA
    assert seed.cta == SEED_CTA
    assert "sent directly to you" not in seed.body_text
    assert "sent directly to you" not in seed.body_html


def test_seed_summary_is_first_paragraph(seed: Article) -> None:
    assert seed.summary == paragraphs(seed)[0]
    assert len(seed.summary) <= 300


def test_seed_identity_and_typography(seed: Article) -> None:
    assert seed.id == "000_f36433ad3d5972c7"
    assert seed.source == "000_f36433ad3d5972c7.txt"
    assert seed.slug == "000-f36433ad3d5972c7"
    assert seed.date is None and seed.author is None and seed.tags == ()
    assert seed.draft is False
    # Curly quotes survive untouched; only <, > and & are escaped in .txt bodies.
    assert "council\u2019s January activity programme" in seed.body_html
    assert "\u201cKnowing Kazakhstan" in seed.body_html


# --- line endings and encodings -------------------------------------------------------------


def test_missing_final_newline_is_the_same_article() -> None:
    with_newline = parse_bytes(b"Title\n\nFirst paragraph.\n\nSecond paragraph.\n")
    without = parse_bytes(b"Title\n\nFirst paragraph.\n\nSecond paragraph.")
    assert without.title == with_newline.title == "Title"
    assert (
        paragraphs(without) == paragraphs(with_newline) == ["First paragraph.", "Second paragraph."]
    )


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "lone-cr"])
def test_crlf_and_lone_cr_line_ends(newline: bytes) -> None:
    data = newline.join([b"Title", b"", b"One", b"two", b"", b"Three"])
    text, warnings = decode(data, "story.txt")
    assert "\r" not in text
    assert text == "Title\n\nOne\ntwo\n\nThree"
    assert warnings == []
    article = parse(text)
    assert article.title == "Title"
    assert paragraphs(article) == ["One two", "Three"]


def test_utf8_bom_is_dropped() -> None:
    text, warnings = decode(codecs.BOM_UTF8 + "Tïtle\n\nBody".encode(), "story.txt")
    assert text == "Tïtle\n\nBody"
    assert warnings == []
    assert parse(text).title == "Tïtle"


def test_utf8_bom_before_front_matter() -> None:
    data = codecs.BOM_UTF8 + b'+++\ntitle = "From front"\n+++\nBody line\n'
    article = parse_bytes(data)
    assert article.title == "From front"
    assert paragraphs(article) == ["Body line"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(codec: str) -> None:
    source = "Заголовок — Title\r\n\r\nБody “text”\r\n"
    encoded = source.encode(codec)
    if codec == "utf-16-le":
        encoded = codecs.BOM_UTF16_LE + encoded
    elif codec == "utf-16-be":
        encoded = codecs.BOM_UTF16_BE + encoded
    text, warnings = decode(encoded, "story.txt")
    assert text == "Заголовок — Title\n\nБody “text”\n"
    assert warnings == []


def test_cp1252_fallback_with_warning() -> None:
    text, warnings = decode(b"Caf\xe9 title\n\nBody \x93quoted\x94", "story.txt")
    assert text == "Café title\n\nBody \u201cquoted\u201d"
    assert len(warnings) == 1
    assert warnings[0].startswith("story.txt:1:")
    assert "cp1252" in warnings[0]
    article = parse(text)
    assert article.title == "Café title"
    assert article.body_text == "Body \u201cquoted\u201d"


def test_cp1252_warning_names_the_line_of_the_first_bad_byte() -> None:
    _, warnings = decode(b"Title\n\nfine line\n\nna\xefve \x96 dash\n", "old.txt")
    assert len(warnings) == 1
    assert warnings[0].startswith("old.txt:5:")
    assert "0xef" in warnings[0]


# --- files that are not articles ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"   \n\t\n\n", "whitespace"),
        ("\u00a0\n\u00a0 \n".encode(), "whitespace"),
        (b"\r\n\r\n", "whitespace"),
        (b"GIF89a\x00\x01\x02binary", "binary"),
        ("Title\n\nbody".encode("utf-16-le"), "binary"),  # UTF-16 without a BOM
    ],
    ids=["empty", "bom-only", "whitespace", "nbsp-only", "blank-lines", "binary", "utf16-no-bom"],
)
def test_not_an_article_at_decode(data: bytes, reason: str) -> None:
    with pytest.raises(ArticleError) as info:
        decode(data, "bad.txt")
    error = info.value
    assert error.path == "bad.txt"
    assert error.line == 1
    assert reason in error.reason
    assert str(error).startswith("bad.txt:1: ")


def test_title_only_has_no_body() -> None:
    error = article_error("Just a title\n")
    assert (error.path, error.line) == ("story.txt", 1)
    assert "no article text" in error.reason


def test_title_and_cta_only_has_no_body() -> None:
    error = article_error(f"Just a title\n\n{SEED_CTA}\n")
    assert error.line == 1
    assert "no article text" in error.reason


def test_noise_only_has_no_title() -> None:
    text, _ = decode(b"5a4c803ad4af2\n\n\xc2\xa0\n\n5a4c803ad59ed\n", "noise.txt")
    with pytest.raises(ArticleError) as info:
        parse(text, "noise.txt")
    assert info.value.path == "noise.txt"
    assert info.value.line == 1
    assert "no title" in info.value.reason


def test_front_matter_title_without_body_points_after_front_matter() -> None:
    error = article_error('+++\ntitle = "T"\n+++\n\n')
    assert error.line == 4
    assert "no article text" in error.reason


# --- noise lines ----------------------------------------------------------------------------


def test_noise_lines_are_exactly_13_hex_digits_or_blank() -> None:
    text = (
        "Title\n\n"
        "  5A4C803AD4AF2  \n\n"  # 13 hex digits with spaces: noise
        "5a4c803ad4af\n\n"  # 12 digits: text
        "5a4c803ad4af21\n\n"  # 14 digits: text
        "\u00a0\u00a0\n\n"  # NBSP only: noise
        "\u200b\n\n"  # zero-width space only: noise
        "\t \n\n"
        "Real paragraph."
    )
    assert paragraphs(parse(text)) == ["5a4c803ad4af", "5a4c803ad4af21", "Real paragraph."]


def test_multi_line_paragraph_is_joined_into_one_line() -> None:
    article = parse("Title\n\nfirst line\nsecond   line\n\nnext")
    assert paragraphs(article) == ["first line second line", "next"]
    assert article.body_html == "<p>first line second line</p>\n<p>next</p>\n"


# --- front matter ---------------------------------------------------------------------------

FULL_FRONT = """+++
id = "unsc-presidency"
title = "Kazakhstan takes the chair"
date = 2026-01-02T09:30:00
updated = 2026-01-03T10:00:00+05:00
author = "Aigerim  Sadykova"
tags = ["diplomacy", "un", "diplomacy", " un ", ""]
summary = "A short summary."
slug = "UNSC Presidency: Day 1"
draft = true
+++
The first body line is a paragraph here.

Second paragraph.
"""


def test_front_matter_all_keys() -> None:
    article = parse(FULL_FRONT, "whatever.txt")
    assert article.id == "unsc-presidency"
    assert article.title == "Kazakhstan takes the chair"
    assert article.date == datetime(2026, 1, 2, 9, 30, tzinfo=BERLIN)
    assert article.date.utcoffset() == timedelta(hours=1)
    assert article.updated == datetime(2026, 1, 3, 5, 0, tzinfo=UTC)
    assert article.updated.utcoffset() == timedelta(hours=5)
    assert article.author == "Aigerim Sadykova"
    assert article.tags == ("diplomacy", "un")
    assert article.summary == "A short summary."
    assert article.slug == "unsc-presidency-day-1"
    assert article.draft is True
    assert paragraphs(article) == ["The first body line is a paragraph here.", "Second paragraph."]


def test_naive_date_gets_the_options_timezone() -> None:
    text = "+++\ndate = 2026-07-01T12:00:00\n+++\nTitle\n\nBody\n"
    berlin = parse(text)
    assert berlin.date is not None and berlin.date.tzinfo is BERLIN
    assert berlin.date.utcoffset() == timedelta(hours=2)  # CEST in July
    tokyo = parse(text, options=ParseOptions(ZoneInfo("Asia/Tokyo"), ()))
    assert tokyo.date is not None
    assert tokyo.date.utcoffset() == timedelta(hours=9)
    assert berlin.date - tokyo.date == timedelta(hours=7)


def test_date_only_value_is_local_midnight() -> None:
    article = parse("+++\ndate = 2026-11-20\n+++\nTitle\n\nBody\n")
    assert article.date == datetime(2026, 11, 20, 0, 0, tzinfo=BERLIN)
    assert article.date.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"2026-11-20T09:30:00+05:00"', datetime(2026, 11, 20, 4, 30, tzinfo=UTC)),
        ('"2026-11-20T09:30:00Z"', datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ('"2026-11-20T09:30:00"', datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)),
        ('" 2026-11-20 "', datetime(2026, 11, 20, tzinfo=BERLIN)),
    ],
)
def test_string_iso_date(value: str, expected: datetime) -> None:
    article = parse(f"+++\ndate = {value}\n+++\nTitle\n\nBody\n")
    assert article.date == expected
    assert article.date is not None and article.date.tzinfo is not None


@pytest.mark.parametrize("value", ['"yesterday"', '"2026-13-01"', "07:00:00", "1700000000"])
def test_bad_date_values(value: str) -> None:
    error = article_error(f"+++\ndate = {value}\n+++\nTitle\n\nBody\n")
    assert "'date'" in error.reason
    assert error.path == "story.txt"


def test_unknown_key_names_key_and_line() -> None:
    error = article_error('+++\ntitle = "T"\ndate = 2026-01-01\ncolour = "red"\n+++\nBody\n')
    assert error.line == 4
    assert "'colour'" in error.reason
    assert str(error).startswith("story.txt:4: ")


@pytest.mark.parametrize(
    ("front", "line"),
    [
        ('tags = ["a"]\ntag = "x"', 3),  # the unknown key is a prefix of a known key above it
        ('title = "T"\n[extra]\nthing = 1', 3),  # an unknown table
    ],
    ids=["prefix-of-earlier-key", "table"],
)
def test_unknown_key_line_is_the_keys_own_line(front: str, line: int) -> None:
    error = article_error(f"+++\n{front}\n+++\nTitle\n\nBody\n")
    assert "unknown front matter key" in error.reason
    assert error.line == line


@pytest.mark.parametrize(
    ("front", "line"),
    [
        ('title = "T"\ndate = 2026-13-45', 3),
        ("title = = 1", 2),
        ('title = "T"\nauthor = "A"\n\ndraft = tru', 5),
    ],
)
def test_broken_toml_points_at_the_broken_line(front: str, line: int) -> None:
    error = article_error(f"+++\n{front}\n+++\nTitle\n\nBody\n")
    assert error.line == line
    assert "broken front matter" in error.reason
    assert str(error).startswith(f"story.txt:{line}: ")


@pytest.mark.parametrize(
    "front",
    ['title = "T"\nauthor = "unterminated', 'title = "T"\nauthor = "A"\ntags = ["a",'],
    ids=["unterminated-string", "unterminated-array"],
)
def test_broken_toml_at_end_of_front_matter_points_into_it(front: str) -> None:
    closing = front.count("\n") + 3  # the line of the closing +++
    error = article_error(f"+++\n{front}\n+++\nTitle\n\nBody\n")
    assert "broken front matter" in error.reason
    assert 2 <= error.line < closing


def test_unclosed_front_matter() -> None:
    error = article_error('+++\ntitle = "T"\nBody without closing\n')
    assert error.line == 1
    assert "never closed" in error.reason


@pytest.mark.parametrize(
    ("front", "key"),
    [
        ("tags = 5", "'tags'"),
        ("tags = [1, 2]", "'tags'"),
        ("tags = { a = 1 }", "'tags'"),
        ('draft = "yes"', "'draft'"),
        ("draft = 1", "'draft'"),
        ("title = 42", "'title'"),
        ("author = []", "'author'"),
        ("id = 7", "'id'"),
    ],
)
def test_wrong_types(front: str, key: str) -> None:
    error = article_error(f"+++\n{front}\n+++\nTitle\n\nBody\n")
    assert key in error.reason
    assert error.path == "story.txt"
    assert 1 <= error.line <= 3  # inside the front matter block


def test_id_from_front_matter_or_file_name_stem() -> None:
    assert parse("Title\n\nBody", "2026-01-02 my.story.md").id == "2026-01-02 my.story"
    assert parse("Title\n\nBody", "plain.txt").id == "plain"
    assert parse('+++\nid = "fixed"\n+++\nTitle\n\nBody', "plain.txt").id == "fixed"
    # A blank id falls back to the file name.
    assert parse('+++\nid = "  "\n+++\nTitle\n\nBody', "plain.txt").id == "plain"


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ('"../../etc/passwd"', "etc-passwd"),
        ('"Hello, World!"', "hello-world"),
        ('"a/b\\\\c"', "a-b-c"),
        ('".."', "untitled"),
        ('"Café Déjà vu"', "cafe-deja-vu"),
    ],
)
def test_slug_from_front_matter_is_slugified(slug: str, expected: str) -> None:
    article = parse(f"+++\nslug = {slug}\n+++\nTitle\n\nBody")
    assert article.slug == expected
    assert "/" not in article.slug and ".." not in article.slug


def test_slug_defaults_to_slugified_id() -> None:
    assert parse("Title\n\nBody", "My Story_2026.txt").slug == "my-story-2026"


def test_tags_are_deduplicated_in_order() -> None:
    article = parse('+++\ntags = ["b", "a", "b", " a ", "c\\n", "", "  "]\n+++\nTitle\n\nBody')
    assert article.tags == ("b", "a", "c")


def test_title_from_front_matter_makes_first_line_a_paragraph() -> None:
    article = parse('+++\ntitle = "Front title"\n+++\nFirst line\n\nSecond')
    assert article.title == "Front title"
    assert paragraphs(article) == ["First line", "Second"]
    assert article.summary == "First line"


def test_front_matter_title_is_one_line() -> None:
    article = parse('+++\ntitle = """Two\nlines\r\n"""\n+++\nBody')
    assert article.title == "Two lines"


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_heading_becomes_title() -> None:
    article = parse("# Dombra orchestra in Astana\n\nThe *first* paragraph.\n", "x.md")
    assert article.title == "Dombra orchestra in Astana"
    assert "Dombra" not in article.body_html
    assert article.body_html == "<p>The <em>first</em> paragraph.</p>\n"


def test_markdown_h2_title_and_plain_first_line() -> None:
    assert parse("##   Spaced title  \n\nBody", "x.md").title == "Spaced title"
    assert parse("Plain title\n\nBody", "x.md").title == "Plain title"


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("# Title #\n\nBody", "Title"),  # CommonMark closing sequence
        ("Title\n=====\n\nBody", "Title"),  # setext heading
        ("# The *küy* tradition\n\nBody", "The küy tradition"),  # inline markup
    ],
    ids=["closing-hashes", "setext", "emphasis"],
)
def test_markdown_title_is_the_headings_plain_text(source: str, title: str) -> None:
    assert parse(source, "x.md").title == title


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("# Title\nFirst paragraph.\n\nSecond.", "x.md"),
        ("Title\nFirst paragraph.\n\nSecond.", "x.txt"),
    ],
    ids=["markdown-atx", "plain-text"],
)
def test_title_is_only_the_first_line(source: str, path: str) -> None:
    article = parse(source, path)
    assert article.title == "Title"
    assert "First paragraph." in article.body_text


def test_markdown_raw_html_is_escaped() -> None:
    article = parse(
        "# T\n\n<script>alert(1)</script>\n\nText with <b>tag</b> and <img src=x onerror=y>\n",
        "x.md",
    )
    assert "<script" not in article.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article.body_html
    assert "<b>" not in article.body_html and "<img" not in article.body_html


def test_markdown_javascript_link_is_not_a_link() -> None:
    article = parse("# T\n\n[click](javascript:alert(1)) and [ok](https://example.org/)", "x.md")
    assert 'href="javascript' not in article.body_html
    assert '<a href="https://example.org/">ok</a>' in article.body_html


def test_markdown_headings_and_lists_render() -> None:
    article = parse("# T\n\nIntro.\n\n## Section\n\n- one\n- two\n\n1. a\n2. b\n", "x.md")
    html = article.body_html
    assert "<h2>Section</h2>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>a</li>\n<li>b</li>\n</ol>" in html


def test_markdown_lede_is_first_paragraph_plain_text() -> None:
    source = (
        "# T\n\n## A subheading first\n\n"
        "Some *emph*, `code`, [a link](https://example.org/) &amp; AT&amp;T\nsoft break.\n\n"
        "Second."
    )
    article = parse(source, "x.md")
    assert article.summary == "Some emph, code, a link & AT&T soft break."


def test_markdown_lede_keeps_space_at_hard_line_break() -> None:
    article = parse("# T\n\nline one  \nline two\n", "x.md")
    assert "<br />" in article.body_html
    assert article.summary == "line one line two"


def test_markdown_cta_is_lifted() -> None:
    article = parse(f"# T\n\nBody.\n\n{SEED_CTA}\n", "x.md")
    assert article.cta == SEED_CTA
    assert "directly" not in article.body_html


# --- escaping and XML safety ----------------------------------------------------------------


def test_html_in_txt_is_escaped() -> None:
    article = parse('<b>Bold</b> & "title"\n\n<script>alert("x")</script> & 1 < 2 > 0')
    assert article.title == '<b>Bold</b> & "title"'  # plain text; renderers escape it
    assert article.body_html == (
        '<p>&lt;script&gt;alert("x")&lt;/script&gt; &amp; 1 &lt; 2 &gt; 0</p>\n'
    )
    assert "<script>" not in article.body_html


def test_xml_invalid_control_characters_are_removed() -> None:
    text, _ = decode(b"Ti\x01tle\x0c\n\nBo\x0bdy \x1f\x7fend\x08\n", "story.txt")
    for bad in "\x01\x08\x0b\x0c\x1f\x7f":
        assert bad not in text
    article = parse(text)
    assert article.title == "Title"
    assert article.body_text == "Body end"


def test_xml_invalid_characters_removed_from_front_matter_values() -> None:
    article = parse(
        '+++\ntitle = "A\\u0001B"\nauthor = "C\\u000bD"\ntags = ["x\\u0002"]\n+++\nBody'
    )
    assert article.title == "AB"
    assert article.author == "C D"  # \x0b is whitespace: it separates, never vanishes
    assert article.tags == ("x",)


# --- CTA patterns ---------------------------------------------------------------------------


def test_custom_cta_pattern() -> None:
    options = ParseOptions(BERLIN, (re.compile(r"(?i)^follow us\b"),))
    text = "Title\n\nBody.\n\nFollow us on X and Telegram"
    article = parse(text, options=options)
    assert article.cta == "Follow us on X and Telegram"
    assert paragraphs(article) == ["Body."]


def test_cta_pattern_that_does_not_match_leaves_paragraph_in_body() -> None:
    options = ParseOptions(BERLIN, (re.compile(r"(?i)^follow us\b"),))
    article = parse(f"Title\n\nBody.\n\n{SEED_CTA}", options=options)
    assert article.cta is None
    assert paragraphs(article) == ["Body.", SEED_CTA]


def test_no_cta_patterns_means_no_cta() -> None:
    article = parse(f"Title\n\nBody.\n\n{SEED_CTA}", options=ParseOptions(BERLIN, ()))
    assert article.cta is None
    assert paragraphs(article)[-1] == SEED_CTA


def test_cta_only_lifted_from_the_last_paragraph() -> None:
    article = parse(f"Title\n\n{SEED_CTA}\n\nThe real last paragraph.")
    assert article.cta is None
    assert paragraphs(article) == [SEED_CTA, "The real last paragraph."]


# --- hashes and fingerprints ----------------------------------------------------------------


def test_content_hash_ignores_line_endings_and_bom() -> None:
    lf = parse_bytes(b"Title\n\nOne.\n\nTwo.\n")
    crlf = parse_bytes(b"Title\r\n\r\nOne.\r\n\r\nTwo.\r\n")
    bom = parse_bytes(codecs.BOM_UTF8 + b"Title\n\nOne.\n\nTwo.\n")
    assert lf.content_hash == crlf.content_hash == bom.content_hash
    assert re.fullmatch(r"[0-9a-f]{64}", lf.content_hash)


def test_content_hash_changes_after_a_real_edit() -> None:
    before = parse_bytes(b"Title\n\nOne.\n\nTwo.\n")
    after = parse_bytes(b"Title\n\nOne.\n\nTwo!\n")
    front = parse_bytes(b"+++\nauthor = 'X'\n+++\nTitle\n\nOne.\n\nTwo.\n")
    assert len({before.content_hash, after.content_hash, front.content_hash}) == 3


def test_fingerprint_changes_with_patterns_and_tz() -> None:
    base = ParseOptions(BERLIN, (re.compile("a"),))
    same = ParseOptions(ZoneInfo("Europe/Berlin"), (re.compile("a"),))
    other_tz = ParseOptions(ZoneInfo("Asia/Almaty"), (re.compile("a"),))
    other_pattern = ParseOptions(BERLIN, (re.compile("b"),))
    more_patterns = ParseOptions(BERLIN, (re.compile("a"), re.compile("b")))
    no_patterns = ParseOptions(BERLIN, ())
    assert base.fingerprint() == same.fingerprint()
    prints = [o.fingerprint() for o in (base, other_tz, other_pattern, more_patterns, no_patterns)]
    assert len(set(prints)) == len(prints)


# --- robustness -----------------------------------------------------------------------------

_pieces = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "+++",
            "\n",
            "\r\n",
            "\r",
            "\u00a0",
            "5a4c803ad4af2",
            "# ",
            'title = "x"',
            "date = 2026-01-01",
            'date = "not a date"',
            "tags = [1]",
            "draft = 1",
            "unknown = 1",
            "[table]",
            "<script>",
            SEED_CTA,
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_pieces, max_size=20), path=st.sampled_from(["a.txt", "b.md", "c.TXT"]))
def test_parse_article_only_raises_article_error(parts: list[str], path: str) -> None:
    text = "".join(parts)
    try:
        article = parse_article(text, path, OPTIONS)
    except ArticleError as error:
        assert error.path == path
        assert error.line >= 1
        assert error.reason
    else:
        assert isinstance(article, Article)
        assert article.title
        assert article.slug and "/" not in article.slug
        assert "\n" not in article.title and "\n" not in article.summary


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), path=st.sampled_from(["a.txt", "b.md"]))
def test_decode_then_parse_only_raises_article_error(data: bytes, path: str) -> None:
    try:
        text, warnings = decode(data, path)
        article = parse_article(text, path, OPTIONS)
    except ArticleError as error:
        assert error.path == path
        assert error.line >= 1
    else:
        assert "\r" not in text and "\x00" not in text
        assert all(w.startswith(f"{path}:") for w in warnings)
        assert isinstance(article, Article)


def test_deeply_nested_front_matter_is_an_article_error() -> None:
    text = "+++\ntags = " + "[" * 5000 + "]" * 5000 + "\n+++\nTitle\n\nBody\n"
    with pytest.raises(ArticleError) as info:
        parse(text)
    assert info.value.path == "story.txt"


# --- language, URI ids, linked files -----------------------------------------------------------


def test_language_comes_from_front_matter_and_is_checked() -> None:
    article = parse_article('+++\nlanguage = "ru"\n+++\nЗаголовок\n\nТекст.\n', "a.txt", OPTIONS)
    assert article.language == "ru"
    assert parse_article("Title\n\nText.\n", "b.txt", OPTIONS).language is None  # the site's
    assert (
        parse_article('+++\nlanguage = "pt-BR"\n+++\nT\n\nx\n', "c.txt", OPTIONS).language
        == "pt-BR"
    )
    with pytest.raises(ArticleError) as caught:
        parse_article('+++\ntitle = "T"\nlanguage = "English!"\n+++\nText.\n', "d.txt", OPTIONS)
    assert (caught.value.line, "language") == (3, "language") and "pt-BR" in caught.value.reason


@pytest.mark.parametrize(
    "ident",
    [
        "urn:uuid:3f2a8c1e-7b4d-4e6a-9c0f-1d2e3f4a5b6c",
        "tag:example.org,2019:story-7",
        "https://old.example.com/2019/07/story",
    ],
)
def test_a_uri_id_is_kept_and_the_slug_comes_from_the_title(ident: str) -> None:
    text = f'+++\nid = "{ident}"\n+++\n# A Story Moved Here\n\nBody.\n'
    article = parse_article(text, "moved.md", OPTIONS)
    assert article.id == ident and article.slug == "a-story-moved-here" and article.title_slug
    with_slug = parse_article(text.replace("+++\n#", 'slug = "kept"\n+++\n#', 1), "m.md", OPTIONS)
    assert with_slug.slug == "kept" and not with_slug.title_slug
    plain = parse_article('+++\nid = "story-7"\n+++\n# Title\n\nBody.\n', "x.md", OPTIONS)
    assert plain.slug == "story-7" and not plain.title_slug  # not a URI: as before


@pytest.mark.parametrize("ident", ["urn:uuid", "urn:uuid:ünïcode", "https:///path", "tag:x y:z"])
def test_an_id_that_starts_like_a_uri_must_be_one(ident: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article(f'+++\nid = "{ident}"\n+++\n# T\n\nBody.\n', "bad.md", OPTIONS)
    assert caught.value.line == 2 and "not a valid one" in caught.value.reason


def test_linked_local_files_are_found_with_their_lines() -> None:
    text = (
        "+++\ntags = []\n+++\n# Title\n\nFirst paragraph.\n\n![A dombra](images/dombra%20big.jpg)\n\n"
        "[the programme](files/programme.pdf#p2), [elsewhere](https://example.com/x.png),\n"
        "[home](/index.html), [up](../secret.txt) and [again](images/dombra%20big.jpg).\n"
    )
    article = parse_article(text, "a.md", OPTIONS)
    assert [(a.path, a.line, a.alt) for a in article.assets] == [
        ("images/dombra big.jpg", 8, "A dombra"),
        ("files/programme.pdf", 10, None),
        ("../secret.txt", 11, None),
    ]
    assert parse_article("Title\n\nimages/x.jpg\n", "b.txt", OPTIONS).assets == ()  # plain text
