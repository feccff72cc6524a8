"""Validate a parsed `config.toml` against `sections.Config`, and turn pydantic's errors into
one `ConfigError` that lists every problem of the file, each naming its key (`smtp.port`,
`subscribers[1].email`, `cta.patterns[0]`) in the words README uses, with a "did you mean"
hint for a misspelt key. The only place that knows pydantic's error types. No disk, no
environment: resolving paths and reading secrets come after (`syndicate.config`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from typing import Any

from annotated_types import Ge, Le
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from syndicate.config.sections import NOT_KEYS, Config
from syndicate.errors import ConfigError

Loc = tuple[int | str, ...]
_TYPE_NAMES = {"int_type": "int", "float_type": "float", "string_type": "str",
               "bool_type": "bool", "path_type": "str"}  # fmt: skip
_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "finite_number"}


@functools.cache
def _adapter() -> TypeAdapter[Config]:
    return TypeAdapter(Config)  # built on first use: `syndicate --help` does not pay for it


def validate(data: dict[str, Any], path: str) -> Config:
    """The Config `data` describes, or a ConfigError naming every problem in file `path`."""
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        problems = [_problem(error, path) for error in exc.errors()]
        raise ConfigError.of(problems) from None


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _bare(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _table(hint: Any) -> type[Any] | None:
    """The dataclass a field holds, one (a table) or a tuple of them (an array of tables)."""
    hint = _bare(hint)
    if typing.get_origin(hint) is tuple:
        return _table(typing.get_args(hint)[0])
    return hint if dataclasses.is_dataclass(hint) and isinstance(hint, type) else None


def _field(loc: Loc) -> tuple[type[Any], int]:
    """The table holding the key the error is about, and how much of `loc` names that key
    (the rest points inside the key's list or table)."""
    cls: type[Any] = Config
    for n, part in enumerate(loc):
        if isinstance(part, int):
            continue
        inner = _table(_hints(cls).get(_name(cls, part)))
        if inner is None or n == len(loc) - 1:
            return cls, n + 1
        cls = inner
    return cls, len(loc)


def _name(cls: type[Any], key: str) -> str:
    """The attribute a file's key sets (`from` sets `sender`)."""
    return next((f for f, alias in _keys(cls).items() if alias == key), key)


def _keys(cls: type[Any]) -> dict[str, str]:
    """Attribute name to the key written in the file, for the file's keys of a table."""
    keys = {}
    for name, hint in _hints(cls).items():
        extras = typing.get_args(hint)[1:] if typing.get_origin(hint) is typing.Annotated else ()
        alias = next((x.alias for x in extras if isinstance(x, FieldInfo) and x.alias), name)
        if name not in NOT_KEYS:
            keys[name] = alias
    return keys


def key_of(loc: Loc) -> str:
    """`('subscribers', 1, 'email')` as written in messages: `subscribers[1].email`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _unknown(key: str, cls: type[Any]) -> str:
    keys = _keys(cls)
    last = key.rsplit(".", 1)[-1]
    close = [keys[last]] if last in keys else difflib.get_close_matches(last, keys.values(), 1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; known keys: {', '.join(sorted(keys.values()))}"


def _problem(error: ErrorDetails, path: str) -> ConfigError:
    loc, kind, value = error["loc"], error["type"], error.get("input")
    cls, depth = _field(loc)
    if kind == "value_error":  # one of the checks in `sections`, in its own words
        return ConfigError(str(error.get("ctx", {}).get("error")), key=key_of(loc), path=path)
    key = key_of(loc[:depth])
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        message = _unknown(key, cls)
    elif kind in ("missing", "missing_argument"):
        table = _table(_hints(cls).get(str(loc[-1])))
        message = f"the [{key}] table is required" if table else "is required"
    elif depth < len(loc) or kind in ("tuple_type", "list_type", "dict_type", "mapping_type"):
        message = _container(cls, str(loc[depth - 1]))
    elif kind in _TYPE_NAMES:
        message = f"must be {_TYPE_NAMES[kind]}, not {value!r}"
    elif kind == "literal_error":
        message = f"must be one of {error.get('ctx', {}).get('expected')}, not {value!r}"
    elif kind in _RANGE_ERRORS:
        low, high = RANGES[key]
        message = f"must be between {low:g} and {high:g}, not {value!r}"
    elif kind == "dataclass_type":
        message = "must be a table"
    else:
        message = error["msg"]
    return ConfigError(message, key=key, path=path)


def _container(cls: type[Any], key: str) -> str:
    hint = _bare(_hints(cls).get(_name(cls, key)))
    if typing.get_origin(hint) is not tuple:
        return "must be a table of strings"
    if _table(hint):
        return f"must be an array of tables ([[{key}]])"
    return "must be a list of strings"


def _range(hint: Any) -> tuple[float, float] | None:
    metadata = [m for x in typing.get_args(hint)[1:] for m in getattr(x, "metadata", [x])]
    low = next((float(typing.cast(float, m.ge)) for m in metadata if isinstance(m, Ge)), None)
    high = next((float(typing.cast(float, m.le)) for m in metadata if isinstance(m, Le)), None)
    return None if low is None or high is None else (low, high)


def _ranges() -> dict[str, tuple[float, float]]:
    """Every number's range, from the fields' `Field(ge=..., le=...)`."""
    found = {}
    for section, hint in _hints(Config).items():
        table = _table(hint)
        for name, field_hint in _hints(table).items() if table else ():
            if (bounds := _range(field_hint)) is not None:
                found[f"{section}.{name}"] = bounds
    return found


# Every number's range, checked at load: a value outside it would wrap (a port over 65535),
# block (a timeout of 0 makes a socket non-blocking), overflow a date (1e308 seconds) or stall
# a run. README's config table lists the same ranges (a test compares them).
RANGES: dict[str, tuple[float, float]] = _ranges()
