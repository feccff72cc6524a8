"""Security: secrets stay out of logs, errors and status; database passwords are redacted;
tokens bind one address; nothing is written outside the output folder; templates autoescape."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from syndicate import pipeline
from syndicate.config import load_config
from syndicate.errors import StoreError
from syndicate.ingest import ParseOptions, ScanResult, read
from syndicate.render.common import make_environment
from syndicate.store import Store
from syndicate.tokens import make_legacy_token, make_token, verify_token

from .conftest import NOW, ROOT, free_port, run_cli, use_smtp

SMTP_PASSWORD = "hunter2-smtp-password-xyzzy"
SIGNING_KEY = "signing-key-plugh-0123456789"


def test_secrets_never_reach_logs_errors_or_status(sample: Path) -> None:
    use_smtp(sample, free_port(), username="newsletter")
    config = sample / "config.toml"
    env = {"SYNDICATE_SMTP_PASSWORD": SMTP_PASSWORD, "SYNDICATE_SECRET": SIGNING_KEY}
    outputs = [run_cli(["-vv", "run", "--now", NOW.isoformat()], sample, env),
               run_cli(["-vv", "--log-format", "json", "send"], sample, env),
               run_cli(["status"], sample, env)]  # fmt: skip
    assert outputs[0].returncode == 1  # the SMTP server is down: delivery failed, reported
    for done in outputs:
        for secret in (SMTP_PASSWORD, SIGNING_KEY):
            assert secret not in done.stdout and secret not in done.stderr
    cfg = load_config(config, env=env)
    assert SMTP_PASSWORD not in repr(cfg) and SIGNING_KEY not in repr(cfg)


def test_database_passwords_are_redacted_in_errors() -> None:
    url = f"postgresql+psycopg://syndicate:pw-{SMTP_PASSWORD}@127.0.0.1:{free_port()}/news"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert SMTP_PASSWORD not in str(caught.value) and "***" in str(caught.value)


def test_a_token_unsubscribes_only_its_own_address() -> None:
    token = make_token(SIGNING_KEY, "alice@example.org")
    assert verify_token(SIGNING_KEY, token) == "alice@example.org"
    legacy = make_legacy_token(SIGNING_KEY, "alice@example.org")
    forged_body = (
        make_legacy_token(SIGNING_KEY, "bob@example.org").split(".")[0] + "." + legacy.split(".")[1]
    )
    assert verify_token(SIGNING_KEY, forged_body) is None  # alice's signature on bob's address
    assert "alice" not in token and "YWxpY2" not in token  # the opaque token names no one
    assert verify_token("another-key", token) is None


@pytest.mark.parametrize("slug", ["../../etc/evil", "..", "/abs/path", "a/../../b"])
def test_front_matter_cannot_write_outside_the_output_folder(sample: Path, slug: str) -> None:
    (sample / "articles" / "070_escape.txt").write_text(
        f'+++\nslug = "{slug}"\nid = "{slug}"\n+++\nEscape attempt\n\nBody.\n'
    )
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    written = {p.resolve() for p in sample.rglob("*") if p.is_file()}
    assert all(p.is_relative_to(sample.resolve()) for p in written)
    assert not any(p.name == "evil" or p.name.startswith("evil.") for p in sample.parent.rglob("*"))


def test_templates_autoescape() -> None:
    env = make_environment(ROOT / "templates")
    assert callable(env.autoescape)
    for name in ("article.html.j2", "digest.html.j2", "index.html.j2", "cta.html.j2"):
        assert env.autoescape(name) is True, name
    assert env.autoescape("digest.txt.j2") is False  # the plain-text part is not HTML
    page = env.get_template("cta.html.j2").render(
        site=type(
            "S",
            (),
            {"cta_text": "<b>x</b>", "subscribe_url": "u", "cta_button": "b", "cta_links": {}},
        )()
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>" not in page


def test_readme_has_a_security_section() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Security" in readme
    for word in ("articles folder", "config", "templates", "SYNDICATE_SECRET"):
        assert word in readme.split("## Security", 1)[1]


class _Swapper(threading.Thread):
    """Swaps `path` between a regular article and a symlink to `secret` with os.rename, as
    fast as it can, until stopped: the check-then-read race of issue 14."""

    def __init__(self, path: Path, secret: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.secret, self.stop, self.swaps = path, secret, threading.Event(), 0

    def run(self) -> None:
        link, plain = self.path.with_name(".swap-link"), self.path.with_name(".swap-file")
        while not self.stop.is_set():
            plain.write_text("An honest article\n\nNothing to see here.\n")
            os.rename(plain, self.path)
            with contextlib.suppress(FileExistsError):
                os.symlink(self.secret, link)
            os.rename(link, self.path)
            self.swaps += 1


def test_a_symlink_swapped_in_during_reads_never_leaks_the_secret(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(f"Secret title\n\n{SIGNING_KEY}\n")
    secret.chmod(0o600)
    swapper = _Swapper(root / "a.txt", secret)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: the race window is a few syscalls
    swapper.start()
    options = ParseOptions(UTC, ())
    seen: set[str] = set()
    try:
        for _ in range(3000):
            result = ScanResult()
            read(root, ["a.txt"], options, result)
            seen |= {a.body_text for a in result.parsed} | {p.reason for p in result.problems}
    finally:
        swapper.stop.set()
        swapper.join()
        sys.setswitchinterval(interval)
    assert swapper.swaps > 10  # the race really ran
    assert "Nothing to see here." in seen  # the regular file was read...
    assert any("symlink points outside" in s for s in seen)  # ...and the symlink refused
    assert not any(SIGNING_KEY in s or "Secret title" in s for s in seen)


def test_a_linked_file_swapped_for_a_symlink_is_never_read_through_it(tmp_path: Path) -> None:
    """The same race for the files articles link to (images): `read_asset` checks where the
    open descriptor really leads, so a symlink swapped in after the path was checked is
    refused, never published."""
    from syndicate.ingest import read_asset

    root = tmp_path / "articles"
    (root / "images").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text(f"Secret title\n\n{SIGNING_KEY}\n")
    swapper = _Swapper(root / "images" / "pic.png", secret)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    swapper.start()
    read, refused = 0, 0
    try:
        for _ in range(3000):
            try:
                data = read_asset(root, "images/pic.png")
            except (ValueError, OSError):
                refused += 1
            else:
                read += 1
                assert SIGNING_KEY.encode() not in data
    finally:
        swapper.stop.set()
        swapper.join()
        sys.setswitchinterval(interval)
    assert swapper.swaps > 10 and read > 0 and refused > 0  # the race really ran both ways


def test_a_swapped_symlink_never_reaches_the_feeds(sample: Path) -> None:
    secret = sample / "secret.txt"
    secret.write_text(f"Secret title\n\n{SIGNING_KEY}\n")
    swapper = _Swapper(sample / "articles" / "swapped.txt", secret)
    swapper.start()
    try:
        config = load_config(sample / "config.toml", env={})
        for minute in range(25):
            pipeline.run_once(config, NOW + timedelta(minutes=minute))
    finally:
        swapper.stop.set()
        swapper.join()
    for path in (sample / "feeds").rglob("*"):
        if path.is_file():
            assert SIGNING_KEY.encode() not in path.read_bytes(), path
            assert b"Secret title" not in path.read_bytes(), path
