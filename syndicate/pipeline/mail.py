"""Mail: turn each pending ledger row into a message and hand it to the configured sender."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from syndicate import deliver
from syndicate.config import Config
from syndicate.errors import ConfigError, DeliveryError
from syndicate.render.common import Site
from syndicate.render.message import build_message
from syndicate.store import Store
from syndicate.tokens import make_token

log = logging.getLogger("syndicate")


def signing_key(config: Config, store: Store) -> str:
    """The key that signs unsubscribe tokens: from the environment, or (file delivery only) a
    random key kept in the state database so that local trials work out of the box."""
    if config.email.secret:
        return config.email.secret
    if config.email.delivery == "smtp":
        raise ConfigError(
            f"environment variable {config.email.secret_env} must hold the key that signs "
            "unsubscribe links before mail is sent",
            key="email.secret_env",
        )
    stored = store.get_meta("local_secret")
    if stored is None:
        stored = secrets.token_urlsafe(32)
        store.set_meta("local_secret", stored)
        log.warning("event=secret-generated reason=%s-unset delivery=file", config.email.secret_env)
    return stored


def _sender(config: Config) -> deliver.Sender:
    if config.email.delivery == "file":
        return deliver.FileSender(config.paths.outbox)
    smtp = config.smtp
    envelope = config.email.sender.rsplit("<", 1)[-1].rstrip("> ")
    return deliver.SmtpSender(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        envelope_from=envelope,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
    )


def deliver_pending(
    config: Config, store: Store, site: Site, now: datetime
) -> tuple[int, list[str]]:
    """Send every pending message; the ledger is committed around each one."""
    queue = store.open_deliveries()
    if not queue:
        return 0, []
    digests = {d.id: d for d in store.digests()}
    key = signing_key(config, store)
    sender = _sender(config)
    sent, failed = 0, []
    try:
        for delivery in queue:
            url = config.email.unsubscribe_url.replace("{token}", make_token(key, delivery.email))
            message = build_message(
                site,
                digests[delivery.digest_id],
                delivery,
                sender=config.email.sender,
                unsubscribe_url=url,
            )
            store.mark_delivery(delivery, "sending", now)
            try:
                sender.send(delivery.digest_id, delivery.email, message)
            except DeliveryError as exc:
                store.mark_delivery(
                    delivery, "failed" if exc.permanent else "pending", now, str(exc)
                )
                log.error(
                    "event=delivery-failed digest=%s to=%s permanent=%s error=%s",
                    delivery.digest_id,
                    delivery.email,
                    exc.permanent,
                    exc,
                )
                failed.append(delivery.email)
                continue
            store.mark_delivery(delivery, "sent", now)
            sent += 1
    finally:
        sender.close()
    log.info("event=delivered sent=%d failed=%d via=%s", sent, len(failed), config.email.delivery)
    return sent, failed
