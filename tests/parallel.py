"""How the suite is split across pytest-xdist workers (`make test` runs `-n auto --dist
loadgroup --no-loadscope-reorder`: each test is a unit, handed out in collection order). It
orders and groups the collected tests; it never changes what a test does, and a serial run
keeps the file order.

- Longest first: each worker takes the next test when it is nearly idle, so the long tests
  (SIGKILL loops, several `syndicate` processes, PostgreSQL, the browser and Java checkers) start
  at once, side by side, and the many short ones fill the gaps after them. `LONG` lists the
  slowest tests with their serial seconds on the 2-core machine; a stale figure only costs
  balance, never a result.
- A module whose tests share a module- or class-scoped fixture (a site published once, a
  rendered digest) goes to one worker whole, so that fixture is built once, not once per worker.
"""

from __future__ import annotations

import pytest

# From `pytest --durations=25` run serially (bench/RESULTS.md has the machine): seconds per
# test, matched as a prefix of its node id.
LONG = {
    "tests/test_workers.py::test_four_workers_share_one_digest": 37,
    "tests/test_crash.py::": 33,
    "tests/test_workers.py::test_send_workers_option": 8,
    "tests/test_pipeline.py::test_a_bad_file_is_reported": 14,
    "tests/test_postgres.py::test_run_digest_send_status": 13,
    "tests/test_postgres.py::test_two_schedulers": 13,
    "tests/test_subscribers.py::test_subscriber_commands_end_to_end": 12,
    "tests/test_pipeline.py::test_digest_waits_for_the_schedule": 9,
    "tests/test_browser.py::": 8,
    "tests/test_pipeline.py::test_digest_is_never_frozen_twice": 8,
    "tests/test_subscribers.py::test_readding": 8,
    "tests/test_smtp_delivery.py::test_a_killed_send_resumes": 8,
    "tests/test_operations.py::test_a_digest_lists_at_most": 7,
    "tests/test_html_valid.py::": 7,
    "tests/test_faults.py::test_two_runs_and_a_daemon": 7,
    "tests/test_operations.py::test_init_scaffolds": 7,
    "tests/test_pipeline.py::test_second_run_changes_nothing": 7,
    "tests/test_postgres.py::test_advisory_lock": 6,
}

SHARED_SCOPES = {"module", "class", "package"}


def arrange(items: list[pytest.Item], distributed: bool) -> None:
    """Group tests that share a wider fixture; under xdist, sort the longest first."""
    for item in items:
        if _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(_module(item)))
    if distributed:  # a stable sort: tests of equal weight keep their order
        totals: dict[str, float] = {}
        for item in items:
            module = _module(item)
            totals[module] = totals.get(module, 0) + _seconds(item.nodeid)
        items.sort(key=lambda item: -_weight(item, totals))


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else []
    return any(d.scope in SHARED_SCOPES for chain in defs for d in chain)


def _seconds(nodeid: str) -> float:
    return max((s for prefix, s in LONG.items() if nodeid.startswith(prefix)), default=0)


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _weight(item: pytest.Item, totals: dict[str, float]) -> float:
    """A test's own seconds; in a grouped module, the module's total, the same for each of its
    tests, so they stay together in their order."""
    if item.get_closest_marker("xdist_group") is None:
        return _seconds(item.nodeid)
    return totals[_module(item)]
