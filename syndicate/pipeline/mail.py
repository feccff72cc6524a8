"""Mail: hand the sending engine (`syndicate.deliver.engine`) what it cannot know itself, the
store as its ledger, and a builder that turns a ledger row into signed message bytes (the
digest's skeleton rendered once, the unsubscribe token, DKIM).

Orders the steps only: no threads, no SQL, no SMTP; never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from syndicate.deliver.engine import Outcome, send_due
from syndicate.deliver.leases import free_dead_claims
from syndicate.models import Delivery
from syndicate.pipeline.context import Pass
from syndicate.render.common import Site
from syndicate.render.dkim import sign
from syndicate.render.message import Skeleton
from syndicate.tokens import make_token


def deliver_pending(run: Pass, site: Callable[[], Site]) -> Outcome:
    """Send every due message, first taking over the claims of this host's dead processes."""
    config, store, now = run.config, run.store, run.now
    free_dead_claims(store)
    due = store.open_counts(now)
    if not due:
        return Outcome()
    key, dkim = run.keys.signing, run.keys.dkim
    skeletons = {  # premailer and the shared headers: once per digest, never per recipient
        digest.id: Skeleton.for_digest(site(), digest, config.email.sender)
        for digest in store.digests(due)
    }

    def build(delivery: Delivery) -> bytes:
        url = config.email.unsubscribe_url.replace("{token}", make_token(key, delivery.email))
        message = skeletons[delivery.digest_id].build(delivery, url)
        return message if dkim is None else sign(message, dkim)

    return send_due(config, store, now, sum(due.values()), build, run.clock, run.progress)
