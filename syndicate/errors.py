"""The one error root and its children.

Every failure syndicate reports on purpose is a `SyndicateError`; anything else is a bug.
This module must not import anything from syndicate.
"""

from __future__ import annotations

from collections.abc import Sequence


class SyndicateError(Exception):
    """Root of every error syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """The configuration file is missing, malformed, or has a bad key or value.

    One error names one problem (`path: key: message`); `ConfigError.of` joins every problem
    of a file into one error, one problem a line, so a user fixes them all in one go."""

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None) -> None:
        self.key = key
        self.path = path
        self.message = message
        self.problems: tuple[ConfigError, ...] = (self,)
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)

    @classmethod
    def of(cls, problems: Sequence[ConfigError]) -> ConfigError:
        """One error for several problems (at least one): the first names `key` and `path`."""
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        error = cls("\n".join(str(p) for p in problems))  # each line already names its place
        error.key, error.path, error.problems = first.key, first.path, tuple(problems)
        return error


class ArticleError(SyndicateError):
    """An article file cannot be published; it is skipped and reported as `path:line: reason`."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


class StoreError(SyndicateError):
    """The state database cannot be opened, migrated or written."""


class PassStopped(SyndicateError):
    """A pass stopped on an error after it had changed something (articles picked up, a digest
    frozen, files written): that stays done, so this is "done, but some items failed" (exit 1),
    never "nothing done". The error that stopped it is the `__cause__`."""

    def __init__(self, done: list[str], cause: SyndicateError) -> None:
        self.done = tuple(done)
        super().__init__(f"{', '.join(done)}, then the run stopped: {cause}")


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
