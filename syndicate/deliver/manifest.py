"""The output folder's record of what syndicate wrote there (`.syndicate-manifest.json`).

For each file: the key of the inputs it was rendered from, and the size and modification time
it had when syndicate wrote it, which is how a later run proves a file is still syndicate's
(a file edited or replaced by hand has another size or mtime). The record is read defensively:
anything that is not exactly this shape is damage, reported, and answered with an empty record
(the caller then re-renders everything and adopts only files whose bytes it reproduces).

Pure: parses and formats bytes; reading and writing the file is the caller's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MANIFEST = ".syndicate-manifest.json"
_UNKNOWN = -1  # size of a file recorded by an older manifest, without its status


class Record(NamedTuple):
    key: str
    size: int = _UNKNOWN
    mtime_ns: int = _UNKNOWN

    def matches(self, size: int, mtime_ns: int) -> bool:
        """Is a file of this size and mtime the one recorded? (An older manifest knew only
        the key: its files are taken as syndicate's, as that manifest said.)"""
        return self.size == _UNKNOWN or (self.size, self.mtime_ns) == (size, mtime_ns)


@dataclass(frozen=True)
class Manifest:
    files: dict[str, Record] = field(default_factory=dict)
    damage: str = ""  # why the file on disk could not be used, "" if it could (or was absent)


def _path(value: Any) -> bool:
    if not isinstance(value, str) or value.startswith("/") or "\x00" in value:
        return False
    return all(part not in ("", ".", "..") for part in value.split("/"))


def _record(value: Any) -> Record | None:
    if isinstance(value, str):
        return Record(value)
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value[1:])
    ):
        return Record(value[0], value[1], value[2])
    return None


def parse(data: bytes | None) -> Manifest:
    """A manifest from the file's bytes (None: no file, an empty record and no damage)."""
    if data is None:
        return Manifest()
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Manifest(damage="not JSON")
    if isinstance(value, list) and all(_path(v) for v in value):  # the oldest format
        return Manifest({v: Record("") for v in value})
    files = value.get("files") if isinstance(value, dict) else None
    if not isinstance(files, dict):
        return Manifest(damage='no "files" table')
    records: dict[str, Record] = {}
    for path, raw in files.items():
        record = _record(raw)
        if record is None or not _path(path):
            return Manifest(damage=f"bad entry {path[:80]!r}")
        records[path] = record
    return Manifest(records)


def dump(files: dict[str, Record]) -> bytes:
    table = {path: list(files[path]) for path in sorted(files)}
    return json.dumps({"files": table}, indent=0, ensure_ascii=False).encode("utf-8")


# The journal (`.syndicate-manifest.journal.json`): the records a publish of part of the folder
# changed (null: the file is no longer syndicate's), over one manifest file, named by its
# (inode, size, mtime): a manifest written since makes the journal stale, and it is ignored.
BaseId = tuple[int, int, int]
_FORMAT = b'{\n"files": {\n'  # how `dump` starts: `lookup` reads such a manifest in place


def dump_journal(base: BaseId, files: dict[str, Record | None]) -> bytes:
    table = {p: None if files[p] is None else list(files[p] or ()) for p in sorted(files)}
    return json.dumps({"base": list(base), "files": table}, ensure_ascii=False).encode("utf-8")


def parse_journal(data: bytes | None) -> tuple[BaseId | None, dict[str, Record | None]] | None:
    """A journal's base and records; (None, {}) for no journal, None for a damaged one."""
    if data is None:
        return None, {}
    try:
        value = json.loads(data.decode("utf-8"))
        base, files = value["base"], value["files"]
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError, KeyError):
        return None
    if not (isinstance(base, list) and len(base) == 3 and all(type(n) is int for n in base)):
        return None
    if not isinstance(files, dict):
        return None
    found: dict[str, Record | None] = {}
    for path, raw in files.items():
        record = None if raw is None else _record(raw)
        if not _path(path) or (raw is not None and record is None):
            return None
        found[path] = record
    return (base[0], base[1], base[2]), found


def readable_in_place(data: bytes | None) -> bool:
    """Can `lookup` read records out of this manifest (written by `dump`)?"""
    return data is not None and data.startswith(_FORMAT)


_START = re.compile(rb'\n("(?:[^"\\\n]|\\.)*"): \[\n')  # a record's first line


def lookup(data: bytes, paths: Iterable[str]) -> dict[str, Record]:
    """The records of `paths` in a manifest written by `dump`, found without parsing the rest
    (100,000 records parse in a second): records are sorted by path, each starting with a
    line `"path": [` and ending at the first line that is `]` (a JSON string never holds a
    raw newline), so each path is a binary search over the bytes."""
    found = {}
    for path in paths:
        record = _find(data, path)
        if record is not None:
            found[path] = record
    return found


def _find(data: bytes, path: str) -> Record | None:
    low, high = 0, len(data)
    while low < high:  # every record starting before `low` sorts before `path`
        middle = (low + high) // 2
        start = _START.search(data, middle)
        if start is not None and json.loads(start.group(1)) < path:
            low = start.end()
        else:
            high = middle
    start = _START.search(data, low)
    if start is None or json.loads(start.group(1)) != path:
        return None
    end = data.find(b"\n]", start.end())
    try:
        return _record(json.loads(data[start.end() - 2 : end + 2])) if end > 0 else None
    except ValueError:
        return None
