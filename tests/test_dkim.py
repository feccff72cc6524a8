"""DKIM in the real pipeline: messages are signed with `[email] dkim_key` (RSA) and, as an
option, `dkim_ed25519_key` (RFC 8463), and every signature verifies with dkimpy (key from the
test's records) and with OpenDKIM (key from a test zone file); the key settings are checked
with errors that name them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syndicate import pipeline
from syndicate.config import load_config
from syndicate.errors import ConfigError

from . import dkimcheck
from .conftest import NOW, SECRET


def _configure(site: Path, extra: str) -> None:
    config = site / "config.toml"
    config.write_text(
        config.read_text().replace('delivery = "file"', f'delivery = "file"\n{extra}')
    )


def _sent(site: Path) -> bytes:
    config = load_config(site / "config.toml", {"SYNDICATE_SECRET": SECRET})
    assert pipeline.run_once(config, NOW).sent == 1
    return (site / "outbox" / "2026-11-28" / "reader@example.org.eml").read_bytes()


def _refused(site: Path, reason: str) -> None:
    """The run publishes, then sends nothing, saying why; so does a later `send`."""
    config = load_config(site / "config.toml", {"SYNDICATE_SECRET": SECRET})
    report = pipeline.run_once(config, NOW)
    assert report.sent == 0 and not report.ok and re.search(reason, report.undelivered)
    with pytest.raises(ConfigError, match=reason):
        pipeline.send(config, NOW)


RSA_CONFIG = 'dkim_key = "dkim.pem"\ndkim_selector = "rsa2026"'
ED_CONFIG = 'dkim_ed25519_key = "ed.pem"\ndkim_ed25519_selector = "ed2026"'


@pytest.mark.parametrize(
    ("settings", "algorithms"),
    [
        ([RSA_CONFIG], [b"rsa-sha256"]),
        ([ED_CONFIG], [b"ed25519-sha256"]),
        ([RSA_CONFIG, ED_CONFIG], [b"rsa-sha256", b"ed25519-sha256"]),
    ],
)
def test_messages_are_signed_and_every_signature_verifies(
    sample: Path, tmp_path: Path, settings: list[str], algorithms: list[bytes]
) -> None:
    rsa, ed = dkimcheck.rsa_key("rsa2026"), dkimcheck.ed25519_key("ed2026")
    dkimcheck.write_key(sample, rsa, "dkim.pem")
    dkimcheck.write_key(sample, ed, "ed.pem")
    _configure(sample, "\n".join(settings))
    eml = _sent(sample)
    found = dkimcheck.signatures(eml)
    assert eml.startswith(b"DKIM-Signature:") and len(found) == len(algorithms)
    for header, algorithm in zip(found, algorithms, strict=True):
        assert b"a=" + algorithm + b";" in header and b"d=example.org;" in header
        assert b"c=relaxed/relaxed;" in header
    assert dkimcheck.dkimpy_verify(eml, [rsa, ed]) == [True] * len(algorithms)
    zone = dkimcheck.zone_file(tmp_path, [rsa, ed])
    for done in dkimcheck.opendkim_verify(eml, zone):
        assert done.returncode == 0, done.stderr.decode()
    tampered = eml.replace(b"Subject: The Astana Times", b"Subject: The Astana Timez")
    assert tampered != eml
    assert dkimcheck.dkimpy_verify(tampered, [rsa, ed]) == [False] * len(algorithms)
    for done in dkimcheck.opendkim_verify(tampered, zone):
        assert done.returncode != 0 and b"Bad signature" in done.stderr, done.stderr


def test_dkim_key_needs_a_selector_and_a_readable_key(sample: Path) -> None:
    _configure(sample, 'dkim_key = "missing.pem"')
    with pytest.raises(ConfigError, match=r"email\.dkim_selector"):
        load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
    _configure(sample, 'dkim_selector = "s1"')
    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
    report = pipeline.run_once(config, NOW)  # publishes, then cannot sign: sends nothing
    assert report.digest_id and report.sent == 0 and not report.ok
    assert re.search(r"email.dkim_key.*missing.pem", report.undelivered)
    (sample / "missing.pem").write_text("not a key")
    (sample / "missing.pem").chmod(0o600)
    with pytest.raises(ConfigError, match=r"email\.dkim_key.*not a PEM private key"):
        pipeline.send(config, NOW)


def test_a_key_others_may_read_is_refused(sample: Path) -> None:
    """A private key is a secret: like `secret_file`, group and others may not read it."""
    dkimcheck.write_key(sample, dkimcheck.ed25519_key(), "ed.pem").chmod(0o644)
    _configure(sample, ED_CONFIG)
    _refused(sample, r"email\.dkim_ed25519_key.*can be read or written by other users.*chmod 600")


def test_a_key_of_the_wrong_kind_is_named(sample: Path) -> None:
    dkimcheck.write_key(sample, dkimcheck.ed25519_key(), "dkim.pem")  # Ed25519 in the RSA slot
    _configure(sample, RSA_CONFIG)
    _refused(
        sample, r"email\.dkim_key.*not an RSA key: an Ed25519 key goes in email\.dkim_ed25519_key"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('dkim_ed25519_key = "ed.pem"', r"email\.dkim_ed25519_selector.*required"),
        (RSA_CONFIG + '\ndkim_ed25519_key = "ed.pem"\ndkim_ed25519_selector = "rsa2026"',
         r"email\.dkim_ed25519_selector.*must differ from email\.dkim_selector"),
    ],
)  # fmt: skip
def test_ed25519_settings_are_checked(sample: Path, extra: str, message: str) -> None:
    _configure(sample, extra)
    with pytest.raises(ConfigError, match=message):
        load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
