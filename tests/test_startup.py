"""A `syndicate` process imports what its work needs, not all it could need: a no-change `run`
of plain-text articles (what cron runs most often) and `status` load no feed writer (feedgen,
lxml), no Markdown parser, no OpenSSL bindings (cryptography), no smtplib, no APScheduler
scheduler, no Starlette and no PostgreSQL dialect. Each is imported where it is first used;
this test keeps it so (bench/RESULTS.md has the start-up figures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import SECRET, run_cli

HEAVY = (
    "feedgen", "lxml.etree", "markdown_it", "cryptography", "smtplib", "apscheduler.schedulers",
    "starlette", "sqlalchemy.dialects.postgresql", "premailer", "imagesize",
)  # fmt: skip
PROBE = """
import sys
from syndicate import cli
code = cli.main(sys.argv[1:])
print("loaded:", ",".join(m for m in {heavy!r} if m in sys.modules), "exit:", code)
"""


def _loaded(site: Path, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "-q", *args],
        cwd=site, env=env | {"SYNDICATE_SECRET": SECRET}, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    line = done.stdout.strip().splitlines()[-1]
    assert line.endswith("exit: 0"), done.stdout + done.stderr
    return [m for m in line.removeprefix("loaded: ").split(" exit:")[0].split(",") if m]


def test_a_no_change_run_and_status_load_none_of_the_heavy_libraries(sample: Path) -> None:
    assert run_cli(["run"], sample).returncode == 0  # the first run writes everything
    assert _loaded(sample, "run") == []
    assert _loaded(sample, "status") == []


def test_the_probe_sees_a_library_a_pass_does_load(sample: Path) -> None:
    """The same probe on a pass that writes the feeds and mails a digest: it sees them."""
    loaded = _loaded(sample, "digest")
    assert {"feedgen", "lxml.etree", "cryptography"} <= set(loaded)
