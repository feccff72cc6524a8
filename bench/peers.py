"""Benchmark: syndicate's full first run beside Pelican and Hugo building a full site of the
same articles (equal work), at 1,000 and 10,000 articles.

The same articles (~3.5 KB, 7 paragraphs, one tag each, the words of bench/common.py) in four
formats, one folder each:
  - Pelican Markdown (Title:/Date:/Tags: header), built by `pelican content` (its own venv)
    with Pelican's default settings and default theme plus the feeds syndicate writes: the
    all-articles RSS and Atom feeds and one RSS and Atom feed per tag (Pelican's defaults
    already write Atom per category and author); pages of 20 like syndicate's `page_size`; no
    content cache. It writes a page per article, the paginated index, tag, category and author
    pages, the archives, and its theme's static files;
  - Hugo Markdown (`+++` TOML front matter with the title), built by `hugo` (Debian's package,
    installed when missing) with the minimal layouts below: a page per article (title, date,
    tag links, the body), the index and each tag's page paginated by 20 (title and summary
    per article), the list of tags, and an RSS feed (20 newest, full HTML) for the site and
    for each tag. The speed-of-light anchor for site generation (Go, parallel, no state);
  - our plain-text `.txt` format (the sample's; it carries no tags), and
  - our Markdown `.md` with `+++` TOML front matter,
each run by `syndicate -q run --now ...` as a process on a fresh site and state: a page per
article, the paginated index, a page and RSS, Atom and JSON Feed per tag and for the site, and
the state database and one frozen digest (.eml). Every tool starts from nothing each time and
the files each writes are counted. rss2email, the peer for delivery, is measured in
bench/delivery.py, whose ratio is in the same run.

Run:  .venv/bin/python bench/peers.py [--articles 1000] [--large 10000] [--repeat 3]
      [--work DIR] [--json F]       (--large 0 skips the second size; it runs once)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from common import NOW, WORDS, Report, arguments, paragraph, run_cli, site

from syndicate.config import load_config
from syndicate.pipeline import run_once

FORMATS = ("pelican", "hugo", "txt", "md")
PAGE = 20  # syndicate's default `page_size` and the sample's `max_items`
PELICANCONF = f"""\
AUTHOR = "Bench"
SITENAME = "The Astana Times"
SITEURL = "https://example.org"
FEED_DOMAIN = SITEURL
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
PATH = "content"
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
TAG_FEED_ATOM = "feeds/{{slug}}.tag.atom.xml"
TAG_FEED_RSS = "feeds/{{slug}}.tag.rss.xml"
FEED_MAX_ITEMS = {PAGE}
DEFAULT_PAGINATION = {PAGE}
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
DELETE_OUTPUT_DIRECTORY = True
"""
HUGO_CONFIG = f"""\
baseURL = "https://example.org/"
languageCode = "en"
title = "The Astana Times"
paginate = {PAGE}
disableKinds = ["sitemap", "robotsTXT", "404", "section"]
[taxonomies]
tag = "tags"
[outputs]
home = ["HTML", "RSS"]
term = ["HTML", "RSS"]
taxonomy = ["HTML"]
"""
_HEAD = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} · '
_LIST = (
    _HEAD
    + """{{ .Site.Title }}</title></head>
<body><h1>{{ .Title }}</h1>{{ $pager := .Paginate .Pages }}
{{ range $pager.Pages }}<article><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
<time>{{ .Date.Format "2 January 2006" }}</time><p>{{ .Summary }}</p></article>
{{ end }}{{ with $pager.Prev }}<a href="{{ .URL }}">newer</a>{{ end }}
{{ with $pager.Next }}<a href="{{ .URL }}">older</a>{{ end }}</body></html>
"""
)
HUGO_LAYOUTS = {  # layouts/_default/<name>: Hugo renders nothing without templates
    "single.html": _HEAD
    + """{{ .Site.Title }}</title></head>
<body><article><h1>{{ .Title }}</h1>
<time datetime="{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}">{{ .Date.Format "2 January 2006" }}</time>
{{ .Content }}
<p>{{ range .GetTerms "tags" }}<a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a> {{ end }}</p>
</article></body></html>
""",
    "list.html": _LIST,  # the home page, paginated
    "term.html": _LIST,  # one tag's page, paginated
    "taxonomy.html": _HEAD
    + """{{ .Site.Title }}</title></head>
<body><h1>{{ .Title }}</h1><ul>{{ range .Data.Terms.Alphabetical }}
<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>{{ end }}
</ul></body></html>
""",
    "rss.xml": """{{ printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>{{ .Site.Title }}{{ if not .IsHome }}: {{ .Title }}{{ end }}</title>
<link>{{ .Permalink }}</link><description>{{ .Site.Title }}</description><language>en</language>
{{ range first 20 .Pages }}<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link>
<guid>{{ .Permalink }}</guid><pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
<category>{{ range .Params.tags }}{{ . }}{{ end }}</category><description>{{ .Summary | html }}</description>
<content:encoded>{{ .Content | html }}</content:encoded></item>
{{ end }}</channel></rss>
""",
}


# Where a first run's time goes: each function's own time (cProfile) goes to the first group
# whose substrings its file or name contains; a built-in's (str.join, os.read...) goes to its
# callers' groups in proportion to the time each call site spent in it.
SHARES = (
    ("Markdown", ("markdown_it", "mdurl", "linkify")),
    ("page templates (Jinja)", ("jinja2", ".j2", "markupsafe", "render/pages", "render/common")),
    ("digest (premailer)", ("premailer", "cssutils", "cssselect", "render/digest")),
    ("feeds", ("feedgen", "render/feeds", "render/jsonfeed", "lxml", "dateutil")),
    ("state database", ("sqlalchemy", "sqlite3", "/store/")),
    ("reading and parsing", ("/ingest/", "tomllib", "syndicate/text.py")),
    ("writing files (fsync, syncfs)", ("/deliver/", "posix.", "_io.", "pathlib", "shutil")),
    ("imports", ("<frozen", "importlib", "re/_", "builtins.compile", "__build_class__")),
)


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

    def hugo(self) -> str:
        head = f"+++\ntitle = {json.dumps(self.title)}\ndate = {self.date}\n"
        return head + f'tags = ["{self.tag}"]\n+++\n\n' + "\n\n".join(self.paragraphs) + "\n"

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


def files_in(*folders: Path) -> int:
    return sum(1 for folder in folders for p in folder.rglob("*") if p.is_file())


def venv_pelican(work: Path) -> Path:
    pelican = work / "venv-pelican" / "bin" / "pelican"
    if not pelican.exists():
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv-pelican")], check=True)
        pip = work / "venv-pelican" / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "pelican[markdown]"], check=True)
    return pelican


def ensure_hugo() -> str:
    """Debian's `hugo` (a static Go binary), installed when missing as delivery.py installs
    postfix."""
    if not shutil.which("hugo"):
        print("installing hugo (Debian package)", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "hugo"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    version = subprocess.run(["hugo", "version"], capture_output=True, text=True, check=True)
    return version.stdout.split()[1].split("+")[0]  # "hugo v0.111.3+extended ..." -> v0.111.3


def pelican_project(work: Path, corpus: Path) -> Path:
    folder = work / f"peers-pelican-project-{corpus.name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "pelicanconf.py").write_text(PELICANCONF)
    (folder / "content").symlink_to(corpus)
    return folder


def hugo_project(work: Path, corpus: Path) -> Path:
    folder = work / f"peers-hugo-project-{corpus.name}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "layouts" / "_default").mkdir(parents=True)
    (folder / "config.toml").write_text(HUGO_CONFIG)
    for name, text in HUGO_LAYOUTS.items():
        (folder / "layouts" / "_default" / name).write_text(text)
    (folder / "content").symlink_to(corpus)
    return folder


def time_process(command: list[str], project: Path) -> tuple[float, int]:
    """Seconds of one build into an empty `out`, and the files it wrote."""
    out = project / "out"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=project, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    return elapsed, files_in(out)


def time_syndicate(work: Path, corpus: Path, kind: str) -> tuple[float, int]:
    folder = site(corpus, work / f"peers-site-{kind}")
    seconds, _ = run_cli(folder, "run", "--now", NOW)
    if not (folder / "feeds" / "rss.xml").exists():
        raise SystemExit(f"syndicate run wrote no feed in {folder}")
    return seconds, files_in(folder / "feeds", folder / "outbox")


Builder = Callable[[], tuple[float, int]]


def measure(report: Report, label: str, n: int, build: Builder, repeat: int) -> float:
    """Articles per second of `repeat` builds; the row names the files written."""
    runs = [build() for _ in range(repeat)]
    written = {files for _, files in runs}
    note = f"{' or '.join(f'{w:,}' for w in sorted(written))} files written"
    return report.row(f"{n:,} articles: {label}", [n / t for t, _ in runs], "articles/s", note)


def one_size(report: Report, args: argparse.Namespace, n: int, repeat: int,
             tools: dict[str, str], where: dict[str, str]) -> None:  # fmt: skip
    work: Path = args.work
    folders = corpora(work, n)
    pelican_dir = pelican_project(work, folders["pelican"])
    hugo_dir = hugo_project(work, folders["hugo"])
    pelican = [tools["pelican"], "-q", "content", "-s", "pelicanconf.py", "-o", "out"]
    rates = {
        "pelican": measure(report, f"{tools['pelican-version']}, full site", n,
                           lambda: time_process(pelican, pelican_dir), repeat),
        "hugo": measure(report, f"Hugo {tools['hugo-version']}, minimal layouts", n,
                        lambda: time_process(["hugo", "--quiet", "-d", "out"], hugo_dir), repeat),
    }  # fmt: skip
    for kind in ("txt", "md"):
        rates[kind] = measure(report, f"syndicate first run, .{kind}", n,
                              lambda k=kind: time_syndicate(work, folders[k], k), repeat)  # fmt: skip
    summarise(report, rates, n, repeat, where)


def shares(work: Path, corpus: Path, kind: str) -> str:
    """Where syndicate's first run spends its time: one in-process run under cProfile, its
    functions' own time grouped by SHARES; the four largest groups, as text."""
    folder = site(corpus, work / f"peers-profile-{kind}")
    os.environ.setdefault("SYNDICATE_SECRET", "bench")  # as common.run_cli sets it
    config = load_config(folder / "config.toml")
    profile = cProfile.Profile()
    logging.disable(logging.WARNING)  # the first run's notices, as `syndicate -q` keeps them
    profile.runcall(run_once, config, datetime.fromisoformat(NOW))
    logging.disable(logging.NOTSET)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    own: dict[str, float] = {}
    for key, (_, _, tottime, _, callers) in stats.items():
        sites = callers.items() if key[0] == "~" and callers else [(key, (0, 0, tottime, 0))]
        for (file, _, name), (_, _, seconds, _) in sites:
            group = next((g for g, subs in SHARES if any(s in f"{file}:{name}" for s in subs)),
                         "the rest")  # fmt: skip
            own[group] = own.get(group, 0.0) + seconds
    total = sum(own.values())
    top = sorted(own.items(), key=lambda item: -item[1])[:4]
    return ", ".join(f"{group} {seconds / total:.0%}" for group, seconds in top)


def summarise(report: Report, rates: dict[str, float], n: int, repeat: int,
              where: dict[str, str]) -> None:  # fmt: skip
    runs = f"{repeat} run{'s' if repeat > 1 else ''}"
    for kind in ("txt", "md"):
        report.row(
            f"{n:,} articles: syndicate .{kind} / Pelican (rate ratio)",
            [rates[kind] / rates["pelican"]],
            "x",
            "medians; above 1: syndicate faster",
        )
        report.row(f"{n:,} articles: syndicate .{kind} / Hugo (rate ratio)",
                   [rates[kind] / rates["hugo"]], "x", "medians; the anchor")  # fmt: skip
    for kind, goal in (("txt", 5), ("md", 2)):
        ratio = rates[kind] / rates["pelican"]
        limit = (f"syndicate's own time (cProfile of a 1,000 .{kind} first run): {where[kind]}; "
                 f"Hugo builds the site at {rates['hugo'] / rates[kind]:.1f}x syndicate's rate "
                 "with no state or digest")  # fmt: skip
        report.target(f"first run on .{kind} >= {goal}x Pelican's full site, {n:,} articles "
                      f"(issue 7's target, now on equal work; {runs})", f"{ratio:.1f}x",
                      ratio >= goal, limit="" if ratio >= goal else limit)  # fmt: skip


def main() -> None:
    args = arguments(__doc__, articles=1000, large=10000)
    report = Report("Peers: Pelican and Hugo on equal work")
    pelican = venv_pelican(args.work)
    version = subprocess.run([str(pelican), "--version"], capture_output=True, text=True)
    tools = {"pelican": str(pelican), "pelican-version": f"Pelican {version.stdout.strip()}",
             "hugo-version": ensure_hugo()}  # fmt: skip
    small = corpora(args.work, args.articles)
    where = {kind: shares(args.work, small[kind], kind) for kind in ("txt", "md")}
    one_size(report, args, args.articles, args.repeat, tools, where)
    if args.large:
        one_size(report, args, args.large, 1, tools, where)
    report.notes += [
        "rates are articles per second of wall time, each tool a process from an empty output "
        "(and for syndicate a fresh state database); ratios compare the medians of one run",
        f"Pelican: default settings and theme plus all-articles and per-tag RSS and Atom, pages "
        f"of {PAGE}, no cache; it also writes category and author pages and feeds, archives and "
        "its theme's static files",
        "Hugo: layouts written by the bench (single, list for the index and tag pages, taxonomy "
        f"for the list of tags, RSS with the {PAGE} newest items' full HTML); pages of {PAGE}; "
        "no Atom or JSON Feed, no sitemap",
        "syndicate: its sample config and templates; RSS, Atom and JSON Feed for the site and "
        "each tag, a page per article, the paginated index and tag pages, and one digest (.eml); "
        "the plain-text format has no tags, so on .txt it writes no tag pages or tag feeds",
        "where syndicate's time goes (the limit column): one in-process first run at "
        f"{args.articles:,} articles per format under cProfile, each function's own time "
        "grouped by library (built-ins counted to their callers)",
        f"the {args.large:,}-article builds run once each, to keep the case within minutes"
        if args.large
        else "the large size was skipped (--large 0)",
        "issue 7 set its targets (a full first run at least 5x Pelican per article on "
        "plain-text articles, 2x on Markdown) against Pelican writing feeds only, 2 files "
        "beside syndicate's whole site; the rows keep its factors on equal work",
        "rss2email is compared in the Delivery section (syndicate send vs `r2e run`)",
    ]
    report.write(args.json)


if __name__ == "__main__":
    main()
