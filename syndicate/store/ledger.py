"""The per-message delivery ledger and the run log: the half of the state that `send`
workers share. A mixin of `Store`; all SQL, no I/O beyond the database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from syndicate.models import Claim, Delivery, Mark
from syndicate.store.base import StoreBase
from syndicate.store.ledger_sql import (
    CLAIM,
    CLAIM_ONE,
    CONFIRM,
    CONFIRM_MANY,
    FREE,
    MARK,
    OPEN,
    OPEN_ANY_TIME,
    PENDING_DUE,
    RELEASE,
    RENEW,
    C,
    bind,
)
from syndicate.store.rows import DELIVERY, to_delivery
from syndicate.store.schema import LIVE, articles, deliveries, digests, runs, subscribers


@dataclass(frozen=True)
class Backlog:
    """What still waits to be delivered, for `status` and a run's summary: messages due now,
    retries waiting for their backoff (and the first one's time), claims held by workers, and
    the last error recorded on a message still pending."""

    due: int
    retries: int
    next_retry: datetime | None
    claims: tuple[Claim, ...]
    last_error: str


class Ledger(StoreBase):
    """Deliveries and runs; `StoreBase` supplies the connection handling."""

    def open_deliveries(self, now: datetime | None = None) -> list[Delivery]:
        """Messages still to deliver: pending and due at `now` (all pending without it), or
        left `sending` by a crash. Never a `sent` one."""
        query = sa.select(*DELIVERY).where(OPEN if now is not None else OPEN_ANY_TIME)
        with self._tx(write=False) as conn:
            rows = conn.execute(query.order_by(C.digest_id, C.email), {"b_now": now})
            return [to_delivery(*r) for r in rows]

    def open_counts(self, now: datetime) -> dict[str, int]:
        """How many messages of each digest are still to deliver (as `open_deliveries`), without
        reading the rows: what a sender needs to size its batch."""
        query = sa.select(C.digest_id, sa.func.count()).where(OPEN).group_by(C.digest_id)
        with self._tx(write=False) as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query, {"b_now": now})}

    def claim(
        self,
        worker: str,
        now: datetime,
        clock: datetime,
        lease_until: datetime,
        limit: int = 1,
        protected: Collection[str] = (),
    ) -> list[Delivery]:
        """Take up to `limit` messages due for `worker` (fewer, or none, when fewer are due).

        Due: pending and past its `next_attempt` at `now`, or left `sending` by a worker whose
        lease ran out by `clock` (the wall clock: it died). The rows become `sending`, count an
        attempt and are leased to `worker` until `lease_until`, in one committed statement.
        Workers in other threads, processes or machines never get the same row: PostgreSQL
        skips rows another claim has locked (FOR UPDATE SKIP LOCKED); SQLite has one writer,
        and the UPDATE re-checks that each row is still due. The claims of the `protected`
        workers (known to be alive) are never taken over, whatever their lease says. Hand back
        what is not attempted with `release`.
        """
        values = {
            "b_now": now, "b_clock": clock, "b_worker": worker, "b_lease": lease_until,
            "b_protected": list(protected),
        }  # fmt: skip
        with self._tx(single=True) as conn:
            rows = conn.execute(CLAIM, {**values, "b_limit": limit}).all()
        claimed = [to_delivery(*r) for r in rows]
        return sorted(claimed, key=lambda d: (d.digest_id, d.email))

    def release(self, claimed: list[Delivery], worker: str, now: datetime) -> None:
        """Give back claimed messages that were never attempted: pending again, as they were."""
        if not claimed:
            return
        with self._tx() as conn:
            conn.execute(RELEASE, [
                {"b_d": d.digest_id, "b_e": d.email, "b_worker": worker, "b_now": now,
                 "b_attempts": d.attempts - 1}
                for d in claimed
            ])  # fmt: skip

    def renew(self, workers: Collection[str], lease_until: datetime) -> int:
        """The heartbeat: extend the lease of every message `workers` hold `sending` to
        `lease_until`, in one statement. Returns how many rows it renewed."""
        if not workers:
            return 0
        values = {"b_workers": list(workers), "b_lease": lease_until}
        with self._tx(single=True) as conn:
            return int(conn.execute(RENEW, values).rowcount)

    def confirm(self, delivery: Delivery, worker: str, lease_until: datetime) -> bool:
        """Right before the hand-over: is this message still `worker`'s own (still `sending`,
        still claimed by it)? If so its lease is extended to `lease_until` in the same
        statement. False: another worker took it over (our lease ran out) or it was cancelled;
        the caller must not send it."""
        values = {
            "b_d": delivery.digest_id, "b_e": delivery.email, "b_worker": worker,
            "b_lease": lease_until,
        }  # fmt: skip
        with self._tx(single=True) as conn:
            return conn.execute(CONFIRM, values).rowcount == 1

    def confirm_many(
        self, claimed: Collection[Delivery], worker: str, lease_until: datetime
    ) -> set[tuple[str, str]]:
        """`confirm` for many messages in one statement: the (digest, address) keys still
        `worker`'s own, their leases extended to `lease_until`. The rest it must not send."""
        if not claimed:
            return set()
        values = {
            "b_keys": [(d.digest_id, d.email) for d in claimed], "b_worker": worker,
            "b_lease": lease_until,
        }  # fmt: skip
        with self._tx(single=True) as conn:
            return {(str(d), str(e)) for d, e in conn.execute(CONFIRM_MANY, values)}

    def claims(self) -> list[Claim]:
        """Every worker holding messages `sending`, with how many and its latest lease."""
        query = (
            sa.select(C.worker, sa.func.count(), sa.func.max(C.lease_until))
            .where(C.status == "sending")
            .group_by(C.worker)
            .order_by(C.worker)
        )
        with self._tx(write=False) as conn:
            return [Claim(str(w or ""), int(n), until) for w, n, until in conn.execute(query)]

    def free_claims(self, workers: Collection[str]) -> int:
        """End the leases of `workers` at once (their processes are known to be gone), so the
        next claim takes their messages over. Returns how many messages were freed."""
        if not workers:
            return 0
        with self._tx(single=True) as conn:
            return int(conn.execute(FREE, {"b_workers": list(workers)}).rowcount)

    def backlog(self, now: datetime) -> Backlog:
        """What waits at `now` (see `Backlog`)."""
        later = (C.status == "pending") & (C.next_attempt > bind("b_now", C.updated))
        with self._tx(write=False) as conn:
            due = conn.scalar(
                sa.select(sa.func.count()).select_from(deliveries).where(PENDING_DUE),
                {"b_now": now},
            )
            retries, first = conn.execute(
                sa.select(sa.func.count(), sa.func.min(C.next_attempt)).where(later),
                {"b_now": now},
            ).one()
            error = conn.scalar(
                sa.select(C.last_error)
                .where((C.status == "pending") & (C.last_error != ""))
                .order_by(C.updated.desc())
                .limit(1)
            )
        return Backlog(int(due or 0), int(retries or 0), first, tuple(self.claims()), error or "")

    def mark_delivery(
        self,
        delivery: Delivery,
        status: str,
        now: datetime,
        error: str = "",
        *,
        next_attempt: datetime | None = None,
        attempts: int | None = None,
    ) -> bool:
        """Move one ledger row to `status` and commit at once (the ledger is per message).

        `sending` counts an attempt unless `attempts` is given, and claims only a row that is
        still pending or sending (False: someone cancelled or sent it meanwhile);
        `next_attempt` holds a pending row back until then."""
        values = {
            "b_d": delivery.digest_id, "b_e": delivery.email, "b_status": status,
            "b_error": error, "b_now": now, "b_next_attempt": next_attempt, "b_attempts": attempts,
            "b_counted": 1 if status == "sending" else 0,
        }  # fmt: skip
        with self._tx(single=True) as conn:
            return bool(conn.execute(CLAIM_ONE if status == "sending" else MARK, values).rowcount)

    def mark_deliveries(self, marks: Collection[Mark], now: datetime) -> None:
        """Record many outcomes (`mark_delivery` without the claim form) in one transaction,
        one commit: the group commit of the sending engine's recorder."""
        if not marks:
            return
        with self._tx() as conn:
            conn.execute(MARK, [
                {"b_d": m.delivery.digest_id, "b_e": m.delivery.email, "b_status": m.status,
                 "b_error": m.error, "b_now": now, "b_next_attempt": m.next_attempt,
                 "b_attempts": m.attempts, "b_counted": 0}
                for m in marks
            ])  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Figures for `syndicate status`."""
        with self._tx(write=False) as conn:
            figures = {
                "articles": conn.scalar(
                    sa.select(sa.func.count()).select_from(articles).where(LIVE)
                )
                or 0,
                "digests": conn.scalar(sa.select(sa.func.count()).select_from(digests)) or 0,
                "subscribers": conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(subscribers)
                    .where(subscribers.c.status == "active")
                )
                or 0,
            }
            gone = conn.execute(
                sa.select(subscribers.c.status, sa.func.count())
                .where(subscribers.c.status != "active")
                .group_by(subscribers.c.status)
            )
            figures |= {f"subscribers_{status}": n for status, n in gone}
            by_state = conn.execute(
                sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
            )
            figures |= {f"deliveries_{status}": n for status, n in by_state}
        return figures

    def record_run(
        self, started: datetime, finished: datetime, exit_code: int, summary: str
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                runs.insert().values(
                    started=started, finished=finished, exit_code=exit_code, summary=summary
                )
            )

    def last_run(self) -> tuple[datetime, int, str] | None:
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(1)).first()
        return None if row is None else (row.finished, row.exit_code, row.summary)
