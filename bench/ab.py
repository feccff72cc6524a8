"""Two commits side by side on this machine: the process cases of syndicate, interleaved.

A figure in bench/RESULTS.md is only comparable with one from the same machine in the same
state (the same code measured 0.35 s to start on one day and 0.6 s on another, on this 2-core
VM). This script answers "did a change make syndicate slower?" without that doubt: it checks
out each commit into a temporary worktree, makes one publication per commit from that
commit's own sample (config, templates, articles, plus `--articles N` generated ones), does
its first run, then times each case for both commits in turn, A B A B ..., so that whatever
else the machine does falls on both alike. It reports the median and minimum of the wall and
CPU (user + system) seconds, and B's median CPU as a share of A's.

Both run with this checkout's virtualenv (its packages must be a superset of what each commit
needs), and each commit's modules are compiled first, so neither pays for compiling.

Cases: `import syndicate.cli`; `syndicate run` with nothing changed; `syndicate send` with
nothing pending; `syndicate status`.

Run:  .venv/bin/python bench/ab.py A [B] [--repeat 11] [--articles 0]   (B defaults to HEAD)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, generate

CASES = {
    "python start-up + import syndicate.cli": ["-c", "import syndicate.cli"],
    "syndicate run, nothing changed": ["-m", "syndicate", "-q", "run"],
    "syndicate send, nothing pending": ["-m", "syndicate", "-q", "send"],
    "syndicate status": ["-m", "syndicate", "status"],
}
ENV = {"SYNDICATE_SECRET": "bench-ab-secret-bench-ab-secret", "PYTHONDONTWRITEBYTECODE": "1"}


def checkout(commit: str, work: Path) -> Path:
    tree = work / commit.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree),
                    commit], check=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "syndicate")],
                   check=True, stdout=subprocess.DEVNULL, env={**os.environ,
                   "PYTHONDONTWRITEBYTECODE": ""})  # fmt: skip
    return tree


def publication(tree: Path, articles: int, work: Path) -> Path:
    """The commit's sample publication (and `articles` generated ones), after its first run."""
    site = tree / "ab-site"
    site.mkdir()
    for name in ("config.toml", "templates", "articles"):
        copy = shutil.copytree if (tree / name).is_dir() else shutil.copy
        copy(tree / name, site / name)
    if articles:
        for path in generate(work / f"corpus-{articles}", articles).glob("*.*"):
            shutil.copy(path, site / "articles" / path.name)
    one(tree, site, ["-m", "syndicate", "-q", "run"])
    return site


def one(tree: Path, site: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process of `tree`'s syndicate in `site`."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(tree)}
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=site, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(trees: dict[str, tuple[Path, Path]], repeat: int) -> None:
    print(
        f"| case | commit | wall median | wall min | CPU median | CPU min | CPU vs {next(iter(trees))} |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, args in CASES.items():
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for _ in range(repeat):
            for name, (tree, site) in trees.items():
                figures[name].append(one(tree, site, args))
        base = statistics.median(c for _, c in figures[next(iter(trees))])
        for name, runs in figures.items():
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(f"| {case} | `{name}` | {statistics.median(walls):.3f} s | {min(walls):.3f} s "
                  f"| {statistics.median(cpus):.3f} s | {min(cpus):.3f} s "
                  f"| {statistics.median(cpus) / base:.0%} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="the commit to compare against (e.g. the one before a change)")
    parser.add_argument("b", nargs="?", default="HEAD", help="the commit to measure (HEAD)")
    parser.add_argument("--repeat", type=int, default=11, help="processes per case and commit")
    parser.add_argument("--articles", type=int, default=0, help="generated articles to add")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="syndicate-ab-"))
    trees: dict[str, tuple[Path, Path]] = {}
    made: list[Path] = []
    try:
        for commit in (args.a, args.b):
            made.append(checkout(commit, work))
            trees[commit] = (made[-1], publication(made[-1], args.articles, work))
        compare(trees, args.repeat)
    finally:
        for tree in made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
