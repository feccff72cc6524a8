"""Benchmark: syndicate's full first run beside Pelican writing the feeds of the same articles.

The same 1,000 articles (~3.5 KB, the words of bench/common.py) in three formats:
  - Pelican Markdown (Title:/Date:/Tags: header), built by `pelican content` in its own venv
    with a config that writes only the all-articles Atom and RSS feeds (no pages, no cache);
  - our plain-text `.txt` format (the sample's), and
  - our Markdown `.md` with `+++` TOML front matter,
each run by `syndicate -q run --now ...` as a process on a fresh site and state. Both tools
start from nothing every time; rates are articles per second of wall time.

Run:  .venv/bin/python bench/peers.py [--articles 1000] [--repeat 3] [--work DIR] [--json F]
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import NOW, WORDS, Report, arguments, paragraph, run_cli, site

FORMATS = ("pelican", "txt", "md")
PELICANCONF = """\
AUTHOR = "Bench"
SITENAME = "The Astana Times"
SITEURL = "https://example.org"
FEED_DOMAIN = SITEURL
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
PATH = "content"
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
FEED_MAX_ITEMS = 20
CATEGORY_FEED_ATOM = None
CATEGORY_FEED_RSS = None
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None
ARTICLE_SAVE_AS = ""
ARTICLE_LANG_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_LANG_SAVE_AS = ""
PAGE_SAVE_AS = ""
PAGE_LANG_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_PAGE_LANG_SAVE_AS = ""
TAG_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAGS_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
DIRECT_TEMPLATES = []
STATIC_PATHS = []
THEME_STATIC_PATHS = []
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
DELETE_OUTPUT_DIRECTORY = True
"""


@dataclass
class Story:
    """One article's content, written out in each format."""

    title: str
    paragraphs: list[str]
    tag: str
    date: str  # ISO 8601, UTC
    noise: str

    def pelican(self) -> str:
        when = self.date.replace("T", " ")[:16]
        head = f"Title: {self.title}\nDate: {when}\nTags: {self.tag}\n\n"
        return head + "\n\n".join(self.paragraphs) + "\n"

    def txt(self) -> str:
        body = "\n\n".join(self.paragraphs)
        tail = "Get The Astana Times stories sent directly to you!"
        return f"{self.title}\n\n{body}\n\n{self.noise}\n\n{tail}"

    def md(self) -> str:
        head = f'+++\ndate = {self.date}\ntags = ["{self.tag}"]\n+++\n# {self.title}\n\n'
        return head + "\n\n".join(self.paragraphs) + "\n"


def stories(count: int, seed: int = 11) -> list[Story]:
    rng, out = random.Random(seed), []
    for n in range(count):
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
        paragraphs = [paragraph(rng) for _ in range(7)]
        date = f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
        out.append(Story(title, paragraphs, rng.choice(WORDS).lower(), date,
                         f"{rng.getrandbits(52):013x}"))  # fmt: skip
    return out


def corpora(work: Path, count: int) -> dict[str, Path]:
    """The same `count` articles in each format, one folder each; cached."""
    folders = {kind: work / f"peers-{kind}-{count}" for kind in FORMATS}
    if all((f / ".complete").exists() for f in folders.values()):
        return folders
    everything = stories(count)
    for kind, folder in folders.items():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        suffix = "txt" if kind == "txt" else "md"
        for n, story in enumerate(everything):
            (folder / f"{n:06d}_story.{suffix}").write_text(getattr(story, kind)())
        (folder / ".complete").touch()
    return folders


def venv_pelican(work: Path) -> Path:
    pelican = work / "venv-pelican" / "bin" / "pelican"
    if not pelican.exists():
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv-pelican")], check=True)
        pip = work / "venv-pelican" / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "pelican[markdown]"], check=True)
    return pelican


def pelican_project(work: Path, corpus: Path) -> Path:
    folder = work / "peers-pelican-project"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "pelicanconf.py").write_text(PELICANCONF)
    (folder / "content").symlink_to(corpus)
    return folder


def time_pelican(pelican: Path, project: Path) -> float:
    out = project / "out"
    shutil.rmtree(out, ignore_errors=True)
    command = [str(pelican), "-q", "content", "-s", "pelicanconf.py", "-o", "out"]
    started = time.perf_counter()
    subprocess.run(command, cwd=project, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    written = sorted(p.name for p in out.rglob("*") if p.is_file())
    if written != ["all.atom.xml", "all.rss.xml"]:
        raise SystemExit(f"pelican wrote {written}, expected the two feeds only")
    return elapsed


def time_syndicate(work: Path, corpus: Path, kind: str) -> float:
    folder = site(corpus, work / f"peers-site-{kind}")
    seconds, _ = run_cli(folder, "run", "--now", NOW)
    if not (folder / "feeds" / "rss.xml").exists():
        raise SystemExit(f"syndicate run wrote no feed in {folder}")
    return seconds


def main() -> None:
    args = arguments(__doc__, articles=1000)
    n, report = args.articles, Report("Peers: Pelican")
    folders = corpora(args.work, n)
    pelican = venv_pelican(args.work)
    project = pelican_project(args.work, folders["pelican"])
    version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True)
    rates = {}
    times = [time_pelican(pelican, project) for _ in range(args.repeat)]
    rates["pelican"] = report.row(f"Pelican {version.stdout.strip()}: feeds of {n:,} .md",
                                  [n / t for t in times], "articles/s", "feeds only")  # fmt: skip
    for kind in ("txt", "md"):
        times = [time_syndicate(args.work, folders[kind], kind) for _ in range(args.repeat)]
        rates[kind] = report.row(f"syndicate first run: {n:,} .{kind}", [n / t for t in times],
                                 "articles/s", "feeds + archive + digest")  # fmt: skip
    summarise(report, rates, n)
    report.write(args.json)


def summarise(report: Report, rates: dict[str, float], n: int) -> None:
    for kind, goal in (("txt", 5), ("md", 2)):
        ratio = rates[kind] / rates["pelican"]
        report.target(f"syndicate first run on .{kind} >= {goal}x Pelican (feeds only)",
                      f"{ratio:.1f}x", ratio >= goal)  # fmt: skip
    report.notes += [
        f"the same {n:,} articles (~3.5 KB, 7 paragraphs) in Pelican Markdown, our .txt and our "
        ".md; both tools as processes from a fresh output and a fresh state or no cache",
        "Pelican writes only the all-articles Atom and RSS feeds (20 items; no pages, no "
        "category, tag or author feeds); syndicate's first run also writes RSS, Atom and JSON "
        "Feed, a page per article, the paginated index, tag pages and feeds, and freezes a "
        "digest (one .eml): it does more work than Pelican here",
    ]


if __name__ == "__main__":
    main()
