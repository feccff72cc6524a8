"""`syndicate schedule`: run the pipeline forever under APScheduler 3.x.

Three jobs in `[schedule] timezone`: pick-up + publish every `ingest_interval` seconds, the
digest at `[digest] schedule` (cron semantics, see `syndicate.cron`), and delivery retries.
Jobs run one at a time (a single worker thread) and each takes the run lock, so they never
overlap each other or a cron-started `syndicate run`. A missed run (the machine slept) is run
once on wake: no misfire limit, coalescing on (PITFALLS A1, A11); missed runs and job errors
are logged loudly, and a job that raises never stops the scheduler. SIGTERM and SIGINT let the
running job finish, then the scheduler exits.

This module and `syndicate.cron` are the only importers of apscheduler; it holds no pipeline
logic of its own, only the wiring and the clock.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syndicate import pipeline
from syndicate.config import Config
from syndicate.cron import next_fire_after, parse_crontab
from syndicate.models import RunReport

log = logging.getLogger("syndicate")
Clock = Callable[[], datetime]
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
RETRY_INTERVAL = 60  # seconds between delivery retries


def utc_now() -> datetime:
    return datetime.now(UTC)


def _log_report(job: str, report: RunReport) -> None:
    if report.skipped_locked:
        log.info("event=job-skipped job=%s reason=another-run-holds-the-lock", job)
        return
    if report.undelivered:  # published, but no mail can go out: the operator must act
        log.error("event=job-cannot-deliver job=%s error=%s", job, report.undelivered)
    log.info("event=job-done job=%s new=%d changed=%d digest=%s sent=%d deferred=%d "
             "failed=%d held=%d problems=%d", job, report.new, report.changed,
             report.digest_id or "-", report.sent, len(report.deferred), len(report.failed),
             report.held, len(report.problems))  # fmt: skip


def pickup_job(config: Config, clock: Clock) -> None:
    """Pick up articles, publish, and freeze a digest if the schedule says one is due."""
    _log_report("pickup", pipeline.run_once(config, clock(), clock=clock, returned=False))


def digest_job(config: Config, clock: Clock) -> None:
    """The schedule fired: a pass that freezes the digest (if there are new articles)."""
    _log_report("digest", pipeline.run_once(config, clock(), clock=clock, returned=False))


def send_job(config: Config, clock: Clock) -> None:
    """Retry messages that are still pending."""
    _log_report("send", pipeline.send(config, clock(), clock=clock))


def bounces_job(config: Config, clock: Clock) -> None:
    """Read the returned mail (`[bounces]`): bounces, complaints, mailto unsubscribes."""
    report = pipeline.bounces(config, clock())
    if report is None:
        log.info("event=job-skipped job=bounces reason=another-run-holds-the-lock")
    else:
        log.info("event=job-done job=bounces %s", report.summary())


def _on_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.error("event=job-missed job=%s scheduled=%s", event.job_id, event.scheduled_run_time)
    elif event.exception is not None:
        log.error("event=job-failed job=%s error=%r\n%s", event.job_id, event.exception,
                  event.traceback)  # fmt: skip


def build_scheduler(
    config: Config, clock: Clock = utc_now, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> BaseScheduler:
    """A scheduler with syndicate's jobs (a fourth reads returned mail), not started."""
    tz = config.tz
    scheduler = scheduler_class(
        timezone=tz,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults=JOB_DEFAULTS,  # PITFALLS A2: scheduler-wide options go in job_defaults
    )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    interval = IntervalTrigger(seconds=config.schedule.ingest_interval, timezone=tz)
    digest = parse_crontab(config.digest.schedule, tz)
    retry = IntervalTrigger(
        seconds=max(RETRY_INTERVAL, config.schedule.ingest_interval), timezone=tz
    )
    scheduler.add_job(
        pickup_job, interval, args=(config, clock), id="pickup", next_run_time=clock()
    )
    scheduler.add_job(digest_job, digest, args=(config, clock), id="digest")
    scheduler.add_job(send_job, retry, args=(config, clock), id="send")
    if config.bounces.reads:
        every = IntervalTrigger(seconds=config.bounces.interval, timezone=tz)
        scheduler.add_job(
            bounces_job, every, args=(config, clock), id="bounces", next_run_time=clock()
        )
    return scheduler


def next_digest_time(config: Config, now: datetime) -> datetime | None:
    """When the digest schedule fires next, in the publication's timezone."""
    fire = next_fire_after(parse_crontab(config.digest.schedule, config.tz), now)
    return fire.astimezone(config.tz) if fire else None


def run_forever(config: Config) -> None:
    """Run until SIGTERM or SIGINT; the job in progress finishes before this returns."""
    scheduler = build_scheduler(config)

    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if stopping:  # a second signal while the running job finishes: keep waiting
            return
        stopping.append(signum)
        log.info("event=stopping signal=%s", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)  # the job in progress finishes first

    previous: dict[int, Any] = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info("event=scheduler-started timezone=%s ingest_interval=%ds digest=%r next_digest=%s",
             config.tz, config.schedule.ingest_interval, config.digest.schedule,
             next_digest_time(config, utc_now()))  # fmt: skip
    try:
        scheduler.start()  # blocks until stop() shuts it down
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("event=scheduler-stopped")
