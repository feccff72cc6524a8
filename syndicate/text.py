"""Pure string helpers shared by ingest and render: XML-safe text, slugs, one-line headers.

No I/O and no imports from other syndicate modules.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

# Characters XML 1.0 forbids (PITFALLS F6), lone surrogates, and what XML only discourages but
# HTML calls parse errors: C1 controls and noncharacters. Used on all text at ingest and on every
# value a page prints, so it is fast: one pass for ASCII text (`str.translate`), a class of BMP
# characters otherwise, and the astral noncharacters only for text that has astral characters
# (a class holding astral characters makes `re` about ten times slower).
_C0_XML = "\x00-\x08\x0b\x0c\x0e-\x1f"
_C0_HTML = "\x00-\x08\x0b\x0e-\x1f"  # form feed is allowed in HTML
_BMP_REST = "\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
_XML_BMP = re.compile(f"[{_C0_XML}{_BMP_REST}]")
_HTML_BMP = re.compile(f"[{_C0_HTML}{_BMP_REST}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASTRAL_NONCHARS = re.compile(
    "["
    + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17))
    + "]"
)
_XML_ASCII = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_HTML_ASCII = dict.fromkeys([*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_SPACES = re.compile(r"\s+")
_SLUG_DASHES = re.compile(r"[-_\s]+")
# An absolute URI of the schemes kept as entry ids, in the characters RFC 3986 allows (ASCII).
_URI_ID = re.compile(r"(?i)(?:urn|tag|https?):[0-9a-z;/?:@&=+$.\-_!~*'()%,#\[\]]+")
# Scripts written right to left, and the languages written in them by default.
_RTL_SCRIPTS = {"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg", "mand", "samr"}
_RTL_LANGUAGES = {
    "ar", "arc", "ckb", "dv", "fa", "he", "iw", "ji", "ks", "ku-arab", "pnb", "ps", "sd", "syr",
    "ug", "ur", "yi",
}  # fmt: skip


def _drop(text: str, ascii_table: dict[int, None], bmp: re.Pattern[str]) -> str:
    if text.isascii():  # printable ASCII (most of every text) has nothing to drop
        return text if text.isprintable() else text.translate(ascii_table)
    text = bmp.sub("", text)
    return _ASTRAL_NONCHARS.sub("", text) if _ASTRAL.search(text) else text


def xml_safe(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _drop(text, _XML_ASCII, _XML_BMP)


def html_safe(text: str) -> str:
    """Drop characters that make an HTML5 document invalid (controls, noncharacters)."""
    return _drop(text, _HTML_ASCII, _HTML_BMP)


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR and LF included) into one space: safe for headers."""
    # Whitespace first (\v and \f are spaces, not dropped), then again: "a \x1b b" has one space.
    return " ".join(xml_safe(" ".join(text.split())).split())  # str.split: \s, but fast


def slugify(text: str, *, keep_unicode: bool = False, max_length: int = 80) -> str:
    """A lowercase path segment of letters, digits and dashes; never empty, never '.' or '..'.

    With keep_unicode, non-ASCII letters stay (for tags in non-Latin scripts); otherwise they are
    transliterated where NFKD allows and dropped where it does not.
    """
    text = unicodedata.normalize("NFKC" if keep_unicode else "NFKD", one_line(text)).lower()
    if not keep_unicode:
        text = text.encode("ascii", "ignore").decode("ascii")
    kept = "".join(c if c.isalnum() or unicodedata.category(c)[0] == "M" else "-" for c in text)
    slug = _SLUG_DASHES.sub("-", kept).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


def unique_slugs(names: Iterable[str], *, max_length: int = 48) -> dict[str, str]:
    """Give every distinct name its own unicode-keeping slug, the same for the same set of names.

    Names that slugify alike share a slug: the one that is already its slug (else the smallest)
    keeps it, the others get `-` and the first hex digits of their name's SHA-256 appended.
    `max_length` keeps a slug's UTF-8 under common 255-byte file-name limits.
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        groups.setdefault(slugify(name, keep_unicode=True, max_length=max_length), []).append(name)
    result: dict[str, str] = {}
    for slug, members in groups.items():
        keeper = slug if slug in members else members[0]
        result |= {name: slug if name == keeper else _suffixed(slug, name) for name in members}
    taken = list(result.values())
    return {name: slug for name, slug in result.items() if taken.count(slug) == 1} | {
        name: _suffixed(slug, name, 16) for name, slug in result.items() if taken.count(slug) > 1
    }


def _suffixed(slug: str, name: str, digits: int = 8) -> str:
    return f"{slug}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:digits]}"


def is_uri_id(text: str) -> bool:
    """True for an id that is an absolute URI syndicate keeps as the entry id, in the ASCII
    characters a URI may hold: `urn:<nid>:<nss>`, `tag:<authority>,<date>:<specific>`, or an
    `http(s)://host/...` URL."""
    if not _URI_ID.fullmatch(text):
        return False
    scheme, rest = text.split(":", 1)
    if scheme.lower() in ("http", "https"):
        return rest.startswith("//") and len(rest) > 2 and rest[2] not in "/?#"
    return ":" in rest and not rest.startswith(":")


def direction(language: str) -> str:
    """`rtl` for a language tag written right to left by default (`ar`, `he`, `fa-IR`,
    `az-Arab`), else `ltr`."""
    parts = language.lower().split("-")
    if any(part in _RTL_SCRIPTS for part in parts[1:]):
        return "rtl"
    return "rtl" if parts[0] in _RTL_LANGUAGES or "-".join(parts[:2]) in _RTL_LANGUAGES else "ltr"


def truncate(text: str, limit: int) -> str:
    """Cut text at a word boundary so that it fits in `limit` characters, adding an ellipsis."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " ":  # the last word does not fit whole
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,;:.-–—")
    return cut + "…"
