"""DKIM: messages written by the real pipeline are signed with `[email] dkim_key` and verify
with dkimpy against the test's own public key (no DNS)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syndicate import pipeline
from syndicate.config import load_config
from syndicate.errors import ConfigError

from .conftest import NOW, SECRET


def _keys(folder: Path) -> bytes:
    """Write a fresh RSA key as dkim.pem; return the DNS TXT record of its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "dkim.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _configure(site: Path, extra: str) -> None:
    config = site / "config.toml"
    config.write_text(
        config.read_text().replace('delivery = "file"', f'delivery = "file"\n{extra}')
    )


def test_messages_are_signed_and_verify(sample: Path) -> None:
    record = _keys(sample)
    _configure(sample, 'dkim_key = "dkim.pem"\ndkim_selector = "news2026"')
    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": SECRET})
    assert pipeline.run_once(config, NOW).sent == 1
    eml = (sample / "outbox" / "2026-11-28" / "reader@example.org.eml").read_bytes()
    assert eml.startswith(b"DKIM-Signature:") and b"d=example.org" in eml and b"s=news2026" in eml
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    assert dkim.verify(eml, dnsfunc=dns)
    assert asked == [b"news2026._domainkey.example.org."]
    tampered = eml.replace(b"Subject: The Astana Times", b"Subject: The Astana Timez")
    assert not dkim.verify(tampered, dnsfunc=dns)


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
    with pytest.raises(ConfigError, match=r"email\.dkim_key"):
        pipeline.send(config, NOW)
