"""Digests: decide whether one is due, and freeze it (render once, record, queue deliveries)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import jinja2

from syndicate import ingest
from syndicate.config import Config
from syndicate.cron import next_fire_after, parse_crontab
from syndicate.models import Entry
from syndicate.pipeline.context import Pass
from syndicate.render.common import Site
from syndicate.render.digest import first_image, render_digest

log = logging.getLogger("syndicate")


def digest_due(config: Config, last: datetime | None, now: datetime) -> bool:
    """Due when there has never been a digest, or the schedule fired since the last one."""
    if last is None:
        return True
    fire = next_fire_after(parse_crontab(config.digest.schedule, config.tz), last)
    return fire is not None and fire <= now


def next_digest_time(config: Config, now: datetime) -> datetime | None:
    """When the digest schedule fires next, in the publication's timezone."""
    fire = next_fire_after(parse_crontab(config.digest.schedule, config.tz), now)
    return fire.astimezone(config.tz) if fire else None


def image_sizes(config: Config, entries: list[Entry]) -> dict[str, tuple[int, int]]:
    """The width and height of each article's lead image, read from the image file's header."""
    sizes = {}
    for entry in entries:
        path = first_image(entry)
        size = ingest.image_size(config.paths.articles, path) if path else None
        if path and size:
            sizes[path] = size
    return sizes


def freeze(run: Pass, env: jinja2.Environment, site: Callable[[], Site]) -> str | None:
    """Freeze a digest of the articles in none yet; None when there are none. `site` is asked
    for only then: on a large archive it costs a listing of every article."""
    config, store, now = run.config, run.store, run.now
    cutoff = None  # flood guard: the first digest over an archive takes only recent articles
    if store.last_digest_time() is None:
        cutoff = now - timedelta(days=config.digest.first_digest_days)
    most = config.digest.max_articles
    candidates = store.digest_candidates(since=cutoff, limit=most + 1)
    if len(candidates) > most:  # a flood (a first run over dateless files, a bulk import)
        candidates, cutoff = candidates[:most], candidates[most - 1].published
        log.warning("event=digest-overflow kept=%d skipped=older-than:%s", most, cutoff.isoformat())
    if not candidates:
        log.info("event=digest-skipped reason=no-new-articles")
        return None
    digest_id = store.unused_digest_id(now.astimezone(config.tz).strftime("%Y-%m-%d"))
    sizes = image_sizes(config, candidates)
    digest = render_digest(env, site(), candidates, digest_id=digest_id, created=now, sizes=sizes)
    queued = store.freeze_digest(digest, (), now, exempt_before=cutoff)
    log.info(
        "event=digest-frozen digest=%s articles=%d recipients=%d",
        digest_id,
        len(candidates),
        queued,
    )
    return digest_id
