"""Build tests/data/state-v5-duplicates.sqlite with syndicate's schema-v5 code (commit dbd61a2).

v5 compared subscriber addresses case-sensitively, so its own `upsert_subscribers` made two
subscribers of one mailbox; this script records such a list, and the digests and deliveries
v5 queued for it, the way a real v5 installation did. Run it with the v5 package first on the
path, from the repository root:

    mkdir -p /tmp/v5 && git archive dbd61a2 syndicate | tar -x -C /tmp/v5
    PYTHONPATH=/tmp/v5 .venv/bin/python tests/tools/make_state_v5.py tests/data/state-v5-duplicates.sqlite
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate.models import Digest, Subscriber
from syndicate.store import SCHEMA_VERSION, Store

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def digest(ident: str, day: int) -> Digest:
    return Digest(
        ident, T0 + timedelta(days=day), f"Digest {ident}", "<p>h</p>", "t", "<p>w</p>", "m"
    )


def main(target: Path) -> None:
    assert SCHEMA_VERSION == 5, f"run with the v5 package first on the path, not v{SCHEMA_VERSION}"
    target.unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{target}")
    people = [Subscriber("reader.two@example.org", "Reader Two"), Subscriber("Bounce@example.org"),
              Subscriber("gone@example.org", "Gone"), Subscriber("tri@example.org"),
              Subscriber("solo@example.org", "Solo")]  # fmt: skip
    store.upsert_subscribers(people, T0)
    store.upsert_subscribers(
        [Subscriber("bounce@example.org", "B. Ounce")], T0 + timedelta(hours=1)
    )
    store.set_subscriber_status("bounce@example.org", "bounced", T0 + timedelta(hours=2), "550")
    store.set_subscriber_status("gone@example.org", "unsubscribed", T0 + timedelta(hours=2))
    # an import in other cases: v5 made new, active subscribers of them (the bug)
    later = [Subscriber("READER.TWO@example.org", "R. Two"), Subscriber("GONE@example.org"),
             Subscriber("Tri@example.org"), Subscriber("TRI@example.org", "Tri")]  # fmt: skip
    store.upsert_subscribers(later, T0 + timedelta(days=1))
    store.freeze_digest(digest("2026-10-03", 2), [], T0 + timedelta(days=2))
    for d in store.open_deliveries():  # every copy was mailed: the reader got it twice
        store.mark_delivery(d, "sent", T0 + timedelta(days=2))
    store.freeze_digest(digest("2026-10-04", 3), [], T0 + timedelta(days=3))
    waiting = {d.email: d for d in store.open_deliveries()}
    store.mark_delivery(waiting["TRI@example.org"], "sent", T0 + timedelta(days=3))
    store.mark_delivery(waiting["Tri@example.org"], "sending", T0 + timedelta(days=3))
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
