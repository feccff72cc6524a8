"""The delivery ledger's statements, built once: composing SQLAlchemy expressions costs more
than running them, and a sender runs these for every message. Bind parameters are named `b_*`
and given by `store.ledger`; nothing here runs a statement.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syndicate.store.rows import DELIVERY
from syndicate.store.schema import OPEN_ROW, OPEN_STATUS, deliveries


def bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


C = deliveries.c
PENDING_DUE = (C.status == "pending") & (
    C.next_attempt.is_(None) | (C.next_attempt <= bind("b_now", C.updated))
)
# still to deliver (status, sends): due pending rows and every `sending` one; without a time,
# every pending one too
OPEN = PENDING_DUE | (C.status == "sending")
OPEN_ANY_TIME = C.status.in_(("pending", "sending"))
# what a worker may claim: due pending rows, and `sending` ones whose worker's lease ran out,
# unless that worker is known to be alive (`protected`: its process runs on this host); the
# status as OPEN_STATUS, so that the claim reads the v10 index of open rows (see schema)
_DUE = (
    (OPEN_STATUS == "pending")
    & (C.next_attempt.is_(None) | (C.next_attempt <= bind("b_now", C.updated)))
) | (
    (OPEN_STATUS == "sending")
    & (C.lease_until.is_(None) | (C.lease_until <= bind("b_clock", C.updated)))
    & (C.worker.is_(None) | C.worker.not_in(sa.bindparam("b_protected", expanding=True)))
)
_PICK = (
    sa.select(C.digest_id, C.email)
    .where(OPEN_ROW, _DUE)  # OPEN_ROW: read through the v10 index of open rows, in order
    .order_by(C.digest_id, C.email)
    .limit(sa.bindparam("b_limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
_PICKED = _PICK.cte("picked")  # a CTE: on PostgreSQL the `IN (subquery)` form took past LIMIT
CLAIM = (
    deliveries.update()
    .where(C.digest_id == _PICKED.c.digest_id, C.email == _PICKED.c.email)
    .where(_DUE)
    .values(
        status="sending",
        attempts=C.attempts + 1,
        worker=bind("b_worker", C.worker),
        lease_until=bind("b_lease", C.lease_until),
        updated=bind("b_now", C.updated),
    )
    .returning(*DELIVERY)
)
_KEY = (C.digest_id == bind("b_d", C.digest_id)) & (C.email == bind("b_e", C.email))
MARK = (
    deliveries.update()
    .where(_KEY)
    .values(
        status=bind("b_status", C.status),
        attempts=sa.func.coalesce(
            bind("b_attempts", C.attempts), C.attempts + bind("b_counted", C.attempts)
        ),
        last_error=bind("b_error", C.last_error),
        updated=bind("b_now", C.updated),
        next_attempt=bind("b_next_attempt", C.next_attempt),
    )
)
CLAIM_ONE = MARK.where(C.status.in_(("pending", "sending")))  # not one cancelled meanwhile
_HELD_BY = (C.status == "sending") & C.worker.in_(sa.bindparam("b_workers", expanding=True))
RENEW = deliveries.update().where(_HELD_BY).values(lease_until=bind("b_lease", C.lease_until))
FREE = deliveries.update().where(_HELD_BY & C.lease_until.is_not(None)).values(lease_until=None)
CONFIRM = (
    deliveries.update()
    .where(_KEY & (C.status == "sending") & (C.worker == bind("b_worker", C.worker)))
    .values(lease_until=bind("b_lease", C.lease_until))
)
# the batch form of CONFIRM: which of these keys are still `sending` and the worker's own
CONFIRM_MANY = (
    deliveries.update()
    .where(sa.tuple_(C.digest_id, C.email).in_(sa.bindparam("b_keys", expanding=True)))
    .where((C.status == "sending") & (C.worker == bind("b_worker", C.worker)))
    .values(lease_until=bind("b_lease", C.lease_until))
    .returning(C.digest_id, C.email)
)
RELEASE = (
    deliveries.update()
    .where(_KEY & (C.status == "sending") & (C.worker == bind("b_worker", C.worker)))
    .values(
        status="pending",
        attempts=bind("b_attempts", C.attempts),
        updated=bind("b_now", C.updated),
    )
)
