"""Build: bring the output folder up to date with the state, rendering only what changed.

A rerun plans from its change set: the articles changed since the generation the output
folder last published (the store's change log, `pipeline.incremental`), so one new article
costs its pages, not a listing of every article. That holds after a crash between pick-up and
publish: the log keeps every change until a publish has recorded its generation in the stamp.
Anything the whole folder depends on (syndicate's version, the config, the templates, the tag
folders, the default call-to-action, linked files named as pages), a folder that a killed
publish left, or `--full`, plans every output file instead: from a listing of the articles
without their bodies, rendering those whose key differs from the last publish's manifest, or
whose file has gone. Bodies are streamed from the store in batches; `deliver.publish` writes.
When the stamp says nothing changed, nothing is planned at all.

This module decides what to render; it holds no SQL, no markup and no file writing.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import jinja2

from syndicate import __version__, deliver, ingest
from syndicate.errors import ArticleError
from syndicate.models import Entry, Progress
from syndicate.pipeline.context import Pass
from syndicate.pipeline.incremental import plan_part
from syndicate.pipeline.plan import archive_outputs, tag_outputs
from syndicate.render import outputs
from syndicate.render.common import Site, site_for
from syndicate.store import Store

log = logging.getLogger("syndicate")
BATCH = 500  # outputs rendered per batch of article bodies read from the store
MAIN_FILES = ("rss.xml", "atom.xml", "feed.json", "index.html")
_FORMAT = "s2"  # of the stamp's text


class Snapshot:
    """The published articles without bodies (a full plan's), and the Site; read when first
    needed."""

    def __init__(self, run: Pass) -> None:
        self.config, self.store = run.config, run.store

    @functools.cached_property
    def listing(self) -> list[Entry]:
        return self.store.listing()

    @functools.cached_property
    def linked(self) -> list[str]:
        """The paths of the files articles link to (the stamp and a change plan both ask)."""
        return self.store.asset_paths()

    @functools.cached_property
    def site(self) -> Site:
        cta = self.store.leading_cta()  # what `publication_cta` picks from every one
        return site_for(self.config, ctas=[cta] if cta else [], tags=self.store.tags_in_use())


@dataclasses.dataclass(frozen=True)
class Stamp:
    """What the output folder was published from: `setup` (syndicate's version, the config,
    the templates), the store's generation, the linked files' sizes and times, and the Site
    (tag folders, default call-to-action). Equal stamps mean equal folders."""

    setup: str
    generation: int
    assets: str
    site: str = ""

    def __str__(self) -> str:
        return f"{_FORMAT} {self.setup} {self.generation} {self.assets} {self.site}"

    @staticmethod
    def parse(text: str) -> Stamp | None:
        """The stamp a publish left (None: none, or one of an older syndicate)."""
        parts = text.split(" ")
        if len(parts) != 5 or parts[0] != _FORMAT or not parts[2].isdigit():
            return None
        return Stamp(parts[1], int(parts[2]), parts[3], parts[4])

    def same(self, other: Stamp | None, *fields: str) -> bool:
        return other is not None and all(getattr(self, f) == getattr(other, f) for f in fields)


def stamp(snapshot: Snapshot, env: jinja2.Environment) -> Stamp:
    """The stamp of the state now, but for the Site (which reads the articles)."""
    assert env.loader is not None
    sources = [(name, env.loader.get_source(env, name)[0]) for name in env.list_templates()]
    files = _asset_stats(snapshot.config.paths.articles, snapshot.linked)
    setup = outputs.fingerprint(__version__, repr(snapshot.config), sources)
    return Stamp(setup, snapshot.store.generation(), outputs.fingerprint(files))


def _asset_stats(
    root: Path, paths: Iterable[str], warn: bool = False
) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of each publishable linked file; the others are left out (warned
    about at pick-up, and with `warn` when they went since)."""
    found = []
    for path in sorted(set(paths)):
        try:
            info = ingest.asset_file(root, path).stat()
        except (ValueError, OSError) as exc:
            if warn:
                log.warning("event=asset-skipped path=%s reason=%s", path, str(exc) or "gone")
            continue
        found.append((path, info.st_size, info.st_mtime_ns))
    return found


def asset_outputs(root: Path, paths: Iterable[str], taken: set[str]) -> list[outputs.Output]:
    """The files articles link to, published beside the pages (`articles/<path>`) with their
    bytes unchanged; never over a page (`taken`)."""
    planned = []
    for path, size, mtime in _asset_stats(root, paths, warn=True):
        target = f"articles/{path}"
        if target in taken:
            log.warning("event=asset-skipped path=%s reason=same-name-as-a-page", path)
            continue
        key = outputs.fingerprint("asset", path, size, mtime)
        planned.append(outputs.Output(target, key, functools.partial(_asset, root, path)))
    return planned


def _asset(root: Path, path: str, _: outputs.Bodies) -> bytes:
    try:
        return ingest.read_asset(root, path)
    except ValueError as exc:  # it changed since it was planned: stop, never publish it
        raise ArticleError(path, 1, f"linked file {exc}") from None


def plan(env: jinja2.Environment, snapshot: Snapshot, store: Store) -> list[outputs.Output]:
    """Every file of the output folder: feeds, tag feeds and pages, the archive, digests."""
    site, entries = snapshot.site, snapshot.listing
    base = outputs.base_key(site, env, __version__)
    planned = outputs.feed_outputs(site, entries, site.main, "", base)
    planned += tag_outputs(env, site, entries, base)
    planned += archive_outputs(env, site, entries, base)
    paths = [a.path for e in entries for a in e.article.assets]
    planned += asset_outputs(snapshot.config.paths.articles, paths, {o.path for o in planned})
    return planned + [_digest_output(store, ident) for ident in store.digest_ids()]


def plan_changes(
    env: jinja2.Environment, snapshot: Snapshot, last: Stamp, now: Stamp
) -> tuple[list[outputs.Output], set[str]] | None:
    """What the changes since `last` was published reach, and the files they leave behind;
    None when only a full plan can tell (the change log does not reach back to `last`, or a
    linked file is named as a page may be)."""
    store, root = snapshot.store, snapshot.config.paths.output
    linked = snapshot.linked
    was = store.changes_since(last.generation)
    if was is None or any(path.endswith(".html") for path in linked):
        return None
    site = snapshot.site
    part = plan_part(env, site, outputs.base_key(site, env, __version__), store, was)
    planned = part.outputs
    paths = [a.path for e in part.assets for a in e.article.assets]
    if not now.same(last, "assets"):  # a linked file changed: every one is compared
        paths = linked
    planned += asset_outputs(snapshot.config.paths.articles, paths, {o.path for o in planned})
    for ident in store.digest_ids():  # written once each: only the new ones
        if not (root / "digests" / f"{ident}.html").exists():
            planned.append(_digest_output(store, ident))
    return planned, part.removals | (part.linked - {f"articles/{p}" for p in linked})


def _digest_output(store: Store, ident: str) -> outputs.Output:
    page = functools.partial(_digest_page, store, ident)
    return outputs.Output(f"digests/{ident}.html", outputs.fingerprint("digest", ident), page)


def _digest_page(store: Store, ident: str, _: outputs.Bodies) -> bytes:
    return store.digest_page(ident).encode("utf-8")


def _render(
    store: Store, todo: Sequence[outputs.Output], progress: Progress
) -> Iterator[tuple[str, bytes]]:
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        bodies = store.entries_by_id({i for o in batch for i in o.needs})
        for done, output in enumerate(batch, start=start + 1):
            progress("render", done, len(todo))
            yield output.path, output.render(bodies)


def build(
    run: Pass, env: jinja2.Environment, snapshot: Snapshot, *, full: bool = False
) -> deliver.WriteResult:
    """Render and publish what changed since the last publish; nothing if nothing did.
    `full`: plan every output, whatever the change set says."""
    root, now = run.config.paths.output, stamp(snapshot, env)
    last = Stamp.parse(deliver.read_stamp(root))
    whole = all((root / f).exists() for f in MAIN_FILES)
    if not full and whole and now.same(last, "setup", "generation", "assets"):
        log.info("event=published written=0 removed=0 reason=unchanged")
        return deliver.WriteResult((), ())
    now = dataclasses.replace(now, site=outputs.fingerprint(repr(snapshot.site)))
    why = "asked" if full else _whole_plan(root, whole, last, now)
    part = None if why else plan_changes(env, snapshot, last, now) if last else None
    if part is None:
        log.info("event=plan-every-file reason=%s", why or "changes-unknown")
        result = _build_full(run, env, snapshot, str(now))
    else:
        result = _build_part(run, part[0], part[1], str(now))
    run.store.prune_changes(now.generation)  # published: a later plan starts after it
    for refused in result.refused:
        log.error("event=output-refused %s", refused)
    return result


def _whole_plan(root: Path, whole: bool, last: Stamp | None, now: Stamp) -> str:
    """Why the folder published at `last` cannot be brought to `now` by its changes alone
    ("" if it can)."""
    if last is None:
        return "no-stamp"  # a first publish, or one killed part way
    if not whole:
        return "main-files-missing"
    if last.generation > now.generation:
        return "state-older-than-folder"
    if not now.same(last, "setup"):
        return "setup-changed"  # syndicate's version, the config or the templates
    if not now.same(last, "site"):
        return "site-changed"  # the tag folders or the default call-to-action
    return "" if deliver.publishes_in_part(root) else "manifest-not-readable-in-place"


def _build_part(
    run: Pass, planned: list[outputs.Output], removals: set[str], current: str
) -> deliver.WriteResult:
    root, keys = run.config.paths.output, {o.path: o.key for o in planned}
    rendered = _render(run.store, planned, run.progress)
    result = deliver.publish(root, rendered, keys, current, removals=removals)
    log.info(
        "event=published plan=changes written=%d removed=%d rendered=%d",
        len(result.written),
        len(result.removed),
        len(planned),
    )
    return result


def _build_full(
    run: Pass, env: jinja2.Environment, snapshot: Snapshot, current: str
) -> deliver.WriteResult:
    root, store = run.config.paths.output, run.store
    planned = plan(env, snapshot, store)
    manifest, on_disk = deliver.load_manifest(root), deliver.present(root)
    if manifest.damage:
        log.warning("event=manifest-damaged folder=%s reason=%r", root, manifest.damage)
    keys_on_disk = {path: record.key for path, record in manifest.files.items()}
    todo = [o for o in planned if keys_on_disk.get(o.path) != o.key or o.path not in on_disk]
    keys = {o.path: o.key for o in planned}
    result = deliver.publish(
        root, _render(store, todo, run.progress), keys, current, on_disk=on_disk
    )  # the listing it already made: a second walk of 100,000 files is not free
    log.info(
        "event=published plan=full written=%d removed=%d rendered=%d unchanged=%d",
        len(result.written),
        len(result.removed),
        len(todo),
        len(planned) - len(todo),
    )
    return result
