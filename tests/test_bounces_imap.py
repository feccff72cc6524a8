"""`syndicate bounces` against a real Dovecot on 127.0.0.1 (IMAP over TLS with a certificate
from a test CA, a passwd-file user; tests/mailservers.py starts and stops it): each message is
read with a partial fetch, processed once and marked `\\Seen` (and `\\Flagged` when it is left
for the operator); a certificate we cannot verify or a refused login is a clear error."""

from __future__ import annotations

import imaplib
import json
import re
import ssl
from pathlib import Path

import pytest

from . import returned_samples as samples
from .conftest import NOW, run_cli
from .mailservers import Dovecot, dovecot
from .test_bounces import READERS, Site, bounce_site


@pytest.fixture
def server() -> object:
    with dovecot() as running:
        yield running


def _connect(server: Dovecot) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    conn = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context, timeout=30)
    conn.login(server.user, server.password)
    return conn


def _append(server: Dovecot, *messages: bytes) -> None:
    conn = _connect(server)
    try:
        for message in messages:
            assert conn.append("INBOX", None, None, message)[0] == "OK"
    finally:
        conn.logout()


def _flags(server: Dovecot) -> list[set[str]]:
    conn = _connect(server)
    try:
        conn.select("INBOX", readonly=True)
        _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    finally:
        conn.logout()
    return [set(re.findall(rb"\\\w+", line)) for line in data if isinstance(line, bytes)]  # type: ignore[misc]


def _use_imap(site: Site, server: Dovecot, ca_file: str | None) -> None:
    config = site.folder / "config.toml"
    url = f"imaps://{server.user}@127.0.0.1:{server.port}/INBOX"
    lines = f"imap = {json.dumps(url)}\n"
    lines += f"ca_file = {json.dumps(ca_file)}\n" if ca_file else ""
    text = re.sub(r"(?m)^(maildir|imap|ca_file) = .*\n", "", config.read_text())
    assert text.rstrip().endswith("max_size = 65536")  # [bounces] is the last table
    config.write_text(text + lines)


def _bounces(site: Site, password: str) -> tuple[int, str, str]:
    result = run_cli(["bounces", "--now", NOW.isoformat()], site.folder,
                     {"SYNDICATE_IMAP_PASSWORD": password})  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_imap_mailbox_is_read_once_and_marked(
    sample: Path, tmp_path: Path, server: Dovecot
) -> None:
    site = bounce_site(sample, tmp_path)
    _use_imap(site, server, str(server.ca_file))
    huge_dsn = samples.postfix_dsn(site.verp(READERS[3]), READERS[3]).replace(
        b"Subject: The Astana Times digest", b"Subject: x\r\n" + b"X-Pad: " + b"y" * 900 * 2500
    )
    _append(
        server,
        samples.postfix_dsn(site.verp(READERS[0]), READERS[0], original=READERS[2]),
        samples.rfc5965_arf("fbl@example.org", site.verp(READERS[1]), "x", "mailto:a@b.c"),
        samples.vacation_reply(site.verp(READERS[2]), READERS[2]),
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nnot a report\r\n",
        huge_dsn,
    )
    code, out, err = _bounces(site, server.password)
    assert code == 1 and "5 returned messages read" in out, (out, err)
    assert "left for the operator" in err and "UID=4" in err
    assert site.statuses() == {"reader@example.org": "active", READERS[0]: "bounced",
                               READERS[1]: "complained", READERS[2]: "active",
                               READERS[3]: "bounced"}  # fmt: skip
    flags = _flags(server)
    assert all(b"\\Seen" in f for f in flags) and len(flags) == 5
    assert [b"\\Flagged" in f for f in flags] == [False, False, False, True, False]
    _append(
        server, samples.apple_mail_unsubscribe("someone@icloud.example", site.mailto(READERS[2]))
    )
    code, out, err = _bounces(site, server.password)
    assert code == 0 and "1 returned messages read (1 unsubscribe)" in out, (out, err)
    assert site.statuses()[READERS[2]] == "unsubscribed"
    code, out, _ = _bounces(site, server.password)
    assert code == 0 and "0 returned messages read" in out


def test_imap_errors_name_what_to_fix(sample: Path, tmp_path: Path, server: Dovecot) -> None:
    site = bounce_site(sample, tmp_path)
    _append(server, samples.postfix_dsn(site.verp(READERS[0]), READERS[0]))
    _use_imap(site, server, None)
    code, _, err = _bounces(site, server.password)
    assert code == 1 and "cannot verify the TLS certificate" in err and "[bounces] ca_file" in err
    _use_imap(site, server, str(server.ca_file))
    code, _, err = _bounces(site, "wrong password")
    assert code == 1 and "refused the login" in err and "password" in err
    assert site.statuses()[READERS[0]] == "active"  # nothing read, nothing changed
    code, _, _ = _bounces(site, server.password)
    assert code == 0 and site.statuses()[READERS[0]] == "bounced"
