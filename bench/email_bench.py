"""Benchmark case 4: the digest. Render + premailer inline once per digest (10 and 50
articles); per recipient, the token, the personalisation and the MIME message built from the
per-digest skeleton, beside `email.message.EmailMessage` building the same message (the same
headers, text and HTML parts, personalised) for each recipient; optionally (`--dkim 1`) what
DKIM adds per recipient: RSA 2048, Ed25519 and both, against the unsigned build, the bare RSA
signature (the floor) and dkimpy (the signer used before).

Run:  .venv/bin/python bench/email_bench.py [--recipients 2000] [--repeat 3] [--dkim 1] [--json F]
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from common import Report, arguments, paragraph, timed

from syndicate.config import Config, load_config
from syndicate.models import Article, Delivery, Digest, Entry
from syndicate.render.common import Site, make_environment, site_for
from syndicate.render.digest import render_digest
from syndicate.render.dkim import DkimKey, Signer
from syndicate.render.message import Skeleton
from syndicate.tokens import make_token

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "bench-secret"


def entries(count: int) -> list[Entry]:
    rng, out = random.Random(5), []
    for n in range(count, 0, -1):
        when = NOW - timedelta(hours=n)
        paragraphs = [paragraph(rng) for _ in range(7)]
        article = Article(
            id=f"a{n:03}", source=f"a{n:03}.txt", title=f"Story {n}: {paragraphs[0][:50]}",
            slug=f"a{n:03}", body_html="".join(f"<p>{p}</p>" for p in paragraphs),
            body_text="\n\n".join(paragraphs), summary=paragraphs[0][:240],
            content_hash=f"h{n}", date=when,
        )  # fmt: skip
        out.append(Entry(article, when, when))
    return out


def config_in(folder: Path) -> Config:
    (folder / "articles").mkdir(exist_ok=True)
    (folder / "config.toml").write_text(
        '[site]\ntitle = "Bench Times"\nurl = "https://example.org/"\n'
        '[email]\nfrom = "Bench Times <news@example.org>"\ndelivery = "file"\n'
    )
    return load_config(folder / "config.toml", {"SYNDICATE_SECRET": SECRET})


def plain_email(digest: Digest, person: Delivery, url: str, sender: str) -> bytes:
    """The same message built the usual way: EmailMessage for every recipient."""
    values = {"email": person.email, "unsubscribe_url": url}
    text, body = digest.text, digest.html
    for key, value in values.items():
        text = text.replace(f"{digest.marker}{key}{digest.marker}", value)
        body = body.replace(f"{digest.marker}{key}{digest.marker}", value)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, person.email, digest.subject
    msg["Date"], msg["Message-ID"] = format_datetime(digest.created), make_msgid("d", "example.org")
    msg["List-Id"] = "Bench Times <bench-times.example.org>"
    msg["List-Unsubscribe"] = f"<{url}>, <mailto:news@example.org?subject=unsubscribe>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(body, subtype="html")
    return msg.as_bytes(policy=SMTP)


def per_recipient(report: Report, config: Config, site: Site, digest: Digest,
                  people: list[Delivery], repeat: int) -> Skeleton:  # fmt: skip
    url, sender = config.email.unsubscribe_url, config.email.sender
    skeleton = Skeleton.for_digest(site, digest, sender)  # once per digest

    def ours() -> None:
        for p in people:
            skeleton.build(p, url.replace("{token}", make_token(SECRET, p.email)))

    def theirs() -> None:
        for p in people:
            plain_email(digest, p, url.replace("{token}", make_token(SECRET, p.email)), sender)

    scale = 1e3 / len(people)
    mine = report.row("per recipient: token + personalise + MIME (skeleton)",
                      [t * scale for t in timed(ours, repeat)], "ms")  # fmt: skip
    base = report.row("per recipient: EmailMessage building the same (baseline)",
                      [t * scale for t in timed(theirs, repeat)], "ms")  # fmt: skip
    report.target("per-recipient build < 1 ms (50-article digest)", f"{mine:.3f} ms", mine < 1)
    report.notes.append(f"per recipient: {base / mine:.0f}x faster than EmailMessage")
    return skeleton


def _pem(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


def _signers() -> tuple[Any, dict[str, Signer], bytes]:
    """A fresh RSA 2048 key, signers for RSA, Ed25519 and both, and the RSA key's PEM."""
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem, ed_pem = _pem(rsa_key), _pem(ed25519.Ed25519PrivateKey.generate())
    rsa_dkim = DkimKey(rsa_pem, "bench", "example.org")
    ed_dkim = DkimKey(ed_pem, "ed", "example.org", "ed25519-sha256")
    signers = {"RSA 2048": Signer([rsa_dkim]), "Ed25519": Signer([ed_dkim]),
               "RSA 2048 + Ed25519": Signer([rsa_dkim, ed_dkim])}  # fmt: skip
    return rsa_key, signers, rsa_pem


UNSIGNED = "build from skeleton, unsigned (DKIM baseline)"
FLOOR = "RSA 2048 signature of one hash (cryptography: the floor)"


def _cpu_ms(action: Callable[[], object], count: int) -> float:
    """CPU milliseconds per item of one run of `action` (CPU time, not wall time: DKIM is CPU
    work, and on a shared machine the wall clock also counts the time others hold the core)."""
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1e3 / count


def dkim(report: Report, skeleton: Skeleton, people: list[Delivery], repeat: int) -> None:
    """DKIM's cost per recipient on the 50-article digest, in CPU time: each copy built from
    the skeleton with no signature (the baseline), signed with RSA 2048, with Ed25519 and with
    both; the bare RSA signature of one hash (the floor); dkimpy signing the finished copy (the
    signer used before). The variants take turns in each repeat, so load hits them alike."""
    import dkim as dkimpy
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    rsa_key, signers, rsa_pem = _signers()
    few, url, digest = people[:300], "https://example.org/u", hashlib.sha256(b"x").digest()
    for signer in signers.values():  # the digest's shared lines, canonicalised once, first
        skeleton.build(few[0], url, "", signer)

    def copies(signer: Signer | None) -> Callable[[], object]:
        return lambda: [skeleton.build(p, url, "", signer) for p in few]

    variants = {UNSIGNED: copies(None)}
    variants |= {f"build + DKIM {name}": copies(signer) for name, signer in signers.items()}
    variants[FLOOR] = lambda: [
        rsa_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())) for _ in few
    ]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, action in variants.items():
            samples[name].append(_cpu_ms(action, len(few)))
    medians = {name: report.row(f"per recipient: {name}", values, "CPU ms")
               for name, values in samples.items()}  # fmt: skip
    built = [skeleton.build(p, url) for p in few[:50]]
    old = [_cpu_ms(lambda: [dkimpy.sign(m, b"bench", b"example.org", rsa_pem) for m in built],
                   len(built)) for _ in range(repeat)]  # fmt: skip
    report.row("per recipient: dkimpy signing the finished copy, RSA 2048 (before)", old, "CPU ms")
    base, floor = medians[UNSIGNED], medians[FLOOR]
    for name in signers:
        report.notes.append(
            f"DKIM {name} adds {medians[f'build + DKIM {name}'] - base:.3f} CPU ms per recipient"
        )
    added = medians["build + DKIM RSA 2048"] - base
    report.notes.append(f"DKIM RSA 2048 per recipient: {floor:.3f} ms the RSA signature itself "
                        f"(the floor), {added - floor:.3f} ms canonicalising and hashing the copy")  # fmt: skip
    report.target("DKIM adds < 1.5 ms per recipient with RSA 2048", f"{added:.3f} ms", added < 1.5)


def main() -> None:
    args = arguments(__doc__, recipients=2000, dkim=0)
    report = Report("Digest")
    with tempfile.TemporaryDirectory() as tmp:
        config = config_in(Path(tmp))
        env = make_environment(config.paths.templates)
        for count in (10, 50):
            stories = entries(count)
            site = site_for(config, ["Subscribe to Bench Times"])
            times = timed(lambda: render_digest(env, site, stories, digest_id="d",  # noqa: B023
                                                created=NOW), args.repeat)  # fmt: skip
            report.row(f"{count} articles: render + premailer inline, once per digest",
                       [t * 1e3 for t in times], "ms")  # fmt: skip
        digest = render_digest(env, site, stories, digest_id="2026-11-28", created=NOW)
        people = [
            Delivery("2026-11-28", f"r{n:05}@example.net", f"Reader {n}", "pending")
            for n in range(args.recipients)
        ]
        skeleton = per_recipient(report, config, site, digest, people, args.repeat)
        if args.dkim:
            dkim(report, skeleton, people, args.repeat)
        size = len(skeleton.build(people[0], "https://example.org/u"))
        report.notes.append(f"a 50-article digest message is {size / 1024:.0f} KiB")
    report.write(args.json)


if __name__ == "__main__":
    main()
