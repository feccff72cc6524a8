"""Benchmark cases 1 and 3: pick-up and the web archive at N articles, beside bare baselines.

For each N (default 1,000, 10,000 and 100,000 articles of ~3.5 KB, one in ten Markdown):
  - full first run: a real `syndicate run` process on a fresh state (files/s, peak RSS),
    beside reading + SHA-256 of the same files;
  - no-change rerun, in-process (`run_once`) beside a bare `os.scandir` + `stat` walk, and as
    a process beside the interpreter's start-up with syndicate imported;
  - one-new-article rerun (a file added, `now` an hour later) and the files it wrote;
  - k changes (k = 1, 10, 100 new articles, and as many edited in place across the archive):
    a rerun plans from its change set, so its cost should grow with k, not with N;
  - archive: every page written into an empty output folder, beside creating, writing and
    renaming as many files of the same size (the disk's share), and a rerun after one article
    changed, with the files it touched.

Run:  .venv/bin/python bench/pickup.py [--sizes 1000,10000,100000] [--repeat 3] [--json F]
      [--quick 1]  (reruns only: one first run, kept for the next --quick; no process or
      archive cases)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from common import NOW, Report, arguments, generate, run_cli, site, timed

from syndicate import gcpolicy
from syndicate.config import load_config
from syndicate.models import RunReport
from syndicate.pipeline import run_once


class Clock:
    """Each in-process run an hour after the last, as cron would."""

    def __init__(self) -> None:
        self.now = datetime.fromisoformat(NOW)

    def tick(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


def read_and_hash(corpus: Path) -> None:
    for entry in os.scandir(corpus):
        if not entry.name.startswith("."):
            hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()


def bare_files(parent: Path, count: int, size: int) -> None:
    """What publishing costs the disk alone: create, write and rename `count` files into a
    new folder under `parent` (no fsync; syndicate adds one syncfs per publish)."""
    folder = Path(tempfile.mkdtemp(prefix="bare-", dir=parent))
    data = b"x" * size
    for k in range(count):
        temp = folder / f".{k}.tmp"
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, data)
        os.close(fd)
        os.rename(temp, folder / f"{k}.html")


def scandir_stat(corpus: Path) -> None:
    for entry in os.scandir(corpus):
        entry.stat()


def first_runs(report: Report, n: int, corpus: Path, work: Path, repeat: int) -> Path:
    runs = [run_cli(site(corpus, work / f"site-{n}"), "run", "--now", NOW) for _ in range(repeat)]
    seconds, peaks = [r[0] for r in runs], [r[1] for r in runs]
    median = report.row(f"N={n:,}: first run (process)", seconds, "s")
    report.row(f"N={n:,}: first run, files per second", [n / s for s in seconds], "files/s")
    report.row(f"N={n:,}: first run, peak memory", peaks, "MB")
    bare = report.row(f"N={n:,}: read + SHA-256 every file (baseline)",
                      timed(lambda: read_and_hash(corpus), repeat), "s")  # fmt: skip
    report.notes.append(f"N={n:,}: the first run costs {median / bare:.0f}x reading and hashing")
    if n >= 100_000:
        report.target("peak memory at N=100,000 < 400 MB", f"{max(peaks):.0f} MB", max(peaks) < 400)
    return work / f"site-{n}"


def reruns(report: Report, n: int, folder: Path, repeat: int) -> float:
    config, clock = load_config(folder / "config.toml"), Clock()
    run_once(config, clock.tick())  # warm: imports, page cache
    quiet = report.row(f"N={n:,}: no-change rerun (in-process)",
                       timed(lambda: run_once(config, clock.tick()), repeat), "s")  # fmt: skip
    walk = report.row(f"N={n:,}: scandir + stat walk (baseline)",
                      timed(lambda: scandir_stat(folder / "articles"), repeat), "s")  # fmt: skip
    run_cli(folder, "run")  # warm: the in-process runs' clock ran ahead of this one's
    report.row(f"N={n:,}: no-change rerun (process)",
               [run_cli(folder, "run")[0] for _ in range(repeat)], "s")  # fmt: skip
    start = [sys.executable, "-c", "import syndicate.cli"]
    report.row("python start-up + import syndicate (baseline of the process)",
               timed(lambda: subprocess.run(start, check=True), repeat), "s")  # fmt: skip
    if n >= 100_000:
        ratio = quiet / walk
        report.target("no-change rerun at N=100,000 within 2x the bare walk", f"{ratio:.2f}x",
                      ratio <= 2)  # fmt: skip
    return quiet


def one_new(report: Report, n: int, folder: Path, repeat: int, quiet: float) -> None:
    config, clock = load_config(folder / "config.toml"), Clock()
    extra = folder / "articles" / "zzzzzz_bench_new.txt"
    times, written = [], 0
    for k in range(repeat):
        extra.write_text(f"One new article {k}\n\nIt arrived after the others.\n")
        started = time.perf_counter()
        result = run_once(config, clock.tick() + timedelta(days=k))
        times.append(time.perf_counter() - started)
        written = len(result.files_written)
        extra.unlink()
        run_once(config, clock.tick() + timedelta(days=k))
    median = report.row(f"N={n:,}: one-new-article rerun (in-process)", times, "s",
                        f"{written} files written")  # fmt: skip
    if n >= 100_000:
        ratio = median / quiet
        report.target("one new article at N=100,000 within 1.5x the no-change rerun",
                      f"{ratio:.2f}x", ratio <= 1.5)  # fmt: skip


def k_changes(report: Report, n: int, folder: Path, repeat: int) -> None:
    """k new articles, then k articles edited in place (spread over the archive), each
    undone after its timed run; the rows show the cost growing with k."""
    config, clock = load_config(folder / "config.toml"), Clock()
    articles = sorted((folder / "articles").glob("*.txt"))
    for k in (1, 10, 100):
        if k > n // 10:
            continue
        news = [folder / "articles" / f"zzzzzz_bench_k{j}.txt" for j in range(k)]
        victims = articles[:: max(1, len(articles) // k)][:k]
        originals = [v.read_bytes() for v in victims]
        added: list[float] = []
        edited: list[float] = []
        for r in range(repeat):
            for j, path in enumerate(news):
                path.write_text(f"New article {j}, take {r}\n\nIt arrived after the others.\n")
            started = time.perf_counter()
            run_once(config, clock.tick())
            added.append(time.perf_counter() - started)
            for path in news:
                path.unlink()
            run_once(config, clock.tick())
            for victim, original in zip(victims, originals, strict=True):
                victim.write_bytes(original + f"\n\nA correction, take {r}.".encode())
            started = time.perf_counter()
            run_once(config, clock.tick())
            edited.append(time.perf_counter() - started)
            for victim, original in zip(victims, originals, strict=True):
                victim.write_bytes(original)
            run_once(config, clock.tick())
        report.row(f"N={n:,}: k={k} new articles, rerun (in-process)", added, "s")
        report.row(f"N={n:,}: k={k} articles edited, rerun (in-process)", edited, "s")


def archive(report: Report, n: int, folder: Path, repeat: int) -> None:
    config, clock = load_config(folder / "config.toml"), Clock()
    times, pages = [], 0
    for _ in range(repeat):
        shutil.rmtree(config.paths.output)
        started = time.perf_counter()
        pages = len(run_once(config, clock.tick()).files_written)
        times.append(time.perf_counter() - started)
    median = report.row(f"N={n:,}: write every page into an empty folder", times, "s",
                        f"{pages:,} files")  # fmt: skip
    report.row(f"N={n:,}: pages written per second", [pages / t for t in times], "files/s")
    size = sum(f.stat().st_size for f in (config.paths.output / "articles").iterdir()) // n
    bare = report.row(f"N={n:,}: create, write and rename {pages:,} files of {size:,} bytes "
                      "(baseline: the disk)",
                      timed(lambda: bare_files(folder, pages, size), repeat), "s")  # fmt: skip
    for scratch in folder.glob("bare-*"):
        shutil.rmtree(scratch)
    report.notes.append(f"N={n:,}: {pages / median:,.0f} files per second into an empty folder; "
                        f"the bare disk takes {bare / median:.0%} of that time")  # fmt: skip
    changed_one(report, n, folder, repeat)


def changed_one(report: Report, n: int, folder: Path, repeat: int) -> None:
    config, clock = load_config(folder / "config.toml"), Clock()
    victim = sorted((folder / "articles").glob("*.txt"))[n // 2]
    original = victim.read_bytes()
    times: list[float] = []
    result = RunReport()
    try:
        for k in range(repeat):
            victim.write_bytes(original + f"\n\nA correction, version {k}.".encode())
            started = time.perf_counter()
            result = run_once(config, clock.tick())
            times.append(time.perf_counter() - started)
    finally:
        victim.write_bytes(original)
        run_once(config, clock.tick())
    touched = ", ".join(sorted(result.files_written))
    report.row(f"N={n:,}: one article changed, rerun (in-process)", times, "s",
               f"{len(result.files_written)} files written")  # fmt: skip
    report.notes.append(f"N={n:,}: one changed article rewrote: {touched}")


def main() -> None:
    gcpolicy.for_process()  # the in-process runs under the `syndicate` process's GC policy
    args = arguments(__doc__, sizes="1000,10000,100000", quick=0)
    report = Report("Pick-up and archive")
    for n in (int(s) for s in args.sizes.split(",")):
        corpus = generate(args.work / f"corpus-{n}", n)
        if args.quick:
            folder = args.work / f"site-{n}"
            if not (folder / "feeds" / ".syndicate-stamp").exists():  # else reuse the last one
                run_cli(site(corpus, folder), "run", "--now", NOW)
            config, clock = load_config(folder / "config.toml"), Clock()
            run_once(config, clock.tick())  # warm: imports, page cache
            quiet = report.row(f"N={n:,}: no-change rerun (in-process)",
                               timed(lambda: run_once(config, clock.tick()), args.repeat), "s")  # fmt: skip  # noqa: B023
        else:
            folder = first_runs(report, n, corpus, args.work, args.repeat)
            quiet = reruns(report, n, folder, args.repeat)
        one_new(report, n, folder, args.repeat, quiet)
        k_changes(report, n, folder, args.repeat)
        if not args.quick:
            archive(report, n, folder, args.repeat)
        report.write(args.json)
    report.write(args.json)


if __name__ == "__main__":
    main()
