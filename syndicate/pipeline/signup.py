"""The reader's own acts, as `syndicate serve` performs them: sign up (double opt-in), confirm,
unsubscribe by link. Ties the address check, the tokens, the store, the confirmation message and
the configured sender together.

Holds no SQL, no markup and no HTTP; never reads the clock (`now` is passed in). A refused link
raises `LinkRefused`, having changed nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

import jinja2

from syndicate.config import Config, normalise_email
from syndicate.deliver.engine import sender_for
from syndicate.errors import DeliveryError, SyndicateError
from syndicate.models import Subscriber
from syndicate.render.common import Site
from syndicate.render.dkim import Signer
from syndicate.render.message import build_notice
from syndicate.render.web import confirmation_parts
from syndicate.store import Outcome, Signup, Store
from syndicate.text import one_line
from syndicate.tokens import make_confirm_token, verify_confirm_token, verify_token

log = logging.getLogger("syndicate")
MAX_NAME = 200
Reason = Literal["malformed", "expired", "used"]


class LinkRefused(SyndicateError):
    """A confirmation or unsubscribe link that is forged, altered, malformed, expired or used."""

    def __init__(self, reason: Reason) -> None:
        self.reason = reason
        super().__init__(f"link refused: {reason}")


@dataclass(frozen=True)
class Reader:
    """What the web side needs from the config and the store, worked out once at start-up."""

    config: Config
    key: str  # signs the tokens
    site: Site
    env: jinja2.Environment
    dkim: Signer | None = None

    @property
    def lifetime(self) -> timedelta:
        return timedelta(days=self.config.web.confirm_days)


@dataclass(frozen=True)
class Notice:
    """A confirmation message ready to send."""

    ident: str
    recipient: str
    message: bytes


def client_key(key: str, host: str) -> str:
    """Who a sign-up comes from, for the per-client limit: an IPv4 address, or an IPv6
    address's /64 (one household or host), hashed with the signing key so the database keeps
    no client addresses."""
    try:
        address = ipaddress.ip_address(host)
        network = ipaddress.ip_network(f"{address}/{64 if address.version == 6 else 32}", False)
        subject = str(network)
    except ValueError:  # not an IP address (a Unix socket, a test client): as it is
        subject = host
    return hmac.new(key.encode(), b"client\x00" + subject.encode(), hashlib.sha256).hexdigest()[:32]


def clean_name(name: str) -> str:
    """A reader's name as given on the form: one line, spaces collapsed, at most 200 chars."""
    return one_line(" ".join(name.split()))[:MAX_NAME]


def sign_up(
    reader: Reader, store: Store, email: str, name: str, client: str, now: datetime
) -> tuple[Outcome, Notice | None]:
    """Record a sign-up and make its confirmation message (None when not to be mailed).
    A bad address raises ConfigError (key "email"); the outcome never depends on whether the
    address is on the list already, so the answer cannot tell."""
    web = reader.config.web
    person = Signup(secrets.token_urlsafe(16), normalise_email(email.strip(), "email"),
                    clean_name(name), now, True, None)  # fmt: skip
    forget = now - max(reader.lifetime, timedelta(days=1))
    outcome = store.record_signup(
        person, client, per_address=web.confirmations_per_day,
        per_client=web.signups_per_hour, forget=forget,
    )  # fmt: skip
    log.info("event=signup outcome=%s", outcome)
    if outcome != "mail":
        return outcome, None
    token = make_confirm_token(reader.key, person.ident, now)
    link = f"{web.url}confirm?token={quote(token)}"
    subject, text, html = confirmation_parts(
        reader.env, reader.site, link=link, expires=now + reader.lifetime
    )
    try:
        message = build_notice(
            sender=reader.config.email.sender, to=(person.name, person.email), subject=subject,
            parts=(text, html), ident=person.ident, created=now,
        )  # fmt: skip
    except DeliveryError as exc:  # a header that would not be exactly the one meant: no mail
        log.error("event=confirmation-refused error=%s", exc)
        return outcome, None
    message = message if reader.dkim is None else reader.dkim.sign(message)
    return outcome, Notice(person.ident, person.email, message)


def send_notice(config: Config, notice: Notice) -> bool:
    """Hand a confirmation message to the configured delivery (SMTP, or the outbox as
    `outbox/confirmations/<id>/<address>.eml`); False, logged, if it could not be sent."""
    sender = sender_for(config)
    try:
        sender.send(f"confirmations/{notice.ident}", notice.recipient, notice.message)
    except DeliveryError as exc:
        log.error("event=confirmation-failed error=%s", exc)
        return False
    finally:
        sender.close()
    return True


def pending_signup(reader: Reader, store: Store, token: str, now: datetime) -> Signup:
    """The sign-up a confirmation token names, if it may still be confirmed."""
    said = verify_confirm_token(reader.key, token)
    if said is None:
        raise LinkRefused("malformed")
    if said.expired(now, reader.lifetime):
        raise LinkRefused("expired")
    found = store.signup(said.ident)
    if found is None or not found.mailed:  # deleted long after expiry, or never mailed
        raise LinkRefused("expired")
    if found.confirmed is not None:
        raise LinkRefused("used")
    return found


def confirm(reader: Reader, store: Store, token: str, now: datetime) -> None:
    """Put the address of a valid confirmation link on the list: a new address, an active one
    (its name refreshed), or one that had left or bounced (the reader's own consent brings it
    back). Every open link of that address is used up."""
    found = pending_signup(reader, store, token, now)
    person = Subscriber(found.email, found.name)
    done = store.upsert_subscribers([person], now, resubscribe=True)
    store.use_up_signups(found.email, now)
    what = "added" if done.added else "resubscribed" if done.reactivated else "updated"
    log.info("event=confirmed result=%s", what)


def unsubscribe_address(reader: Reader, token: str) -> str:
    """The address an unsubscribe token (opaque or legacy) names."""
    address = verify_token(reader.key, token)
    if address is None:
        raise LinkRefused("malformed")
    return address


def unsubscribe(reader: Reader, store: Store, token: str, now: datetime) -> bool:
    """Take the token's address off the list; True if it was active (idempotent)."""
    left = store.leave_by_link(unsubscribe_address(reader, token), now)
    log.info("event=unsubscribed changed=%s via=link", left)
    return left
