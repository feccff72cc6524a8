"""The subscriber commands: add, remove, list, import, export, and unsubscribe by token.

Ties the CSV stage, the store and the token check together; holds no SQL and no CSV syntax,
prints nothing (results are returned for the CLI to show) and never reads the clock.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from syndicate import deliver, subscribers
from syndicate.config import Config, normalise_email
from syndicate.errors import SubscriberError, SyndicateError
from syndicate.models import Progress, Subscriber, no_progress
from syndicate.pipeline.keys import signing_key
from syndicate.store import LastBounce, Merged, Store
from syndicate.tokens import verify_token

log = logging.getLogger("syndicate")


@dataclass(frozen=True)
class Imported:
    """An import's outcome: what the store did, and how many rows were refused."""

    merged: Merged
    problems: int


def _inactive(email: str) -> SubscriberError:
    return SubscriberError(
        f"{email} has unsubscribed, bounced or complained and stays off the list; "
        "add it again with --resubscribe if they asked to come back"
    )


def add(config: Config, email: str, name: str, now: datetime, *, resubscribe: bool) -> str:
    """Add or update one subscriber; returns what happened (`added`, `updated`, ...)."""
    person = Subscriber(normalise_email(email, "EMAIL"), " ".join(name.split()))
    with _store(config) as store:
        done = store.upsert_subscribers([person], now, resubscribe=resubscribe)
    if done.kept_inactive:
        raise _inactive(person.email)
    return "added" if done.added else "resubscribed" if done.reactivated else "updated"


def remove(config: Config, email: str, now: datetime) -> str:
    """Mark one address unsubscribed (it is kept, so an import cannot bring it back)."""
    address = normalise_email(email, "EMAIL")
    with _store(config) as store:
        if not store.set_subscriber_status(address, "unsubscribed", now, "removed"):
            raise SubscriberError(f"{address} is not on the subscriber list")
    return address


def unsubscribe(config: Config, token: str, now: datetime) -> str:
    """Verify a signed token and unsubscribe its address; a forged or altered one is refused."""
    with _store(config) as store:
        address = verify_token(signing_key(config, store), token)
        if address is None:
            raise SubscriberError("refused: the unsubscribe token is forged, altered or malformed")
        if not store.set_subscriber_status(address, "unsubscribed", now, "unsubscribed by link"):
            raise SubscriberError(f"{address} is not on the subscriber list")
    return address


def listing(config: Config) -> list[Subscriber]:
    with _store(config) as store:
        return store.subscribers()


def last_bounces(config: Config) -> dict[str, LastBounce]:
    """Each address's last bounce or complaint, by lowercased address."""
    with _store(config) as store:
        return store.last_bounces()


def import_csv(
    config: Config,
    path: Path,
    now: datetime,
    problem: Callable[[str], None],
    progress: Progress = no_progress,
) -> Imported:
    """Stream a CSV file into the list (one transaction: all of it or, if the file cannot be
    read to its end, nothing); each bad row is told to `problem` as it is met."""
    refused = 0

    def bad(message: str) -> None:
        nonlocal refused
        refused += 1
        problem(message)

    with _store(config) as store:
        merged = store.import_subscribers(subscribers.stream_csv(path, bad, progress), now)
    log.info("event=subscribers-imported file=%s added=%d updated=%d kept_inactive=%d "
             "duplicates=%d bad_rows=%d", path, merged.added, merged.updated,
             merged.kept_inactive, merged.duplicates, refused)  # fmt: skip
    return Imported(merged, refused)


def export_csv(config: Config, path: Path) -> int:
    """Write the active subscribers to `path`; returns how many."""
    active = [p for p in listing(config) if p.status == "active"]
    try:
        deliver.write_atomic(path, subscribers.to_csv(active), private=True)
    except OSError as exc:
        raise SyndicateError(f"{path}: cannot write the export: {exc.strerror or exc}") from None
    return len(active)


@contextlib.contextmanager
def _store(config: Config) -> Iterator[Store]:
    """The state database, opened for one command and always closed."""
    store = Store.open(config.paths.database)
    try:
        yield store
    finally:
        store.close()
