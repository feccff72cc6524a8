"""WebSub publisher pings: tell a hub that feeds changed (`hub.mode=publish`, `hub.url=...`).

One HTTP POST per feed URL, each with a timeout. This module only talks to the hub: it never
decides which feeds changed, never stores what is pending and never raises for a hub that is
down (the caller keeps failed URLs and retries them on the next run).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from syndicate import __version__

USER_AGENT = f"syndicate/{__version__} (WebSub publisher)"


@dataclass(frozen=True)
class PingResult:
    """URLs the hub accepted (a 2xx answer) and, for the others, why not."""

    accepted: tuple[str, ...]
    failed: dict[str, str]


def _post(hub: str, feed_url: str, timeout: float) -> None:
    body = urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode("ascii")
    request = urllib.request.Request(  # noqa: S310 (the hub URL is validated as http(s) by config)
        hub,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        response.read()


def ping(hub: str, feed_urls: Iterable[str], timeout: float) -> PingResult:
    """POST one publish notification per feed URL; collect what the hub did not accept."""
    accepted: list[str] = []
    failed: dict[str, str] = {}
    for url in feed_urls:
        try:
            _post(hub, url, timeout)
        except urllib.error.HTTPError as exc:
            failed[url] = f"hub answered {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failed[url] = f"cannot reach the hub: {getattr(exc, 'reason', exc)}"
        else:
            accepted.append(url)
    return PingResult(tuple(accepted), failed)
