"""The mail tables of `config.toml`: `[email]` (sender, signing secret, DKIM), `[smtp]` (the
server and the sending engine's limits) and `[bounces]` (VERP addresses and the returned-mail
mailbox), each key with its type, default, range and check beside it. Reads nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, model_validator
from pydantic import StrictBool as Bool
from pydantic import StrictFloat as Float
from pydantic import StrictInt as Int
from pydantic import StrictStr as Str

from syndicate.config.fields import TABLE, Secret, valid_address
from syndicate.verp import ID_LENGTH as VERP_ID_LENGTH


def _sender(value: str) -> str:
    """`Name <address>` or a bare address: the address must be valid; the value is kept."""
    valid_address(re.sub(r"^.*<(.*)>\s*$", r"\1", value)) if value else None
    return value


def _with_token(value: str) -> str:
    if value and "{token}" not in value:
        raise ValueError("must contain {token}")
    return value


def _selector(value: str, info: ValidationInfo) -> str:
    """`dkim_selector` or `dkim_ed25519_selector`: needed with its key; two keys, two names."""
    key = str(info.field_name).replace("selector", "key")
    if info.data.get(key) and not value:
        raise ValueError(f"is required when email.{key} is set")
    if key != "dkim_key" and value and value == info.data.get("dkim_selector"):
        raise ValueError("must differ from email.dkim_selector (each key has its own DNS record)")
    return value


def _verp_local(value: str) -> str:
    """An address a token is appended to (`local+token@domain`): its local part must leave
    room for the token within the 64 characters a local part may hold."""
    if value:
        local = valid_address(value).rpartition("@")[0]
        if "+" in local or len(local) + 1 + VERP_ID_LENGTH > 64:
            raise ValueError(
                f"the local part {local!r} must hold no '+' and at most "
                f"{63 - VERP_ID_LENGTH} characters (a token is appended after a '+')"
            )
    return value


def _imaps(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme != "imaps" or not parts.hostname or not parts.username):
        raise ValueError(f"must be imaps://user@host/FOLDER (TLS only), not {value!r}")
    return value


def _reader(value: str, info: ValidationInfo) -> str:
    """`bounces.address`: needed once a mailbox is read (the fields it looks at come first)."""
    reads = info.data.get("maildir") or info.data.get("imap")
    if reads and not (value or info.data.get("unsubscribe_address")):
        raise ValueError("is required to read returned mail")
    return value


@dataclass(frozen=True)
class EmailConfig:
    __pydantic_config__ = TABLE
    sender: Annotated[Str, Field(alias="from"), AfterValidator(_sender)] = ""
    delivery: Literal["file", "smtp"] = "file"
    secret_env: Str = "SYNDICATE_SECRET"  # noqa: S105 (a variable name, not a secret)
    secret_file: Str = ""  # or a file holding the key, readable by its owner only (for cron)
    address: Str = ""
    unsubscribe_url: Annotated[Str, AfterValidator(_with_token)] = ""
    dkim_key: Str = ""  # path of a PEM private key; empty = no DKIM signature
    dkim_selector: Annotated[Str, AfterValidator(_selector), Field(validate_default=True)] = ""
    dkim_domain: Str = ""  # default: the From address's domain
    dkim_ed25519_key: Str = ""  # an Ed25519 key (RFC 8463), signing beside or instead of RSA
    dkim_ed25519_selector: Annotated[
        Str, AfterValidator(_selector), Field(validate_default=True)
    ] = ""
    secret: Secret = field(default=None, repr=False)  # from secret_env or secret_file


@dataclass(frozen=True)
class SmtpConfig:
    __pydantic_config__ = TABLE
    host: Str = "localhost"
    port: Annotated[Int, Field(ge=1, le=65_535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: Str = ""
    password_env: Str = "SYNDICATE_SMTP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: Str = ""  # or a file holding the password, readable by its owner only
    max_connections: Annotated[Int, Field(ge=1, le=100)] = 4
    rate_per_second: Annotated[Float, Field(ge=0, le=100_000)] = 0
    timeout: Annotated[Float, Field(ge=0.1, le=3_600)] = 30  # 0 would make sockets non-blocking
    max_attempts: Annotated[Int, Field(ge=1, le=1_000)] = 5
    retry_after: Annotated[Float, Field(ge=0, le=604_800)] = 300
    # seconds a dead worker's claims stay its own (live ones renew theirs)
    lease: Annotated[Float, Field(ge=1, le=604_800)] = 30
    # messages a connection hands over before their outcomes are committed (a crash resends)
    in_flight: Annotated[Int, Field(ge=1, le=1_000)] = 16
    pipelining: Bool = True  # RFC 2920, where the server offers it
    ca_file: Str = ""
    password: Secret = field(default=None, repr=False)  # from password_env or _file


@dataclass(frozen=True)
class BouncesConfig:
    """Returned mail: VERP addresses, and the mailbox `syndicate bounces` reads."""

    __pydantic_config__ = TABLE
    # Declared before `address`, whose check (required to read) looks at them.
    maildir: Str = ""  # read returned mail from this Maildir, or:
    imap: Annotated[Str, AfterValidator(_imaps)] = ""  # imaps://user@host[:port]/FOLDER
    # the List-Unsubscribe mailto: local+<token>@domain; default: address
    unsubscribe_address: Annotated[Str, AfterValidator(_verp_local)] = ""
    # envelope sender: local+<VERP id>@domain per message; "" = no VERP
    address: Annotated[
        Str, AfterValidator(_verp_local), AfterValidator(_reader), Field(validate_default=True)
    ] = ""
    password_env: Str = "SYNDICATE_IMAP_PASSWORD"  # noqa: S105 (a variable name)
    password_file: Str = ""
    ca_file: Str = ""
    timeout: Annotated[Float, Field(ge=0.1, le=3_600)] = 30
    # this many temporary failures within soft_days mark an address bounced
    soft_limit: Annotated[Int, Field(ge=1, le=1_000)] = 3
    soft_days: Annotated[Float, Field(ge=0.01, le=3_650)] = 30
    # bytes read of one returned message (the rest is ignored)
    max_size: Annotated[Int, Field(ge=1_024, le=100 * 1_048_576)] = 1_048_576
    interval: Annotated[Int, Field(ge=1, le=604_800)] = 300  # seconds between two readings
    password: Secret = field(default=None, repr=False)  # from password_env or _file

    @model_validator(mode="after")
    def _one_mailbox(self) -> BouncesConfig:
        if self.maildir and self.imap:
            raise ValueError("set either bounces.maildir or bounces.imap, not both")
        return self

    @property
    def reads(self) -> bool:
        """Whether a mailbox is configured (`syndicate bounces` has something to read)."""
        return bool(self.maildir or self.imap)
