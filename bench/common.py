"""Shared pieces of the benchmarks: corpora in the sample's format, site folders, timing with
median/min/max, the JSON every case writes for `bench/run.py`, and the machine's facts.

Nothing here asserts a timing; figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-28T12:00:00+00:00"
WORK = Path(tempfile.gettempdir()) / "syndicate-bench"
WORDS = [
    "Astana",
    "Kazakhstan",
    "council",
    "ministry",
    "programme",
    "economy",
    "grain",
    "rail",
    "steppe",
    "winter",
    "culture",
    "orchestra",
    "science",
    "satellite",
    "delegation",
    "briefing",
    "policy",
    "energy",
    "water",
    "region",
    "city",
    "market",
    "investment",
    "transport",
    "university",
    "students",
    "festival",
    "museum",
    "report",
    "officials",
    "agreement",
]


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 80))).capitalize() + "."


def article_text(n: int, rng: random.Random, markdown: bool) -> str:
    """One article of about 3.5 KB in the sample's format (Markdown with front matter)."""
    title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
    body = "\n\n".join(paragraph(rng) for _ in range(7))
    if markdown:
        tag = rng.choice(WORDS).lower()
        date = f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T09:00:00Z"
        return f'+++\ndate = {date}\ntags = ["{tag}"]\n+++\n# {title}\n\n{body}\n'
    noise = f"\n\n{rng.getrandbits(52):013x}\n\n"
    return f"{title}\n\n{body}{noise}Get The Astana Times stories sent directly to you!"


def generate(folder: Path, count: int, markdown_every: int = 10, seed: int = 7) -> Path:
    """`count` articles, one in `markdown_every` as Markdown (0: none, 1: all); cached."""
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    for n in range(count):
        markdown = markdown_every > 0 and n % markdown_every == 0
        name = f"{n:06d}_{rng.getrandbits(64):016x}.{'md' if markdown else 'txt'}"
        (folder / name).write_text(article_text(n, rng, markdown))
    done.touch()
    return folder


def site(corpus: Path, folder: Path) -> Path:
    """A fresh publication (the sample's config and templates) over `corpus`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "articles").symlink_to(corpus)
    return folder


def run_cli(folder: Path, *args: str, stderr: int | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one real `syndicate` process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "-q", *args],
        cwd=folder,
        env={**os.environ, "SYNDICATE_SECRET": "bench"},
        stderr=stderr,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"syndicate {' '.join(args)} failed in {folder}")
    return elapsed, usage.ru_maxrss / 1024


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


@dataclass
class Report:
    """One case's figures: printed as they come, written as JSON for bench/run.py."""

    section: str
    notes: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def row(self, case: str, values: list[float], unit: str, note: str = "") -> float:
        median = statistics.median(values)
        self.rows.append(
            {"case": case, "median": median, "min": min(values), "max": max(values),
             "unit": unit, "note": note}
        )  # fmt: skip
        print(f"{case:<58} {median:12.4g} {unit:<8} (min {min(values):.4g}, "
              f"max {max(values):.4g}) {note}", flush=True)  # fmt: skip
        return median

    def target(self, target: str, figure: str, met: bool, limit: str = "") -> None:
        """One row of the targets table; a missed target says what limits it, measured."""
        self.targets.append({"target": target, "figure": figure, "met": met, "limit": limit})
        print(f"TARGET {'met   ' if met else 'MISSED'} {target}: {figure}", flush=True)
        if limit:
            print(f"       limited by: {limit}", flush=True)

    def write(self, path: Path | None) -> None:
        if path is not None:
            path.write_text(json.dumps(vars(self), indent=1))


def arguments(doc: str, **extra: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--json", type=Path)
    for name, default in extra.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    return args


def machine(work: Path) -> list[str]:
    """What the figures were measured on."""
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((x.split(":", 1)[1].strip() for x in info if x.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next((int(x.split()[1]) // 1024 for x in meminfo if x.startswith("MemTotal")), 0)
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(work)], capture_output=True, text=True)
    libs = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("feedgen", "jinja2", "premailer", "lxml", "apscheduler", "sqlalchemy")
    )
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores; RAM {memory:,} MiB",
        f"OS: {platform.platform()}; work folder {work} on {fs.stdout.strip() or '?'}",
        f"Python {platform.python_version()}; {libs}",
    ]
