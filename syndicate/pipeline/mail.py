"""Mail: hand the sending engine (`syndicate.deliver.engine`) what it cannot know itself, the
store as its ledger, a builder that turns a ledger row into signed message bytes (the
digest's skeleton rendered once, the unsubscribe token and signed `mailto:`, DKIM), and each
message's VERP envelope sender ([bounces] address).

Orders the steps only: no threads, no SQL, no SMTP; never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from syndicate.config import Config
from syndicate.deliver.engine import Envelope, Outcome, send_due
from syndicate.deliver.leases import free_dead_claims
from syndicate.models import Delivery
from syndicate.pipeline.context import Pass
from syndicate.render.common import Site
from syndicate.render.message import Skeleton
from syndicate.tokens import make_token
from syndicate.verp import envelope_id, mailto_token, tagged


def _mailto(config: Config, key: str, email: str) -> str:
    """The recipient's `mailto:` unsubscribe URI with its signed token ([bounces]
    unsubscribe_address), or "" (the From address, as without [bounces])."""
    address = config.bounces.unsubscribe_address
    if not address:
        return ""
    local, _, domain = address.rpartition("@")
    return f"mailto:{tagged(local, domain, mailto_token(key, email))}?subject=unsubscribe"


def _envelope(config: Config, key: str) -> Envelope | None:
    """Each message's VERP envelope sender ([bounces] address), or None (the From address)."""
    address = config.bounces.address
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return lambda d: tagged(local, domain, envelope_id(key, d.email, d.digest_id))


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
        mailto = _mailto(config, key, delivery.email)
        return skeletons[delivery.digest_id].build(delivery, url, mailto, dkim)

    envelope = _envelope(config, key)
    return send_due(config, store, now, sum(due.values()), build, run.clock, run.progress, envelope)
