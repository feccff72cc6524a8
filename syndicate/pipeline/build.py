"""Build: bring the output folder up to date with the state, rendering only what changed.

Every output file is planned from a listing of the articles without their bodies (a path and a
key, `syndicate.render.outputs`); only outputs whose key differs from the last publish's
manifest, or whose file has gone, are rendered, with article bodies streamed from the store in
batches; `deliver.publish` writes them atomically. When the state, the config, the templates
and syndicate itself are those of the last publish (its stamp), nothing is planned at all: a
run over an unchanged folder costs the scan and no more.

This module decides what to render; it holds no SQL, no markup and no file writing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import jinja2

from syndicate import __version__, deliver, ingest
from syndicate.config import Config
from syndicate.errors import ArticleError
from syndicate.gcpause import paused_gc
from syndicate.models import Entry, Progress
from syndicate.pipeline.context import Pass
from syndicate.pipeline.plan import archive_outputs, tag_outputs
from syndicate.render import outputs
from syndicate.render.common import Site, site_for
from syndicate.store import Store

log = logging.getLogger("syndicate")
BATCH = 500  # outputs rendered per batch of article bodies read from the store
MAIN_FILES = ("rss.xml", "atom.xml", "feed.json", "index.html")


class Snapshot:
    """The published articles without bodies, and the Site they make; read when first needed."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store

    @functools.cached_property
    def listing(self) -> list[Entry]:
        return self.store.listing()

    @functools.cached_property
    def site(self) -> Site:
        ctas = [e.article.cta for e in self.listing if e.article.cta]
        return site_for(
            self.config, ctas=ctas, tags=[t for e in self.listing for t in e.article.tags]
        )


def stamp(config: Config, store: Store, env: jinja2.Environment) -> str:
    """What the whole output folder depends on; equal stamps mean equal folders (the linked
    files included: replacing an image changes no article)."""
    assert env.loader is not None
    sources = [(name, env.loader.get_source(env, name)[0]) for name in env.list_templates()]
    files = _asset_stats(config.paths.articles, store.asset_paths())
    return outputs.fingerprint(__version__, store.generation(), repr(config), sources, files)


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


def asset_outputs(root: Path, entries: Sequence[Entry], taken: set[str]) -> list[outputs.Output]:
    """The files articles link to, published beside the pages (`articles/<path>`) with their
    bytes unchanged; never over a page (`taken`)."""
    paths = [a.path for e in entries for a in e.article.assets]
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
    planned += asset_outputs(snapshot.config.paths.articles, entries, {o.path for o in planned})
    for ident in store.digest_ids():
        page = functools.partial(_digest_page, store, ident)
        planned.append(
            outputs.Output(f"digests/{ident}.html", outputs.fingerprint("digest", ident), page)
        )
    return planned


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


def build(run: Pass, env: jinja2.Environment, snapshot: Snapshot) -> deliver.WriteResult:
    """Render and publish what changed since the last publish; nothing if nothing did."""
    config, store, progress = run.config, run.store, run.progress
    root, current = config.paths.output, stamp(config, store, env)
    if deliver.read_stamp(root) == current and all((root / f).exists() for f in MAIN_FILES):
        log.info("event=published written=0 removed=0 reason=unchanged")
        return deliver.WriteResult((), ())
    with paused_gc():  # a listing and a plan of every output: many objects, no cycles
        planned = plan(env, snapshot, store)
        manifest, on_disk = deliver.load_manifest(root), deliver.present(root)
        if manifest.damage:
            log.warning("event=manifest-damaged folder=%s reason=%r", root, manifest.damage)
        keys_on_disk = {path: record.key for path, record in manifest.files.items()}
        todo = [o for o in planned if keys_on_disk.get(o.path) != o.key or o.path not in on_disk]
        keys = {o.path: o.key for o in planned}
    result = deliver.publish(
        root, _render(store, todo, progress), keys, current, on_disk=on_disk
    )  # the listing it already made: a second walk of 100,000 files is not free
    for refused in result.refused:
        log.error("event=output-refused %s", refused)
    log.info(
        "event=published written=%d removed=%d rendered=%d unchanged=%d",
        len(result.written),
        len(result.removed),
        len(todo),
        len(planned) - len(todo),
    )
    return result
