"""DKIM "relaxed" canonicalisation (RFC 6376 section 3.4.2 for header fields, 3.4.4 for the
body) and the body hash, over a body given as pieces.

A digest's body is mostly the same for every recipient: the skeleton keeps those runs of lines
as `Fixed` pieces, canonicalised once (on first use) and reused for every copy; only the pieces
that differ (the boundary, the personalised lines) are canonicalised per recipient. Relaxed
body canonicalisation works line by line, so canonicalising whole lines apart gives the same
bytes as canonicalising the body at once; `body_hash` keeps that true by treating a `Fixed`
piece that does not start a line as raw bytes. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

_WSP_RUN = re.compile(rb"[ \t]+")
_FIELD_START = re.compile(rb"\r\n(?![ \t])")  # a line that does not continue the one before


class Fixed:
    """Whole lines of a body that are the same in every copy (ending with CRLF)."""

    __slots__ = ("_canonical", "raw")

    def __init__(self, raw: bytes) -> None:
        if not raw.endswith(b"\r\n"):
            raise ValueError("a fixed body piece must end with CRLF")
        self.raw = raw
        self._canonical: bytes | None = None

    @property
    def canonical(self) -> bytes:
        """The lines relaxed-canonicalised, computed on first use (a race only repeats it)."""
        if self._canonical is None:
            self._canonical = relaxed_lines(self.raw)
        return self._canonical


Body = Sequence[bytes | Fixed]


def relaxed_lines(data: bytes) -> bytes:
    """Lines with each run of spaces and tabs made one space and none left at a line's end
    (without the rule for empty lines at the end of the body: see `body_hash`)."""
    if b"\t" in data or b"  " in data:
        data = _WSP_RUN.sub(b" ", data)
    return data.replace(b" \r\n", b"\r\n")


def _trim_end(out: list[bytes]) -> None:
    """Drop the empty lines at the end of the canonical body; end a non-empty one with CRLF."""
    while out:
        last = out[-1]
        while last.endswith(b"\r\n"):
            last = last[:-2]
        if last:
            out[-1] = last + b"\r\n"
            return
        out.pop()  # only empty lines: whatever came before ends with CRLF or is empty


def _canonical(pieces: Iterable[bytes | Fixed]) -> list[bytes]:
    out: list[bytes] = []
    run: list[bytes] = []
    for piece in pieces:
        if isinstance(piece, Fixed) and (not run or run[-1].endswith(b"\r\n")):
            if run:
                out.append(relaxed_lines(b"".join(run)))
                run = []
            out.append(piece.canonical)
        else:
            run.append(piece.raw if isinstance(piece, Fixed) else piece)
    if run:
        out.append(relaxed_lines(b"".join(run)))
    _trim_end(out)
    return out


def body_hash(body: Body) -> bytes:
    """SHA-256 of the relaxed canonical form of the body made of `body`'s pieces, in order."""
    digest = hashlib.sha256()
    for chunk in _canonical(body):
        digest.update(chunk)
    return digest.digest()


def fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """A header block (each field ending with CRLF) as (lower-case name, whole field) pairs."""
    found = []
    for field in _FIELD_START.split(head.removesuffix(b"\r\n")):
        name = field.partition(b":")[0].strip(b" \t").lower()
        found.append((name, field))
    return found


def relaxed_header(field: bytes) -> bytes:
    """One header field relaxed-canonicalised: lower-case name, unfolded, each run of
    whitespace one space, none around the colon or at the end; with a final CRLF."""
    name, _, value = field.partition(b":")
    value = value.replace(b"\r\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    value = value.strip(b" \t")
    return name.strip(b" \t").lower() + b":" + value + b"\r\n"
