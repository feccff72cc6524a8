"""The command table: each command is a small function whose docstring is its help.

`@command("name", arg(...), ...)` registers a function in `COMMANDS` with its arguments beside
it; `syndicate.cli` builds the argparse parser from the table and calls the chosen function
through `set_defaults(func=...)` (as rss2email does), so no `if` chain routes commands. A
command gets a `Call` (the parsed arguments, the config, `now`, and `say` for its output) and
returns an exit code. Holds no command logic of its own.
"""

from __future__ import annotations

import argparse
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from syndicate.config import Config, load_config

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
Say = Callable[[str], None]


@dataclass(frozen=True)
class Call:
    """One invocation: what the command was given, and what it needs to run."""

    args: argparse.Namespace
    say: Say  # the command's output; prints nothing under -q

    @cached_property
    def config(self) -> Config:
        """The config of --config, else $SYNDICATE_CONFIG, else ./config.toml (read once)."""
        path = self.args.config or Path(os.environ.get("SYNDICATE_CONFIG", "config.toml"))
        return load_config(path)

    @cached_property
    def now(self) -> datetime:
        """--now where the command takes it, else the time of the call."""
        given: datetime | None = getattr(self.args, "now", None)
        return given or datetime.now(UTC)


Run = Callable[[Call], int]


@dataclass(frozen=True)
class Arg:
    """One `add_argument` call, kept beside the command that takes it."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    name: str
    run: Run
    arguments: tuple[Arg, ...]
    group: str | None  # the parent command (`subscribers`), or None for a top-level one

    @property
    def help(self) -> str:
        """The first line of the docstring: the line `syndicate --help` shows."""
        return (self.run.__doc__ or "").strip().partition("\n")[0]

    @property
    def description(self) -> str:
        """The whole docstring: what `syndicate COMMAND --help` shows."""
        return inspect.cleandoc(self.run.__doc__ or "")


COMMANDS: list[Command] = []  # in the order `syndicate --help` lists them
GROUPS = {"subscribers": "manage the subscriber list"}  # commands that hold commands


def command(name: str, *arguments: Arg, group: str | None = None) -> Callable[[Run], Run]:
    """Register the decorated function as the command `name` (under `group`, if given)."""

    def register(run: Run) -> Run:
        COMMANDS.append(Command(name, run, arguments, group))
        return run

    return register


def when(text: str) -> datetime:
    """An ISO 8601 time argument; one without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def text(value: str) -> str:
    """An argument that is text: bytes that are not UTF-8 (a Latin-1 terminal) are refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(value).decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {shown!r}") from None
    return value


NOW = arg("--now", type=when, help="pretend it is this time (ISO 8601)")
