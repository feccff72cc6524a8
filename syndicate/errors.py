"""The one error root and its children.

Every failure syndicate reports on purpose is a `SyndicateError`; anything else is a bug.
This module must not import anything from syndicate.
"""

from __future__ import annotations


class SyndicateError(Exception):
    """Root of every error syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """The configuration file is missing, malformed, or has a bad key or value."""

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None) -> None:
        self.key = key
        self.path = path
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ArticleError(SyndicateError):
    """An article file cannot be published; it is skipped and reported as `path:line: reason`."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


class StoreError(SyndicateError):
    """The state database cannot be opened, migrated or written."""


class RenderError(SyndicateError):
    """A template is missing or fails to render."""


class DeliveryError(SyndicateError):
    """Output files or mail could not be delivered.

    `permanent` means retrying cannot help (an SMTP 5xx answer): that recipient fails for good;
    `bounce` that the address itself was refused (a hard bounce); `unreachable` that the server
    cannot be used right now (down, dropped us, refused our login): stop sending, retry later.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        bounce: bool = False,
        unreachable: bool = False,
    ) -> None:
        self.permanent = permanent
        self.bounce = bounce
        self.unreachable = unreachable
        super().__init__(message)


class SubscriberError(SyndicateError):
    """A subscriber command cannot do what it was asked (unknown address, forged token)."""


class MailboxError(SyndicateError):
    """The returned-mail mailbox cannot be read or marked (`[bounces] maildir` or `imap`)."""
