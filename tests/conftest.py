"""Shared fixtures: a temp copy of the bundled sample publication, and ways to run syndicate."""

from __future__ import annotations

import compileall
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from . import parallel, warm
from .ports import free_port  # noqa: F401 (tests import it from here)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "test-secret-not-for-production"


def pytest_configure(config: pytest.Config) -> None:
    """Compile syndicate's bytecode once, before any test starts a `syndicate` process: with
    PYTHONDONTWRITEBYTECODE set (as on this machine and in CI) each of the suite's few hundred
    processes would otherwise compile every module again. Same source, same code; only the
    compiling is shared. The controller does it, not each xdist worker."""
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(ROOT / "syndicate", quiet=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the longest test files first; see tests/parallel.py."""
    parallel.arrange(items, distributed=hasattr(config, "workerinput"))


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A fresh copy of the bundled sample (config, articles, templates) in a temp folder."""
    return copy_sample(tmp_path / "site")


def copy_sample(site: Path) -> Path:
    """Copy the bundled sample (config, articles, templates) into the new folder `site`."""
    site.mkdir()
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    shutil.copytree(ROOT / "articles", site / "articles")
    shutil.copytree(ROOT / "templates", site / "templates")
    for path in (site / "articles").iterdir():
        path.chmod(0o644)
    return site


def run_cli(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `syndicate` as a real process, the way cron would: forked from a warm server that
    has imported it (tests/warm.py), or, with SYNDICATE_TEST_EXEC=1, a fresh interpreter."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    full_env |= {"SYNDICATE_SECRET": SECRET} | (env or {})
    if os.environ.get("SYNDICATE_TEST_EXEC") != "1":
        return warm.run(args, cwd, full_env, timeout=120)
    return subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def call_cli(
    args: Sequence[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `syndicate.cli.main` in this process, with the cwd and environment `run_cli` gives
    a process, for a test that checks many commands' exit codes and messages, not what a
    process does (`run_cli` is that: keep one real-process test per such check). The
    "syndicate" logger is put back afterwards."""
    from syndicate.cli import main

    logger = logging.getLogger("syndicate")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("SYNDICATE_")]:
            patch.delenv(key)
        patch.setenv("SYNDICATE_SECRET", SECRET)
        patch.chdir(cwd)
        capsys.readouterr()
        try:
            code = main(list(args))
        finally:
            logger.handlers[:], logger.level, logger.propagate = saved
        out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["syndicate", *args], code, out, err)


def use_smtp(site: Path, port: int, **smtp: object) -> None:
    """Point the site's config at an SMTP server on 127.0.0.1:port without TLS, with any other
    `[smtp]` keys given; calling it again moves the site to another server."""
    settings = {"host": "127.0.0.1", "port": port, "security": "none", **smtp}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    config = site / "config.toml"
    text = config.read_text().replace('delivery = "file"', 'delivery = "smtp"')
    config.write_text(re.sub(r"\[smtp\]\n(?:[^\[\n].*\n)+", f"[smtp]\n{lines}", text))


def add_readers(site: Path, count: int, prefix: str = "r") -> None:
    """Add `count` subscribers (<prefix><n>@example.org) to the site's config."""
    config = site / "config.toml"
    people = "".join(
        f'\n[[subscribers]]\nemail = "{prefix}{n}@example.org"\n' for n in range(count)
    )
    config.write_text(config.read_text() + people)


def edit_config(site: Path, old: str, new: str) -> None:
    config = site / "config.toml"
    text = config.read_text()
    assert old in text, old
    config.write_text(text.replace(old, new))


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `folder` with its mtime_ns and bytes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class RecordingHandler:
    """An aiosmtpd handler that keeps every accepted message and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    """A real SMTP server (aiosmtpd) on 127.0.0.1, on a port the kernel picks."""
    from .smtp_servers import LocalController

    handler = RecordingHandler()
    controller = LocalController(handler)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


from .pg import postgres_server, postgres_url  # noqa: E402, F401 (PostgreSQL fixtures)
