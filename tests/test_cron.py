"""Unit tests for syndicate.cron: crontab(5) semantics on top of APScheduler 3.x triggers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from syndicate.cron import next_fire_after, parse_crontab, weekday_names

ALMATY = ZoneInfo("Asia/Almaty")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def days(field: str) -> set[str]:
    return set(weekday_names(field).split(","))


def fires(expr: str, tz: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    trigger = parse_crontab(expr, tz)
    result: list[datetime] = []
    after = start
    for _ in range(count):
        fire = next_fire_after(trigger, after)
        assert fire is not None
        result.append(fire)
        after = fire
    return result


def local(fire: datetime, tz: ZoneInfo) -> datetime:
    """Canonical local wall time of an instant (resolves non-existent or ambiguous times)."""
    return fire.astimezone(UTC).astimezone(tz)


# --- weekday translation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("0", {"sun"}),
        ("7", {"sun"}),
        ("0,7", {"sun"}),
        ("1", {"mon"}),
        ("6", {"sat"}),
        ("1-5", {"mon", "tue", "wed", "thu", "fri"}),
        ("5-7", {"fri", "sat", "sun"}),
        ("0-7", {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}),
        ("*/2", {"sun", "tue", "thu", "sat"}),
        ("1-7/2", {"mon", "wed", "fri", "sun"}),
        ("1-5/2", {"mon", "wed", "fri"}),
        ("mon-fri", {"mon", "tue", "wed", "thu", "fri"}),
        ("MON,Wed,fri", {"mon", "wed", "fri"}),
        ("sunday,saturday", {"sun", "sat"}),
        ("sun,1,sat-7", {"sun", "mon", "sat"}),
    ],
)
def test_weekday_names(field: str, expected: set[str]) -> None:
    assert days(field) == expected


def test_weekday_names_star_passes_through() -> None:
    assert weekday_names("*") == "*"


def test_weekday_names_are_in_week_order() -> None:
    assert weekday_names("1-5") == "mon,tue,wed,thu,fri"
    assert weekday_names("6,1,3") == "mon,wed,sat"


@pytest.mark.parametrize("field", ["8", "-1", "1-", "fri-mon", "*/0", "x", "", "1,,2"])
def test_weekday_names_rejects_nonsense(field: str) -> None:
    with pytest.raises(ValueError):
        weekday_names(field)


# --- firing times ---------------------------------------------------------------------------


@pytest.mark.parametrize("start_day", range(1, 8))  # 2026-06-01 is a Monday ... 06-07 Sunday
def test_sunday_zero_fires_on_sunday_at_seven(start_day: int) -> None:
    trigger = parse_crontab("0 7 * * 0", ALMATY)
    start = datetime(2026, 6, start_day, 12, 0, tzinfo=ALMATY)
    fire = next_fire_after(trigger, start)
    assert fire is not None
    assert fire.weekday() == 6  # Sunday
    assert (fire.hour, fire.minute) == (7, 0)
    assert timedelta(0) < fire - start <= timedelta(days=7)


def test_sunday_seven_same_as_zero() -> None:
    start = datetime(2026, 6, 3, tzinfo=ALMATY)
    assert fires("0 7 * * 7", ALMATY, start, 3) == fires("0 7 * * 0", ALMATY, start, 3)


def test_next_fire_is_strictly_after() -> None:
    trigger = parse_crontab("0 7 * * 0", ALMATY)
    sunday_seven = datetime(2026, 6, 7, 7, 0, tzinfo=ALMATY)
    assert next_fire_after(trigger, sunday_seven) == datetime(2026, 6, 14, 7, 0, tzinfo=ALMATY)
    just_before = sunday_seven - timedelta(microseconds=1)
    assert next_fire_after(trigger, just_before) == sunday_seven


def test_weekdays_only() -> None:
    got = fires("30 6 * * 1-5", ALMATY, datetime(2026, 6, 5, 12, tzinfo=ALMATY), 3)  # Friday
    assert [f.date().isoformat() for f in got] == ["2026-06-08", "2026-06-09", "2026-06-10"]
    assert all((f.hour, f.minute) == (6, 30) for f in got)


def test_day_of_month_or_day_of_week() -> None:
    got = fires("0 7 1 * 1", ALMATY, datetime(2026, 1, 1, tzinfo=ALMATY), 7)
    assert [f.date().isoformat() for f in got] == [
        "2026-01-01",  # the 1st (a Thursday)
        "2026-01-05",  # Mondays
        "2026-01-12",
        "2026-01-19",
        "2026-01-26",
        "2026-02-01",  # the 1st (a Sunday)
        "2026-02-02",  # Monday
    ]
    assert all((f.hour, f.minute) == (7, 0) for f in got)


def test_starred_day_of_month_with_step_is_not_restricted() -> None:
    """crontab(5): the OR rule applies only when both fields *don't start with* '*'."""
    got = fires("0 7 */2 * 1", ALMATY, datetime(2026, 1, 1, tzinfo=ALMATY), 3)
    for fire in got:
        assert fire.weekday() == 0  # Monday ...
        assert fire.day % 2 == 1  # ... on an odd day of the month (1-31/2)
    assert got[0].date().isoformat() == "2026-01-05"


def test_only_day_of_month_restricted() -> None:
    got = fires("15 8 10 * *", ALMATY, datetime(2026, 1, 1, tzinfo=ALMATY), 3)
    assert [f.date().isoformat() for f in got] == ["2026-01-10", "2026-02-10", "2026-03-10"]


def test_daily_macro() -> None:
    got = fires("@daily", ALMATY, datetime(2026, 6, 1, 12, tzinfo=ALMATY), 3)
    assert got == [datetime(2026, 6, d, 0, 0, tzinfo=ALMATY) for d in (2, 3, 4)]
    assert fires("@midnight", ALMATY, datetime(2026, 6, 1, 12, tzinfo=ALMATY), 3) == got
    assert fires("  @DAILY ", ALMATY, datetime(2026, 6, 1, 12, tzinfo=ALMATY), 3) == got


def test_weekly_macro_is_sunday_midnight() -> None:
    got = fires("@weekly", ALMATY, datetime(2026, 6, 3, tzinfo=ALMATY), 2)
    assert got == [
        datetime(2026, 6, 7, 0, 0, tzinfo=ALMATY),
        datetime(2026, 6, 14, 0, 0, tzinfo=ALMATY),
    ]


def test_other_macros() -> None:
    start = datetime(2026, 6, 3, 10, 20, tzinfo=ALMATY)
    assert fires("@hourly", ALMATY, start, 1) == [datetime(2026, 6, 3, 11, 0, tzinfo=ALMATY)]
    assert fires("@monthly", ALMATY, start, 1) == [datetime(2026, 7, 1, tzinfo=ALMATY)]
    assert fires("@yearly", ALMATY, start, 1) == [datetime(2027, 1, 1, tzinfo=ALMATY)]
    assert fires("@annually", ALMATY, start, 1) == [datetime(2027, 1, 1, tzinfo=ALMATY)]


def test_timezone_is_respected() -> None:
    trigger = parse_crontab("0 7 * * *", ALMATY)
    fire = next_fire_after(trigger, datetime(2026, 6, 1, 0, 0, tzinfo=UTC))
    assert fire is not None
    assert fire == datetime(2026, 6, 1, 7, 0, tzinfo=ALMATY)
    assert fire.astimezone(UTC).hour == 2  # Almaty is UTC+5


# --- daylight saving time -------------------------------------------------------------------


def test_berlin_spring_forward_fires_once_that_day() -> None:
    # 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    got = fires("30 2 * * *", BERLIN, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3)
    dates = [local(f, BERLIN).date().isoformat() for f in got]
    assert dates == ["2026-03-29", "2026-03-30", "2026-03-31"]
    spring = local(got[0], BERLIN)
    # Fired after the gap, within the hour that replaced 02:00-03:00.
    assert (
        datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)
        <= spring
        < datetime(2026, 3, 29, 4, 0, tzinfo=BERLIN)
    )
    assert spring.utcoffset() == timedelta(hours=2)
    after = local(got[1], BERLIN)
    assert (after.hour, after.minute) == (2, 30)
    assert after.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "offsets"),
    [
        (datetime(2026, 3, 6, 12), [-5, -4, -4, -4]),  # 2026-03-08: EST -> EDT
        (datetime(2026, 10, 30, 12), [-4, -5, -5, -5]),  # 2026-11-01: EDT -> EST
    ],
    ids=["spring", "autumn"],
)
def test_new_york_seven_am_across_dst(start: datetime, offsets: list[int]) -> None:
    got = fires("0 7 * * *", NEW_YORK, start.replace(tzinfo=NEW_YORK), 4)
    for n, fire in enumerate(got):
        wall = local(fire, NEW_YORK)
        assert (wall.hour, wall.minute) == (7, 0)
        assert wall.date() == (start + timedelta(days=n + 1)).date()
        assert wall.utcoffset() == timedelta(hours=offsets[n])
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in itertools.pairwise(got)}
    assert gaps == {timedelta(hours=24), timedelta(hours=23 if offsets[0] == -5 else 25)}


def test_next_fire_after_moves_forward_through_the_repeated_hour() -> None:
    # 2026-10-25 in Berlin: 02:00-03:00 happens twice (CEST, then CET).
    start = datetime(2026, 10, 25, 1, 0, tzinfo=BERLIN)
    got = fires("*/30 * * * *", BERLIN, start, 8)
    instants = [f.astimezone(UTC) for f in got]
    assert all(b > a for a, b in itertools.pairwise(instants))
    assert instants[0] > start.astimezone(UTC)


def test_daily_job_in_repeated_hour_fires_once_like_cron() -> None:
    start = datetime(2026, 10, 24, 12, tzinfo=BERLIN).astimezone(UTC)
    trigger = parse_crontab("30 2 * * *", BERLIN)
    seen = []
    after = start
    for _ in range(3):
        fire = next_fire_after(trigger, after)
        assert fire is not None
        seen.append(local(fire, BERLIN).date().isoformat())
        after = fire.astimezone(UTC)
    assert seen == ["2026-10-25", "2026-10-26", "2026-10-27"]


# --- invalid expressions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "   ",
        "0 7 * *",
        "0 7 * * * *",
        "@reboot",
        "@fortnightly",
        "61 * * * *",
        "0 24 * * *",
        "0 7 0 * *",
        "0 7 32 * *",
        "0 7 * 13 *",
        "0 7 * * 8",
        "0 7 * * fri-mon",
        "0 7 * * */0",
        "x 7 * * *",
        "0 7 * * funday",
    ],
)
def test_invalid_expressions_raise_value_error(expr: str) -> None:
    with pytest.raises(ValueError):
        parse_crontab(expr, ALMATY)
