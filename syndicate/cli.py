"""The `syndicate` command: argument parsing, logging setup, exit codes.

The only module that prints. Each command is a thin wrapper around `syndicate.pipeline`;
exit codes: 0 success (or skipped because another run holds the lock), 1 done but some items
failed, 2 usage or configuration error with nothing done.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from syndicate import __version__, pipeline
from syndicate.config import Config, load_config
from syndicate.errors import ConfigError, RenderError, StoreError, SyndicateError
from syndicate.models import RunReport
from syndicate.pipeline import hub
from syndicate.store import Store

log = logging.getLogger("syndicate")
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syndicate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"syndicate {__version__}")
    parser.add_argument(
        "--config", type=Path, help="config file (default: $SYNDICATE_CONFIG or ./config.toml)"
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument(
        "-v", "--verbose", action="count", default=0, help="log every event (-vv: debug)"
    )
    noise.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="one pass: pick up articles, publish, digest if due, deliver"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="change no state; write into a temp preview folder"
    )
    for sub in (
        run,
        commands.add_parser("digest", help="freeze a digest of new articles now, then deliver"),
        commands.add_parser("preview", help="render the next digest without recording it"),
    ):
        sub.add_argument("--now", type=_when, help="pretend it is this time (ISO 8601)")
    commands.add_parser("send", help="deliver pending messages only")
    commands.add_parser("check", help="validate the config, templates and articles; write nothing")
    commands.add_parser("status", help="articles, digests, deliveries and the last run")
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger("syndicate")
    root.handlers[:] = [handler]
    root.setLevel(level)


def _report(report: RunReport, say: Callable[[str], None]) -> int:
    if report.skipped_locked:
        say("skipped: another syndicate run holds the lock")
        return EXIT_OK
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    parts = [
        f"{report.new} new",
        f"{report.changed} changed",
        f"{report.removed} removed",
        f"{len(report.files_written)} files written",
    ]
    if report.digest_id:
        parts.append(f"digest {report.digest_id} frozen")
    parts.append(f"{report.sent} sent")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.problems:
        parts.append(f"{len(report.problems)} articles skipped")
    say("syndicate: " + ", ".join(parts))
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _status(config: Config, now: datetime, say: Callable[[str], None]) -> int:
    store = Store.open(config.paths.database)
    try:
        figures, last_run, last_digest = store.counts(), store.last_run(), store.last_digest_time()
        pings = len(hub.pending(store))
    finally:
        store.close()
    for key, value in figures.items():
        say(f"{key}: {value}")
    if config.feeds.hub:
        say(f"websub pings pending: {pings} (retried on the next run)")
    if last_run:
        say(f"last run: {last_run[0].isoformat()} exit={last_run[1]} {last_run[2]}")
    due = pipeline.digest_due(config, last_digest, now)
    say(
        "next digest: "
        + ("due now" if due else f"schedule {config.digest.schedule!r} ({config.tz})")
    )
    return EXIT_OK


def _dispatch(args: argparse.Namespace, config: Config, say: Callable[[str], None]) -> int:
    now: datetime = getattr(args, "now", None) or datetime.now(UTC)
    if args.command == "check":
        problems, count = pipeline.check(config)
        for problem in problems:
            print(problem, file=sys.stderr)
        say(f"{count} articles OK" + (f", {len(problems)} problems" if problems else ""))
        return EXIT_PARTIAL if problems else EXIT_OK
    if args.command == "status":
        return _status(config, now, say)
    if args.command == "send":
        return _report(pipeline.send(config, now), say)
    if args.command == "preview":
        report, folder = pipeline.dry_run(config, now, force_digest=True)
        if not report.digest_id:
            say("no new articles: the next digest would be empty")
            return EXIT_OK
        print(folder / "feeds" / "digests" / f"{report.digest_id}.html")
        return EXIT_OK
    if args.command == "run" and args.dry_run:
        report, folder = pipeline.dry_run(config, now)
        code = _report(report, say)
        say(f"dry run: nothing changed; preview in {folder}")
        return code
    return _report(pipeline.run_once(config, now, force_digest=args.command == "digest"), say)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    say: Callable[[str], None] = (lambda _: None) if args.quiet else print
    path = args.config or Path(os.environ.get("SYNDICATE_CONFIG", "config.toml"))
    try:
        config = load_config(path)
        return _dispatch(args, config, say)
    except (ConfigError, StoreError, RenderError) as exc:
        print(f"syndicate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SyndicateError as exc:
        print(f"syndicate: error: {exc}", file=sys.stderr)
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        return 130
