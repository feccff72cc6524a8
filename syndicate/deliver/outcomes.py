"""What a failed attempt means for its message: the ledger mark (pending again now, pending
after a backoff, or failed for good) and whether the address bounced. 4xx answers are retried
by later runs with exponential backoff up to `[smtp] max_attempts`; a 5xx answer to the
recipient fails the message and marks the address bounced; an unreachable server costs no
attempt.

Decides only: it records nothing, sends nothing and never reads the clock (`now` comes in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.config import SmtpConfig
from syndicate.errors import DeliveryError
from syndicate.models import Delivery, Mark

MAX_WAIT = 7 * 24 * 3600  # the longest backoff between two attempts, in seconds


@dataclass(frozen=True)
class Failure:
    """The mark to record, whether it is final (`failed`), and the reason to mark the address
    bounced ("" = not a bounce)."""

    mark: Mark
    final: bool
    bounce: str = ""


def classify(delivery: Delivery, exc: DeliveryError, smtp: SmtpConfig, now: datetime) -> Failure:
    attempts, error = delivery.attempts, str(exc)  # the claim counted this attempt
    if exc.unreachable:  # not the recipient's fault: no attempt counted
        return Failure(Mark(delivery, "pending", error, attempts=attempts - 1), final=False)
    if exc.permanent or attempts >= smtp.max_attempts:
        bounce = error if exc.bounce else ""
        return Failure(Mark(delivery, "failed", error), final=True, bounce=bounce)
    seconds = smtp.retry_after * 2 ** min(attempts - 1, 30)
    # strictly later than this run's `now`: a 4xx is retried by a later run, not this one
    wait = max(timedelta(seconds=min(seconds, MAX_WAIT)), timedelta(microseconds=1))
    return Failure(Mark(delivery, "pending", error, next_attempt=now + wait), final=False)
