"""Database URLs: which file an SQLite URL names. Shared by `config` (resolving a relative
path) and `store` (creating, copying, opening read-only); nothing here connects or reads."""

from __future__ import annotations

from pathlib import Path


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite database URL (`sqlite:///path`), or None for any other database
    (PostgreSQL, or SQLite in memory)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///"))
