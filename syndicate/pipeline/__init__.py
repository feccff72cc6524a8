"""One pass of syndicate: ingest -> store -> render -> deliver, under the run lock.

`run_once(config, now)` is what cron and the scheduler call; the CLI commands are thin wrappers
around the functions here. This package decides the order of the stages and nothing else: it
holds no SQL, no parsing and no markup, and it never reads the clock (`now` is passed in).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from syndicate import deliver, ingest
from syndicate.config import Config
from syndicate.dburl import sqlite_file
from syndicate.deliver.engine import Outcome
from syndicate.errors import ConfigError, MailboxError, PassStopped, RenderError, StoreError
from syndicate.models import Progress, RunReport, no_progress
from syndicate.pipeline.build import Snapshot, build
from syndicate.pipeline.context import Clock, Pass
from syndicate.pipeline.digests import digest_due, freeze
from syndicate.pipeline.hub import announce
from syndicate.pipeline.mail import deliver_pending
from syndicate.pipeline.pickup import pick_up
from syndicate.pipeline.returned import BounceReport, read_returned
from syndicate.render.common import Site, make_environment, site_for
from syndicate.store import Store, copy_sqlite

__all__ = [
    "BounceReport", "bounces", "check", "deliver_pending", "digest_due", "dry_run", "lock_path",
    "run_once", "send",
]  # fmt: skip

log = logging.getLogger("syndicate")
TEMPLATES = (
    "base.html.j2",
    "index.html.j2",
    "article.html.j2",
    "subscribe.html.j2",
    "tag.html.j2",
    "teasers.html.j2",
    "pager.html.j2",
    "digest.html.j2",
    "digest.txt.j2",
    "signup-form.html.j2",
    "web.html.j2",
    "confirm-email.txt.j2",
    "confirm-email.html.j2",
    "style.css",
)


def lock_path(config: Config) -> Path:
    """The lock file of an SQLite state: beside the database (PostgreSQL locks in the server)."""
    file = sqlite_file(config.paths.database)
    return Path(f"{file}.lock") if file else config.path.parent / ".syndicate.lock"


def run_once(
    config: Config,
    now: datetime,
    *,
    force_digest: bool = False,
    progress: Progress = no_progress,
    ping_hub: bool = True,
    clock: Clock | None = None,
    returned: bool = True,
    full: bool = False,
) -> RunReport:
    """One cron-safe pass. Returns a report; if another run holds the lock, does nothing.
    `ping_hub=False` (dry runs) tells no WebSub hub about the changes; `returned=False` leaves
    the returned-mail mailbox alone (the scheduler reads it in a job of its own); `full` plans
    every output file, not only what the articles changed since the last publish reach."""
    with locked_store(config) as store:
        if store is None:
            return RunReport(skipped_locked=True)
        if returned and config.bounces.reads:
            _read_returned(config, store, now)
        done: list[str] = []  # what this pass changed so far, should a stage fail
        try:
            run = Pass.start(config, store, now, clock, progress)
            report = _run(run, force_digest, ping_hub, done, full)
        except (StoreError, RenderError) as exc:
            if done:  # not "nothing done": what the pass did stays done
                raise PassStopped(done, exc) from exc
            raise
        store.record_run(now, now, report.exit_code, _summary(report))
        return report


def _read_returned(config: Config, store: Store, now: datetime) -> None:
    """Before a digest is frozen, so that it skips the addresses that bounced or complained;
    a mailbox that cannot be read does not stop the publishing (it is logged)."""
    try:
        read_returned(config, store, now)
    except (MailboxError, ConfigError) as exc:
        log.error("event=returned-unread error=%s", exc)


def bounces(config: Config, now: datetime) -> BounceReport | None:
    """`syndicate bounces`: read the returned mail under the run lock (None: another run
    holds it, and reads the mailbox itself)."""
    if not config.bounces.reads:
        raise ConfigError("set [bounces] maildir or imap to read returned mail", key="bounces")
    with locked_store(config) as store:
        return None if store is None else read_returned(config, store, now)


@contextlib.contextmanager
def locked_store(config: Config) -> Iterator[Store | None]:
    """The store, held under the run lock; None if another run holds it.

    SQLite: a lock file beside the database (flock, dies with its process). PostgreSQL: a
    session advisory lock, so runs on different machines exclude each other too.
    """
    if sqlite_file(config.paths.database) is not None:
        with deliver.run_lock(lock_path(config)) as held:
            if not held:
                log.info(
                    "event=skipped reason=another-run-holds-the-lock lock=%s", lock_path(config)
                )
                yield None
                return
            store = Store.open(config.paths.database)
            try:
                yield store
            finally:
                store.close()
        return
    store = Store.open(config.paths.database)
    try:
        with store.advisory_lock("syndicate-run") as held:
            if not held:
                log.info("event=skipped reason=another-run-holds-the-lock lock=advisory")
            yield store if held else None
    finally:
        store.close()


def _summary(report: RunReport) -> str:
    return (
        f"new={report.new} changed={report.changed} removed={report.removed} "
        f"problems={len(report.problems)} digest={report.digest_id or '-'} "
        f"sent={report.sent} deferred={len(report.deferred)} failed={len(report.failed)} "
        f"held={report.held}"
    ) + (" mail=impossible" if report.undelivered else "")


def _run(
    run: Pass, force_digest: bool, ping_hub: bool, done: list[str], full: bool = False
) -> RunReport:
    """One pass; `done` collects what it changed, for an error part way (see `run_once`)."""
    config, store, now = run.config, run.store, run.now
    added = store.add_subscribers(config.subscribers, now)
    if added:
        log.info("event=subscribers-added count=%d source=config", added)
    picked, warnings = pick_up(run)
    if picked.new or picked.changed or picked.removed:
        done.append(f"articles picked up ({picked.new} new, {picked.changed} changed, "
                    f"{picked.removed} removed)")  # fmt: skip
    env = make_environment(config.paths.templates)
    snapshot = Snapshot(run)
    digest_id = None
    if force_digest or digest_due(config, store.last_digest_time(), now):
        digest_id = freeze(run, env, lambda: snapshot.site)
        done += [f"digest {digest_id} frozen"] if digest_id else []
    result = build(run, env, snapshot, full=full)
    done += [f"{len(result.written)} files written"] if result.written else []
    mail, undelivered = Outcome(), ""
    try:
        mail = deliver_pending(run, lambda: snapshot.site)
    except ConfigError as exc:  # e.g. no signing key: what is published stays published
        undelivered = str(exc)
        log.info("event=delivery-impossible error=%s", exc)  # the CLI and scheduler say it
    if ping_hub:  # after the mail: a slow hub never delays a digest
        announce(run, result.written)
    return RunReport(
        picked=picked,
        warnings=tuple(warnings),
        files_written=result.written,
        files_removed=result.removed,
        refused=result.refused,
        digest_id=digest_id,
        undelivered=undelivered,
        **_mail_fields(mail),
    )


def _mail_fields(mail: Outcome) -> dict[str, Any]:
    """The RunReport fields of a sending pass."""
    return {
        "sent": mail.sent, "failed": mail.failed, "deferred": mail.deferred,
        "held": mail.held.messages, "held_until": mail.held.until,
    }  # fmt: skip


def send(
    config: Config, now: datetime, clock: Clock | None = None, progress: Progress = no_progress
) -> RunReport:
    """`syndicate send`: deliver pending and retryable messages only.

    Takes no run lock: senders claim a few messages at a time from the shared ledger, so any
    number of `send` processes, on any number of machines, can work on one digest together."""
    store = Store.open(config.paths.database)
    try:

        def site() -> Site:  # a sender needs no article bodies
            return site_for(config, ctas=store.ctas())

        run = Pass.start(config, store, now, clock, progress)
        return RunReport(**_mail_fields(deliver_pending(run, site)))
    finally:
        store.close()


def preview_config(config: Config, folder: Path) -> Config:
    """A copy of `config` whose state, output and outbox live in `folder` (for --dry-run)."""
    copy = folder / "state.db"
    source = sqlite_file(config.paths.database)
    if source is None:
        raise ConfigError(
            "--dry-run and preview need an SQLite state database", key="paths.database"
        )
    copy_sqlite(source, copy)
    paths = dataclasses.replace(
        config.paths,
        output=folder / "feeds",
        outbox=folder / "outbox",
        database=f"sqlite:///{copy}",
    )
    email = dataclasses.replace(config.email, delivery="file")
    # the real mailbox is never read into a copy of the state: its messages would be marked
    # as processed while the real state never saw them
    bounces = dataclasses.replace(config.bounces, maildir="", imap="")
    return dataclasses.replace(config, paths=paths, email=email, bounces=bounces)


def dry_run(config: Config, now: datetime, *, force_digest: bool = False) -> tuple[RunReport, Path]:
    """A full pass against a copy of the state, writing only into a new temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="syndicate-preview-"))
    preview = preview_config(config, folder)
    return run_once(preview, now, force_digest=force_digest, ping_hub=False), folder


def check(config: Config) -> tuple[list[str], int]:
    """Validate templates and every article without writing anything: (problems, articles)."""
    env = make_environment(config.paths.templates)
    problems = []
    for name in TEMPLATES:
        try:
            env.get_template(name) if name.endswith(".j2") else env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateError as exc:
            problems.append(f"{config.paths.templates}/{name}: {exc}")
    scanned = ingest.scan(config.paths.articles, {}, ingest.options_for(config))
    changes = ingest.plan({}, scanned)
    problems += [str(p) for p in changes.problems]
    return problems + scanned.warnings, len(changes.new)
