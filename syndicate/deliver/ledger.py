"""The ledger protocol: exactly the state operations the sending engine (`engine`, `leases`)
needs, so that deliver/ never imports the store. `syndicate.store.Store` satisfies it; the
pipeline hands one in.

Declares methods only: no SQL, no behaviour.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from syndicate.models import Claim, Delivery, Mark, SubscriberStatus


class Ledger(Protocol):
    """The per-message delivery ledger as the engine uses it (see `Store` for the contract)."""

    def claim(
        self,
        worker: str,
        now: datetime,
        clock: datetime,
        lease_until: datetime,
        limit: int = 1,
        protected: Collection[str] = (),
    ) -> list[Delivery]: ...

    def confirm(self, delivery: Delivery, worker: str, lease_until: datetime) -> bool: ...

    def confirm_many(
        self, claimed: Collection[Delivery], worker: str, lease_until: datetime
    ) -> set[tuple[str, str]]: ...

    def renew(self, workers: Collection[str], lease_until: datetime) -> int: ...

    def release(self, claimed: list[Delivery], worker: str, now: datetime) -> None: ...

    def claims(self) -> list[Claim]: ...

    def free_claims(self, workers: Collection[str]) -> int: ...

    def mark_delivery(
        self,
        delivery: Delivery,
        status: str,
        now: datetime,
        error: str = "",
        *,
        next_attempt: datetime | None = None,
        attempts: int | None = None,
    ) -> bool: ...

    def mark_deliveries(self, marks: Collection[Mark], now: datetime) -> None: ...

    def set_subscriber_status(
        self, email: str, status: SubscriberStatus, now: datetime, reason: str = ""
    ) -> bool: ...
