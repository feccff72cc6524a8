"""Sign-ups from the web form and leaving by link. A mixin of `Store`; SQL only.

A sign-up waits in `signups` until its confirmation link is used; only then does the address
join the subscriber list (through `People.upsert_subscribers`, the one way in). The rate limits
are counted here, in the database, so every `syndicate serve` instance sharing it sees the
same counts. Addresses compare case-insensitively. Nothing here validates addresses, reads the
clock or sends mail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.store.base import StoreBase
from syndicate.store.schema import deliveries, signups, subscribers

Outcome = Literal["mail", "address-limit", "client-limit"]
_LOCK = int.from_bytes(hashlib.sha256(b"syndicate-signups").digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Signup:
    ident: str
    email: str
    name: str
    created: datetime
    mailed: bool
    confirmed: datetime | None


def _same_address(column: sa.ColumnElement[str], address: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(column) == sa.func.lower(sa.literal(address))


def _count(conn: Connection, *where: sa.ColumnElement[bool]) -> int:
    return int(conn.scalar(sa.select(sa.func.count()).select_from(signups).where(*where)) or 0)


class Signups(StoreBase):
    """The web form's sign-ups; `StoreBase` supplies the connection handling."""

    def record_signup(
        self, person: Signup, client: str, *, per_address: int, per_client: int, forget: datetime
    ) -> Outcome:
        """Record one sign-up unless its client has made `per_client` in the past hour
        ("client-limit", nothing recorded). It is to be mailed unless its address already got
        `per_address` confirmation messages in the past day ("address-limit": recorded, never
        mailed, so it still counts for its client). Sign-ups created before `forget` are
        deleted on the way (their links have expired). One transaction; on PostgreSQL under a
        transaction lock, so instances counting at the same moment cannot both pass a limit."""
        now = person.created
        with self._tx() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK)))
            conn.execute(signups.delete().where(signups.c.created < forget))
            hour, day = now - timedelta(hours=1), now - timedelta(days=1)
            if _count(conn, signups.c.client == client, signups.c.created > hour) >= per_client:
                return "client-limit"
            recent = _count(
                conn,
                _same_address(signups.c.email, person.email),
                signups.c.mailed,
                signups.c.created > day,
            )
            mailed = recent < per_address
            conn.execute(
                signups.insert().values(
                    id=person.ident, email=person.email, name=person.name, client=client,
                    created=now, mailed=mailed, confirmed=None,
                )
            )  # fmt: skip
        return "mail" if mailed else "address-limit"

    def signup(self, ident: str) -> Signup | None:
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(signups).where(signups.c.id == ident)).first()
        if row is None:
            return None
        return Signup(row.id, row.email, row.name, row.created, row.mailed, row.confirmed)

    def use_up_signups(self, email: str, now: datetime) -> int:
        """Mark every open sign-up of `email` confirmed (their links stop working): the address
        is on the list now, and a stray old link must not bring it back after it leaves."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    signups.update()
                    .where(_same_address(signups.c.email, email), signups.c.confirmed.is_(None))
                    .values(confirmed=now)
                ).rowcount
            )

    def pending_signups(self, since: datetime) -> int:
        """Sign-ups mailed since `since` (links still valid) and not confirmed yet."""
        with self._tx(write=False) as conn:
            return _count(
                conn, signups.c.mailed, signups.c.confirmed.is_(None), signups.c.created > since
            )

    def leave_by_link(self, email: str, now: datetime) -> bool:
        """An unsubscribe link was used: an active address becomes unsubscribed and its
        messages still waiting are cancelled. False if nothing changed (unknown, or not active:
        asking twice is harmless, and a bounced address stays bounced)."""
        with self._tx() as conn:
            left = conn.execute(
                subscribers.update()
                .where(_same_address(subscribers.c.email, email), subscribers.c.status == "active")
                .values(status="unsubscribed", updated=now)
            ).rowcount
            conn.execute(
                deliveries.update()
                .where(deliveries.c.status == "pending", _same_address(deliveries.c.email, email))
                .values(status="failed", last_error="cancelled: unsubscribed by link")
            )
        return bool(left)
