"""WebSub publisher pings: tell a hub that feeds changed (`hub.mode=publish`, `hub.url=...`).

One HTTP POST per feed URL, each with a timeout, all within one time budget per run; a
redirect is a failure (never followed), and once the hub does not answer at all the remaining
pings wait for the next run, so a silent hub costs one timeout, not one per feed. This module
only talks to the hub: it never decides which feeds changed, never stores what is pending and
never raises for a hub that is down (the caller keeps failed URLs and retries them).
"""

from __future__ import annotations

import time
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer stays an HTTPError: a publish ping is never re-sent elsewhere as a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(hub: str, feed_url: str, timeout: float) -> None:
    body = urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode("ascii")
    request = urllib.request.Request(  # noqa: S310 (the hub URL is validated as http(s) by config)
        hub,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(65536)


def ping(
    hub: str, feed_urls: Iterable[str], timeout: float, budget: float | None = None
) -> PingResult:
    """POST one publish notification per feed URL, within `budget` seconds in all; collect
    what the hub did not accept (and what was not tried, and why)."""
    accepted: list[str] = []
    failed: dict[str, str] = {}
    deadline = time.monotonic() + (budget if budget is not None else float("inf"))
    down = ""
    for url in feed_urls:
        left = min(timeout, deadline - time.monotonic())
        if down or left <= 0:
            failed[url] = down or "not tried: the run's hub budget ([feeds] hub_budget) is spent"
            continue
        try:
            _post(hub, url, left)
        except urllib.error.HTTPError as exc:
            redirect = " (a redirect: not followed)" if 300 <= exc.code < 400 else ""
            failed[url] = f"hub answered {exc.code} {exc.reason}{redirect}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failed[url] = f"cannot reach the hub: {getattr(exc, 'reason', exc)}"
            down = "not tried: the hub did not answer this run"
        else:
            accepted.append(url)
    return PingResult(tuple(accepted), failed)
