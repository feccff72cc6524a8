"""What the pipeline remembers between runs, each value named and typed: the generation, the
last pick-up's folder key, parser fingerprint and live count, the local signing key and the
WebSub pings still pending. A mixin of `Store`; the meta table's keys never leave this module.

A value that does not read back as its type (a damaged row) reads as unset, so the pipeline
recomputes it; nothing here decides what the values mean.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from syndicate.store.base import StoreBase

_GENERATION = "generation"
_FOLDER = "folder"
_PARSER = "parser"
_LIVE = "live"
_LOCAL_SECRET = "local_secret"  # noqa: S105 (a key name, not a secret)
_PENDING_PINGS = "websub.pending"


class Meta(StoreBase):
    """Typed accessors over the meta table."""

    def generation(self) -> int:
        """A counter that every change to what the output folder shows moves on (articles
        applied, a digest frozen): an unchanged generation means nothing to render."""
        return int(self.get_meta(_GENERATION) or 0)

    def folder_key(self) -> str | None:
        """The key of the articles folder at the last clean pick-up ("" after problems)."""
        return self.get_meta(_FOLDER)

    def set_folder_key(self, key: str) -> None:
        self.set_meta(_FOLDER, key)

    def parser_fingerprint(self) -> str | None:
        """The parser settings the stored file stats were read with."""
        return self.get_meta(_PARSER)

    def set_parser_fingerprint(self, fingerprint: str) -> None:
        self.set_meta(_PARSER, fingerprint)

    def last_live_count(self) -> int | None:
        """How many articles were published after the last pick-up that read files, kept so
        an unchanged folder needs no count (`count_live` counts them afresh)."""
        value = self.get_meta(_LIVE)
        return int(value) if value is not None and value.isascii() and value.isdigit() else None

    def set_last_live_count(self, count: int) -> None:
        self.set_meta(_LIVE, str(count))

    def local_secret(self) -> str | None:
        """The random key that signs unsubscribe links when no key is configured (file
        delivery only), or None before the first one is made."""
        return self.get_meta(_LOCAL_SECRET)

    def set_local_secret(self, secret: str) -> None:
        self.set_meta(_LOCAL_SECRET, secret)

    def pending_pings(self) -> list[str]:
        """Feed URLs whose WebSub ping the hub has not accepted yet."""
        try:
            urls = json.loads(self.get_meta(_PENDING_PINGS) or "[]")
        except ValueError:
            return []
        return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []

    def set_pending_pings(self, urls: Iterable[str]) -> None:
        self.set_meta(_PENDING_PINGS, json.dumps(list(urls)))
