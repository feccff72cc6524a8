"""What many config tables share: the pydantic settings of a table, the address and URL
checks, and the `Secret` type of the keys filled in from outside (a value written in the file
is refused). Reads nothing: no disk, no environment."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, ConfigDict
from pydantic import StrictStr as Str

from syndicate.errors import ConfigError

# Every table: unknown keys are errors; no number is infinite or NaN.
TABLE = ConfigDict(extra="forbid", allow_inf_nan=False)


def normalise_email(address: str, key: str = "email") -> str:
    """Validate an address (syntax only, no DNS) and return its normalised ASCII form."""
    try:  # SMTPUTF8 (a non-ASCII local part) is refused: not every server can deliver it
        info = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"{address!r} is not a valid email address: {exc}", key=key) from None
    return str(info.ascii_email or info.normalized)  # an internationalised domain as punycode


def valid_address(value: str) -> str:
    """The check of a key holding an address: `normalise_email`'s verdict as a ValueError."""
    try:
        return normalise_email(value)
    except ConfigError as exc:
        raise ValueError(exc.message) from None


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError(f"must be an absolute http(s) URL, not {value!r}")
    return value


def _base_url(value: str) -> str:
    """A URL pages are joined to: absolute, and ending with `/`."""
    if not _http_url(value or "/").endswith("/"):
        raise ValueError(f"must end with '/', as in {value + '/'!r}")
    return value


def _from_outside(value: object) -> object:
    raise ValueError("secrets never go in the config file: use its `_env` or `_file` key")


Url = Annotated[Str, AfterValidator(_http_url)]
BaseUrl = Annotated[Str, AfterValidator(_base_url)]
Secret = Annotated[Str | None, AfterValidator(_from_outside)]
