"""Pick-up: scan the articles folder, decide what changed, and record it in the store."""

from __future__ import annotations

import logging
from datetime import datetime

from syndicate import ingest
from syndicate.config import Config
from syndicate.models import Progress, no_progress
from syndicate.store import Store

log = logging.getLogger("syndicate")


def pick_up(
    config: Config, store: Store, now: datetime, progress: Progress = no_progress
) -> tuple[ingest.Changes, list[str]]:
    options = ingest.options_for(config)
    fingerprint = options.fingerprint()
    known_files = store.file_stats() if store.get_meta("parser") == fingerprint else {}
    scanned = ingest.scan(config.paths.articles, known_files, options, progress)
    changes = ingest.plan(store.known_articles(), scanned)
    store.apply(changes, scanned.stats, now, previous=known_files if known_files else None)
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
