"""`syndicate bounces`: read the returned-mail mailbox and update the subscriber list.

For each message not yet processed: classify it (`bounces.parse`), find whom it concerns from
its signed tokens only (`verp.Directory`; an envelope id must also name a digest that was
mailed to that address), record it and its effect in one transaction, then mark it in the
mailbox. A message already recorded (a crash came between the two) is only marked. Holds no
SQL, no parsing and no mailbox protocol; never reads the clock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.bounces.mailboxes import Imap, Mailbox, Maildir
from syndicate.bounces.parse import Returned, parse
from syndicate.config import BouncesConfig, Config
from syndicate.pipeline.mail import signing_key
from syndicate.store import Store
from syndicate.verp import Directory, Named

log = logging.getLogger("syndicate")
_LEFT = "unparseable"


@dataclass
class BounceReport:
    """What one reading did: messages by what they were recorded as, and status changes."""

    read: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # hard soft complaint unsubscribe ...
    changed: Counter[str] = field(default_factory=Counter)  # new statuses: bounced, complained..
    left: list[str] = field(default_factory=list)  # keys left for the operator

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.kinds.items())) or "nothing new"
        changed = ", ".join(f"{n} {s}" for s, n in sorted(self.changed.items())) or "none"
        return f"{self.read} returned messages read ({kinds}); subscribers changed: {changed}"


def open_mailbox(bounces: BouncesConfig) -> Mailbox:
    if bounces.maildir:
        return Maildir(bounces.maildir, bounces.max_size)
    return Imap(
        bounces.imap, bounces.password, ca_file=bounces.ca_file, timeout=bounces.timeout,
        max_size=bounces.max_size,
    )  # fmt: skip


def _mailboxes(bounces: BouncesConfig) -> list[tuple[str, str]]:
    """Our (local, domain) pairs whose `+token` names a subscriber."""
    found = []
    for address in (bounces.address, bounces.unsubscribe_address):
        local, _, domain = address.lower().rpartition("@")
        if local and (local, domain) not in found:
            found.append((local, domain))
    return found


class _Reader:
    def __init__(self, config: Config, store: Store, now: datetime) -> None:
        self.config, self.store, self.now = config, store, now
        self.directory = Directory(signing_key(config, store), store.subscriber_addresses())
        self.ours = _mailboxes(config.bounces)
        self.report = BounceReport()

    def whom(self, tokens: Iterable[str], kinds: tuple[str, ...]) -> Named | None:
        """The first token that names a subscriber (an envelope id: only with a digest that
        was mailed to that address)."""
        for token in tokens:
            named = self.directory.name(token)
            if named is None or named.kind not in kinds:
                continue
            if named.kind == "mailto":
                return named
            if self.directory.sent_in(named, self.store.digests_mailed_to(named.address)):
                return named
        return None

    def decide(self, found: Returned) -> tuple[str, str | None, str]:
        """(kind to record, address or None, why) for one parsed message."""
        if found.kind == "unparseable":
            return _LEFT, None, found.reason
        if found.kind in ("hard", "soft"):
            named = self.whom(found.tokens, ("envelope",))
            if named is None:
                return "ignored", None, f"a {found.kind} bounce naming no message we sent"
            return found.kind, named.address, found.reason
        if found.kind == "complaint":
            named = self.whom((*found.tokens, *found.reported), ("envelope", "mailto"))
            if named is None:
                return "ignored", None, "a complaint naming no message we sent"
            return "complaint", named.address, found.reason
        named = self.whom(found.tokens, ("mailto",))
        if named is None:
            return "ignored", None, f"not a report and no unsubscribe token: {found.reason!r}"
        return "unsubscribe", named.address, "unsubscribed by mail"

    def one(self, box: Mailbox, key: str, recorded: dict[str, str]) -> None:
        if key in recorded:  # processed before a crash kept it from being marked
            box.mark(key, flagged=recorded[key] == _LEFT)
            return
        found = parse(box.read(key), self.ours)
        kind, address, why = self.decide(found)
        bounces = self.config.bounces
        done = self.store.record_returned(
            key, kind, address, self.now, status=found.status, reason=why,
            soft_limit=bounces.soft_limit, soft_window=timedelta(days=bounces.soft_days),
        )  # fmt: skip
        box.mark(key, flagged=kind == _LEFT)
        if done.duplicate:
            return
        self.report.read += 1
        self.report.kinds[kind] += 1
        if done.status:
            self.report.changed[done.status] += 1
        self.log(key, kind, address, why, found, done.status, done.soft_count)

    def log(self, key: str, kind: str, address: str | None, why: str, found: Returned,
            status: str, soft: int) -> None:  # fmt: skip
        if kind == _LEFT:
            self.report.left.append(key)
            log.warning("event=returned-unparseable message=%s action=left-for-operator "
                        "reason=%s", key, why)  # fmt: skip
            return
        level = logging.INFO if address else logging.WARNING
        log.log(level, "event=returned kind=%s to=%s status=%s subscriber=%s soft=%d message=%s "
                "reason=%s claimed=%s", kind, address or "-", found.status or "-",
                status or "unchanged", soft, key, why, found.claimed or "-")  # fmt: skip


def read_returned(config: Config, store: Store, now: datetime) -> BounceReport:
    """Process every new message in `[bounces]`'s mailbox (raises MailboxError if it cannot
    be read; what was recorded before stays recorded)."""
    reader = _Reader(config, store, now)
    box = open_mailbox(config.bounces)
    try:
        keys = box.keys()
        recorded = store.returned_kinds(keys)
        for key in keys:
            reader.one(box, key, recorded)
    finally:
        box.close()
    log.info("event=returned-read mailbox=%s %s", box.where, reader.report.summary())
    return reader.report
