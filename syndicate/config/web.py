"""The `[web]` table of `config.toml`: what `syndicate serve` listens on and how it treats
its clients, each key with its type, default, range and check beside it. Reads nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic import StrictBool as Bool
from pydantic import StrictFloat as Float
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from syndicate.config.fields import TABLE, BaseUrl


def check_listen(value: str) -> str:
    """`HOST:PORT`, with the port in 1..65535."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, as in '127.0.0.1:8080', not {value!r}")
    return value


@dataclass(frozen=True)
class WebConfig:
    """`syndicate serve`: the reader's side on the web."""

    __pydantic_config__ = TABLE
    url: BaseUrl = ""  # public base URL of subscribe, confirm, unsubscribe; default: site.url
    listen: Annotated[Str, AfterValidator(check_listen)] = "127.0.0.1:8080"
    static: Bool = True  # also serve the output folder (behind nginx: false)
    confirm_days: Annotated[Float, Field(ge=0.01, le=365)] = 7  # how long a link works
    # the most confirmation messages one address gets a day
    confirmations_per_day: Annotated[Int, Field(ge=1, le=100)] = 3
    # the most sign-ups one client address (IPv6: its /64) makes an hour
    signups_per_hour: Annotated[Int, Field(ge=1, le=100_000)] = 20
    trusted_proxies: tuple[Str, ...] = ("127.0.0.1", "::1")  # whose X-Forwarded-For counts

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
