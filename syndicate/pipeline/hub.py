"""Announce changed feeds to the WebSub hub, keeping pings that failed for the next run.

Decides which written files are feeds and remembers pending feed URLs in the store
(`Store.pending_pings`); the HTTP work is `syndicate.websub`'s. A hub that is down is logged, never
fatal: nothing here raises for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote

from syndicate import websub
from syndicate.pipeline.context import Pass
from syndicate.render.common import FEED_FILES
from syndicate.store import Store

log = logging.getLogger("syndicate")


def feed_urls(site_url: str, written: Iterable[str]) -> list[str]:
    """Absolute URLs of the feeds among the written files (main and per-tag feeds)."""
    names = set(FEED_FILES.values())
    return [site_url + quote(path) for path in written if path.rsplit("/", 1)[-1] in names]


def pending(store: Store) -> list[str]:
    """Feed URLs whose ping the hub has not accepted yet."""
    return store.pending_pings()


def announce(run: Pass, written: Iterable[str]) -> tuple[int, int]:
    """Ping the hub for every changed feed and every ping still pending: (accepted, failed)."""
    config, store = run.config, run.store
    hub = config.feeds.hub
    if not hub:
        return 0, 0
    queue = sorted(set(pending(store)) | set(feed_urls(config.site.url, written)))
    if not queue:
        return 0, 0
    store.set_pending_pings(queue)  # saved first: a crash mid-ping loses nothing
    result = websub.ping(hub, queue, config.feeds.hub_timeout, config.feeds.hub_budget)
    store.set_pending_pings(sorted(result.failed))
    for url, reason in sorted(result.failed.items()):
        log.warning(
            "event=websub-ping-failed hub=%s feed=%s reason=%r retry=next-run", hub, url, reason
        )
    if result.accepted:
        log.info("event=websub-pinged hub=%s feeds=%d", hub, len(result.accepted))
    return len(result.accepted), len(result.failed)
