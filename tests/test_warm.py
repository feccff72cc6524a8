"""The warm processes `run_cli` forks (tests/warm.py) behave as a fresh `python -m syndicate`:
the same exit status, standard output and standard error, in the caller's folder and
environment, each a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from . import warm
from .conftest import NOW, SECRET, run_cli


def _both(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[object, object]:
    fresh = subprocess.run(
        [sys.executable, "-m", "syndicate", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    forked = warm.run(args, cwd, env, timeout=120)
    return (fresh.returncode, fresh.stdout, fresh.stderr), (
        forked.returncode, forked.stdout, forked.stderr,
    )  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    return base | {"SYNDICATE_SECRET": SECRET} | extra


@pytest.mark.parametrize(
    "args",
    [["--version"], ["status"], ["--config", "missing.toml", "run"], ["no-such-command"],
     ["check"], ["-q", "run", "--now", NOW.isoformat()]],
)  # fmt: skip
def test_a_warm_process_says_and_exits_as_a_fresh_one(sample: Path, args: list[str]) -> None:
    fresh, forked = _both(args, sample, _env())
    assert forked == fresh


def test_a_warm_process_has_the_callers_folder_and_environment(
    sample: Path, tmp_path: Path
) -> None:
    """SYNDICATE_CONFIG and TZ reach the child; the folder is the caller's."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = _env(SYNDICATE_CONFIG=str(sample / "config.toml"), TZ="Asia/Almaty")
    fresh, forked = _both(["-q", "run", "--now", NOW.isoformat()], other, env)
    assert forked == fresh
    assert (sample / "state").is_dir() and not (other / "state").exists()


def test_warm_processes_run_side_by_side_and_a_hung_one_is_killed(sample: Path) -> None:
    """Two callers at once each get their own child's output; a child that outlives its
    timeout is killed (TimeoutExpired, as subprocess.run raises) and the server goes on."""
    assert run_cli(["-q", "run", "--now", NOW.isoformat()], sample).returncode == 0
    outputs: list[tuple[int, str]] = []

    def status() -> None:
        done = warm.run(["status"], sample, _env(), timeout=120)
        outputs.append((done.returncode, done.stdout))

    threads = [threading.Thread(target=status) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outputs) == 2 and outputs[0] == outputs[1] and outputs[0][0] == 0
    assert "articles" in outputs[0][1]
    with pytest.raises(subprocess.TimeoutExpired):
        warm.run(["schedule"], sample, _env(), timeout=3)  # a daemon: runs until killed
    assert warm.run(["--version"], sample, _env(), timeout=120).returncode == 0
