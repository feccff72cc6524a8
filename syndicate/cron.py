"""Crontab expressions with cron's own semantics, evaluated by APScheduler 3.x triggers.

APScheduler's `CronTrigger.from_crontab` reads weekday 0 as Monday and ANDs day-of-month with
day-of-week (PITFALLS A5). Here weekday numbers are translated to names (0 and 7 = Sunday),
macros like `@daily` are expanded, and a restricted day-of-month *and* day-of-week become an
`OrTrigger`, so an expression means what it means in crontab(5).

This module only parses and evaluates times; it never sleeps, schedules or reads the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_number(token: str) -> int:
    token = token.strip().lower()
    if token[:3] in _DAY_NAMES and token.isalpha():
        return _DAY_NAMES.index(token[:3])
    value = int(token)
    if not 0 <= value <= 7:
        raise ValueError(f"day of week {value} is out of range 0-7")
    return value % 7


def _weekday_part(part: str) -> list[int]:
    """Expand one comma-separated item of a cron day-of-week field into weekday numbers."""
    rng, _, step_text = part.partition("/")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"step {step} in day of week must be at least 1")
    if rng == "*":
        low, high = 0, 6
    elif "-" in rng:
        first, last = rng.split("-", 1)
        low = _weekday_number(first)
        high = 7 if last.strip() == "7" else _weekday_number(last)
    else:
        low = high = _weekday_number(rng)
        if step_text:
            high = 6
    if high < low:
        raise ValueError(f"day-of-week range {rng!r} runs backwards")
    return sorted({day % 7 for day in range(low, high + 1, step)})


def weekday_names(field: str) -> str:
    """Translate a cron day-of-week field (0/7 = Sunday) into APScheduler's weekday names."""
    if field == "*":
        return "*"
    days = sorted({day for part in field.split(",") for day in _weekday_part(part)})
    return ",".join(_DAY_NAMES[day] for day in days)


def parse_crontab(expr: str, tz: tzinfo) -> Any:
    """Return an APScheduler trigger for a five-field crontab expression or an @macro.

    Raises ValueError with a reason a person can act on.
    """
    fields = _MACROS.get(expr.strip().lower(), expr).split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, dow = fields
    names = weekday_names(dow)
    common = {"minute": minute, "hour": hour, "month": month, "timezone": tz}
    if not day.startswith("*") and not dow.startswith("*"):
        # crontab(5): when both are restricted, a time matches if *either* matches.
        return OrTrigger([CronTrigger(day=day, **common), CronTrigger(day_of_week=names, **common)])
    return CronTrigger(day=day, day_of_week=names, **common)


def _repeated(moment: datetime) -> bool:
    """True for the second occurrence of a wall-clock time (the hour repeated in autumn)."""
    first = moment.replace(tzinfo=None).replace(tzinfo=moment.tzinfo, fold=0)
    return first.astimezone(UTC) < moment.astimezone(UTC)


def next_fire_after(trigger: Any, after: datetime) -> datetime | None:
    """The first fire time strictly after `after` (an aware datetime), or None if there is none.

    As in cron, a wall-clock time that occurs twice when the clocks go back fires only once.
    """
    start = after.astimezone(UTC)
    while True:
        result = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
        if not isinstance(result, datetime) or not _repeated(result):
            return result if isinstance(result, datetime) else None
        start = result.astimezone(UTC)  # UTC arithmetic: local arithmetic would lose `fold`
