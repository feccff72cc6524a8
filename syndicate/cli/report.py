"""What a pass shows on the terminal: the progress bar while it works, one summary line after.

The summary's exit code is the report's own (`RunReport.exit_code`); a pass that published
but could send no mail says why on stderr even under -q, because cron mails stderr. Decides
nothing about the pass itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from syndicate.cli.table import EXIT_OK, Say
from syndicate.models import Progress, RunReport, no_progress


def wall_clock() -> datetime:
    """The real time: what leases and heartbeats are measured against, even under --now."""
    return datetime.now(UTC)


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress]:
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


def report(done: RunReport, say: Say) -> int:
    """Say what a pass did in one line; return its exit code."""
    if done.skipped_locked:
        say("skipped: another syndicate run holds the lock")
        return EXIT_OK
    say("syndicate: " + ", ".join(_parts(done)))
    if done.undelivered:  # one line saying why, even with -q: cron mails it
        print(f"syndicate: error: {_undelivered(done)}", file=sys.stderr)
    return done.exit_code


def _parts(report: RunReport) -> list[str]:
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
    return parts


def _undelivered(report: RunReport) -> str:
    if not report.did_something:
        return report.undelivered
    done = f"digest {report.digest_id} frozen, feeds published" if report.digest_id else "published"
    return f"{done}, but no mail sent (it waits for the next run): {report.undelivered}"
