"""The per-message delivery ledger and the run log: the half of the state that `send`
workers share. A mixin of `Store`; all SQL, no I/O beyond the database.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Delivery
from syndicate.store.schema import LIVE, articles, deliveries, digests, runs, subscribers


class Ledger:
    """Deliveries and runs; `Store` supplies the connection handling."""

    def _tx(self, *, write: bool = True) -> contextlib.AbstractContextManager[Connection]:
        raise NotImplementedError

    @staticmethod
    def _open(now: datetime | None) -> sa.ColumnElement[bool]:
        """Still to deliver: pending and due at `now` (all pending without it), or `sending`."""
        due = deliveries.c.status == "pending"
        if now is not None:
            due &= deliveries.c.next_attempt.is_(None) | (deliveries.c.next_attempt <= now)
        return due | (deliveries.c.status == "sending")

    def open_deliveries(self, now: datetime | None = None) -> list[Delivery]:
        """Messages still to deliver: pending and due at `now` (all pending without it), or
        left `sending` by a crash. Never a `sent` one."""
        query = sa.select(deliveries).where(self._open(now))
        with self._tx(write=False) as conn:
            rows = conn.execute(query.order_by(deliveries.c.digest_id, deliveries.c.email))
            return [
                Delivery(r.digest_id, r.email, r.name, r.status, r.attempts, r.last_error)
                for r in rows
            ]

    def open_counts(self, now: datetime) -> dict[str, int]:
        """How many messages of each digest are still to deliver (as `open_deliveries`), without
        reading the rows: what a sender needs to size its batch."""
        query = sa.select(deliveries.c.digest_id, sa.func.count()).where(self._open(now))
        with self._tx(write=False) as conn:
            rows = conn.execute(query.group_by(deliveries.c.digest_id))
            return {str(row[0]): int(row[1]) for row in rows}

    def claim(
        self, worker: str, now: datetime, clock: datetime, lease_until: datetime
    ) -> Delivery | None:
        """Take the next message due for `worker`, or None when there is none.

        Due: pending and past its `next_attempt` at `now`, or left `sending` by a worker whose
        lease ran out by `clock` (the wall clock: it died). The row becomes `sending`, counts an
        attempt and is leased to `worker` until `lease_until`, in one committed transaction.
        Workers in other threads, processes or machines never get the same row: PostgreSQL
        skips rows another claim has locked (FOR UPDATE SKIP LOCKED); SQLite has one writer,
        and the UPDATE re-checks that the row is still due.
        """
        pending = deliveries.c.status == "pending"
        pending &= deliveries.c.next_attempt.is_(None) | (deliveries.c.next_attempt <= now)
        expired = (deliveries.c.status == "sending") & (
            deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until <= clock)
        )
        due = pending | expired
        pick = (
            sa.select(deliveries.c.digest_id, deliveries.c.email)
            .where(due)
            .order_by(deliveries.c.digest_id, deliveries.c.email)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        while True:
            with self._tx() as conn:
                key = conn.execute(pick).first()
                if key is None:
                    return None
                row = conn.execute(
                    deliveries.update()
                    .where(deliveries.c.digest_id == key.digest_id)
                    .where(deliveries.c.email == key.email)
                    .where(due)
                    .values(
                        status="sending",
                        attempts=deliveries.c.attempts + 1,
                        worker=worker,
                        lease_until=lease_until,
                        updated=now,
                    )
                    .returning(*deliveries.c)
                ).first()
            if row is not None:  # else another SQLite writer took it first: look again
                return Delivery(row.digest_id, row.email, row.name, row.status, row.attempts,
                                row.last_error)  # fmt: skip

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
        counted = deliveries.c.attempts + (1 if status == "sending" else 0)
        key = (deliveries.c.digest_id == delivery.digest_id) & (
            deliveries.c.email == delivery.email
        )
        if status == "sending":  # claim only a row still open (not cancelled meanwhile)
            key &= deliveries.c.status.in_(("pending", "sending"))
        with self._tx() as conn:
            return bool(
                conn.execute(
                    deliveries.update()
                    .where(key)
                    .values(
                        status=status,
                        attempts=counted if attempts is None else attempts,
                        last_error=error,
                        updated=now,
                        next_attempt=next_attempt,
                    )
                ).rowcount
            )

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
