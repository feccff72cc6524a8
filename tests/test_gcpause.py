"""The cyclic collector is paused around cycle-free bulk work and left as it was: enabled or
not as the caller had it, and nothing frozen once a pass is over (a long-running scheduler
must still collect everything)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from syndicate.config import load_config
from syndicate.errors import ConfigError
from syndicate.gcpause import paused_gc, thawed
from syndicate.ingest import walk
from syndicate.pipeline import run_once

from .conftest import NOW


def test_paused_gc_restores_the_callers_choice_even_after_an_error() -> None:
    with thawed():
        with paused_gc():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0  # the block's survivors, frozen
        gc.disable()
        try:
            with paused_gc():
                pass
            assert not gc.isenabled()  # a caller's choice is left alone
        finally:
            gc.enable()
        with pytest.raises(ZeroDivisionError), paused_gc():
            1 / 0  # noqa: B018
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_walk_pauses_the_collector(tmp_path: Path) -> None:
    (tmp_path / "001_a.txt").write_text("Title\n\nBody.\n")
    with thawed():
        assert list(walk(tmp_path).stats) == ["001_a.txt"]
        with pytest.raises(ConfigError):
            walk(tmp_path / "missing")
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_run_leaves_nothing_frozen(sample: Path) -> None:
    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": "s"})
    report = run_once(config, NOW)
    assert report.ok and report.new > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_outside_a_pass_nothing_is_frozen() -> None:
    """A caller that forgets `thawed` loses speed, never memory."""
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
