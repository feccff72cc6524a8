"""Mail header lines written by hand, so that no title, name or address can become a line
break, a header of its own or the end of the header block.

Every untrusted value is made one line (`one_line`: CR, LF, NUL and other controls go), then
written either as printable ASCII folded at its spaces or, when it holds non-ASCII text,
anything that looks like an RFC 2047 encoded word (`=?`) or a word too long to fold, as base64
encoded words of at most 76 characters a line. Base64 makes the text opaque to every parser:
an encoded word decodes once, to literal text, so `=?utf-8?q?=0D=0A?=` in a title reaches the
reader as those characters and never as a line break (CVE-2024-6923 shows what happens when
the email package folds such text itself; this module does not rely on the interpreter).
`check_block` then refuses any finished header block with a bare CR or LF, a line that does
not continue a header or name one, or a line over 998 bytes (RFC 5322 2.1.1).

Pure: no I/O, no clock, and no use of the email package's header folder.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from syndicate.errors import DeliveryError
from syndicate.text import one_line

LINE = 78  # RFC 5322's recommended line length
ENCODED_LINE = 76  # RFC 2047 section 2: a line holding an encoded word
MAX_LINE = 998  # RFC 5322's hard limit, without the CRLF
_WORD = 60  # longest word written as plain text; longer ones are encoded (and so folded)
_OPEN, _CLOSE = "=?utf-8?b?", "?="
_NAME = re.compile(rb"[!-9;-~]+:")  # a header field name (printable ASCII, no colon) and ':'
_TOKEN = re.compile(r"[!-;=?-~]+")  # printable ASCII without space, '<' or '>'
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # RFC 5322 atext and spaces


def _plain(text: str) -> bool:
    """Text that may stand in a header as it is: printable ASCII, no encoded-word opener, no
    word too long to fold."""
    return (
        text.isascii()
        and text.isprintable()
        and "=?" not in text
        and all(len(word) <= _WORD for word in text.split(" "))
    )


def _encoded_words(text: str, first_room: int) -> list[str]:
    """`text` as base64 encoded words, the first fitting in `first_room` characters and the
    others in a continuation line. A word ends after a space where one is near (so parsers
    that wrongly keep the space between encoded words show the same text), and never splits
    a character's UTF-8 bytes."""
    pieces: list[str] = []
    room, chunk = first_room, ""
    for char in text:
        limit = (room - len(_OPEN) - len(_CLOSE)) // 4 * 3  # bytes that fit, base64-encoded
        if chunk and len((chunk + char).encode("utf-8")) > limit:
            cut = chunk.rfind(" ") + 1
            cut = cut if cut > len(chunk) // 2 else len(chunk)
            pieces.append(chunk[:cut])
            chunk, room = chunk[cut:], ENCODED_LINE - 1  # after the folding space
        chunk += char
    pieces.append(chunk)
    return [_OPEN + base64.b64encode(p.encode("utf-8")).decode("ascii") + _CLOSE for p in pieces]


def _fold(name: str, words: list[str], width: int = LINE) -> bytes:
    """`Name: w1 w2 ...` with a fold (CRLF SP) before any word that would pass `width`."""
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > width and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + word
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _words(name: str, text: str) -> list[str]:
    """The words of a header value: plain words, or encoded words that carry the spaces."""
    if _plain(text):
        return text.split(" ") if text else []
    return _encoded_words(text, ENCODED_LINE - len(name) - 2)


def unstructured(name: str, value: str) -> bytes:
    """A header of free text (Subject): one line, folded, encoded where it must be."""
    return _fold(name, _words(name, one_line(value)))


def _phrase(name: str, display: str) -> list[str]:
    """A display name as the words of an RFC 5322 phrase: a quoted string, or encoded words."""
    if _plain(display) and _ATOMS.fullmatch(display):
        return display.split(" ")
    if _plain(display):
        escaped = display.replace("\\", "\\\\").replace('"', '\\"')
        if len(escaped) <= _WORD:
            return [f'"{escaped}"']
    return _encoded_words(display, ENCODED_LINE - len(name) - 2)


def mailbox(name: str, display: str, inside: str) -> bytes:
    """`Name: "Display" <inside>` (To, From, List-Id). `inside` must already be a plain token
    (a validated address or list id): anything else is refused, never repaired."""
    if not _TOKEN.fullmatch(inside) or len(inside) > 254:
        raise DeliveryError(f"{name}: {inside!r} cannot stand in a mail header", permanent=True)
    display = one_line(display)
    return _fold(name, [*(_phrase(name, display) if display else []), f"<{inside}>"])


def token(name: str, value: str) -> bytes:
    """A structured header made by syndicate (Date, Message-ID): printable ASCII, one line."""
    if not value.isascii() or not value.isprintable() or len(name) + 2 + len(value) > MAX_LINE:
        raise DeliveryError(f"{name}: {value!r} cannot stand in a mail header", permanent=True)
    return f"{name}: {value}\r\n".encode("ascii")


def url(value: str) -> str:
    """A URL as it may stand between `<` and `>` in a header: non-ASCII, spaces, controls and
    angle brackets percent-encoded (RFC 3986), nothing else changed."""
    return quote(value, safe=_URL_SAFE)


def check_block(head: bytes) -> None:
    """Refuse a header block (ending in CRLF, without the blank line) that a reader could parse
    differently from the headers syndicate meant to write."""
    if not head.endswith(b"\r\n") or not head.isascii():
        raise DeliveryError("header block is not CRLF-terminated ASCII", permanent=True)
    for number, line in enumerate(head[:-2].split(b"\r\n"), start=1):
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            raise DeliveryError(f"header line {number} holds a bare CR, LF or NUL", permanent=True)
        if len(line) > MAX_LINE:
            raise DeliveryError(f"header line {number} is over {MAX_LINE} bytes", permanent=True)
        folded = line[:1] in (b" ", b"\t") and number > 1 and bool(line.strip())
        if not folded and not _NAME.match(line):
            reason = f"header line {number} is neither a header nor its fold"
            raise DeliveryError(reason, permanent=True)
