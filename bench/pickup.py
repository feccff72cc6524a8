"""Benchmark: pick-up, feeds and archive at N articles, each beside its bare baseline.

    .venv/bin/python bench/pickup.py                  # N = 1,000 and 10,000, 3 repeats
    .venv/bin/python bench/pickup.py --sizes 1000,10000,100000 --repeat 3

Prints medians with min and max and appends a section to bench/RESULTS.md. Timings are never
asserted anywhere; this is for reading. Each `syndicate run` is a real process on a generated
corpus in the sample's format (~3.5 KB per article, one in ten Markdown).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
NOW = "2026-11-28T12:00:00+00:00"


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 80))).capitalize() + "."


def generate(folder: Path, count: int, seed: int = 7) -> None:
    """Write `count` articles of about 3.5 KB, one in ten as Markdown with front matter."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
        body = "\n\n".join(_paragraph(rng) for _ in range(7))
        noise = f"\n\n{rng.getrandbits(52):013x}\n\n"
        if n % 10 == 0:
            text = f'+++\ndate = 2026-{1 + n % 11:02d}-{1 + n % 28:02d}T09:00:00Z\ntags = ["{rng.choice(WORDS).lower()}"]\n+++\n# {title}\n\n{body}\n'
            (folder / f"{n:06d}_{rng.getrandbits(64):016x}.md").write_text(text)
        else:
            text = f"{title}\n\n{body}{noise}Get The Astana Times stories sent directly to you!"
            (folder / f"{n:06d}_{rng.getrandbits(64):016x}.txt").write_text(text)


def site_for(corpus: Path, work: Path) -> Path:
    site = work / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    shutil.copytree(ROOT / "templates", site / "templates")
    (site / "articles").symlink_to(corpus)
    return site


def syndicate_run(site: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one real `syndicate run`."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "-q", "run", "--now", NOW],
        cwd=site, env={**os.environ, "SYNDICATE_SECRET": "bench"},
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"syndicate run failed in {site}")
    return elapsed, usage.ru_maxrss / 1024


def read_and_hash(corpus: Path) -> None:
    for entry in os.scandir(corpus):
        hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()


def scandir_stat(corpus: Path) -> None:
    for entry in os.scandir(corpus):
        entry.stat()


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def fmt(times: list[float]) -> str:
    return f"{statistics.median(times):8.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def bench_size(n: int, repeat: int, work: Path, lines: list[str]) -> None:
    corpus = work / f"corpus-{n}"
    if not corpus.exists():
        generate(corpus, n)
    first, peaks, rerun, one_new = [], [], [], []
    for _ in range(repeat):
        site = site_for(corpus, work)
        seconds, peak = syndicate_run(site)
        first.append(seconds)
        peaks.append(peak)
        rerun.append(syndicate_run(site)[0])
        extra = corpus / "zzzzzz_new.txt"
        extra.write_text("One new article\n\n" + _paragraph(random.Random(1)))
        one_new.append(syndicate_run(site)[0])
        extra.unlink()
    bare_read = timed(lambda: read_and_hash(corpus), repeat)
    bare_walk = timed(lambda: scandir_stat(corpus), repeat)
    rate = n / statistics.median(first)
    lines += [
        f"| {n:,} | first run | {fmt(first)} | {rate:,.0f} files/s, peak {max(peaks):.0f} MB |",
        f"| {n:,} | read + sha256 every file (baseline) | {fmt(bare_read)} | |",
        f"| {n:,} | no-change rerun | {fmt(rerun)} | {statistics.median(rerun) / statistics.median(bare_walk):.1f}x the bare walk |",
        f"| {n:,} | scandir + stat walk (baseline) | {fmt(bare_walk)} | |",
        f"| {n:,} | one-new-article rerun | {fmt(one_new)} | {statistics.median(one_new) / statistics.median(rerun):.1f}x the no-change rerun |",
    ]
    print("\n".join(lines[-5:]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "syndicate-bench"
    )
    args = parser.parse_args()
    lines = [
        f"\n## Pick-up ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.repeat} repeats, median (min, max).\n",
        "| N | case | time | note |",
        "|---|---|---|---|",
    ]
    print("\n".join(lines))
    for n in (int(s) for s in args.sizes.split(",")):
        bench_size(n, args.repeat, args.work, lines)
    with (ROOT / "bench" / "RESULTS.md").open("a") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    main()
