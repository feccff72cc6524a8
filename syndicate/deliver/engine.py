"""The sending engine: hand each due ledger row, built into a message, to the configured sender.

SMTP runs `[smtp] max_connections` threads, one connection each, paced to
`[smtp] rate_per_second`; each worker claims a few due messages at a time (leased to it, the
leases kept alive by a heartbeat, see `leases`), hands a message over only while the database's
last word says it is still its own (the claim or a confirm within a third of the lease; else it
confirms the rest of its claim in one statement), and passes every outcome to the `recorder`,
which commits them in groups while the workers go on sending. A worker hands over at most
`[smtp] in_flight` messages whose outcomes are not yet committed: a crash loses nothing, sends
at most that many per connection again, never re-sends a `sent` message, and a live worker
never sends a message another worker took over. What a failure means is `outcomes`; an
unreachable server stops the batch and defers the rest. Holds no SQL and no SMTP; never reads
the clock (`now` and `clock` are passed in); the state comes in as a `Ledger` (the store
satisfies it) and messages from the caller's `Builder`.
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
from syndicate.deliver.outcomes import classify
from syndicate.deliver.recorder import Entry, Recorder
from syndicate.errors import DeliveryError, StoreError
from syndicate.models import Delivery, Mark, Progress, no_progress

log = logging.getLogger("syndicate")
MAX_CLAIM = 100  # the most messages one worker claims at once


def sender_for(config: Config) -> deliver.Sender:
    """A new sender for one worker: `.eml` files or one SMTP connection, as configured."""
    if config.email.delivery == "file":
        return deliver.FileSender(config.paths.outbox)
    from syndicate.deliver.smtp import SmtpSender

    smtp = config.smtp
    envelope = parseaddr(config.email.sender)[1]  # as the From header reads it (render.message)
    return SmtpSender(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        envelope_from=envelope,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
        ca_file=smtp.ca_file,
        pipelining=smtp.pipelining,
    )


@dataclass
class _Hand:
    """A worker's claimed messages not yet attempted (the next one last), and the wall-clock
    time until which the database's last word on them (the claim, or a confirm) still vouches
    that they are its own: it set their leases a whole `[smtp] lease` ahead, two thirds of
    which are left until then."""

    messages: list[Delivery]
    fresh_until: datetime


class _Batch:
    """One process's sending: worker threads that each claim a few due messages at a time from
    the shared ledger (other processes or machines may be claiming too) until none is left,
    under one heartbeat that keeps their claims alive and one recorder that commits their
    outcomes in groups."""

    def __init__(
        self, config: Config, store: Ledger, now: datetime, build: Builder, clock: Clock,
        envelope: Envelope | None = None,
    ) -> None:  # fmt: skip
        self.config, self.store, self.now, self.build, self.clock = config, store, now, build, clock
        self.envelope = envelope or (lambda _: "")
        self.lease = timedelta(seconds=config.smtp.lease)
        self.heartbeat = Heartbeat(store, self.lease, clock)
        self.names: list[str] = []  # every worker this batch ran, for the summary
        self.ledger = threading.Lock()  # one ledger write at a time
        self.recorder = Recorder(store, self.ledger, now, config.smtp.in_flight)
        self.tally = threading.Lock()  # the counts below
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
        with self.heartbeat, self.recorder:  # the recorder finishes first, under the heartbeat
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        error = self.error or self.recorder.error
        if error is not None:
            raise error

    def work(self, worker: str) -> None:
        sender, hand = sender_for(self.config), _Hand([], self.clock())
        self.heartbeat.add(worker)
        try:
            while not self.stop.is_set():
                if not hand.messages:
                    hand = self.claim(worker)
                if not hand.messages:
                    return
                self.one(sender, hand, worker)
        except BaseException as exc:  # e.g. the database went away: stop everyone, report it
            self.error = exc
            self.stop.set()
        finally:
            sender.close()
            self.recorder.drain(worker)  # its claims stay alive until its outcomes are in
            self.give_back(hand.messages, worker)
            self.heartbeat.discard(worker)

    def claim(self, worker: str) -> _Hand:
        with self.ledger:
            keep = protected(self.store, self.heartbeat.active())
            clock = self.clock()
            claimed = self.store.claim(
                worker, self.now, clock, clock + self.lease, self.claim_size, keep
            )
        return _Hand(claimed[::-1], clock + self.lease / 3)

    def give_back(self, claimed: list[Delivery], worker: str) -> None:
        """Claimed but never attempted (the batch stopped): pending again at once, rather than
        held until the lease runs out."""
        try:
            with self.ledger:
                self.store.release(claimed, worker, self.now)
        except StoreError as exc:  # the lease runs out instead
            log.warning("event=release-failed worker=%s messages=%d error=%s", worker,
                        len(claimed), exc)  # fmt: skip

    def still_mine(self, hand: _Hand, delivery: Delivery, worker: str) -> bool:
        """The last word before the hand-over: the database said recently (within a third of
        the lease) that the message is this worker's, or says so now for it and the rest of the
        hand in one statement (their leases start afresh). A message another worker took over
        after our lease ran out (a starved heartbeat) is its now: we never send it."""
        clock = self.clock()
        if clock < hand.fresh_until:
            return True
        with self.ledger:
            mine = self.store.confirm_many([delivery, *hand.messages], worker, clock + self.lease)
        hand.fresh_until = clock + self.lease / 3
        lost = [d for d in [delivery, *hand.messages] if (d.digest_id, d.email) not in mine]
        hand.messages[:] = [d for d in hand.messages if (d.digest_id, d.email) in mine]
        for gone in lost:
            log.warning("event=claim-lost digest=%s to=%s worker=%s action=not-sent",
                        gone.digest_id, gone.email, worker)  # fmt: skip
        with self.tally:
            self.lost += len(lost)
        return (delivery.digest_id, delivery.email) in mine

    def one(self, sender: deliver.Sender, hand: _Hand, worker: str) -> None:
        delivery = hand.messages.pop()
        try:
            message = self.build(delivery)
        except (ValueError, DeliveryError) as exc:  # e.g. an address no header can carry
            error = DeliveryError(
                f"{delivery.email}: cannot build the message: {exc}", permanent=True
            )
            self.failure(delivery, error, worker)
            return
        self.recorder.wait_room(worker)  # at most `[smtp] in_flight` outcomes not committed
        self.pacer.wait()
        if not self.still_mine(hand, delivery, worker):
            return
        try:
            sender.send(delivery.digest_id, delivery.email, message, self.envelope(delivery))
        except DeliveryError as exc:
            self.failure(delivery, exc, worker)
            return
        self.recorder.add(Entry(worker, Mark(delivery, "sent")))
        with self.tally:
            self.sent += 1
            self.advance()

    def advance(self) -> None:
        self.progress("send", self.sent + len(self.failed) + len(self.deferred), self.total)

    def failure(self, delivery: Delivery, exc: DeliveryError, worker: str) -> None:
        if exc.unreachable:  # stop the batch: the rest stays pending
            self.stop.set()
        failure = classify(delivery, exc, self.config.smtp, self.now)
        self.recorder.add(Entry(worker, failure.mark, failure.bounce))
        log.log(
            logging.ERROR if failure.final else logging.WARNING,
            "event=delivery-%s digest=%s to=%s attempts=%d permanent=%s error=%s",
            "failed" if failure.final else "deferred", delivery.digest_id, delivery.email,
            delivery.attempts, exc.permanent, exc,
        )  # fmt: skip
        with self.tally:
            (self.failed if failure.final else self.deferred).append(delivery.email)
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
