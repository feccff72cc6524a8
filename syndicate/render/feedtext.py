"""Text and HTML as the XML feeds must carry them to pass the W3C Feed Validation Service's rules.

- Plain-text fields (titles, summaries, categories, names) must not look like HTML: a literal
  `</b>`, `<b` or `&amp` in them is reported ("should not contain HTML"), escaped or not. Such
  sequences get a look-alike full-width `＜` or `＆`, so the text reads the same and can never
  be taken for markup by a reader that renders titles as HTML.
- HTML fields (RSS description, content) must hold HTML: a plain summary is HTML-escaped.
- Links in HTML must be absolute ("should not contain relative URL references").
- C1 control characters and U+FFFD are reported as bad characters: they are dropped.

Pure string functions; no I/O.
"""

from __future__ import annotations

import html
import re
from html.entities import name2codepoint
from urllib.parse import urljoin

from syndicate.text import xml_safe

_BAD_CHARACTERS = re.compile("[\x80-\x9f\ufffd]")
_LOOKS_LIKE_TAG = re.compile(r"<(?=[/A-Za-z!?])")
_AMPERSAND_WORD = re.compile(r"&(#?\w+)")
_LINK_ATTRIBUTE = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_TAG = re.compile(r"<[A-Za-z][^<>]*>")  # a start tag: text has its `<` escaped, so never text


def feed_safe(text: str) -> str:
    """Drop what XML cannot carry and what the validator calls bad characters."""
    text = xml_safe(text)
    return text if text.isascii() else _BAD_CHARACTERS.sub("", text)  # fast path: no regex


def plain(text: str) -> str:
    """Plain text that no validator or reader can mistake for HTML."""
    text = feed_safe(text)
    if "<" in text:
        text = _LOOKS_LIKE_TAG.sub("\uff1c", text)
    return _AMPERSAND_WORD.sub(_entity_lookalike, text) if "&" in text else text


def _entity_lookalike(match: re.Match[str]) -> str:
    """`&amp`, `&#38`, `&x1` read as HTML entities; `R&D` or `AT&T` do not."""
    word = match[1]
    entity = word in name2codepoint or word == "apos" or not word.isalpha()
    return ("\uff06" if entity else "&") + word


def plain_as_html(text: str) -> str:
    """Plain text for a field that feeds define as HTML (RSS `description`)."""
    return html.escape(feed_safe(text), quote=False)


def absolute_html(fragment: str, base: str) -> str:
    """The HTML fragment with every `href` and `src` attribute made absolute against `base`
    (attributes of tags only: text that reads `src="x"` stays as it is)."""

    def absolute(match: re.Match[str]) -> str:
        url = html.unescape(match[2]).strip()
        return match[1] + html.escape(urljoin(base, url)) + match[3]

    def tag(match: re.Match[str]) -> str:
        return _LINK_ATTRIBUTE.sub(absolute, match[0])

    fragment = feed_safe(fragment)
    if 'href="' not in fragment and 'src="' not in fragment:
        return fragment
    return _TAG.sub(tag, fragment)
