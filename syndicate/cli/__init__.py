"""The `syndicate` command: the parser built from the command table, and the exit codes.

The only package that prints. `table` holds the registry each command joins with its
arguments, `commands` and `subscribers` the commands (thin wrappers around
`syndicate.pipeline`), `report` the summary of a pass, `logs` the log formats. `main` maps
errors to exit codes as README states them: 0 success (or skipped because another run holds
the lock), 1 done but some items failed (or published, but no mail could be sent; or a pass
that stopped part way, after it had changed something), 2 usage or configuration error, or a
state database that cannot be used, with nothing done. `entry` is the process itself
(`syndicate`, `python -m syndicate`): it sets the GC policy (`syndicate.gcpolicy`) once, then
runs `main`, which tests call in-process with the default GC.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from syndicate import __version__, gcpolicy
from syndicate.cli import commands, subscribers  # noqa: F401 (each fills the command table)
from syndicate.cli.logs import JsonFormatter, TextFormatter, setup_logging
from syndicate.cli.table import COMMANDS, EXIT_PARTIAL, EXIT_USAGE, GROUPS, Call, Say
from syndicate.errors import ConfigError, RenderError, StoreError, SyndicateError

__all__ = ["JsonFormatter", "TextFormatter", "entry", "main"]

DESCRIPTION = (
    "syndicate publishes a folder of article files: it keeps their state in a database, writes "
    "RSS, Atom and JSON feeds and a static web archive, and mails digests of new articles to "
    "a subscriber list, exactly once each. Run it from cron (`syndicate run`) or as a daemon "
    "(`syndicate schedule`); `syndicate serve` is the sign-up and unsubscribe side on the web."
)
EPILOG = (
    "Exit codes: 0 success (also: another run holds the lock, skipped); 1 done, but some items "
    "failed; 2 usage or configuration error, or an unusable state database: nothing done. "
    "README.md explains every command, config key and output file; "
    "`syndicate COMMAND --help` shows a command's options."
)
if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syndicate", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"syndicate {__version__}")
    parser.add_argument(
        "--config", type=Path, help="config file (default: $SYNDICATE_CONFIG or ./config.toml)"
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument(
        "-v", "--verbose", action="count", default=0, help="log every event (-vv: debug)"
    )
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json: one object a line"
    )
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, Subparsers] = {}
    for entry in COMMANDS:
        under = top if entry.group is None else _group(top, groups, entry.group)
        sub = under.add_parser(entry.name, help=entry.help, description=entry.description,
                               formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        for argument in entry.arguments:
            sub.add_argument(*argument.flags, **argument.options)
        sub.set_defaults(func=entry.run)
    return parser


def _group(top: Subparsers, groups: dict[str, Subparsers], name: str) -> Subparsers:
    """The subcommands of `name`; its first command brings the group into the parser."""
    if name not in groups:
        holder = top.add_parser(name, help=GROUPS[name])
        groups[name] = holder.add_subparsers(dest="action", required=True, metavar="ACTION")
    return groups[name]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet, args.log_format)
    say: Say = (lambda _: None) if args.quiet else print
    try:
        code: int = args.func(Call(args, say))
    except (ConfigError, StoreError, RenderError) as exc:  # raised before anything was done
        for line in str(exc).splitlines():  # a config's problems, one a line
            print(f"syndicate: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except SyndicateError as exc:  # e.g. a pass that stopped part way: what it did stays done
        print(f"syndicate: error: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        return 130
    return code


def entry() -> None:
    """The `syndicate` process: the GC policy once every module is imported, then `main`."""
    gcpolicy.for_process()
    raise SystemExit(main())
