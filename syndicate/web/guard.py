"""The web side's guards, as ASGI middleware and small checks: a request body limit (Starlette
sets none), headers every answer carries, an access log that never holds a full token, and the
Origin/Referer check for form posts.

Knows nothing of subscribers, tokens' meaning or pages; holds no state between requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("syndicate")
MAX_BODY = 16 * 1024  # a sign-up form is a few hundred bytes
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]


class _TooLarge(Exception):
    pass


def _status_page(status: int, text: str) -> list[Message]:
    body = text.encode()
    return [
        {"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        ]},
        {"type": "http.response.body", "body": body},
    ]  # fmt: skip


class Guard:
    """Refuses a request body over `limit` bytes with 413 (declared or as it streams in), adds
    `COMMON_HEADERS` to every answer and logs one line per request (path, never the query)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, begun = False, 0, time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [*message.get("headers", []), *COMMON_HEADERS]
            await send(message)

        received = 0

        async def receiving() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            declared = Headers(scope=scope).get("content-length", "0")
            if not declared.isdigit() or int(declared) > self.limit:
                raise _TooLarge
            await self.app(scope, receiving, sending)
        except _TooLarge:
            if started:
                raise
            for message in _status_page(413, f"Request body over {self.limit} bytes: refused.\n"):
                await sending(message)
        log.info(
            "event=http method=%s path=%s status=%d ms=%.1f", scope["method"], scope["path"],
            status, (time.perf_counter() - begun) * 1000,
        )  # fmt: skip


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(headers: Headers, allowed: Iterable[str]) -> bool:
    """Whether a form post comes from one of our own pages: its Origin (or, when a browser
    sends none, its Referer) must be one of `allowed`. A post with neither is let through: it
    comes from no web page (curl, a mail client), so no other site can have made it."""
    allowed = set(allowed)
    origin = headers.get("origin")
    if origin is not None:
        return origin.lower() in allowed
    referer = headers.get("referer")
    return referer is None or origin_of(referer) in allowed
