"""Subscriber lists as CSV (columns `email,name`): parse an import file, format an export.

Every address is validated and normalised with email-validator (syntax only, no DNS) and
de-duplicated; a bad row (a NUL or another control character, a name too long) is reported as
`path:line: reason` and the other rows still count. An export escapes cells a spreadsheet
would run as a formula (OWASP "CSV injection": a leading `'`), and an import takes that `'`
off again. Reads the one file it is given; never touches the database and never writes files.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from syndicate.config import address_key, normalise_email
from syndicate.errors import ConfigError, SyndicateError
from syndicate.models import Subscriber

COLUMNS = ("email", "name")
MAX_NAME = 200  # characters of a subscriber's name
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # line breaks become spaces
_NUL = "\x01"  # NUL bytes stand in as this while the csv module reads (it refuses NUL)


@dataclass(frozen=True)
class Parsed:
    """An import file's good rows (first occurrence of each address, case ignored) and its
    problems."""

    people: tuple[Subscriber, ...]
    problems: tuple[str, ...]
    duplicates: int = 0


def read_csv(path: Path) -> Parsed:
    """Parse an import file; raise SyndicateError only if the file itself cannot be read."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SyndicateError(f"{path}: cannot read the subscriber file: {exc}") from None
    return parse_csv(text, str(path))


def _columns(header: list[str]) -> tuple[int, int] | None:
    """(email, name) column positions if `header` is a header row, else None."""
    names = [cell.strip().lower() for cell in header]
    if "email" not in names:
        return None
    return names.index("email"), names.index("name") if "name" in names else -1


def parse_csv(text: str, source: str) -> Parsed:
    rows = csv.reader(io.StringIO(text.replace("\x00", _NUL), newline=""))
    people: dict[str, Subscriber] = {}
    problems: list[str] = []
    duplicates = 0
    where = (0, 1)
    for number, row in enumerate(rows):
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if number == 0 and (header := _columns(row)) is not None:
            where = header
            continue
        try:
            person = _person(row, where, f"{source}:{line}")
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if address_key(person.email) in people:  # also in another case: one reader
            duplicates += 1
        else:
            people[address_key(person.email)] = person
    return Parsed(tuple(people.values()), tuple(problems), duplicates)


def _person(row: list[str], where: tuple[int, int], key: str) -> Subscriber:
    email_at, name_at = where
    if any(_CONTROL.search(cell) for cell in row):
        raise ConfigError("holds a NUL or another control character", key=key)
    if email_at >= len(row) or not row[email_at].strip():
        raise ConfigError("no email address in this row", key=key)
    name = _unescape(row[name_at].strip()) if 0 <= name_at < len(row) else ""
    if len(name) > MAX_NAME:
        raise ConfigError(f"name over {MAX_NAME} characters", key=key)
    email = normalise_email(_unescape(row[email_at].strip()), key)
    return Subscriber(email, " ".join(name.split()))


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
