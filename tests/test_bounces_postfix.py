"""Returned mail end to end through a real Postfix on 127.0.0.1 (tests/mailservers.py).

syndicate sends a digest through Postfix to two readers of a local domain, one of whom does
not exist; Postfix accepts both, then bounces the second itself (an RFC 3464 DSN to the VERP
envelope sender) into the bounce address's Maildir. `syndicate bounces` marks exactly that
reader bounced, and the next digest skips the address.
"""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from pathlib import Path

from .conftest import edit_config, run_cli, use_smtp
from .mailservers import LISTS_DOMAIN, READERS_DOMAIN, postfix, wait_for_mail

ALICE, BOB = f"alice@{READERS_DOMAIN}", f"bob@{READERS_DOMAIN}"  # bob has no mailbox
DAY1, DAY2 = "2026-11-28T12:00:00+00:00", "2026-11-29T12:00:00+00:00"


def _bounce_config(site: Path, maildir: Path) -> None:
    edit_config(site, '[[subscribers]]\nemail = "reader@example.org"\nname = "A Reader"\n', "")
    config = site / "config.toml"
    config.write_text(
        config.read_text()
        + f'\n[bounces]\naddress = "bounces@{LISTS_DOMAIN}"\nmaildir = {json.dumps(str(maildir))}\n'
    )


def _deliveries(site: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(site / "state" / "syndicate.db") as db:
        return db.execute(
            "SELECT digest_id, email, status FROM deliveries ORDER BY 1, 2"
        ).fetchall()


def _check(result: object) -> None:
    assert getattr(result, "returncode", 1) == 0, (result.stdout, result.stderr)  # type: ignore[attr-defined]


def test_postfix_bounces_an_unknown_reader_and_the_next_digest_skips_it(sample: Path) -> None:
    with postfix(readers=["alice"], lists_users=["bounces"]) as relay:
        bounces = relay.maildir(LISTS_DOMAIN, "bounces")
        use_smtp(sample, relay.port, max_connections=1)
        _bounce_config(sample, bounces)
        for reader in (ALICE, BOB):
            _check(run_cli(["subscribers", "add", reader], sample))
        first = run_cli(["digest", "--now", DAY1], sample)
        assert first.returncode == 0, first.stderr
        assert "2 sent" in first.stdout
        returned = wait_for_mail(bounces, 1)
        delivered = wait_for_mail(relay.maildir(READERS_DOMAIN, "alice"), 1)
        assert len(returned) == 1 and len(delivered) == 1, relay.log()

        # what alice received: a VERP envelope sender and a mailto token, neither naming her
        message = email.message_from_bytes(delivered[0].read_bytes(), policy=email.policy.SMTP)
        return_path = str(message["Return-Path"]).strip("<>")
        local, _, domain = return_path.partition("@")
        assert domain == LISTS_DOMAIN and local.startswith("bounces+v"), return_path
        unsubscribe = str(message["List-Unsubscribe"])
        mailto = unsubscribe.rpartition("<mailto:")[2].rstrip(">")
        assert mailto.startswith("bounces+u") and mailto.endswith(
            f"@{LISTS_DOMAIN}?subject=unsubscribe"
        )
        assert "alice" not in (return_path + mailto).lower()

        # the DSN Postfix wrote is an RFC 3464 report naming bob, sent to the VERP address
        dsn = returned[0].read_bytes()
        assert b"report-type=delivery-status" in dsn and b"Status: 5.1.1" in dsn
        assert f"To: {return_path}".encode() not in dsn  # each recipient has its own VERP id
        assert b"To: bounces+v" in dsn

        read = run_cli(["-v", "bounces", "--now", DAY1], sample)
        assert read.returncode == 0, read.stderr
        assert "1 returned messages read (1 hard)" in read.stdout and "1 bounced" in read.stdout
        assert not list((bounces / "new").iterdir())  # moved out of the way: cur/ with S
        assert [p.name.rpartition(":2,")[2] for p in (bounces / "cur").iterdir()] == ["S"]

        listed = run_cli(["subscribers", "list"], sample).stdout.splitlines()
        rows = {line.split("\t")[0]: line.split("\t") for line in listed if "\t" in line}
        assert rows[ALICE][2:] == ["active", "", ""]
        assert rows[BOB][2] == "bounced" and rows[BOB][3].startswith("hard: ")
        assert "unknown user" in rows[BOB][3] and rows[BOB][4] == "2026-11-28"
        status = run_cli(["status"], sample).stdout
        assert (
            "subscribers_bounced: 1" in status and "soft bounces in the last 30 days: 0" in status
        )

        again = run_cli(["bounces", "--now", DAY2], sample)  # a rerun counts nothing twice
        assert again.returncode == 0 and "0 returned messages read" in again.stdout

        # the next digest goes to alice only
        (sample / "articles" / "zz-new.txt").write_text(
            "A new story for the second digest\n\nIt has a paragraph of its own, long enough to be "
            "a real article in the sample publication.\n"
        )
        second = run_cli(["digest", "--now", DAY2], sample)
        assert second.returncode == 0, second.stderr
        assert "1 sent" in second.stdout
        digests = sorted({d for d, _, _ in _deliveries(sample)})
        assert len(digests) == 2
        assert [(e, s) for d, e, s in _deliveries(sample) if d == digests[1]] == [(ALICE, "sent")]
        assert len(wait_for_mail(relay.maildir(READERS_DOMAIN, "alice"), 2)) == 2
