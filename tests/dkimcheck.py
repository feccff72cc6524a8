"""DKIM test keys and the two verifiers every signature must pass: dkimpy (`dkim.verify`, its
key lookup answered from the test's records, no DNS) and OpenDKIM (`opendkim-testmsg`, run in
private namespaces against a real DNS server serving the test zone file: tests/tools/dkim_dns.py).

A message with two signatures is checked one signature at a time (the other removed), so each
must verify on its own.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

DOMAIN = "example.org"
TOOL = Path(__file__).resolve().parent / "tools" / "dkim_dns.py"
_SIGNATURE = re.compile(rb"DKIM-Signature:.*?\r\n(?![ \t])", re.DOTALL | re.IGNORECASE)


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class TestKey:
    """A private key (PEM) and the TXT record publishing its public half."""

    __test__ = False
    selector: str
    pem: bytes
    record: str

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{DOMAIN}."


def rsa_key(selector: str = "rsa2026", bits: int = 2048) -> TestKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TestKey(selector, _pem(key), "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode())


def ed25519_key(selector: str = "ed2026") -> TestKey:
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return TestKey(
        selector, _pem(key), "v=DKIM1; k=ed25519; p=" + base64.b64encode(public).decode()
    )


def write_key(folder: Path, key: TestKey, name: str) -> Path:
    """The private key as a file only its owner may read (as syndicate requires)."""
    path = folder / name
    path.write_bytes(key.pem)
    path.chmod(0o600)
    return path


def zone_file(folder: Path, keys: list[TestKey]) -> Path:
    """A zone file for example.org holding each key's TXT record (in 255-byte strings)."""
    lines = [
        f"$ORIGIN {DOMAIN}.",
        "$TTL 300",
        f"@ IN SOA ns.{DOMAIN}. hostmaster.{DOMAIN}. 1 3600 600 86400 300",
        f"@ IN NS ns.{DOMAIN}.",
    ]
    for key in keys:
        strings = " ".join(f'"{key.record[i : i + 255]}"' for i in range(0, len(key.record), 255))
        lines.append(f"{key.selector}._domainkey IN TXT {strings}")
    path = folder / "example.org.zone"
    path.write_text("\n".join(lines) + "\n")
    return path


def signatures(message: bytes) -> list[bytes]:
    return _SIGNATURE.findall(message)


def alone(message: bytes, index: int) -> bytes:
    """`message` with only its `index`-th DKIM-Signature left."""
    found = signatures(message)
    for n, header in enumerate(found):
        if n != index:
            message = message.replace(header, b"", 1)
    return message


def dkimpy_verify(message: bytes, keys: list[TestKey]) -> list[bool]:
    """dkimpy's verdict on each signature, its key looked up among `keys` (never in DNS)."""
    records = {key.name.encode(): key.record.encode() for key in keys}

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return records.get(name, b"")

    def one(index: int) -> bool:
        try:
            return bool(dkim.DKIM(message).verify(idx=index, dnsfunc=lookup))
        except dkim.DKIMException:  # a body hash mismatch is raised, not returned
            return False

    return [one(n) for n in range(len(signatures(message)))]


def _opendkim_command() -> list[str]:
    if shutil.which("opendkim-testmsg", path=os.environ.get("PATH", "") + ":/usr/sbin") is None:
        pytest.skip("opendkim-testmsg is not installed (Debian: opendkim-tools)")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    private = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", *private, "--mount", "--net", "--fork", sys.executable, str(TOOL)]


def opendkim_verify(message: bytes, zone: Path) -> list[subprocess.CompletedProcess[bytes]]:
    """OpenDKIM's verdict on each signature alone (returncode 0: verified; stderr: why not)."""
    command = [*_opendkim_command(), str(zone)]
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
    results = []
    for n in range(len(signatures(message))):
        done = subprocess.run(
            command, input=alone(message, n), capture_output=True, env=env, timeout=60
        )
        if b"unshare failed" in done.stderr or b"Operation not permitted" in done.stderr:
            pytest.skip(f"cannot make private namespaces here: {done.stderr.decode()[:200]}")
        results.append(done)
    return results
