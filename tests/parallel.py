"""The order in which pytest-xdist hands out the test files (`make test` runs `-n auto --dist
loadfile --no-loadscope-reorder`: each file is a unit, so a module-scoped fixture is built once,
and the units go out in collection order). It orders the collected tests; it never changes what
a test does, and a serial run keeps the file order.

Longest files first: a worker takes the next file when it is nearly idle, so the long ones
(SIGKILL loops, several `syndicate` processes, PostgreSQL, the browser and Java checkers) start
at once, side by side, and the many short files fill the gaps after them. `LONG` lists the
slowest files with their seconds; a stale figure only costs balance, never a result.

(Not `--dist loadgroup` with per-test units: with pytest 9.2 its grouping silently does nothing,
pytest-xdist issue #1386, so a module-scoped fixture would be built on every worker.)
"""

from __future__ import annotations

import pytest

# Seconds per file, summed from `make test PYTEST_ARGS=--durations=0` (two workers, the machine
# busy with other test runs); files under 5 s are left out and count as 0.
LONG = {
    "tests/test_pipeline.py": 86,
    "tests/test_workers.py": 80,
    "tests/test_postgres.py": 58,
    "tests/test_subscribers.py": 58,
    "tests/test_crash.py": 52,
    "tests/test_smtp_delivery.py": 47,
    "tests/test_operations.py": 35,
    "tests/test_faults.py": 34,
    "tests/test_browser.py": 26,
    "tests/test_hostile.py": 25,
    "tests/test_email_clients.py": 24,
    "tests/test_html_valid.py": 21,
    "tests/test_security.py": 18,
    "tests/test_store.py": 18,
    "tests/test_schedule.py": 11,
    "tests/test_websub.py": 10,
    "tests/test_feed_rules.py": 8,
    "tests/test_serving.py": 6,
    "tests/test_headers.py": 6,
}


def arrange(items: list[pytest.Item], distributed: bool) -> None:
    """Under xdist, sort the files longest first; a stable sort, so each file stays whole and
    in its order, and unlisted files keep theirs."""
    if distributed:
        items.sort(key=lambda item: -LONG.get(item.nodeid.split("::")[0], 0))
