"""One pass of syndicate: ingest -> store -> render -> deliver, under the run lock.

`run_once(config, now)` is what cron and the scheduler call; the CLI commands are thin wrappers
around the functions here. This module decides the order of the stages and nothing else: it
holds no SQL, no parsing and no markup, and it never reads the clock (`now` is passed in).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import jinja2

from syndicate import deliver, ingest
from syndicate.config import Config
from syndicate.cron import next_fire_after, parse_crontab
from syndicate.errors import ConfigError, DeliveryError
from syndicate.models import Entry, RunReport
from syndicate.render import feeds, pages
from syndicate.render.common import Site, make_environment, site_for
from syndicate.render.digest import render_digest
from syndicate.render.message import build_message
from syndicate.store import Store
from syndicate.tokens import make_token

log = logging.getLogger("syndicate")
TEMPLATES = (
    "base.html.j2",
    "index.html.j2",
    "article.html.j2",
    "subscribe.html.j2",
    "digest.html.j2",
    "digest.txt.j2",
    "style.css",
)


def lock_path(config: Config) -> Path:
    db = config.paths.database
    if db.startswith("sqlite:///") and db != "sqlite:///:memory:":
        return Path(db.removeprefix("sqlite:///") + ".lock")
    return config.path.parent / ".syndicate.lock"


def run_once(config: Config, now: datetime, *, force_digest: bool = False) -> RunReport:
    """One cron-safe pass. Returns a report; if another run holds the lock, does nothing."""
    with deliver.run_lock(lock_path(config)) as held:
        if not held:
            log.info("event=skipped reason=another-run-holds-the-lock lock=%s", lock_path(config))
            return RunReport(skipped_locked=True)
        store = Store.open(config.paths.database)
        try:
            report = _run(config, store, now, force_digest)
            store.record_run(now, now, 0 if report.ok else 1, _summary(report))
            return report
        finally:
            store.close()


def _summary(report: RunReport) -> str:
    return (
        f"new={report.new} changed={report.changed} removed={report.removed} "
        f"problems={len(report.problems)} digest={report.digest_id or '-'} "
        f"sent={report.sent} failed={len(report.failed)}"
    )


def _ingest(config: Config, store: Store, now: datetime) -> tuple[ingest.Changes, list[str]]:
    options = ingest.options_for(config)
    fingerprint = options.fingerprint()
    known_files = store.file_stats() if store.get_meta("parser") == fingerprint else {}
    scanned = ingest.scan(config.paths.articles, known_files, options)
    changes = ingest.plan(store.known_articles(), scanned)
    store.apply(changes, scanned.stats, now)
    store.set_meta("parser", fingerprint)
    for warning in scanned.warnings:
        log.warning("event=article-warning %s", warning)
    for problem in changes.problems:
        log.error("event=article-skipped %s", problem)
    log.info(
        "event=pickup new=%d changed=%d unchanged=%d removed=%d drafts=%d problems=%d",
        len(changes.new),
        len(changes.changed),
        changes.unchanged,
        len(changes.removed),
        changes.drafts,
        len(changes.problems),
    )
    return changes, scanned.warnings


def digest_due(config: Config, last: datetime | None, now: datetime) -> bool:
    """Due when there has never been a digest, or the schedule fired since the last one."""
    if last is None:
        return True
    fire = next_fire_after(parse_crontab(config.digest.schedule, config.tz), last)
    return fire is not None and fire <= now


def _freeze(
    config: Config, store: Store, env: jinja2.Environment, site: Site, now: datetime
) -> str | None:
    first = store.last_digest_time() is None
    candidates = store.digest_candidates()
    exempt: Sequence[Entry] = []
    if first:  # flood guard: the first digest over an archive takes only recent articles
        cutoff = now - timedelta(days=config.digest.first_digest_days)
        exempt = [e for e in candidates if e.published < cutoff]
        candidates = [e for e in candidates if e.published >= cutoff]
    if not candidates:
        log.info("event=digest-skipped reason=no-new-articles")
        return None
    digest_id = store.unused_digest_id(now.astimezone(config.tz).strftime("%Y-%m-%d"))
    digest = render_digest(env, site, candidates, digest_id=digest_id, created=now)
    queued = store.freeze_digest(digest, [e.article.id for e in exempt], now)
    log.info(
        "event=digest-frozen digest=%s articles=%d recipients=%d",
        digest_id,
        len(candidates),
        queued,
    )
    return digest_id


def _run(config: Config, store: Store, now: datetime, force_digest: bool) -> RunReport:
    added = store.add_subscribers(config.subscribers, now)
    if added:
        log.info("event=subscribers-added count=%d source=config", added)
    changes, warnings = _ingest(config, store, now)
    env = make_environment(config.paths.templates)
    entries = store.entries()
    site = site_for(config, entries)
    digest_id = None
    if force_digest or digest_due(config, store.last_digest_time(), now):
        digest_id = _freeze(config, store, env, site, now)
    files = {
        "rss.xml": feeds.rss(site, entries),
        "atom.xml": feeds.atom(site, entries),
        **pages.archive(env, site, entries, store.digests()),
    }
    result = deliver.publish(config.paths.output, files)
    log.info(
        "event=published written=%d removed=%d unchanged=%d",
        len(result.written),
        len(result.removed),
        len(files) - len(result.written),
    )
    sent, failed = deliver_pending(config, store, site, now)
    return RunReport(
        new=len(changes.new),
        changed=len(changes.changed),
        unchanged=changes.unchanged,
        removed=len(changes.removed),
        drafts=changes.drafts,
        problems=changes.problems,
        warnings=tuple(warnings),
        files_written=result.written,
        files_removed=result.removed,
        digest_id=digest_id,
        sent=sent,
        failed=tuple(failed),
    )


def _secret(config: Config, store: Store) -> str:
    """The key that signs unsubscribe tokens: from the environment, or (file delivery only) a
    random key kept in the state database so that local trials work out of the box."""
    if config.email.secret:
        return config.email.secret
    if config.email.delivery == "smtp":
        raise ConfigError(
            f"environment variable {config.email.secret_env} must hold the key that signs "
            "unsubscribe links before mail is sent",
            key="email.secret_env",
        )
    stored = store.get_meta("local_secret")
    if stored is None:
        stored = secrets.token_urlsafe(32)
        store.set_meta("local_secret", stored)
        log.warning("event=secret-generated reason=%s-unset delivery=file", config.email.secret_env)
    return stored


def _sender(config: Config) -> deliver.Sender:
    if config.email.delivery == "file":
        return deliver.FileSender(config.paths.outbox)
    smtp = config.smtp
    envelope = config.email.sender.rsplit("<", 1)[-1].rstrip("> ")
    return deliver.SmtpSender(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        envelope_from=envelope,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
    )


def deliver_pending(
    config: Config, store: Store, site: Site, now: datetime
) -> tuple[int, list[str]]:
    """Send every pending message; the ledger is committed around each one."""
    queue = store.open_deliveries()
    if not queue:
        return 0, []
    digests = {d.id: d for d in store.digests()}
    key = _secret(config, store)
    sender = _sender(config)
    sent, failed = 0, []
    try:
        for delivery in queue:
            url = config.email.unsubscribe_url.replace("{token}", make_token(key, delivery.email))
            message = build_message(
                site,
                digests[delivery.digest_id],
                delivery,
                sender=config.email.sender,
                unsubscribe_url=url,
            )
            store.mark_delivery(delivery, "sending", now)
            try:
                sender.send(delivery.digest_id, delivery.email, message)
            except DeliveryError as exc:
                store.mark_delivery(
                    delivery, "failed" if exc.permanent else "pending", now, str(exc)
                )
                log.error(
                    "event=delivery-failed digest=%s to=%s permanent=%s error=%s",
                    delivery.digest_id,
                    delivery.email,
                    exc.permanent,
                    exc,
                )
                failed.append(delivery.email)
                continue
            store.mark_delivery(delivery, "sent", now)
            sent += 1
    finally:
        sender.close()
    log.info("event=delivered sent=%d failed=%d via=%s", sent, len(failed), config.email.delivery)
    return sent, failed


def send(config: Config, now: datetime) -> RunReport:
    """`syndicate send`: deliver pending and retryable messages only."""
    with deliver.run_lock(lock_path(config)) as held:
        if not held:
            return RunReport(skipped_locked=True)
        store = Store.open(config.paths.database)
        try:
            site = site_for(config, store.entries())
            sent, failed = deliver_pending(config, store, site, now)
            return RunReport(sent=sent, failed=tuple(failed))
        finally:
            store.close()


def preview_config(config: Config, folder: Path) -> Config:
    """A copy of `config` whose state, output and outbox live in `folder` (for --dry-run)."""
    db = config.paths.database
    copy = folder / "state.db"
    if not db.startswith("sqlite:///"):
        raise ConfigError(
            "--dry-run and preview need an SQLite state database", key="paths.database"
        )
    source = Path(db.removeprefix("sqlite:///"))
    if source.exists():
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
    paths = dataclasses.replace(
        config.paths,
        output=folder / "feeds",
        outbox=folder / "outbox",
        database=f"sqlite:///{copy}",
    )
    email = dataclasses.replace(config.email, delivery="file")
    return dataclasses.replace(config, paths=paths, email=email)


def dry_run(config: Config, now: datetime, *, force_digest: bool = False) -> tuple[RunReport, Path]:
    """A full pass against a copy of the state, writing only into a new temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="syndicate-preview-"))
    return run_once(preview_config(config, folder), now, force_digest=force_digest), folder


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
