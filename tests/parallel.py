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
# busy with another engineer's test runs; 2 December 2026); files under 5 s are left out and
# count as 0. test_contrast, test_web_browser and test_email_clients skip in part without the
# npm tools that .ci/run installs into .cache/node; their figures are with those tools, as in CI.
LONG = {
    "tests/test_pipeline.py": 59,
    "tests/test_workers.py": 45,
    "tests/test_subscribers.py": 43,
    "tests/test_operations.py": 42,
    "tests/test_hostile.py": 40,
    "tests/test_contrast.py": 38,
    "tests/test_crash.py": 32,
    "tests/test_web_browser.py": 31,
    "tests/test_postgres.py": 27,
    "tests/test_web.py": 22,
    "tests/test_import.py": 20,
    "tests/test_bounces.py": 20,
    "tests/test_bounces_imap.py": 18,
    "tests/test_smtp_delivery.py": 16,
    "tests/test_leases.py": 15,
    "tests/test_faults.py": 14,
    "tests/test_browser.py": 13,
    "tests/test_store.py": 13,
    "tests/test_inflight.py": 13,
    "tests/test_email_clients.py": 11,
    "tests/test_websub.py": 12,
    "tests/test_bounces_postfix.py": 12,
    "tests/test_headers.py": 12,
    "tests/test_security.py": 11,
    "tests/test_bounces_crash.py": 9,
    "tests/test_serving.py": 9,
    "tests/test_changeset_property.py": 8,
    "tests/test_schedule.py": 8,
    "tests/test_html_valid.py": 6,
    "tests/test_web_instances.py": 6,
}


def arrange(items: list[pytest.Item], distributed: bool) -> None:
    """Under xdist, sort the files longest first; a stable sort, so each file stays whole and
    in its order, and unlisted files keep theirs."""
    if distributed:
        items.sort(key=lambda item: -LONG.get(item.nodeid.split("::")[0], 0))
