"""The GC policy is the process's: `syndicate` freezes what its imports left and raises the
youngest generation's threshold, and still collects every cycle a long-running process makes;
in-process callers (tests, `run_once`) keep the collector as they had it."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from syndicate.config import load_config
from syndicate.gcpolicy import GEN0
from syndicate.pipeline import run_once

from .conftest import NOW

ENTRY = """
import gc
from syndicate import cli
cli.main = lambda: print(gc.get_threshold()[0], gc.get_freeze_count() > 0, gc.isenabled()) or 0
cli.entry()
"""

# a daemon's work: a million objects in reference cycles, each dropped at once
CYCLES = """
import gc
from syndicate import gcpolicy
gcpolicy.for_process()
frozen, before = gc.get_freeze_count(), len(gc.get_objects())
class Node:
    pass
peak = 0
for k in range(500_000):
    a, b = Node(), Node()
    a.other, b.other = b, a
    if k % 10_000 == 0:
        peak = max(peak, len(gc.get_objects()) - before)
print(frozen, peak, gc.get_stats()[0]["collected"])
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_the_process_entry_sets_the_policy_before_main() -> None:
    threshold, frozen, enabled = _python(ENTRY).split()
    assert (int(threshold), frozen, enabled) == (GEN0, "True", "True")


def test_cycles_are_still_collected_under_the_policy() -> None:
    """Memory stays flat: a million cyclic objects never hold more than about one young
    generation (`GEN0` allocations) at once."""
    frozen, peak, collected = map(int, _python(CYCLES).split())
    assert frozen > 0  # what the imports left
    assert collected >= 900_000  # the young generation found nearly every dead cycle
    assert peak < 2 * GEN0  # bounded by the young threshold, not by the million made


def test_a_run_in_process_leaves_the_collector_alone(sample: Path) -> None:
    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": "s"})
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    report = run_once(config, NOW)
    assert report.ok and report.new > 0
    assert gc.isenabled() and gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen
