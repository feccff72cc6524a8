"""The commands of `syndicate`, in the order `syndicate --help` lists them.

Each is a thin wrapper around `syndicate.pipeline`: it calls one function there, prints what
came back and returns the exit code. The first line of each docstring is the command's help.
No command opens the store or composes stages itself; that is the pipeline's job.
"""

from __future__ import annotations

import sys
from pathlib import Path

from syndicate import pipeline
from syndicate.cli.report import progress_bar, report, wall_clock
from syndicate.cli.table import EXIT_OK, EXIT_PARTIAL, NOW, Call, arg, command
from syndicate.pipeline.status import status
from syndicate.scaffold import scaffold


@command(
    "run",
    arg("--dry-run", action="store_true",
        help="change no state; write into a temp preview folder"),
    arg("--full", action="store_true",
        help="plan every output file, not only what changed since the last publish"),
    NOW,
)  # fmt: skip
def run(call: Call) -> int:
    """one pass: pick up articles, publish, digest if due, deliver

    Cron-safe and idempotent: a run that finds another holding the lock skips and exits 0.
    """
    if call.args.dry_run:
        done, folder = pipeline.dry_run(call.config, call.now)
        code = report(done, call.say)
        call.say(f"dry run: nothing changed; preview in {folder}")
        return code
    return _pass(call, force_digest=False, full=call.args.full)


@command("digest", NOW)
def digest(call: Call) -> int:
    """freeze a digest of new articles now, then deliver

    Even before the schedule says one is due; never twice for the same articles.
    """
    return _pass(call, force_digest=True)


def _pass(call: Call, *, force_digest: bool, full: bool = False) -> int:
    with progress_bar(sys.stderr.isatty() and not call.args.quiet) as progress:
        done = pipeline.run_once(
            call.config, call.now, force_digest=force_digest, progress=progress,
            clock=wall_clock, full=full,
        )  # fmt: skip
    return report(done, call.say)


@command("preview", NOW)
def preview(call: Call) -> int:
    """render the next digest without recording it

    Prints the path of the digest's HTML file in a temp preview folder.
    """
    done, folder = pipeline.dry_run(call.config, call.now, force_digest=True)
    if not done.digest_id:
        call.say("no new articles: the next digest would be empty")
        return EXIT_OK
    print(folder / "feeds" / "digests" / f"{done.digest_id}.html")
    return EXIT_OK


@command(
    "send",
    arg("--workers", type=int, default=1, metavar="N", help="run N sender processes together"),
)
def send(call: Call) -> int:
    """deliver pending messages only

    Takes no run lock: any number of senders share the delivery ledger.
    """
    if call.args.workers > 1:
        return _send_workers(call)
    with progress_bar(sys.stderr.isatty() and not call.args.quiet) as progress:
        done = pipeline.send(call.config, call.now, clock=wall_clock, progress=progress)
    return report(done, call.say)


def _send_workers(call: Call) -> int:
    """`send --workers N`: N `syndicate send` processes sharing the ledger, like N machines."""
    import subprocess

    args = call.args
    noise = ["-q"] if args.quiet else ["-v"] * args.verbose
    argv = [sys.executable, "-m", "syndicate", "--config", str(call.config.path), *noise,
            "--log-format", args.log_format, "send"]  # fmt: skip
    procs = [subprocess.Popen(argv) for _ in range(args.workers)]  # noqa: S603 (our own argv)
    codes = [proc.wait() for proc in procs]
    call.say(f"{args.workers} workers done, exit codes {codes}")
    return max(codes)


@command("check")
def check(call: Call) -> int:
    """validate the config, templates and articles; write nothing

    Lists each problem as `path:line: reason` and exits 1 if there is any.
    """
    problems, count = pipeline.check(call.config)
    for problem in problems:
        print(problem, file=sys.stderr)
    call.say(f"{count} articles OK" + (f", {len(problems)} problems" if problems else ""))
    return EXIT_PARTIAL if problems else EXIT_OK


@command("status")
def show_status(call: Call) -> int:
    """articles, digests, deliveries and the last run

    Also the work that waits and why, pending confirmations, WebSub pings and the next digest.
    Reads the state database without changing it, even one this user may not write.
    """
    for line in status(call.config, call.now, wall_clock()).lines():
        call.say(line)
    return EXIT_OK


@command("schedule")
def run_schedule(call: Call) -> int:
    """run forever: pick-up, digests and retries on schedule

    SIGTERM or SIGINT let the job in progress finish, then it exits 0.
    """
    from syndicate import schedule  # here: only the daemon pays for importing APScheduler's

    schedule.run_forever(call.config)
    return EXIT_OK


@command(
    "serve",
    arg("--listen", metavar="HOST:PORT",
        help="instead of [web] listen (one of several instances)"),
)  # fmt: skip
def serve(call: Call) -> int:
    """the web side: sign-up, confirm, unsubscribe (and the output folder)"""
    from syndicate import web  # here: only `serve` pays for importing Starlette

    config = call.config
    if call.args.listen:
        config = web.listening_on(config, call.args.listen)
    call.say(f"serving {config.web.url} on http://{config.web.listen}/")
    web.serve(config)
    return EXIT_OK


@command("bounces", NOW)
def bounces(call: Call) -> int:
    """read returned mail ([bounces]): bounces, complaints, mailto unsubscribes

    Exits 1 if some messages could not be parsed; each is listed on stderr, left for the operator.
    """
    report = pipeline.bounces(call.config, call.now)
    if report is None:
        call.say("skipped: another syndicate run holds the lock (it reads the returned mail)")
        return EXIT_OK
    call.say(f"syndicate: {report.summary()}")
    for key in report.left:
        print(f"syndicate: left for the operator (cannot parse): {key}", file=sys.stderr)
    return EXIT_PARTIAL if report.left else EXIT_OK


@command("init", arg("dir", nargs="?", type=Path, default=Path("."), metavar="DIR"))
def init(call: Call) -> int:
    """scaffold a new publication in DIR

    Writes config.toml, articles/ and templates/, never over a file that exists.
    """
    folder: Path = call.args.dir
    written = scaffold(folder)
    for path in written:
        call.say(f"created {path}")
    call.say(
        f"next: cd {folder} && syndicate run"
        if written
        else f"{folder}: nothing to do, all files exist"
    )
    return EXIT_OK
