"""The `syndicate` command: argument parsing, logging setup, exit codes.

The only module that prints. Each command is a thin wrapper around `syndicate.pipeline`;
exit codes: 0 success (or skipped because another run holds the lock), 1 done but some items
failed (or published, but no mail could be sent), 2 usage or configuration error with nothing
done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate import __version__, pipeline, schedule
from syndicate.config import Config, load_config
from syndicate.errors import ConfigError, RenderError, StoreError, SyndicateError
from syndicate.models import Progress, RunReport, no_progress
from syndicate.pipeline import hub, leases, people
from syndicate.scaffold import scaffold
from syndicate.store import Store

log = logging.getLogger("syndicate")
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
FACT = re.compile(r"(\w[\w-]*)=(\S+)")
_PLACEHOLDER = re.compile(r"%(?:[-#0 +]*\d*(?:\.\d+)?[sdirf]|%)")


def _facts(record: logging.LogRecord) -> dict[str, str]:
    """The key=value facts of a log call's format string, each `%s` value filled from its
    argument: text inside an argument (a file name, an error) never becomes a field."""
    template = str(record.msg)
    args = record.args if isinstance(record.args, tuple) else ()
    filled: dict[int, str] = {}
    used = 0
    for found in _PLACEHOLDER.finditer(template):
        if found.group() != "%%" and used < len(args):
            filled[found.start()] = found.group() % (args[used],)
            used += 1
    facts: dict[str, str] = {}
    for key, value in ((m.group(1), m) for m in FACT.finditer(template.partition("\n")[0])):
        text = value.group(2)
        if _PLACEHOLDER.fullmatch(text):
            text = filled.get(value.start(2), text)
        facts.setdefault(key, text)
    return facts


Say = Callable[[str], None]


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(value: str) -> str:
    """An argument that is text: bytes that are not UTF-8 (a Latin-1 terminal) are refused."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(value).decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {shown!r}") from None
    return value


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
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json: one object a line"
    )
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
    send = commands.add_parser("send", help="deliver pending messages only")
    send.add_argument(
        "--workers", type=int, default=1, metavar="N", help="run N sender processes together"
    )
    commands.add_parser("check", help="validate the config, templates and articles; write nothing")
    commands.add_parser("status", help="articles, digests, deliveries and the last run")
    commands.add_parser("schedule", help="run forever: pick-up, digests and retries on schedule")
    serve = commands.add_parser(
        "serve", help="the web side: sign-up, confirm, unsubscribe (and the output folder)"
    )
    serve.add_argument(
        "--listen", metavar="HOST:PORT", help="instead of [web] listen (one of several instances)"
    )
    commands.add_parser(
        "bounces", help="read returned mail ([bounces]): bounces, complaints, mailto unsubscribes"
    ).add_argument("--now", type=_when, help="pretend it is this time (ISO 8601)")
    init = commands.add_parser("init", help="scaffold a new publication in DIR")
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR")
    _subscriber_parsers(commands)
    return parser


def _subscriber_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    people = commands.add_parser("subscribers", help="manage the subscriber list")
    actions = people.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an address (or update its name)")
    add.add_argument("email", type=_text)
    add.add_argument("--name", type=_text, default="", help="the reader's name")
    add.add_argument(
        "--resubscribe",
        action="store_true",
        help="reactivate an unsubscribed, bounced or complained address",
    )
    actions.add_parser("remove", help="unsubscribe an address").add_argument("email", type=_text)
    actions.add_parser(
        "list", help="every address: name, status, and the reason and date of its last bounce"
    )
    for name, help_text in (("import", "add the rows of a CSV file (email,name)"),
                            ("export", "write the active subscribers to a CSV file")):  # fmt: skip
        actions.add_parser(name, help=help_text).add_argument("file", type=Path)
    unsub = commands.add_parser("unsubscribe", help="unsubscribe the address a signed token names")
    unsub.add_argument("token", type=_text)


class TextFormatter(logging.Formatter):
    """One record per line start: a line break inside a message (a file name, an error text)
    continues indented, so no input can begin a line that reads as a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\r", "\\r").replace("\n", "\n    ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, and the event's key=value facts as fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        head, _, rest = message.partition("\n")
        entry: dict[str, object] = {
            **_facts(record),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
        }
        entry["message"] = head
        if rest:
            entry["detail"] = rest
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _setup_logging(verbose: int, quiet: bool, fmt: str) -> None:
    level = (
        logging.ERROR
        if quiet
        else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    )
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%S%z"))  # fmt: skip
    root = logging.getLogger("syndicate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress]:
    """A rich progress bar on a terminal; nothing at all under cron or in a pipe."""
    if not enabled:
        yield no_progress
        return
    from rich.console import Console  # here: only a terminal pays for importing rich
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

    with Bar(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield update


def _report(report: RunReport, say: Callable[[str], None]) -> int:
    if report.skipped_locked:
        say("skipped: another syndicate run holds the lock")
        return EXIT_OK
    parts = [
        f"{report.new} new",
        f"{report.changed} changed",
        f"{report.removed} removed",
        f"{len(report.files_written)} files written",
    ]
    if report.digest_id:
        parts.append(f"digest {report.digest_id} frozen")
    parts.append(f"{report.sent} sent")
    if report.deferred:
        parts.append(f"{len(report.deferred)} deferred (retried by a later run)")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if report.held and report.held_until:
        parts.append(f"{report.held} held by other senders until {report.held_until.isoformat()}")
    if report.problems:
        parts.append(f"{len(report.problems)} articles skipped")
    if report.refused:
        parts.append(f"{len(report.refused)} output files left alone")
    say("syndicate: " + ", ".join(parts))
    if report.undelivered:  # one line saying why, even with -q: cron mails it
        print(f"syndicate: error: {_undelivered(report)}", file=sys.stderr)
    return report.exit_code


def _undelivered(report: RunReport) -> str:
    if not report.did_something:
        return report.undelivered
    done = f"digest {report.digest_id} frozen, feeds published" if report.digest_id else "published"
    return f"{done}, but no mail sent (it waits for the next run): {report.undelivered}"


def _status(config: Config, now: datetime, say: Callable[[str], None]) -> int:
    store = Store.open_read_only(config.paths.database)
    try:
        figures, last_run, last_digest = store.counts(), store.last_run(), store.last_digest_time()
        soft = store.soft_bounces(now - timedelta(days=config.bounces.soft_days))
        pings = len(hub.pending(store))
        waiting = leases.explain(store, now, _wall_clock())
        figures["pending_confirmations"] = store.pending_signups(
            now - timedelta(days=config.web.confirm_days)
        )
    finally:
        store.close()
    for line in [f"{key}: {value}" for key, value in figures.items()] + waiting:
        say(line)
    if config.bounces.reads or soft[0]:
        days, limit = config.bounces.soft_days, config.bounces.soft_limit
        say(f"soft bounces in the last {days:g} days: {soft[0]} from {soft[1]} addresses "
            f"({limit} mark an address bounced)")  # fmt: skip
    if config.feeds.hub:
        say(f"websub pings pending: {pings} (retried on the next run)")
    if last_run:
        say(f"last run: {last_run[0].isoformat()} exit={last_run[1]} {last_run[2]}")
    upcoming = schedule.next_digest_time(config, now)
    say(f"digest schedule: {config.digest.schedule!r} in {config.tz}")
    if pipeline.digest_due(config, last_digest, now):
        say("next digest: due now (frozen by the next run if there are new articles)")
    else:
        say(f"next digest: {upcoming.isoformat() if upcoming else 'never'}")
    say(f"pick-up interval under `syndicate schedule`: {config.schedule.ingest_interval}s")
    return EXIT_OK


def _bounces(config: Config, now: datetime, say: Say) -> int:
    report = pipeline.bounces(config, now)
    if report is None:
        say("skipped: another syndicate run holds the lock (it reads the returned mail)")
        return EXIT_OK
    say(f"syndicate: {report.summary()}")
    for key in report.left:
        print(f"syndicate: left for the operator (cannot parse): {key}", file=sys.stderr)
    return EXIT_PARTIAL if report.left else EXIT_OK


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _send_workers(args: argparse.Namespace, config: Config, say: Say) -> int:
    """`send --workers N`: N `syndicate send` processes sharing the ledger, like N machines."""
    noise = ["-q"] if args.quiet else ["-v"] * args.verbose
    command = [sys.executable, "-m", "syndicate", "--config", str(config.path), *noise,
               "--log-format", args.log_format, "send"]  # fmt: skip
    procs = [subprocess.Popen(command) for _ in range(args.workers)]  # noqa: S603 (our own argv)
    codes = [proc.wait() for proc in procs]
    say(f"{args.workers} workers done, exit codes {codes}")
    return max(codes)


def _init(folder: Path, say: Callable[[str], None]) -> int:
    written = scaffold(folder)
    for path in written:
        say(f"created {path}")
    say(
        f"next: cd {folder} && syndicate run"
        if written
        else f"{folder}: nothing to do, all files exist"
    )
    return EXIT_OK


def _subscribers(args: argparse.Namespace, config: Config, now: datetime, say: Say) -> int:
    if args.action == "add":
        done = people.add(config, args.email, args.name, now, resubscribe=args.resubscribe)
        say(f"{done}: {args.email}")
    elif args.action == "remove":
        say(f"unsubscribed: {people.remove(config, args.email, now)}")
    elif args.action == "list":
        everyone, bounced = people.listing(config), people.last_bounces(config)
        for person in everyone:
            last = bounced.get(person.email.lower())
            why = f"{last.kind}: {last.reason}\t{last.received.date()}" if last else "\t"
            print(f"{person.email}\t{person.name}\t{person.status}\t{why}")
        active = sum(p.status == "active" for p in everyone)
        say(f"{len(everyone)} subscribers, {active} active")
    elif args.action == "export":
        say(f"exported {people.export_csv(config, args.file)} active subscribers to {args.file}")
    else:
        result = people.import_csv(config, args.file, now)
        for problem in result.problems:
            print(f"error: {problem}", file=sys.stderr)
        upserted = result.upserted
        say(
            f"imported {args.file}: {len(upserted.added)} added, {len(upserted.updated)} updated, "
            f"{len(upserted.kept_inactive)} kept unsubscribed or bounced, "
            f"{result.duplicates} duplicates, {len(result.problems)} bad rows"
        )
        return EXIT_PARTIAL if result.problems else EXIT_OK
    return EXIT_OK


def _dispatch(args: argparse.Namespace, config: Config, say: Callable[[str], None]) -> int:
    now: datetime = getattr(args, "now", None) or datetime.now(UTC)
    if args.command == "subscribers":
        return _subscribers(args, config, now, say)
    if args.command == "unsubscribe":
        say(f"unsubscribed: {people.unsubscribe(config, args.token, now)}")
        return EXIT_OK
    if args.command == "check":
        problems, count = pipeline.check(config)
        for problem in problems:
            print(problem, file=sys.stderr)
        say(f"{count} articles OK" + (f", {len(problems)} problems" if problems else ""))
        return EXIT_PARTIAL if problems else EXIT_OK
    if args.command == "status":
        return _status(config, now, say)
    if args.command == "bounces":
        return _bounces(config, now, say)
    if args.command == "send":
        if args.workers > 1:
            return _send_workers(args, config, say)
        with _progress_bar(sys.stderr.isatty() and not args.quiet) as progress:
            report = pipeline.send(config, now, clock=_wall_clock, progress=progress)
        return _report(report, say)
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
    if args.command == "schedule":
        schedule.run_forever(config)
        return EXIT_OK
    if args.command == "serve":
        from syndicate import web  # here: only `serve` pays for importing Starlette

        if args.listen:
            config = web.listening_on(config, args.listen)
        say(f"serving {config.web.url} on http://{config.web.listen}/")
        web.serve(config)
        return EXIT_OK
    with _progress_bar(sys.stderr.isatty() and not args.quiet) as progress:
        report = pipeline.run_once(
            config,
            now,
            force_digest=args.command == "digest",
            progress=progress,
            clock=_wall_clock,
        )
    return _report(report, say)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet, args.log_format)
    say: Callable[[str], None] = (lambda _: None) if args.quiet else print
    path = args.config or Path(os.environ.get("SYNDICATE_CONFIG", "config.toml"))
    try:
        if args.command == "init":
            return _init(args.dir, say)
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
