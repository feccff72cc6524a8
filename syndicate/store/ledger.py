"""The per-message delivery ledger and the run log: the half of the state that `send`
workers share. A mixin of `Store`; all SQL, no I/O beyond the database.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Delivery
from syndicate.store.schema import LIVE, articles, deliveries, digests, runs, subscribers


class Ledger:
    """Deliveries and runs; `Store` supplies the connection handling."""

    def _tx(
        self, *, write: bool = True, single: bool = False
    ) -> contextlib.AbstractContextManager[Connection]:
        raise NotImplementedError

    def open_deliveries(self, now: datetime | None = None) -> list[Delivery]:
        """Messages still to deliver: pending and due at `now` (all pending without it), or
        left `sending` by a crash. Never a `sent` one."""
        query = sa.select(deliveries).where(_OPEN if now is not None else _OPEN_ANY_TIME)
        with self._tx(write=False) as conn:
            rows = conn.execute(query.order_by(_C.digest_id, _C.email), {"b_now": now})
            return [
                Delivery(r.digest_id, r.email, r.name, r.status, r.attempts, r.last_error)
                for r in rows
            ]

    def open_counts(self, now: datetime) -> dict[str, int]:
        """How many messages of each digest are still to deliver (as `open_deliveries`), without
        reading the rows: what a sender needs to size its batch."""
        query = sa.select(_C.digest_id, sa.func.count()).where(_OPEN).group_by(_C.digest_id)
        with self._tx(write=False) as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query, {"b_now": now})}

    def claim(
        self, worker: str, now: datetime, clock: datetime, lease_until: datetime, limit: int = 1
    ) -> list[Delivery]:
        """Take up to `limit` messages due for `worker` (fewer, or none, when fewer are due).

        Due: pending and past its `next_attempt` at `now`, or left `sending` by a worker whose
        lease ran out by `clock` (the wall clock: it died). The rows become `sending`, count an
        attempt and are leased to `worker` until `lease_until`, in one committed statement.
        Workers in other threads, processes or machines never get the same row: PostgreSQL
        skips rows another claim has locked (FOR UPDATE SKIP LOCKED); SQLite has one writer,
        and the UPDATE re-checks that each row is still due. Hand back what is not attempted
        with `release`.
        """
        values = {"b_now": now, "b_clock": clock, "b_worker": worker, "b_lease": lease_until}
        with self._tx(single=True) as conn:
            rows = conn.execute(_CLAIM, {**values, "b_limit": limit}).all()
        claimed = [
            Delivery(r.digest_id, r.email, r.name, r.status, r.attempts, r.last_error) for r in rows
        ]
        return sorted(claimed, key=lambda d: (d.digest_id, d.email))

    def release(self, claimed: list[Delivery], worker: str, now: datetime) -> None:
        """Give back claimed messages that were never attempted: pending again, as they were."""
        if not claimed:
            return
        with self._tx() as conn:
            conn.execute(_RELEASE, [
                {"b_d": d.digest_id, "b_e": d.email, "b_worker": worker, "b_now": now,
                 "b_attempts": d.attempts - 1}
                for d in claimed
            ])  # fmt: skip

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
            return bool(conn.execute(_CLAIM_ONE if status == "sending" else _MARK, values).rowcount)

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


def _bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


# Statements built once: composing SQLAlchemy expressions costs more than running them, and
# a sender runs these for every message.
_C = deliveries.c
_PENDING_DUE = (_C.status == "pending") & (
    _C.next_attempt.is_(None) | (_C.next_attempt <= _bind("b_now", _C.updated))
)
# still to deliver (status, sends): due pending rows and every `sending` one; without a time,
# every pending one too
_OPEN = _PENDING_DUE | (_C.status == "sending")
_OPEN_ANY_TIME = _C.status.in_(("pending", "sending"))
# what a worker may claim: due pending rows, and `sending` ones whose worker's lease ran out
_DUE = _PENDING_DUE | (
    (_C.status == "sending")
    & (_C.lease_until.is_(None) | (_C.lease_until <= _bind("b_clock", _C.updated)))
)
_PICK = (
    sa.select(_C.digest_id, _C.email)
    .where(_DUE)
    .order_by(_C.digest_id, _C.email)
    .limit(sa.bindparam("b_limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
_PICKED = _PICK.cte("picked")  # a CTE: on PostgreSQL the `IN (subquery)` form took past LIMIT
_CLAIM = (
    deliveries.update()
    .where(_C.digest_id == _PICKED.c.digest_id, _C.email == _PICKED.c.email)
    .where(_DUE)
    .values(
        status="sending",
        attempts=_C.attempts + 1,
        worker=_bind("b_worker", _C.worker),
        lease_until=_bind("b_lease", _C.lease_until),
        updated=_bind("b_now", _C.updated),
    )
    .returning(*deliveries.c)
)
_KEY = (_C.digest_id == _bind("b_d", _C.digest_id)) & (_C.email == _bind("b_e", _C.email))
_MARK = (
    deliveries.update()
    .where(_KEY)
    .values(
        status=_bind("b_status", _C.status),
        attempts=sa.func.coalesce(
            _bind("b_attempts", _C.attempts), _C.attempts + _bind("b_counted", _C.attempts)
        ),
        last_error=_bind("b_error", _C.last_error),
        updated=_bind("b_now", _C.updated),
        next_attempt=_bind("b_next_attempt", _C.next_attempt),
    )
)
_CLAIM_ONE = _MARK.where(_C.status.in_(("pending", "sending")))  # not one cancelled meanwhile
_RELEASE = (
    deliveries.update()
    .where(_KEY & (_C.status == "sending") & (_C.worker == _bind("b_worker", _C.worker)))
    .values(
        status="pending",
        attempts=_bind("b_attempts", _C.attempts),
        updated=_bind("b_now", _C.updated),
    )
)
