"""The frozen context of one pass: what every step of a run or a send shares (the config, the
store, `now`, the wall clock, the progress callback) and the keys, resolved once per pass.

Holds values only: it decides nothing and never reads the clock (`now` and `clock` come in).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syndicate.config import Config
from syndicate.models import Progress, no_progress
from syndicate.pipeline.keys import Keys, resolve
from syndicate.store import Store

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Pass:
    """One pass's fixed inputs. `now` stamps the state; `clock` tells wall-clock time for leases
    (default: always `now`)."""

    config: Config
    store: Store
    now: datetime
    clock: Clock
    progress: Progress = no_progress

    @staticmethod
    def start(
        config: Config,
        store: Store,
        now: datetime,
        clock: Clock | None = None,
        progress: Progress = no_progress,
    ) -> Pass:
        return Pass(config, store, now, clock or (lambda: now), progress)

    @functools.cached_property
    def keys(self) -> Keys:
        """The signing and DKIM keys, resolved at the first use in this pass (a pass with
        nothing to send never needs them); a ConfigError when one is missing or unreadable."""
        return resolve(self.config, self.store)
