"""The subscriber list: add, re-add, change status, list. A mixin of `Store`; SQL only.

One address is one subscriber whatever its case (`same_address`, the rule every way onto the
list goes through: import, `subscribers add`, the config's `[[subscribers]]`, a web form); the
row keeps the address as first written, and the v6 unique index enforces the rule. An address
whose status is `unsubscribed`, `bounced` or `complained` is never made active again here
unless the caller says `resubscribe=True` (the CLI's explicit flag); leaving the list also
cancels that address's messages still waiting in the delivery ledger, whatever case they were
queued in. Nothing here validates addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicate.models import Subscriber, SubscriberStatus
from syndicate.store.base import StoreBase
from syndicate.store.schema import deliveries, subscribers


def same_address(column: sa.ColumnElement[str], address: str) -> sa.ColumnElement[bool]:
    """The rule that makes two addresses one subscriber: equal whole addresses, ignoring case.
    Lowercased by the database on both sides, as the v6 unique index does (addresses are ASCII:
    `normalise_email` refuses non-ASCII local parts and gives domains as punycode)."""
    return sa.func.lower(column) == sa.func.lower(sa.literal(address, sa.String))


def cancel_pending(conn: Connection, email: str, reason: str) -> None:
    """An address left the list: its messages still waiting in the ledger are cancelled."""
    conn.execute(
        deliveries.update()
        .where(deliveries.c.status == "pending", same_address(deliveries.c.email, email))
        .values(status="failed", last_error=f"cancelled: {reason}")
    )


@dataclass
class Upserted:
    """What an upsert did, address by address."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    kept_inactive: list[str] = field(default_factory=list)  # unsubscribed, bounced, complained


class People(StoreBase):
    """Subscribers; `StoreBase` supplies the connection handling."""

    def upsert_subscribers(
        self, people: Sequence[Subscriber], now: datetime, *, resubscribe: bool = False
    ) -> Upserted:
        """Insert new addresses as active and refresh names of known ones, in one transaction.
        An address known in another case is the same subscriber: it keeps its first spelling.

        An unsubscribed or bounced address keeps its status unless `resubscribe` is set."""
        result = Upserted()
        with self._tx() as conn:
            for person in people:
                row = conn.execute(
                    sa.select(subscribers.c.email, subscribers.c.status).where(
                        same_address(subscribers.c.email, person.email)
                    )
                ).first()
                if row is None:
                    conn.execute(
                        subscribers.insert().values(
                            email=person.email, name=person.name, status="active",
                            created=now, updated=now,
                        )
                    )  # fmt: skip
                    result.added.append(person.email)
                    continue
                values: dict[str, object] = {"updated": now}
                if person.name:  # an address given without a name keeps the one it has
                    values["name"] = person.name
                if row.status == "active":
                    result.updated.append(person.email)
                elif resubscribe:
                    values["status"] = "active"
                    result.reactivated.append(person.email)
                else:
                    result.kept_inactive.append(person.email)
                conn.execute(
                    subscribers.update().where(subscribers.c.email == row.email).values(**values)
                )
        return result

    def add_subscribers(self, people: Sequence[Subscriber], now: datetime) -> int:
        """Upsert without ever reactivating; returns how many addresses were new."""
        return len(self.upsert_subscribers(people, now).added)

    def set_subscriber_status(
        self, email: str, status: SubscriberStatus, now: datetime, reason: str = ""
    ) -> bool:
        """Change one address's status (found whatever its case); False if it is not on the
        list. Leaving the list cancels its pending messages in the ledger (they become
        `failed`, with the reason), those queued under another case of it too."""
        with self._tx() as conn:
            found = conn.execute(
                subscribers.update()
                .where(same_address(subscribers.c.email, email))
                .values(status=status, updated=now)
            ).rowcount
            if found and status != "active":
                cancel_pending(conn, email, reason or status)
        return bool(found)

    def subscribers(self) -> list[Subscriber]:
        with self._tx(write=False) as conn:
            return [
                Subscriber(r.email, r.name, r.status)
                for r in conn.execute(sa.select(subscribers).order_by(subscribers.c.email))
            ]
