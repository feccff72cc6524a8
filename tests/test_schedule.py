"""`syndicate schedule`: a real daemon process, DST-correct digest times, one catch-up digest
after a sleep, and errors that never stop the scheduler."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from syndicate import schedule
from syndicate.config import load_config
from syndicate.pipeline import run_once
from syndicate.store import Store

from .conftest import SECRET


def _configure(site: Path, **changes: str) -> Path:
    config = site / "config.toml"
    text = config.read_text()
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)
    return config


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_daemon_picks_up_a_new_file_within_one_interval_and_stops_on_sigterm(sample: Path) -> None:
    _configure(sample, **{"ingest_interval = 300": "ingest_interval = 1"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["SYNDICATE_SECRET"] = SECRET
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "-v", "schedule"],
        cwd=sample, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        rss = sample / "feeds" / "rss.xml"
        assert _wait_for(lambda: rss.exists() and "UNSC" in rss.read_text())
        (sample / "articles" / "050_fresh.txt").write_text("Fresh news from the daemon\n\nBody.\n")
        dropped = time.monotonic()
        assert _wait_for(lambda: "Fresh news from the daemon" in rss.read_text(), timeout=30)
        print(f"new file appeared in the feed after {time.monotonic() - dropped:.1f}s")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "event=scheduler-started" in err and "event=scheduler-stopped" in err
    assert "event=stopping signal=SIGTERM" in err


def _fires(expr: str, tz: str, start: datetime, count: int) -> list[datetime]:
    config = _config_for(expr, tz)
    trigger = (
        schedule.build_scheduler(config, scheduler_class=BackgroundScheduler)
        .get_job("digest")
        .trigger
    )
    from syndicate.cron import next_fire_after

    times, moment = [], start
    for _ in range(count):
        moment = next_fire_after(trigger, moment)
        times.append(moment)
    return times


def _config_for(expr: str, tz: str, root: Path | None = None):  # type: ignore[no-untyped-def]
    from syndicate.config import parse_config

    text = f"""
[site]
title = "T"
url = "https://example.org/"
[digest]
schedule = "{expr}"
[schedule]
timezone = "{tz}"
"""
    return parse_config(text, (root or Path("/tmp")) / "config.toml", env={})


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("Europe/Berlin", datetime(2026, 3, 27, tzinfo=UTC)),  # clocks go forward 29 March
        ("Europe/Berlin", datetime(2026, 10, 23, tzinfo=UTC)),  # clocks go back 25 October
        ("America/New_York", datetime(2026, 3, 6, tzinfo=UTC)),  # forward 8 March
        ("America/New_York", datetime(2026, 10, 30, tzinfo=UTC)),  # back 1 November
    ],
)
def test_digest_fires_at_local_seven_across_dst(tz: str, start: datetime) -> None:
    fires = _fires("0 7 * * *", tz, start, 5)
    local = [f.astimezone(ZoneInfo(tz)) for f in fires]
    assert [(t.hour, t.minute) for t in local] == [(7, 0)] * 5
    assert [t.date() for t in local] == [local[0].date() + timedelta(days=n) for n in range(5)]
    assert len({t.utcoffset() for t in local}) == 2  # the change happened inside the window


def test_weekday_zero_is_sunday() -> None:
    fires = _fires("0 7 * * 0", "Asia/Almaty", datetime(2026, 11, 28, tzinfo=UTC), 4)
    assert {f.astimezone(ZoneInfo("Asia/Almaty")).strftime("%A %H:%M") for f in fires} == {
        "Sunday 07:00"
    }


def test_sleep_through_three_digests_gives_exactly_one_catch_up(sample: Path) -> None:
    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    wake = datetime.now(UTC).replace(microsecond=0)
    assert run_once(config, wake - timedelta(days=3)).digest_id  # the last digest before sleeping
    (sample / "articles" / "050_fresh.txt").write_text("Written while the laptop slept\n\nBody.\n")
    scheduler = schedule.build_scheduler(
        config, clock=lambda: wake, scheduler_class=BackgroundScheduler
    )
    scheduler.remove_job("pickup")
    scheduler.remove_job("send")
    missed = wake - timedelta(days=3) + timedelta(hours=1)  # three 07:00 slots were slept through
    scheduler.get_job("digest").modify(next_run_time=missed)
    runs: list[JobExecutionEvent] = []
    done = threading.Event()

    def record(event: JobExecutionEvent) -> None:
        runs.append(event)
        done.set()

    scheduler.add_listener(record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        assert done.wait(60)
        time.sleep(1.0)  # room for a second (wrong) run to show up
    finally:
        scheduler.shutdown(wait=True)
    assert [(e.job_id, e.exception) for e in runs] == [("digest", None)]
    store = Store.open(config.paths.database)
    try:
        digests = store.digests()
    finally:
        store.close()
    assert len(digests) == 2  # the one before sleeping and exactly one catch-up
    assert "Written while the laptop slept" in digests[0].text


def test_a_failing_job_is_logged_and_the_scheduler_keeps_running(
    sample: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    (sample / "articles").rename(sample / "moved-away")  # every pass now fails
    scheduler = schedule.build_scheduler(config, scheduler_class=BackgroundScheduler)
    failed = threading.Event()
    scheduler.add_listener(lambda e: failed.set(), EVENT_JOB_ERROR)
    with caplog.at_level(logging.ERROR, logger="syndicate"):
        monkeypatch.setattr(logging.getLogger("syndicate"), "propagate", True)
        scheduler.start()
        try:
            assert failed.wait(60)
            time.sleep(0.5)
            assert scheduler.running
        finally:
            scheduler.shutdown(wait=True)
    failures = [r for r in caplog.records if "event=job-failed job=pickup" in r.getMessage()]
    assert failures and 'File "' in failures[0].getMessage()  # the traceback is in the log
    assert "paths.articles" in failures[0].getMessage()


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('schedule = "0 7 * * *"', "digest.schedule"),
        ('timezone = "Asia/Almaty"', "schedule.timezone"),
        ("ingest_interval = 300", "schedule.ingest_interval"),
    ],
)
def test_bad_schedule_settings_exit_2_naming_the_key(sample: Path, line: str, key: str) -> None:
    bad = {
        "digest.schedule": 'schedule = "0 7 * * * *"',
        "schedule.timezone": 'timezone = "Mars/Olympus_Mons"',
        "schedule.ingest_interval": "ingest_interval = 0",
    }[key]
    _configure(sample, **{line: bad})
    from .conftest import run_cli

    done = run_cli(["schedule"], sample)
    assert done.returncode == 2
    assert key in done.stderr
