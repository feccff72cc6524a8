"""Subscriber lists as CSV (columns `email,name`): read an import file, format an export.

An import file is streamed (a million rows never sit in memory at once): every address is
validated and normalised with email-validator (syntax only, no DNS; with a shortcut for
plain addresses, below); a bad row (a NUL or another control character, a name
too long, a line over 1 MiB) is reported as `path:line: reason` and the other rows still
count. Duplicates are the store's to merge (`Store.import_subscribers`); `parse_csv` merges
them in memory for small lists. An export escapes cells a spreadsheet would run as a formula
(OWASP "CSV injection": a leading `'`), and an import takes that `'` off again. Reads the one
file it is given; never touches the database and never writes files.
"""

from __future__ import annotations

import _csv
import csv
import functools
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH

from syndicate.config import address_key, normalise_email
from syndicate.errors import ConfigError, SyndicateError
from syndicate.models import Progress, Subscriber, no_progress

COLUMNS = ("email", "name")
MAX_NAME = 200  # characters of a subscriber's name
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # line breaks become spaces
_NUL = "\x01"  # NUL bytes stand in as this while the csv module reads (it refuses NUL)
MAX_LINE = 1 << 20  # bytes of one line of an import file: more is not a subscriber list
PROGRESS_EVERY = 10_000  # rows between two progress reports


@dataclass(frozen=True)
class Parsed:
    """An import file's good rows (first occurrence of each address, case ignored) and its
    problems."""

    people: tuple[Subscriber, ...]
    problems: tuple[str, ...]
    duplicates: int = 0


def stream_csv(
    path: Path, problem: Callable[[str], None], progress: Progress = no_progress
) -> Iterator[Subscriber]:
    """Every good row of an import file, in order (duplicates included); each bad row is
    told to `problem`. Raises SyndicateError if the file cannot be read or decoded (what
    came before is then not to be used)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise SyndicateError(f"{path}: cannot read the subscriber file: {exc}") from None
    with raw:
        size = os.fstat(raw.fileno()).st_size
        rows = csv.reader(_lines(raw, path), strict=False)
        for count, person in enumerate(_people(rows, str(path), problem), 1):
            if count % PROGRESS_EVERY == 0:
                progress("import", raw.tell(), size)
            yield person
        progress("import", size, size)


def _lines(raw: BinaryIO, path: Path) -> Iterator[str]:
    """The file's lines, each decoded by itself (so an error names its line) and under
    MAX_LINE bytes; NUL bytes stand in as `_NUL` (which the control-character check refuses)
    for the csv module, which refuses NUL."""
    number = 0
    while line := raw.readline(MAX_LINE):
        number += 1
        if len(line) == MAX_LINE and not line.endswith(b"\n"):
            raise SyndicateError(f"{path}:{number}: a line over {MAX_LINE:,} bytes: "
                                 "not a subscriber file")  # fmt: skip
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            where = f"{path}:{number}"
            raise SyndicateError(f"{where}: cannot read the subscriber file: {exc}") from None
        yield text.replace("\x00", _NUL)


def _people(rows: _csv.Reader, source: str, problem: Callable[[str], None]) -> Iterator[Subscriber]:
    """The good rows of `rows`; each bad one is told to `problem` as `source:line: reason`."""
    try:
        yield from _good(rows, source, problem)
    except csv.Error as exc:  # e.g. a field over the csv module's limit
        raise SyndicateError(f"{source}:{rows.line_num}: {exc}") from None


def _good(rows: _csv.Reader, source: str, problem: Callable[[str], None]) -> Iterator[Subscriber]:
    where, first = (0, 1), True  # (email, name) columns; the first row may name them
    for row in rows:
        text = "".join(row)
        if first:
            first = False
            if (header := _columns(row)) is not None:
                where = header
                continue
        if not text.strip():
            continue
        try:
            yield _person(row, text, where)
        except ConfigError as exc:
            problem(f"{source}:{rows.line_num}: {exc.message}")


def _columns(header: list[str]) -> tuple[int, int] | None:
    """(email, name) column positions if `header` is a header row, else None."""
    names = [cell.strip().lower() for cell in header]
    if "email" not in names:
        return None
    return names.index("email"), names.index("name") if "name" in names else -1


def parse_csv(text: str, source: str) -> Parsed:
    """A small list in memory: the good rows (first occurrence of each address, case ignored),
    the problems and the number of duplicates."""
    rows = csv.reader(io.StringIO(text.replace("\x00", _NUL), newline=""))
    people: dict[str, Subscriber] = {}
    problems: list[str] = []
    duplicates = 0
    for person in _people(rows, source, problems.append):
        if address_key(person.email) in people:  # also in another case: one reader
            duplicates += 1
        else:
            people[address_key(person.email)] = person
    return Parsed(tuple(people.values()), tuple(problems), duplicates)


def _person(row: list[str], text: str, where: tuple[int, int]) -> Subscriber:
    """One row (`text`: its cells joined) as a subscriber; ConfigError says what is wrong."""
    email_at, name_at = where
    if _CONTROL.search(text):
        raise ConfigError("holds a NUL or another control character")
    if email_at >= len(row) or not (email := row[email_at].strip()):
        raise ConfigError("no email address in this row")
    name = _unescape(row[name_at].strip()) if 0 <= name_at < len(row) else ""
    if len(name) > MAX_NAME:
        raise ConfigError(f"name over {MAX_NAME} characters")
    return Subscriber(normalise_address(_unescape(email), ""), " ".join(name.split()))


def _escape(cell: str) -> str:
    cell = " ".join(cell.split())  # no line break of any kind splits a row
    return "'" + cell if cell.startswith(_FORMULA) else cell


def _unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA) else cell


def to_csv(people: list[Subscriber]) -> bytes:
    """An export file: a header row, then one `email,name` row per subscriber."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((_escape(p.email), _escape(p.name)) for p in people)
    return out.getvalue().encode("utf-8")


# -- addresses by the million -----------------------------------------------------------
# email-validator spends two thirds of its time (some 80 us an address here) on the domain,
# and a list of a million readers holds a few thousand domains. An address that is a plain
# ASCII dot-atom, an `@` and an ASCII host name, at most 254 characters, whose local part is
# none of the RFC 2142 role names the validator lowercases, comes out of email-validator as
# that same local part, `@` and its domain as normalised alone: so each domain is asked once
# (cached) and the local part kept as written. Any other address (quoted, internationalised,
# a role name, a refused domain) goes through `normalise_email` itself, which words the
# message for a bad one. tests/test_import.py checks that both ways agree.

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"  # RFC 5322 atext, as email-validator's ATEXT
_PLAIN = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@([A-Za-z0-9.-]+)")
_ROLES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
DOMAINS_CACHED = 16_384  # distinct domains remembered (a few MB at most)


def normalise_address(address: str, key: str = "email") -> str:
    """What `normalise_email(address, key)` returns (or raises); fast for plain addresses."""
    plain = _PLAIN.fullmatch(address)
    if plain and len(address) <= EMAIL_MAX_LENGTH and plain[1].lower() not in _ROLES:
        domain = _domain(plain[2])
        if domain is not None:
            return f"{plain[1]}@{domain}"
    return normalise_email(address, key)


@functools.lru_cache(maxsize=DOMAINS_CACHED)
def _domain(domain: str) -> str | None:
    """The domain as email-validator normalises it, or None when it refuses it."""
    try:
        return normalise_email(f"a@{domain}").partition("@")[2]
    except ConfigError:
        return None
