"""Ingest: find article files, read the ones that changed, and decide what is new or changed.

`scan` touches only the articles folder; a file that cannot be an article is reported as a
problem and skipped, never fatal. `plan` is pure: it compares a scan with what the store knows.
This package must not touch the database, the output folder or the clock. How a file is read
safely (links, sizes, assets that leave the folder) is `files`; the text format is `parse`
and `front`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syndicate.config import Config
from syndicate.errors import ArticleError, ConfigError
from syndicate.ingest.files import SUFFIXES, asset_file, image_size, read_article_bytes, read_asset
from syndicate.ingest.parse import MAX_ID, ParseOptions, decode, parse_article
from syndicate.models import (
    Article,
    ArticleProblem,
    Asset,
    Changes,
    FileStat,
    Known,
    Progress,
    no_progress,
)
from syndicate.text import slugify

__all__ = [
    "Changes", "Known", "ParseOptions", "ScanResult", "asset_file", "image_size", "options_for",
    "plan", "read", "read_asset", "scan", "walk",
]  # fmt: skip

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks and other controls


def options_for(config: Config) -> ParseOptions:
    patterns = tuple(re.compile(p) for p in config.cta.patterns)
    return ParseOptions(config.tz, patterns, config.feeds.max_tags)


def is_ignored(name: str) -> bool:
    """Hidden files and editor leftovers (`.#x`, `x~`, `.x.swp`, `#x#`) are never articles."""
    return name.startswith((".", "#", "~")) or name.endswith(("~", ".swp", ".swo", ".tmp", "#"))


@dataclass
class ScanResult:
    stats: dict[str, FileStat] = field(default_factory=dict)  # every article file present
    parsed: list[Article] = field(default_factory=list)  # files that were (re)read
    problems: list[ArticleProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _candidates(root: Path) -> list[os.DirEntry[str]]:
    try:
        entries = list(os.scandir(root))  # in directory order: callers sort what they read
    except FileNotFoundError:
        raise ConfigError(f"articles folder {root} does not exist", key="paths.articles") from None
    except NotADirectoryError:
        raise ConfigError(f"{root} is a file, not a folder", key="paths.articles") from None
    return [e for e in entries if e.name.lower().endswith(SUFFIXES) and not is_ignored(e.name)]


def _bad_name(name: str) -> ArticleProblem | None:
    """A file name the store and the logs cannot carry as it is: bytes that are not UTF-8
    (a Latin-1 upload), control characters (a forged log line), or over MAX_ID characters."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        return ArticleProblem(shown, 1, "file name is not valid UTF-8: rename the file")
    if _CONTROL.search(name):
        shown = name.encode("unicode_escape").decode("ascii")
        return ArticleProblem(shown, 1, "file name holds control characters: rename the file")
    if len(name) > MAX_ID:
        return ArticleProblem(name[:80] + "…", 1, f"file name over {MAX_ID} characters")
    return None


def walk(root: Path) -> ScanResult:
    """Stat every article file, reading none: the cheap part of a scan."""
    result = ScanResult()
    stats, problems = result.stats, result.problems
    for entry in _candidates(root):
        name = entry.name
        if (problem := _bad_name(name)) is not None:
            problems.append(problem)
            continue
        try:
            stat = entry.stat()
        except OSError as exc:
            problems.append(ArticleProblem(name, 1, f"cannot stat: {exc.strerror}"))
            continue
        stats[name] = FileStat(name, stat.st_size, stat.st_mtime_ns)
    return result


def _checked_assets(root: Path, article: Article) -> tuple[Article, list[str]]:
    """The article keeping only the linked files that can be published; a warning
    (`path:line: reason`) for each other one."""
    kept: list[Asset] = []
    warnings: list[str] = []
    for asset in article.assets:
        try:
            asset_file(root, asset.path)
        except ValueError as exc:
            warnings.append(f"{article.source}:{asset.line}: linked file {asset.path!r} {exc}")
        else:
            kept.append(asset)
    if len(kept) == len(article.assets):
        return article, warnings
    return dataclasses.replace(article, assets=tuple(kept)), warnings


def read(root: Path, names: Iterable[str], options: ParseOptions, into: ScanResult) -> None:
    """Read and parse the named files of a walk into `into` (its `parsed`, `problems`)."""
    real = tuple(dict.fromkeys((os.path.abspath(root), os.path.realpath(root))))
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in names:
            try:
                text, warnings = decode(read_article_bytes(folder, real, name), name)
                article = parse_article(text, name, options, warnings)
                article, missing = _checked_assets(root, article)
                into.parsed.append(article)
                into.warnings.extend(warnings + missing)
            except ArticleError as exc:
                into.problems.append(ArticleProblem(exc.path, exc.line, exc.reason))
            except OSError as exc:
                reason = f"cannot read: {exc.strerror}"
                into.problems.append(ArticleProblem(name, 1, reason))
    finally:
        os.close(folder)


def scan(
    root: Path,
    known: Mapping[str, FileStat],
    options: ParseOptions,
    progress: Progress = no_progress,
) -> ScanResult:
    """Stat every article file; read and parse only those whose size or mtime changed."""
    result = walk(root)
    todo = sorted(name for name, stat in result.stats.items() if known.get(name) != stat)
    for done, name in enumerate(todo, start=1):
        progress("pickup", done, len(todo))
        read(root, [name], options, result)
    return result


def _conflict(
    article: Article, claims: dict[str, str], what: str, value: str
) -> ArticleProblem | None:
    owner = claims.get(value)
    if owner is not None and owner != article.source:
        return ArticleProblem(
            article.source, 1, f"duplicate {what} {value!r}: already used by {owner}"
        )
    claims[value] = article.source
    return None


def _legacy_slug(article: Article, old: Known | None) -> Article:
    """An article published before URI ids were kept had its page named after its id: it keeps
    that page (and the page URL as its entry id), so its readers see nothing change."""
    if old is None or not old.url_id or not article.title_slug:
        return article
    return dataclasses.replace(article, slug=slugify(article.id), title_slug=False, url_id=True)


def plan(known: Mapping[str, Known], scanned: ScanResult) -> Changes:
    """Decide new / changed / moved / unchanged / removed. Pure; `known` is keyed by id.

    An article whose file became unreadable keeps its last good version (nothing is lost). When
    two files claim one id or slug, the file that already published it keeps it (so a touch never
    changes the winner); between newcomers, the first in file-name order wins. The loser is a
    problem.
    """
    broken = {p.path for p in scanned.problems}
    reread = {a.source for a in scanned.parsed}
    kept = [
        k
        for k in known.values()
        if k.source in broken or (k.source in scanned.stats and k.source not in reread)
    ]
    ids = {k.id: k.source for k in kept}
    slugs = {k.slug: k.source for k in kept}
    new: list[Article] = []
    changed: list[Article] = []
    moved: list[Article] = []
    problems = list(scanned.problems)
    touched = drafts = 0

    def incumbent_first(article: Article) -> tuple[bool, str]:
        old = known.get(article.id)
        return (old is None or old.source != article.source, article.source)

    for article in sorted(scanned.parsed, key=incumbent_first):
        article = _legacy_slug(article, known.get(article.id))
        if article.draft:
            drafts += 1
            continue
        problem = _conflict(article, ids, "id", article.id) or _conflict(
            article, slugs, "slug", article.slug
        )
        if problem:
            problems.append(problem)
            continue
        old = known.get(article.id)
        if old is None:
            new.append(article)
        elif (old.content_hash, old.slug) != (article.content_hash, article.slug):
            changed.append(article)
        elif old.source != article.source:
            moved.append(article)
        else:
            touched += 1
    return Changes(
        new=tuple(new),
        changed=tuple(changed),
        moved=tuple(moved),
        unchanged=touched + sum(1 for k in kept if k.source not in broken),
        removed=tuple(sorted(set(known) - set(ids))),
        drafts=drafts,
        problems=tuple(problems),
    )
