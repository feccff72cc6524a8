"""Classify one returned message: an RFC 3464 delivery status notification (permanent or
temporary failure), an RFC 5965 (ARF) complaint, or anything else; and collect the signed
tokens that say whom it concerns.

Returned mail is hostile input. Whom a message concerns is read only from tokens in addresses
at our own bounce and unsubscribe addresses: the recipient headers our MTA adds on delivery
(`Delivered-To`, `X-Original-To`, `Envelope-To`) and the message's `To`/`Cc`, and, for a
complaint, the reported message's `Return-Path` and `List-Unsubscribe` (providers redact its
recipient). `Original-Recipient`, `Final-Recipient` and the reported `To` are never trusted:
they only go into the log. A token only counts once `syndicate.verp.Directory` has verified it.

Pure: bytes in, a `Returned` out; no I/O, no clock, no store. It never raises on bad input:
what it cannot read is `unparseable`.
"""

from __future__ import annotations

import email
import email.message
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Literal

Kind = Literal["hard", "soft", "complaint", "plain", "unparseable"]
Mailbox = tuple[str, str]  # (local part, domain), lowercase: an address we own

RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "to", "cc")
COMPLAINTS = {"abuse", "fraud"}  # RFC 5965 feedback types that mean "this is unwanted"
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_MAILTO = re.compile(r"<mailto:([^>?]+)", re.IGNORECASE)
_LIMIT = 200  # the longest text kept from a returned message (for logs and the reason)


@dataclass(frozen=True)
class Returned:
    """What one returned message is and whom it may concern (tokens not yet verified)."""

    kind: Kind
    tokens: tuple[str, ...] = ()  # from our addresses among the recipients, topmost first
    reported: tuple[str, ...] = ()  # from the reported message of a complaint
    status: str = ""  # the DSN status code (5.1.1) or the feedback type (abuse)
    reason: str = ""  # a short, printable explanation for the log and `subscribers list`
    claimed: str = ""  # what the content says the recipient was (never trusted; for the log)
    message_id: str = ""


def _clean(text: object) -> str:
    """One printable line, at most `_LIMIT` characters: safe for logs and a TSV column."""
    flat = "".join(c if c.isprintable() else " " for c in str(text or ""))
    return " ".join(flat.split())[:_LIMIT]


def _header(message: email.message.Message, name: str) -> list[str]:
    try:
        return [str(v) for v in message.get_all(name) or []]
    except Exception:  # malformed encoded words raise assorted errors
        return []


def _tokens(values: Iterable[str], ours: frozenset[Mailbox]) -> list[str]:
    """The `+token` of every address among `values` that is one of ours."""
    found = []
    for _, address in getaddresses(list(values)):
        local, at, domain = address.strip().strip("<>").rpartition("@")
        base, plus, token = local.partition("+")
        if at and plus and token and (base.lower(), domain.lower().rstrip(".")) in ours:
            found.append(token.lower())
    return found


def _recipient_tokens(message: email.message.Message, ours: frozenset[Mailbox]) -> list[str]:
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        found += [t for t in _tokens(_header(message, name), ours) if t not in found]
    return found


def _parts(message: email.message.Message) -> list[email.message.Message]:
    payload = message.get_payload()
    return (
        [p for p in payload if isinstance(p, email.message.Message)]
        if message.is_multipart()
        else []
    )


def _kind_of_report(message: email.message.Message) -> str:
    """`delivery-status`, `feedback-report`, `jmrp` or "". By the parts present, not only by
    the `report-type` parameter: some feedback loops (Return Path's `ReturnPathFBL`) send
    multipart/report without it. Microsoft's JMRP is not ARF: multipart/mixed, the subject
    "complaint about message from <ip>" and the reported message attached."""
    types = {part.get_content_type() for part in message.walk()}
    declared = ""
    if message.get_content_type() == "multipart/report":
        declared = str(message.get_param("report-type", "") or "").lower()
    if types & {"message/delivery-status", "message/global-delivery-status"} or declared in (
        "delivery-status",
        "global-delivery-status",
    ):
        return "delivery-status"
    if "message/feedback-report" in types or declared == "feedback-report":
        return "feedback-report"
    subject = _clean(" ".join(_header(message, "subject")[:1])).lower()
    if subject.startswith("complaint about message from") and "message/rfc822" in types:
        return "jmrp"
    return ""


def _blocks(part: email.message.Message) -> list[email.message.Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part (the
    email package parses the first into a list of blocks; text we parse ourselves)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, email.message.Message)]
    if isinstance(payload, str):  # e.g. a transfer-encoded part, or a feedback report
        text = part.get_payload(decode=True)
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else payload
        return [email.message_from_string(b.strip() + "\n") for b in re.split(r"\n\s*\n", body)
                if b.strip()]  # fmt: skip
    return []


def _find(message: email.message.Message, *types: str) -> email.message.Message | None:
    for part in message.walk():
        if part.get_content_type() in types:
            return part
    return None


def _dsn(message: email.message.Message) -> tuple[Kind, str, str, str]:
    """(kind, status, reason, claimed recipient) of a delivery status notification."""
    part = _find(message, "message/delivery-status", "message/global-delivery-status")
    blocks = _blocks(part) if part is not None else []
    worst: tuple[Kind, str, str, str] | None = None
    for block in blocks[1:] or blocks:  # per-recipient blocks follow the per-message one
        action = _clean(block.get("Action")).lower()
        match = _STATUS.match(str(block.get("Status") or ""))
        if match is None:
            continue
        status = ".".join(match.groups())
        reason = _clean(block.get("Diagnostic-Code")) or f"status {status}"
        claimed = _clean(block.get("Original-Recipient") or block.get("Final-Recipient"))
        if action in ("failed", "") and status.startswith("5"):
            return "hard", status, reason, claimed
        if action in ("failed", "delayed", "") and status.startswith("4") and worst is None:
            worst = ("soft", status, reason, claimed)
    if worst is not None:
        return worst
    if any(_STATUS.match(str(b.get("Status") or "")) for b in blocks):
        return "plain", "", "delivered or relayed: nothing failed", ""
    return "unparseable", "", "a delivery report without a per-recipient status", ""


def _reported_tokens(
    message: email.message.Message, ours: frozenset[Mailbox], mail_from: list[str]
) -> tuple[list[str], str]:
    """Tokens in the report's Original-Mail-From (`mail_from`), the reported message's
    Return-Path and List-Unsubscribe, and its claimed recipient (for the log only)."""
    part = _find(message, "message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
    if part is None:
        return _tokens(mail_from, ours), ""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
        original = payload[0]
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
        original = email.message_from_string(text)
    values = mail_from + _header(original, "return-path")
    values += [m for v in _header(original, "list-unsubscribe") for m in _MAILTO.findall(v)]
    return _tokens(values, ours), _clean(_header(original, "to"))


def _complaint(
    message: email.message.Message, ours: frozenset[Mailbox]
) -> tuple[Kind, str, str, str, list[str]]:
    part = _find(message, "message/feedback-report")
    blocks = _blocks(part) if part is not None else []
    fields = blocks[0] if blocks else email.message.Message()
    kind = _clean(fields.get("Feedback-Type")).lower()
    if not kind:
        return "unparseable", "", "a feedback report without a Feedback-Type", "", []
    reported, claimed = _reported_tokens(message, ours, _header(fields, "original-mail-from"))
    agent = _clean(fields.get("User-Agent"))
    reason = f"{kind} report" + (f" from {agent}" if agent else "")
    claimed = claimed or _clean(fields.get("Original-Rcpt-To"))
    return ("complaint" if kind in COMPLAINTS else "plain"), kind, reason, claimed, reported


def _jmrp(message: email.message.Message, ours: frozenset[Mailbox]) -> Returned:
    reported, claimed = _reported_tokens(message, ours, [])
    return Returned("complaint", (), tuple(reported), "abuse", "abuse report from Microsoft JMRP",
                    claimed, _clean(message.get("Message-ID")))  # fmt: skip


def parse(data: bytes, ours: Iterable[Mailbox]) -> Returned:
    """Classify one returned message. `ours`: the (local, domain) pairs of our bounce and
    unsubscribe addresses, whose `+token` names a subscriber."""
    owned = frozenset((local.lower(), domain.lower()) for local, domain in ours)
    try:
        message = email.message_from_bytes(data)
        tokens = _recipient_tokens(message, owned)
        message_id = _clean(message.get("Message-ID"))
        report = _kind_of_report(message)
        if report == "jmrp":
            return _jmrp(message, owned)
        if report == "delivery-status":
            kind, status, reason, claimed = _dsn(message)
            return Returned(kind, tuple(tokens), (), status, reason, claimed, message_id)
        if report == "feedback-report":
            kind, status, reason, claimed, reported = _complaint(message, owned)
            return Returned(kind, tuple(tokens), tuple(reported), status, reason, claimed,
                            message_id)  # fmt: skip
        subject = _clean(message.get("Subject"))
    except Exception as exc:  # hostile input: whatever breaks the parser
        return Returned("unparseable", reason=_clean(f"cannot parse: {exc!r}"))
    return Returned("plain", tuple(tokens), (), "", subject, "", message_id)
