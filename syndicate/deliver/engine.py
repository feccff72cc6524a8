"""The sending engine: hand each due ledger row, built into a message, to the configured sender.

SMTP runs `[smtp] max_connections` threads, one connection each, paced to
`[smtp] rate_per_second`; each worker claims a few due messages at a time (leased to it, the
leases kept alive by a heartbeat, see `leases`), confirms in the database right before each
hand-over that the message is still its own, and commits every outcome at once, one at a time
(a lock), so a crash loses nothing, never re-sends a `sent` message, and a live worker never
sends a message another worker took over. 4xx answers are deferred to later runs with
exponential backoff up to `[smtp] max_attempts`; a 5xx answer to the recipient fails that
message and marks the address bounced; an unreachable server stops the batch and defers the
rest. Holds no SQL and no SMTP; never reads the clock (`now` and `clock` are passed in); the
state comes in as a `Ledger` (the store satisfies it) and messages from the caller's `Builder`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from syndicate import deliver
from syndicate.config import Config
from syndicate.deliver.leases import Heartbeat, Held, protected, worker_name
from syndicate.deliver.ledger import Ledger
from syndicate.errors import DeliveryError, StoreError
from syndicate.models import Delivery, Progress, no_progress

log = logging.getLogger("syndicate")
MAX_WAIT = 7 * 24 * 3600  # the longest backoff between two attempts, in seconds
MAX_CLAIM = 32  # the most messages one worker claims at once


def sender_for(config: Config) -> deliver.Sender:
    """A new sender for one worker: `.eml` files or one SMTP connection, as configured."""
    if config.email.delivery == "file":
        return deliver.FileSender(config.paths.outbox)
    smtp = config.smtp
    envelope = parseaddr(config.email.sender)[1]  # as the From header reads it (render.message)
    return deliver.SmtpSender(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        envelope_from=envelope,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
        ca_file=smtp.ca_file,
    )


class _Batch:
    """One process's sending: worker threads that each claim a few due messages at a time from
    the shared ledger (other processes or machines may be claiming too) until none is left,
    under one heartbeat that keeps their claims alive."""

    def __init__(
        self, config: Config, store: Ledger, now: datetime, build: Builder, clock: Clock,
        envelope: Envelope | None = None,
    ) -> None:  # fmt: skip
        self.config, self.store, self.now, self.build, self.clock = config, store, now, build, clock
        self.envelope = envelope or (lambda _: "")
        self.lease = timedelta(seconds=config.smtp.lease)
        self.heartbeat = Heartbeat(store, self.lease, clock)
        self.names: list[str] = []  # every worker this batch ran, for the summary
        self.ledger = threading.Lock()  # one ledger write at a time, each committed at once
        self.stop = threading.Event()  # the server is unreachable: leave the rest pending
        self.pacer = deliver.Pacer(config.smtp.rate_per_second)
        self.sent, self.failed, self.deferred = 0, list[str](), list[str]()
        self.lost = 0  # claimed, then taken over by another worker before we sent it
        self.error: BaseException | None = None  # a worker's unexpected error, re-raised
        self.total, self.progress, self.claim_size = 0, no_progress, 1

    def run(self, due: int, progress: Progress) -> None:
        self.total, self.progress = due, progress
        smtp = self.config.email.delivery == "smtp"
        count = min(self.config.smtp.max_connections, due) if smtp else 1
        self.claim_size = _claim_size(due, count, self.config.smtp.rate_per_second)
        self.names = [worker_name() for _ in range(count)]
        workers = [threading.Thread(target=self.work, args=(name,), daemon=True)
                   for name in self.names]  # fmt: skip
        with self.heartbeat:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        if self.error is not None:
            raise self.error

    def work(self, worker: str) -> None:
        sender, claimed = sender_for(self.config), list[Delivery]()
        self.heartbeat.add(worker)
        try:
            while not self.stop.is_set():
                claimed = claimed or self.claim(worker)[::-1]
                if not claimed:
                    return
                self.one(sender, claimed.pop(), worker)
        except BaseException as exc:  # e.g. the database went away: stop everyone, report it
            self.error = exc
            self.stop.set()
        finally:
            sender.close()
            self.give_back(claimed, worker)
            self.heartbeat.discard(worker)

    def claim(self, worker: str) -> list[Delivery]:
        with self.ledger:
            keep = protected(self.store, self.heartbeat.active())
            clock = self.clock()
            return self.store.claim(
                worker, self.now, clock, clock + self.lease, self.claim_size, keep
            )

    def give_back(self, claimed: list[Delivery], worker: str) -> None:
        """Claimed but never attempted (the batch stopped): pending again at once, rather than
        held until the lease runs out."""
        try:
            with self.ledger:
                self.store.release(claimed, worker, self.now)
        except StoreError as exc:  # the lease runs out instead
            log.warning("event=release-failed worker=%s messages=%d error=%s", worker,
                        len(claimed), exc)  # fmt: skip

    def still_mine(self, delivery: Delivery, worker: str) -> bool:
        """The last word before the hand-over: the database says the message is still this
        worker's (and its lease starts afresh). A message another worker took over after our
        lease ran out (a starved heartbeat) is its now: we never send it."""
        with self.ledger:
            if self.store.confirm(delivery, worker, self.clock() + self.lease):
                return True
            self.lost += 1
        log.warning("event=claim-lost digest=%s to=%s worker=%s action=not-sent",
                    delivery.digest_id, delivery.email, worker)  # fmt: skip
        return False

    def one(self, sender: deliver.Sender, delivery: Delivery, worker: str) -> None:
        try:
            message = self.build(delivery)
        except (ValueError, DeliveryError) as exc:  # e.g. an address no header can carry
            error = DeliveryError(
                f"{delivery.email}: cannot build the message: {exc}", permanent=True
            )
            with self.ledger:
                self.failure(delivery, error)
            return
        self.pacer.wait()
        if not self.still_mine(delivery, worker):
            return
        try:
            sender.send(delivery.digest_id, delivery.email, message, self.envelope(delivery))
        except DeliveryError as exc:
            with self.ledger:
                self.failure(delivery, exc)
            return
        with self.ledger:
            self.store.mark_delivery(delivery, "sent", self.now)
            self.sent += 1
            self.advance()

    def advance(self) -> None:
        self.progress("send", self.sent + len(self.failed) + len(self.deferred), self.total)

    def failure(self, delivery: Delivery, exc: DeliveryError) -> None:
        store, now, attempts = self.store, self.now, delivery.attempts  # the claim counted it
        final = False
        if exc.unreachable:  # not the recipient's fault: no attempt counted, stop the batch
            self.stop.set()
            store.mark_delivery(delivery, "pending", now, str(exc), attempts=attempts - 1)
        elif exc.permanent or attempts >= self.config.smtp.max_attempts:
            final = True
            store.mark_delivery(delivery, "failed", now, str(exc))
            if exc.bounce:
                store.set_subscriber_status(delivery.email, "bounced", now, str(exc))
        else:
            seconds = self.config.smtp.retry_after * 2 ** min(attempts - 1, 30)
            # strictly later than this run's `now`: a 4xx is retried by a later run, not this one
            wait = max(timedelta(seconds=min(seconds, MAX_WAIT)), timedelta(microseconds=1))
            store.mark_delivery(delivery, "pending", now, str(exc), next_attempt=now + wait)
        log.log(
            logging.ERROR if final else logging.WARNING,
            "event=delivery-%s digest=%s to=%s attempts=%d permanent=%s error=%s",
            "failed" if final else "deferred", delivery.digest_id, delivery.email, attempts,
            exc.permanent, exc,
        )  # fmt: skip
        (self.failed if final else self.deferred).append(delivery.email)
        self.advance()


def _claim_size(due: int, workers: int, rate: float) -> int:
    """Messages a worker claims at once: fewer claims (each one a commit) on a long run, yet
    every worker gets a share of a short one, and a paced run holds at most about a second's
    worth (an address that unsubscribes meanwhile is cancelled only while still pending)."""
    share = max(1, due // (workers * 4))
    paced = max(1, int(rate)) if rate > 0 else MAX_CLAIM
    return min(MAX_CLAIM, share, paced)


Builder = Callable[[Delivery], bytes]
Envelope = Callable[[Delivery], str]  # a message's MAIL FROM ("" = the sender's address)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    """What one sending pass did: sent, failed for good, deferred (left pending for a later
    run: a 4xx answer, an unreachable server, a TLS failure), and what it could not touch
    because other senders' leases hold it."""

    sent: int = 0
    failed: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    held: Held = field(default_factory=Held)


def send_due(
    config: Config,
    ledger: Ledger,
    now: datetime,
    due: int,
    build: Builder,
    clock: Clock,
    progress: Progress,
    envelope: Envelope | None = None,
) -> Outcome:
    """Send the `due` messages (as counted by the caller), built by `build`, and account for
    what other senders hold. `clock` tells wall-clock time for leases; `now` stamps the ledger;
    `envelope` gives each message its MAIL FROM (default: the sender's address)."""
    batch = _Batch(config, ledger, now, build, clock, envelope)
    batch.run(due, progress)
    held = Held.elsewhere(ledger.claims(), batch.names, clock())
    until = held.until.isoformat() if held.until else "-"
    log.info(
        "event=delivered sent=%d deferred=%d failed=%d held=%d held_until=%s lost=%d via=%s",
        batch.sent, len(batch.deferred), len(batch.failed), held.messages, until, batch.lost,
        config.email.delivery,
    )  # fmt: skip
    return Outcome(batch.sent, tuple(batch.failed), tuple(batch.deferred), held)
