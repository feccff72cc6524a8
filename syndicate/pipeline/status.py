"""`syndicate status`: what the state database says, gathered in one read-only look.

Composes the store's figures, the waiting work (`leases.explain`), pending sign-up
confirmations, recent soft bounces, WebSub pings and the digest schedule into a frozen
`Status`, whose `lines()` are what the command shows. Opens the database read-only and
changes nothing; it never prints (the CLI does) and never reads the clock (`now` and the wall
clock `clock` are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.config import Config
from syndicate.pipeline import hub, leases
from syndicate.pipeline.digests import digest_due, next_digest_time
from syndicate.store import Store


@dataclass(frozen=True)
class Status:
    """One look at the state: figures by name, then the sentences that explain them."""

    figures: dict[str, int]  # counts by state, and `pending_confirmations`
    waiting: tuple[str, ...]  # `leases.explain`: what waits to be delivered, and why
    soft_bounces: tuple[int, int] | None  # (messages, addresses) in soft_days; None: not shown
    soft_days: float  # `[bounces] soft_days`
    soft_limit: int  # `[bounces] soft_limit`
    hub_pings: int | None  # WebSub pings waiting for a retry; None without a hub
    last_run: tuple[datetime, int, str] | None  # finished, exit code, summary
    schedule: str  # `[digest] schedule` in `timezone`
    timezone: str
    digest_due: bool
    next_digest: datetime | None  # None: the schedule never fires again
    ingest_interval: int

    def lines(self) -> list[str]:
        """What `syndicate status` prints, one line each."""
        lines = [f"{key}: {value}" for key, value in self.figures.items()] + list(self.waiting)
        if self.soft_bounces is not None:
            messages, addresses = self.soft_bounces
            lines.append(
                f"soft bounces in the last {self.soft_days:g} days: {messages} from {addresses} "
                f"addresses ({self.soft_limit} mark an address bounced)"
            )
        if self.hub_pings is not None:
            lines.append(f"websub pings pending: {self.hub_pings} (retried on the next run)")
        if self.last_run:
            finished, code, summary = self.last_run
            lines.append(f"last run: {finished.isoformat()} exit={code} {summary}")
        lines.append(f"digest schedule: {self.schedule!r} in {self.timezone}")
        if self.digest_due:
            lines.append("next digest: due now (frozen by the next run if there are new articles)")
        else:
            upcoming = self.next_digest.isoformat() if self.next_digest else "never"
            lines.append(f"next digest: {upcoming}")
        lines.append(f"pick-up interval under `syndicate schedule`: {self.ingest_interval}s")
        return lines


def status(config: Config, now: datetime, clock: datetime) -> Status:
    """The state as of `now`; `clock` is the wall clock, which decides whose claims are alive."""
    store = Store.open_read_only(config.paths.database)
    try:
        figures, last_run, last_digest = store.counts(), store.last_run(), store.last_digest_time()
        soft = store.soft_bounces(now - timedelta(days=config.bounces.soft_days))
        pings = len(hub.pending(store))
        waiting = leases.explain(store, now, clock)
        figures["pending_confirmations"] = store.pending_signups(
            now - timedelta(days=config.web.confirm_days)
        )
    finally:
        store.close()
    return Status(
        figures=figures,
        waiting=tuple(waiting),
        # shown where returned mail is read, or where soft bounces were recorded all the same
        soft_bounces=soft if config.bounces.reads or soft[0] else None,
        soft_days=config.bounces.soft_days,
        soft_limit=config.bounces.soft_limit,
        hub_pings=pings if config.feeds.hub else None,
        last_run=last_run,
        schedule=config.digest.schedule,
        timezone=str(config.tz),
        digest_due=digest_due(config, last_digest, now),
        next_digest=next_digest_time(config, now),
        ingest_interval=config.schedule.ingest_interval,
    )
