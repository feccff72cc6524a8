"""The account of waiting work that `syndicate status` gives: what is due, what waits for a
retry, which senders hold claims and why they are not sent now. The lease machinery itself
(heartbeat, confirm-before-send, freeing a dead process's claims) is `syndicate.deliver.leases`.
Holds no SQL; the wall clock comes in as `clock`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from syndicate.deliver.leases import Held, alive_here, gone
from syndicate.models import Claim
from syndicate.store import Store
from syndicate.store.ledger import Backlog


def _claim_line(claim: Claim, clock: datetime) -> str:
    until = claim.lease_until.isoformat() if claim.lease_until else "-"
    if gone(claim.worker):
        why = "its process is gone: the next run or send takes them over at once"
    elif alive_here(claim.worker, ()):
        why = "its process is running on this host: they stay its own while it sends"
    elif claim.lease_until is None or claim.lease_until <= clock:
        why = "its lease ran out: the next run or send takes them over"
    else:
        why = "a sender on another host: if it died, they return to the pool when the lease ends"
    return f"deliveries claimed: {claim.messages} by {claim.worker}, lease until {until} ({why})"


def by_process(claims: Iterable[Claim]) -> list[Claim]:
    """Claims summed per process (`host/pid`, its threads together), latest lease kept."""
    merged: dict[str, Claim] = {}
    for claim in claims:
        key = claim.worker.rpartition("/")[0] or claim.worker
        if key in merged:
            before = merged[key]
            ends = [t for t in (before.lease_until, claim.lease_until) if t is not None]
            claim = Claim(before.worker, before.messages + claim.messages, max(ends, default=None))
        merged[key] = claim
    return list(merged.values())


def explain(store: Store, now: datetime, clock: datetime) -> list[str]:
    """Lines for `syndicate status`: what waits to be delivered, and why it is not sent now."""
    backlog = store.backlog(now)
    lines = [f"deliveries due now: {backlog.due}"]
    if backlog.retries:
        first = backlog.next_retry.isoformat() if backlog.next_retry else "-"
        lines.append(f"deliveries waiting to retry: {backlog.retries}, the first at {first}")
    lines += [_claim_line(claim, clock) for claim in by_process(backlog.claims)]
    lines.append(f"delivery: {_why(backlog, clock)}")
    if backlog.last_error and (backlog.due or backlog.retries):
        lines.append(f"last delivery error: {backlog.last_error}")
    return lines


def _why(backlog: Backlog, clock: datetime) -> str:
    """One sentence: what the next run will do with the waiting messages."""
    held = Held.elsewhere(backlog.claims, (), clock)
    takeable = sum(c.messages for c in backlog.claims) - held.messages
    parts = []
    if backlog.due:
        parts.append(f"{backlog.due} due, sent by the next run or send")
    if held.messages and held.until:
        parts.append(f"{held.messages} claimed by other senders until {held.until.isoformat()}")
    if takeable:
        parts.append(f"{takeable} claimed by senders that are gone, taken over by the next run")
    if backlog.retries:
        parts.append(f"{backlog.retries} wait for their retry time")
    if not parts:
        return "nothing waits: every message is sent or has failed for good"
    return ("" if backlog.due else "nothing is due now: ") + "; ".join(parts)
