"""Real mail servers for the returned-mail tests, each a private instance started and stopped
by the test: Postfix on 127.0.0.1 (its own config_directory, queue_directory and port, run
with `postfix -c DIR start`) and Dovecot IMAP over TLS (`dovecot -c FILE`, a passwd-file user,
a certificate from a test CA made with the `cryptography` package).

Postfix here is the relay a publication sends through: `readers.example` is a virtual mailbox
domain in which only the listed readers exist; a message to any other reader is accepted at
RCPT time and then bounced by Postfix's own virtual(8) agent, so Postfix itself writes the
RFC 3464 notification and delivers it to the envelope sender, `bounces+<VERP id>@lists.example`,
which (recipient_delimiter = +) lands in the `bounces` Maildir.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ports import free_port

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists()
                                      else None)  # fmt: skip
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                      else None)  # fmt: skip
READERS_DOMAIN, LISTS_DOMAIN = "readers.example", "lists.example"


def need(binary: str | None, name: str, package: str) -> str:
    if binary is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}; .ci/run does)")
    return binary  # a private instance needs root (it switches to its own users), as in CI


@dataclass
class Postfix:
    port: int
    config_dir: Path
    mail_root: Path  # virtual_mailbox_base: <domain>/<user>/ Maildirs

    def maildir(self, domain: str, user: str) -> Path:
        return self.mail_root / domain / user

    def log(self) -> str:
        path = self.config_dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"


def _master_cf(port: int) -> str:
    """The system's master.cf without chroot (a chroot needs files copied into the queue),
    with smtpd listening on 127.0.0.1:port instead of port 25."""
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line[:1] in ("#", " ", "\t") or len(fields) < 8:
            lines.append(line)
            continue
        if fields[0] == "smtp" and fields[1] == "inet":
            fields[0] = f"127.0.0.1:{port}"
        fields[4] = "n"
        lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def postfix(readers: list[str], lists_users: list[str]) -> Iterator[Postfix]:
    """A private Postfix: `readers` exist in readers.example, `lists_users` (e.g. bounces)
    in lists.example; every mailbox is a Maildir under a fresh folder."""
    binary = need(POSTFIX, "postfix", "postfix")
    root = Path(tempfile.mkdtemp(prefix="syndicate-postfix-"))
    root.chmod(0o755)
    conf, mail = root / "etc", root / "mail"
    conf.mkdir()
    mail.mkdir(mode=0o777)
    mail.chmod(0o777)
    (root / "queue").mkdir(mode=0o755)
    (root / "data").mkdir(mode=0o700)
    shutil.chown(root / "data", "postfix", "postfix")
    port = free_port()
    mailboxes = [f"{r}@{READERS_DOMAIN} {READERS_DOMAIN}/{r}/" for r in readers]
    mailboxes += [f"{u}@{LISTS_DOMAIN} {LISTS_DOMAIN}/{u}/" for u in lists_users]
    (conf / "vmailbox").write_text("\n".join(mailboxes) + "\n")
    nobody = 65534
    settings = {
        "compatibility_level": "3.6",
        "queue_directory": str(root / "queue"),
        "data_directory": str(root / "data"),
        "myhostname": "relay.lists.example",
        "mydestination": "",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        "recipient_delimiter": "+",
        "virtual_mailbox_domains": f"{READERS_DOMAIN} {LISTS_DOMAIN}",
        "virtual_mailbox_maps": f"texthash:{conf / 'vmailbox'}",
        "virtual_mailbox_base": str(mail),
        "virtual_minimum_uid": str(nobody),
        "virtual_uid_maps": f"static:{nobody}",
        "virtual_gid_maps": f"static:{nobody}",
        # accept every recipient at RCPT time, as a relay in front of other servers does: the
        # unknown one is then bounced by the virtual agent, which writes an RFC 3464 DSN
        "smtpd_reject_unlisted_recipient": "no",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        "maillog_file": str(conf / "maillog"),
        "maillog_file_prefixes": str(root),
        "alias_maps": "",
        "alias_database": "",
        "smtputf8_enable": "no",
        "delay_warning_time": "0",
    }
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    (conf / "master.cf").write_text(_master_cf(port))
    # `script` gives postfix a terminal: without one, a fatal error is logged only to syslog
    started = subprocess.run(["script", "-qec", f"{binary} -c {conf} start", "/dev/null"],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    server = Postfix(port, conf, mail)
    try:
        if started.returncode != 0:
            raise RuntimeError(
                f"postfix start failed: {started.stdout} {started.stderr}\n{server.log()}"
            )
        _wait_for_port(port)
        yield server
    finally:
        subprocess.run([binary, "-c", str(conf), "stop"], capture_output=True, timeout=60,
                       check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, seconds: float = 30) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for_mail(maildir: Path, count: int, seconds: float = 120) -> list[Path]:
    """The files in `maildir`/new once there are `count` (a generous bound: a busy machine)."""
    deadline = time.monotonic() + seconds
    while True:
        found = sorted((maildir / "new").glob("*")) if (maildir / "new").is_dir() else []
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@dataclass
class Dovecot:
    port: int
    user: str
    password: str
    ca_file: Path  # the test CA that signed the server's certificate
    root: Path

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


@contextlib.contextmanager
def dovecot(user: str = "bounces", password: str = "imap-test-password") -> Iterator[Dovecot]:
    """A private Dovecot serving IMAP over implicit TLS (imaps) on 127.0.0.1, with one
    passwd-file user whose mail is a Maildir; run in the foreground (`-F`) and stopped after."""
    from .smtp_servers import self_signed

    binary = need(DOVECOT, "dovecot", "dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="syndicate-dovecot-"))
    root.chmod(0o755)
    cert, key = self_signed(root)
    home = root / "home" / user
    home.mkdir(parents=True)
    shutil.chown(home, "nobody", "nogroup")
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}:65534:65534::{home}\n")
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
""")
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    server = Dovecot(port, user, password, cert, root)
    try:
        try:
            _wait_for_port(port)
        except OSError:
            process.kill()
            output = process.communicate()[0]
            raise RuntimeError(f"dovecot did not start: {output}\n{server.log()}") from None
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
