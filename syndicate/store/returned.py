"""Returned mail in the state database: which messages were processed, and what they did to
the list. A mixin of `Store` (on `StoreBase`); SQL only.

`record_returned` writes the message's key and its effect on the subscriber in one
transaction: a message already recorded is never counted again (a rerun, a crash after the
commit but before the mailbox was marked, or a second process), and one not recorded has
changed nothing. A status only ever moves to a stronger standing (`schema.STANDING`): a bounce
never turns a complaint back into `bounced`, an unsubscribe never touches a bounced address.
Time is passed in; nothing here reads mail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.store.base import StoreBase
from syndicate.store.people import cancel_pending, same_address
from syndicate.store.schema import STANDING, deliveries, returned, subscribers

BOUNCES = ("hard", "soft", "complaint")  # the kinds `subscribers list` shows as the last bounce
_EFFECT = {"hard": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}


@dataclass(frozen=True)
class Recorded:
    """What recording one returned message did."""

    duplicate: bool = False  # already recorded: nothing done again
    status: str = ""  # the subscriber's new status, if it changed
    soft_count: int = 0  # temporary failures of this address within the window, this one too


@dataclass(frozen=True)
class LastBounce:
    kind: str
    reason: str
    received: datetime


class Returns(StoreBase):
    """Returned mail."""

    def returned_kinds(self, keys: Iterable[str]) -> dict[str, str]:
        """The kind each already-recorded key was recorded as (keys not recorded are absent)."""
        wanted = list(keys)
        found: dict[str, str] = {}
        with self._tx(write=False) as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = sa.select(returned.c.key, returned.c.kind).where(returned.c.key.in_(chunk))
                found |= {row.key: row.kind for row in conn.execute(query)}
        return found

    def digests_mailed_to(self, email: str) -> list[str]:
        """The digests that have a message to this address (any case) in the ledger."""
        with self._tx(write=False) as conn:
            query = sa.select(deliveries.c.digest_id).where(same_address(deliveries.c.email, email))
            return sorted({row.digest_id for row in conn.execute(query)}, reverse=True)

    def subscriber_addresses(self) -> list[str]:
        with self._tx(write=False) as conn:
            return list(conn.scalars(sa.select(subscribers.c.email)))

    def record_returned(
        self,
        key: str,
        kind: str,
        email: str | None,
        now: datetime,
        *,
        status: str = "",
        reason: str = "",
        soft_limit: int = 3,
        soft_window: timedelta = timedelta(days=30),
    ) -> Recorded:
        """Record one processed message and apply its effect to `email`'s subscriber, in one
        transaction. `kind`: hard, soft, complaint, unsubscribe (each concerns `email`),
        ignored or unparseable (`email` None)."""
        with self._tx() as conn:
            if conn.scalar(sa.select(returned.c.key).where(returned.c.key == key)) is not None:
                return Recorded(duplicate=True)
            conn.execute(
                returned.insert().values(
                    key=key, email=email, kind=kind, status=status[:32], reason=reason,
                    received=now,
                )
            )  # fmt: skip
            if email is None:
                return Recorded()
            soft = 0
            if kind == "soft":
                soft = self._soft_count(conn, email, now - soft_window)
            effect = _EFFECT.get(kind) or ("bounced" if soft >= soft_limit else "")
            changed = self._raise_standing(conn, email, effect, now, reason or kind)
            return Recorded(status=changed, soft_count=soft)

    @staticmethod
    def _soft_count(conn: Connection, email: str, since: datetime) -> int:
        query = sa.select(sa.func.count()).where(
            returned.c.email == email, returned.c.kind == "soft", returned.c.received >= since
        )
        return int(conn.scalar(query) or 0)

    @staticmethod
    def _raise_standing(
        conn: Connection, email: str, status: str, now: datetime, reason: str
    ) -> str:
        """Set `status` if it is a stronger standing than the subscriber's; returns it if so."""
        if not status:
            return ""
        current = conn.scalar(
            sa.select(subscribers.c.status).where(same_address(subscribers.c.email, email))
        )
        if current is None or STANDING.get(status, 0) <= STANDING.get(current, 0):
            return ""
        conn.execute(
            subscribers.update()
            .where(same_address(subscribers.c.email, email))
            .values(status=status, updated=now)
        )
        cancel_pending(conn, email, reason)
        return status

    def last_bounces(self) -> dict[str, LastBounce]:
        """Each address's latest bounce or complaint, by lowercased address (of several read
        at the same time, the strongest: a complaint, then a hard bounce)."""
        rank = sa.case({"soft": 0, "hard": 1, "complaint": 2}, value=returned.c.kind, else_=0)
        query = (
            sa.select(returned.c.email, returned.c.kind, returned.c.reason, returned.c.received)
            .where(returned.c.kind.in_(BOUNCES), returned.c.email.is_not(None))
            .order_by(returned.c.received, rank, returned.c.key)
        )
        with self._tx(write=False) as conn:
            return {
                row.email.lower(): LastBounce(row.kind, row.reason, row.received)
                for row in conn.execute(query)
            }

    def soft_bounces(self, since: datetime) -> tuple[int, int]:
        """Temporary failures received since `since`: (messages, addresses)."""
        query = sa.select(sa.func.count(), sa.func.count(sa.distinct(returned.c.email))).where(
            returned.c.kind == "soft", returned.c.received >= since
        )
        with self._tx(write=False) as conn:
            row = conn.execute(query).one()
        return int(row[0] or 0), int(row[1] or 0)
