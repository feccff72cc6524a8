"""Deliver: put bytes where they belong, as told; nothing here renders or decides.

`publishing`: make the output folder hold exactly the rendered files (atomic, unchanged files
left alone, files of an earlier publish removed, the manifest in `manifest`); `atomic`: one
file written atomically; `folder`: folders opened without following symlinks; `lock`: the run
lock; `senders`: the `Sender` protocol and the `.eml` sender; `smtp` sends over SMTP and
`pace` spaces sends out to a rate; `engine` (with `leases` and the `ledger` protocol) sends a
digest's messages exactly once each. This module only names the package's public parts;
not `smtp.SmtpSender`, imported where a connection is made, so that a pass that mails nobody
never loads smtplib and ssl.
"""

from __future__ import annotations

from syndicate.deliver.atomic import write_atomic
from syndicate.deliver.lock import run_lock
from syndicate.deliver.manifest import MANIFEST, Manifest
from syndicate.deliver.pace import Pacer
from syndicate.deliver.publishing import WriteResult, publish
from syndicate.deliver.recorded import (
    BACKUP,
    JOURNAL,
    PENDING,
    STAMP,
    load_manifest,
    present,
    publishes_in_part,
    read_manifest,
    read_stamp,
)
from syndicate.deliver.senders import FileSender, Sender

__all__ = [
    "BACKUP", "JOURNAL", "MANIFEST", "PENDING", "STAMP", "FileSender", "Manifest", "Pacer",
    "Sender", "WriteResult", "load_manifest", "present", "publish",
    "publishes_in_part", "read_manifest", "read_stamp", "run_lock", "write_atomic",
]  # fmt: skip
