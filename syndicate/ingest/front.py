"""Front matter: the TOML an article may open with, between `+++` lines.

Its keys are declared once in `FrontMatter` (a frozen dataclass validated by pydantic): each
key's type and check beside it, unknown keys refused. A problem becomes an `ArticleError`
naming the file and the line of the key (the first such line when there are several).
Pure: no disk, no clock, no network.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    PlainValidator,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

from syndicate.errors import ArticleError
from syndicate.text import is_uri_id, one_line

MAX_TAG = 100  # characters of one tag
YEARS = (2, 9998)  # a date in these years is a date in every timezone, and in UTC
_TOML_LINE = re.compile(r"at line (\d+)")
_KEY = re.compile(r"""\s*(?:["']?(?P<key>[\w-]+)["']?\s*[=.]|\[+\s*["']?(?P<table>[\w-]+))""")
# A BCP 47 language tag as publishers write them: `en`, `ru`, `pt-BR`, `zh-Hant-TW`, `sr-Latn`.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# An id that names a URI scheme syndicate keeps as the entry id; the rest must be a valid URI.
_URI_SCHEME = re.compile(r"(?i)(?:urn|tag|https?):")


def _line(value: str | None) -> str | None:
    return one_line(value) if value else None


def _uri(value: str | None) -> str | None:
    if value is not None and _URI_SCHEME.match(value) and not is_uri_id(value):
        raise ValueError(f"starts like a URI but is not a valid one: {value!r}")
    return value


def _language(value: str | None) -> str | None:
    if value is not None and not _LANGUAGE.fullmatch(value):
        raise ValueError(f"not a language tag like 'en' or 'pt-BR': {value!r}")
    return value


def _when(value: object) -> date:
    """A TOML date or date-time, or an ISO 8601 string of one, in years every zone can show."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    if not isinstance(value, date):
        raise ValueError(f"expected a date, got {value!r}")
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValueError(f"year {value.year} is outside {YEARS[0]}..{YEARS[1]}, the "
                         "years every timezone can show")  # fmt: skip
    return value


def _tags(value: object) -> tuple[str, ...]:
    """A list of strings or one comma-separated string: distinct, non-empty, one line each."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(dict.fromkeys(tag for tag in map(one_line, items) if tag))


Text = Annotated[StrictStr | None, AfterValidator(_line)]
When = Annotated[date | None, PlainValidator(_when)]


@dataclass(frozen=True)
class FrontMatter:
    """The keys an article's front matter may set; a key left out is None (or empty)."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    id: Annotated[Text, AfterValidator(_uri)] = None
    title: Text = None
    date: When = None
    updated: When = None
    author: Text = None
    tags: Annotated[tuple[str, ...], PlainValidator(_tags)] = ()
    summary: Text = None
    slug: Text = None
    draft: StrictBool = False
    language: Annotated[Text, AfterValidator(_language)] = None

    @property
    def uri_id(self) -> str | None:
        """The id when it is a URI (`urn:`, `tag:`, `http(s):`), else None."""
        return self.id if self.id is not None and _URI_SCHEME.match(self.id) else None


FRONT_KEYS = tuple(f.name for f in dataclasses.fields(FrontMatter))
_REASONS = {"string_type": "expected a string", "bool_type": "expected true or false"}


@functools.cache
def _adapter() -> TypeAdapter[FrontMatter]:
    return TypeAdapter(FrontMatter)


@dataclass(frozen=True)
class Front:
    """Validated front matter plus the line each top-level key stands on (for errors)."""

    path: str
    values: FrontMatter
    key_lines: dict[str, int]

    def error(self, key: str, reason: str) -> ArticleError:
        return ArticleError(
            self.path, self.key_lines.get(key, 2), f"front matter {key!r}: {reason}"
        )

    def when(self, key: str, tz: tzinfo) -> datetime | None:
        """The date at `key` as an aware date-time: a naive one in `tz`, a day at midnight."""
        value: date | None = getattr(self.values, key)
        if value is None or isinstance(value, datetime):
            return value if value is None or value.tzinfo else value.replace(tzinfo=tz)  # F5
        return datetime.combine(value, time(0), tzinfo=tz)

    def tags(self, most: int, warnings: list[str]) -> tuple[str, ...]:
        """At most `most` tags of at most MAX_TAG characters; the rest reported."""
        where = f"{self.path}:{self.key_lines.get('tags', 2)}"
        if long := [t for t in self.values.tags if len(t) > MAX_TAG]:
            warnings.append(f"{where}: {len(long)} tags over {MAX_TAG} characters dropped")
        kept = [t for t in self.values.tags if len(t) <= MAX_TAG]
        if len(kept) > most:
            warnings.append(f"{where}: {len(kept)} tags, only the first {most} are kept "
                            "([feeds] max_tags)")  # fmt: skip
        return tuple(kept[:most])

    def problem(self, error: ErrorDetails) -> ArticleError:
        key, kind, value = str(error["loc"][0]), error["type"], error.get("input")
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            reason = f"unknown front matter key {key!r} (known: {', '.join(FRONT_KEYS)})"
            return ArticleError(self.path, self.key_lines.get(key, 2), reason)
        if kind == "value_error":
            return self.error(key, str(error.get("ctx", {}).get("error")))
        return self.error(key, f"{_REASONS.get(kind, error['msg'])}, got {value!r}")


def _key_lines(lines: list[str], first: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, line in enumerate(lines, start=first):
        match = _KEY.match(line)
        if match:
            found.setdefault(match.group("key") or match.group("table"), number)
    return found


def split_front(text: str, path: str) -> tuple[Front, list[str], int]:
    """Return (front matter, body lines, line number of the first body line)."""
    lines = text.split("\n")
    if lines[0].strip() != "+++":
        return Front(path, FrontMatter(), {}), lines, 1
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration:
        raise ArticleError(path, 1, "front matter opened with +++ is never closed") from None
    try:
        values = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) + 1 if found else max(2, end)
        raise ArticleError(path, line, f"broken front matter: {exc}") from None
    except RecursionError:
        raise ArticleError(path, 2, "broken front matter: nested too deeply") from None
    front = Front(path, FrontMatter(), _key_lines(lines[1:end], 2))
    try:
        front = dataclasses.replace(front, values=_adapter().validate_python(values))
    except ValidationError as exc:  # the problem on the earliest line
        raise min(map(front.problem, exc.errors()), key=lambda e: e.line) from None
    return front, lines[end + 1 :], end + 2
