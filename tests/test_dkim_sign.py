"""DKIM signing from the digest skeleton (render.dkim, render.canon): every signature, RSA and
Ed25519, alone and both, verifies with dkimpy and with OpenDKIM against a test zone file; the
body hash equals dkimpy's own signer's for the same message; a changed message fails."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from syndicate.errors import ConfigError
from syndicate.models import Delivery
from syndicate.render import canon
from syndicate.render.common import make_environment
from syndicate.render.digest import render_digest
from syndicate.render.dkim import DkimKey, Signer
from syndicate.render.message import Skeleton, build_notice

from . import dkimcheck
from .dkimcheck import DOMAIN, dkimpy_verify, opendkim_verify
from .factories import TEMPLATES, make_entry, make_site

SENDER = "The Gazette <news@example.org>"
SITE = make_site(address="Gazette Ltd, Helsinki")
LONG = "A line that goes on " * 60  # one paragraph far past 998 characters
DIGEST = render_digest(
    make_environment(TEMPLATES),
    SITE,
    [
        make_entry(
            3,
            title="Ääkköset, ☃ and 日本語 in a subject " + "long " * 20,
            body_text=f"Tabs\there,  double  spaces   and trailing   \n\n{LONG}",
            body_html=f"<p>Tabs\there,  double  spaces</p>\n<pre>  kept   </pre><p>{LONG}</p>",
        ),
        make_entry(2),
        make_entry(1),
    ],
    digest_id="2024-03-15",
    created=datetime(2024, 3, 15, 7, tzinfo=UTC),
)
SKELETON = Skeleton.for_digest(SITE, DIGEST, SENDER)
READERS = [
    Delivery(DIGEST.id, "bob@example.com", "Bob Reader", "pending"),
    Delivery(DIGEST.id, "anna.k@example.fi", 'Anna Kääriäinen-Lönnrot, "the" editor ' * 3, "p"),
    Delivery(DIGEST.id, "info@xn--hxajbheg2az3al.xn--jxalpdlp", "Δοκιμή  with  spaces", "p"),
]
RSA, ED = dkimcheck.rsa_key(), dkimcheck.ed25519_key()
KEYS = {
    "rsa": [DkimKey(RSA.pem, RSA.selector, DOMAIN)],
    "ed25519": [DkimKey(ED.pem, ED.selector, DOMAIN, "ed25519-sha256", "email.dkim_ed25519_key")],
}
KEYS["both"] = KEYS["rsa"] + KEYS["ed25519"]


def _copy(reader: Delivery, signer: Signer | None) -> bytes:
    return SKELETON.build(reader, f"https://example.org/u?token={reader.email}", "", signer)


def _tag(header: bytes, name: bytes) -> bytes:
    unfolded = re.sub(rb"\r\n[ \t]", b"", header)
    found = re.search(rb"(?:^|[; ])" + name + rb"=([^;]*)", unfolded)
    assert found, header
    return re.sub(rb"\s", b"", found.group(1))


@pytest.mark.parametrize("which", ["rsa", "ed25519", "both"])
def test_every_copy_verifies_with_dkimpy_and_opendkim(which: str, tmp_path: Path) -> None:
    signer = Signer(KEYS[which])
    zone = dkimcheck.zone_file(tmp_path, [RSA, ED])
    algorithms = {"rsa": [b"rsa-sha256"], "ed25519": [b"ed25519-sha256"]}
    expected = algorithms.get(which, [b"rsa-sha256", b"ed25519-sha256"])
    for reader in READERS:
        signed = _copy(reader, signer)
        assert signed.endswith(_copy(reader, None))  # the signatures only go in front
        found = dkimcheck.signatures(signed)
        assert [_tag(h, b"a") for h in found] == expected
        assert all(len(line) <= 78 for h in found for line in h.split(b"\r\n"))
        assert dkimpy_verify(signed, [RSA, ED]) == [True] * len(expected)
    for done in opendkim_verify(signed, zone):  # the last copy: OpenDKIM, one signature at a time
        assert done.returncode == 0, done.stderr.decode()


def test_opendkim_and_dkimpy_refuse_a_changed_copy(tmp_path: Path) -> None:
    signed = _copy(READERS[0], Signer(KEYS["both"]))
    zone = dkimcheck.zone_file(tmp_path, [RSA, ED])
    changes = [
        signed.replace(b"To: Bob Reader", b"To: Rob Reader"),  # a header
        signed.replace(b"Story number 2", b"Story number 9"),  # the body
        signed.replace(b"\r\n\r\n", b"\r\nFrom: Mallory <m@example.org>\r\n\r\n", 1),  # oversigned
    ]
    for changed in changes:
        assert changed != signed
        assert dkimpy_verify(changed, [RSA, ED]) == [False, False]
    for done in opendkim_verify(changes[1], zone):
        assert done.returncode != 0 and b"Bad signature" in done.stderr, done.stderr
    wrong = dkimcheck.zone_file(tmp_path, [dkimcheck.rsa_key(RSA.selector), ED])  # another key
    results = opendkim_verify(signed, wrong)
    assert results[0].returncode != 0 and results[1].returncode == 0


def test_body_hash_and_signed_headers_match_dkimpys_own_signer() -> None:
    for reader in READERS:
        plain = _copy(reader, None)
        ours = dkimcheck.signatures(_copy(reader, Signer(KEYS["rsa"])))[0]
        theirs = dkim.sign(plain, RSA.selector.encode(), DOMAIN.encode(), RSA.pem,
                           canonicalize=(b"relaxed", b"relaxed"))  # fmt: skip
        assert _tag(ours, b"bh") == _tag(theirs, b"bh")
        assert dkim.verify(theirs + plain, dnsfunc=lambda name, timeout=5: RSA.record.encode())
        names = _tag(ours, b"h").split(b":")
        present = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                   b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                   b"content-type"]  # fmt: skip
        assert sorted(set(names)) == sorted(present)
        assert all(names.count(name) == 2 for name in present)  # each once more than present


def test_a_notice_and_a_message_without_a_body_verify() -> None:
    notice = build_notice(
        sender=SENDER, to=("Zoë", "zoe@example.net"), subject="Confirm — please",
        parts=("Click  here \n\n\n", "<p>Click</p>"), ident="abc", created=DIGEST.created,
    )  # fmt: skip
    signer = Signer(KEYS["both"])
    assert dkimpy_verify(signer.sign(notice), [RSA, ED]) == [True, True]
    bare = b"From: a@example.org\r\nDate: Fri, 15 Mar 2024 07:00:00 +0000\r\nSubject: x\r\n"
    assert dkimpy_verify(signer.sign(bare), [RSA, ED]) == [True, True]


LINE = st.text(st.sampled_from(" \t=ab"), max_size=12).map(lambda s: s.encode() + b"\r\n")


@given(st.lists(st.tuples(st.lists(LINE, max_size=4), st.booleans()), max_size=8))
def test_body_pieces_hash_as_the_whole_body(pieces: list[tuple[list[bytes], bool]]) -> None:
    """Fixed pieces canonicalised apart (once per digest) hash exactly as dkimpy's relaxed
    canonicalisation of the joined body, wherever they fall and whatever whitespace ends it."""
    body: list[bytes | canon.Fixed] = []
    for lines, fixed in pieces:
        raw = b"".join(lines)
        body.append(canon.Fixed(raw) if fixed and raw else raw)
    whole = b"".join(p.raw if isinstance(p, canon.Fixed) else p for p in body)
    assert canon.body_hash(body) == hashlib.sha256(Relaxed.canonicalize_body(whole)).digest()


def test_a_fixed_piece_in_mid_line_is_hashed_as_raw_bytes() -> None:
    body = [b"a \t", canon.Fixed(b"  b \r\n"), b"\r\n"]
    expected = hashlib.sha256(Relaxed.canonicalize_body(b"a \t  b \r\n\r\n")).digest()
    assert canon.body_hash(body) == expected


def _key(pem: bytes, algorithm: str = "rsa-sha256", selector: str = "s1") -> DkimKey:
    setting = "email.dkim_key" if algorithm == "rsa-sha256" else "email.dkim_ed25519_key"
    return DkimKey(pem, selector, DOMAIN, algorithm, setting)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            _key(ED.pem),
            r"email\.dkim_key.*not an RSA key: an Ed25519 key goes in email\.dkim_ed25519_key",
        ),
        (
            _key(RSA.pem, "ed25519-sha256"),
            r"email\.dkim_ed25519_key.*not an Ed25519 key: an RSA key goes in email\.dkim_key",
        ),
        (_key(b"not a key"), r"email\.dkim_key.*not a PEM private key"),
        (_key(b"c2hvcnQ=", "ed25519-sha256"), r"email\.dkim_ed25519_key.*not a PEM private key"),
        (_key(RSA.pem, selector="bad selector"), r"email\.dkim_selector.*not a DNS name"),
        (_key(ED.pem, "ed25519-sha256", "x;y"), r"email\.dkim_ed25519_selector.*not a DNS name"),
        (DkimKey(RSA.pem, "s1", "bücher.example"), r"email\.dkim_domain.*xn--"),
    ],
)
def test_wrong_keys_are_refused_naming_the_setting(key: DkimKey, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Signer([key])


def test_an_ed25519_key_may_be_given_as_its_base64_seed() -> None:
    """The form dkimpy's `dknewkey --ktype ed25519` writes: the 32-byte seed in base64."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = serialization.load_pem_private_key(ED.pem, password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signer = Signer([_key(base64.b64encode(seed) + b"\n", "ed25519-sha256", ED.selector)])
    assert dkimpy_verify(_copy(READERS[1], signer), [ED]) == [True]


def test_signing_is_deterministic_for_rsa() -> None:
    """PKCS#1 v1.5 has no randomness: the same copy signs to the same bytes (no clock either)."""
    signer = Signer(KEYS["rsa"])
    assert _copy(READERS[0], signer) == _copy(READERS[0], signer)
