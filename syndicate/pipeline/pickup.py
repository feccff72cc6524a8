"""Pick-up: scan the articles folder, decide what changed, and record it in the store.

Files are stat'ed all at once (cheap) but read, parsed and recorded in chunks of `CHUNK`, so a
first run over 100,000 articles never holds more than a chunk's bodies; a pick-up of a few
files compares them with the articles they concern only (by id, slug and file), not all.
Each chunk is planned against what the store knows so far, so the rules of `ingest.plan`
(the incumbent keeps its id, the first newcomer in file-name order wins) hold across chunks;
an article whose file vanished is removed only after the last chunk, so a file renamed into a
later chunk counts as moved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from array import array
from collections.abc import Mapping
from itertools import chain
from operator import itemgetter

from syndicate import ingest
from syndicate.config import Config
from syndicate.models import ArticleProblem, FileStat, Tally
from syndicate.pipeline.context import Pass
from syndicate.store import Store

log = logging.getLogger("syndicate")
CHUNK = 2000
_SIZE_MTIME = itemgetter(1, 2)  # of a FileStat


def _remember(known: dict[str, ingest.Known], changes: ingest.Changes) -> None:
    for article in (*changes.new, *changes.changed, *changes.moved):
        known[article.id] = ingest.Known(
            article.id, article.source, article.slug, article.content_hash, article.url_id
        )
    for ident in changes.removed:
        known.pop(ident, None)


def _previous(
    known_files: Mapping[str, FileStat], names: list[str], stats: Mapping[str, FileStat], last: bool
) -> dict[str, FileStat]:
    """The stored stats a chunk replaces; the last chunk also drops those of vanished files."""
    rows = {n: known_files[n] for n in names if n in known_files}
    if last:
        rows |= {n: s for n, s in known_files.items() if n not in stats}
    return rows


def pick_up(run: Pass) -> tuple[Tally, list[str]]:
    """Record what changed in the articles folder. A folder whose every name, size and mtime
    (and the parser settings) match the last clean pick-up is not compared file by file."""
    config, store = run.config, run.store
    fingerprint = ingest.options_for(config).fingerprint()
    walked = ingest.walk(config.paths.articles)
    folder = _folder_key(walked, fingerprint)
    total, warnings, live = Tally(), list[str](), store.last_live_count()
    if walked.problems or live is None or store.folder_key() != folder:
        total, warnings = _pick(run, walked, fingerprint)
        live = store.count_live()
        store.set_last_live_count(live)
        store.set_folder_key("" if total.problems else folder)  # problems: re-read next time
    touched = total.new + total.changed + total.moved
    total = dataclasses.replace(total, unchanged=live - touched)
    _log(total, warnings)
    return total, warnings


def _folder_key(walked: ingest.ScanResult, fingerprint: str) -> str:
    """A digest of every file's name, size and mtime, in directory order (a reordered
    directory only costs the file-by-file comparison)."""
    names = "\0".join(walked.stats).encode(errors="surrogatepass")
    numbers = array("q", chain.from_iterable(map(_SIZE_MTIME, walked.stats.values())))
    key = hashlib.blake2b(fingerprint.encode() + b"\n" + names)
    key.update(numbers.tobytes())  # sizes and mtimes as 64-bit integers: no text formatting
    return key.hexdigest()


def _pick(run: Pass, walked: ingest.ScanResult, fingerprint: str) -> tuple[Tally, list[str]]:
    """Compare the walk with the stored file stats; read, plan and record what differs."""
    config, store = run.config, run.store
    known_files = store.file_stats() if store.parser_fingerprint() == fingerprint else {}
    todo = sorted(n for n, s in walked.stats.items() if known_files.get(n) != s)
    vanished = len(known_files) > len(walked.stats) - len(todo)
    total = Tally(problems=tuple(walked.problems))
    warnings: list[str] = []
    if todo or vanished or walked.problems:  # else nothing can have changed: skip the store
        few = bool(known_files) and len(todo) <= CHUNK  # read only the articles they concern
        known = {} if few else store.known_articles()
        gone = [n for n in known_files if n not in walked.stats] if few and vanished else []
        for start in range(0, len(todo), CHUNK) or [0]:
            names, last = todo[start : start + CHUNK], start + CHUNK >= len(todo)
            lookup = (store, gone) if few else None
            changes, chunk_warnings = _chunk(config, walked, names, known, last, lookup)
            reset = not known_files and start == 0
            previous = None if reset else _previous(known_files, names, walked.stats, last)
            store.apply(changes, {n: walked.stats[n] for n in names}, run.now, previous=previous)
            _remember(known, changes)
            total, warnings = _add(total, changes), warnings + chunk_warnings
            run.progress("pickup", min(start + CHUNK, len(todo)), len(todo))
    store.set_parser_fingerprint(fingerprint)
    return total, warnings


def _chunk(
    config: Config,
    walked: ingest.ScanResult,
    names: list[str],
    known: dict[str, ingest.Known],
    last: bool,
    lookup: tuple[Store, list[str]] | None = None,
) -> tuple[ingest.Changes, list[str]]:
    """Read and plan one chunk of files against what is known so far. With `lookup` (the
    store and the files gone), `known` is filled here with the articles the chunk concerns:
    those it names by id or slug, and those read from its files (or, last, the gone ones)."""
    scanned = dataclasses.replace(walked, parsed=[], problems=list(walked.problems), warnings=[])
    ingest.read(config.paths.articles, names, ingest.options_for(config), scanned)
    if lookup is not None:
        store, gone = lookup
        ids = [a.id for a in scanned.parsed]
        slugs = [a.slug for a in scanned.parsed]
        known.update(store.known_for(ids, slugs, names + (gone if last else [])))
    changes = ingest.plan(known, scanned)
    if not last:  # a vanished file's article may yet turn up, moved, in a later chunk
        chunk = set(names)
        kept = tuple(i for i in changes.removed if known[i].source in chunk)
        changes = dataclasses.replace(changes, removed=kept)
    return changes, scanned.warnings


def _add(total: Tally, more: ingest.Changes) -> Tally:
    problems: dict[ArticleProblem, None] = dict.fromkeys((*total.problems, *more.problems))
    return Tally(
        new=total.new + len(more.new),
        changed=total.changed + len(more.changed),
        moved=total.moved + len(more.moved),
        removed=total.removed + len(more.removed),
        drafts=total.drafts + more.drafts,
        problems=tuple(problems),
    )


def _log(changes: Tally, warnings: list[str]) -> None:
    for warning in warnings:
        log.warning("event=article-warning %s", warning)
    for problem in changes.problems:
        log.error("event=article-skipped %s", problem)
    log.info(
        "event=pickup new=%d changed=%d unchanged=%d removed=%d drafts=%d problems=%d",
        changes.new,
        changes.changed,
        changes.unchanged,
        changes.removed,
        changes.drafts,
        len(changes.problems),
    )
