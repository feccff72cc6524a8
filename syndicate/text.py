"""Pure string helpers shared by ingest and render: XML-safe text, slugs, one-line headers.

No I/O and no imports from other syndicate modules.
"""

from __future__ import annotations

import re
import unicodedata

# Characters XML 1.0 forbids (PITFALLS F6), lone surrogates, and what HTML calls parse errors:
# C1 controls and noncharacters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF in every plane).
_XML_INVALID = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17)
    )
    + "]"
)
_SPACES = re.compile(r"\s+")
_SLUG_DASHES = re.compile(r"[-_\s]+")


def xml_safe(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _XML_INVALID.sub("", text)


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR and LF included) into one space: safe for headers."""
    return xml_safe(_SPACES.sub(" ", text)).strip()


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
