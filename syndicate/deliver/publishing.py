"""Publishing a folder: make it hold exactly the rendered files among those syndicate manages,
each written atomically (staged, one sync, renamed), files of an earlier publish removed, and
the manifest (`manifest`) and stamp recorded; a file syndicate cannot prove it wrote is never
touched. Renders nothing and decides nothing about what the files hold."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from syndicate.deliver import manifest as records
from syndicate.deliver.atomic import PUBLIC, libc_syncfs, write_into
from syndicate.deliver.folder import TEMP, Folder, Refused, split
from syndicate.deliver.manifest import MANIFEST, Manifest, Record
from syndicate.deliver.recorded import (
    BACKUP,
    COMPACT,
    JOURNAL,
    PENDING,
    STAMP,
    base_id,
    load_manifest,
    present,
    read_file,
    read_journal,
)
from syndicate.errors import DeliveryError


def _sync_filesystem(folder: Path) -> None:
    """Flush every file written under `folder` in one call: syncfs(2) where libc has it (the
    one filesystem), sync(2) elsewhere. One flush for a batch instead of an fsync per file."""
    syncfs = libc_syncfs()
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    refused: tuple[str, ...] = field(default=())  # "path: reason", each left alone


def _recover(root: Path, folder: Folder) -> Manifest:
    """The manifest, with what a killed publish had written ahead (`PENDING`) folded in: each
    file on disk that is exactly as that publish wrote it is syndicate's, under its new record;
    every other file keeps its old one. Recorded at once, so at most one write-ahead exists."""
    manifest = load_manifest(root)
    pending = records.parse(read_file(root / PENDING))
    if not pending.files:
        return manifest
    merged = dict(manifest.files)
    for path, record in pending.files.items():
        info = folder.lstat(path)
        if info is None or not stat.S_ISREG(info.st_mode) or record.size < 0:
            continue
        if record.matches(info.st_size, info.st_mtime_ns):  # as that publish left it
            merged[path] = record
    _write_manifest(folder, merged)
    folder.unlink(PENDING)
    return Manifest(merged, damage=manifest.damage)


def _write_manifest(folder: Folder, files: dict[str, Record]) -> None:
    for name in (BACKUP, MANIFEST):  # the backup first: one of them is always whole
        write_into(folder, name, records.dump(files), private=False)
    folder.unlink(JOURNAL)  # stale now (gone already is fine)


@dataclass
class _Publish:
    """One publish's bookkeeping: what is staged, what was refused, what the manifest says."""

    folder: Folder
    old: Manifest
    files: dict[str, Record] = field(default_factory=dict)  # the new manifest
    staged: list[tuple[str, str]] = field(default_factory=list)  # (temp, path)
    renamed: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # path: why it was left alone

    def ours(self, path: str, info: os.stat_result) -> bool:
        record = self.old.files.get(path)
        return record is not None and record.matches(info.st_size, info.st_mtime_ns)

    def stage(self, path: str, data: bytes, key: str) -> None:
        """Write `data` beside `path` unless the file holds it already; refuse a file that
        syndicate cannot prove it wrote (a hand-made file, a symlink, a folder)."""
        try:
            found = self.folder.read(path)
            if found is not None and found[0] == data:
                self.files[path] = Record(key, found[1].st_size, found[1].st_mtime_ns)
                return
            if found is not None and not self.ours(path, found[1]):
                self.refused[path] = ("not written by syndicate, or changed since; left alone "
                                      "(remove it to let syndicate publish there)")  # fmt: skip
                return
            temp, info = self.folder.write_temp(path, data, PUBLIC)
        except Refused as exc:
            self.refused[path] = f"{exc}; left alone"
            return
        self.staged.append((temp, path))
        self.files[path] = Record(key, info.st_size, info.st_mtime_ns)

    def rename(self, temp: str, path: str) -> None:
        """Put a staged file in place; a folder on its way that became a symlink (or went)
        since the file was staged refuses that file only."""
        try:
            self.folder.replace(temp, path)
        except (Refused, FileNotFoundError) as exc:
            self.refused[path] = f"its folder changed during the run ({exc}); left alone"
            self.files.pop(path, None)
            with contextlib.suppress(OSError):
                self.folder.unlink(path, temp)
        self.renamed += 1

    def remove(self, stale: Iterable[str]) -> list[str]:
        """Remove files of an earlier publish that are still as syndicate wrote them."""
        removed = []
        for path in stale:
            info = self.folder.lstat(path)
            if info is None:
                continue
            if stat.S_ISREG(info.st_mode) and self.ours(path, info):
                self.folder.unlink(path)
                removed.append(path)
            else:
                self.refused[path] = "changed since syndicate wrote it; left alone"
        return removed

    def unstage(self) -> None:
        for temp, path in self.staged[self.renamed :]:
            with contextlib.suppress(OSError):
                self.folder.unlink(path, temp)


def _remove_empty_folders(folder: Folder, removed: list[str]) -> None:
    """Remove folders that removed files leave empty (a tag no article carries any more)."""
    folders = {parent for rel in removed for parent in Path(rel).parents if parent != Path(".")}
    for path in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        folder.rmdir(path.as_posix())


def _clean_temps(folder: Folder, on_disk: Iterable[str]) -> None:
    """Remove temp files a killed run left behind (no other run writes here: the lock), among
    `on_disk`: the folder as listed before this publish (its own temps are renamed or removed)."""
    for path in on_disk:
        if TEMP.fullmatch(path.rsplit("/", 1)[-1]):
            with contextlib.suppress(OSError, Refused):
                folder.unlink(path)


def publish(
    root: Path,
    rendered: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
    keys: Mapping[str, str] | None = None,
    stamp: str = "",
    *,
    on_disk: set[str] | None = None,
    removals: Iterable[str] | None = None,
) -> WriteResult:
    """Make `root` hold exactly the files named in `keys` among the files syndicate manages.

    `rendered` yields (path, bytes) for the files to (re)write; it is consumed as it goes, so a
    caller can render 100,000 pages without holding them. A file whose bytes are already on disk
    is left alone. Changed files are written to temp files, flushed in one sync, then renamed
    over their targets, so a reader never sees a half-written file and a crash leaves each file
    old or new. Files of an earlier publish absent from `keys` are removed if they are still
    as syndicate wrote them. A file syndicate cannot prove it wrote (not in the manifest, or
    changed since), a symlink, or a path through one is never written or removed: it is
    reported in `refused`. Last, the manifest and `stamp` are recorded.
    Given a mapping and no keys, the mapping is the whole folder (keys "": compare bytes).
    `on_disk`: the folder's files as the caller already listed them (`present`), to spare a walk.
    `removals`: publish part of the folder (see `publishes_in_part`): write the files in `keys`
    and remove those in `removals`; every other file and its record stay as they are.
    """
    if isinstance(rendered, Mapping):
        keys = dict.fromkeys(rendered, "") if keys is None else keys
        rendered = rendered.items()
    if keys is None:
        raise TypeError("publish: keys are required when files are streamed")
    try:
        folder = Folder(root)
    except OSError as exc:
        raise DeliveryError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    with folder:
        write_into(folder, STAMP, b"", private=False)  # killed from here on: the next run is full
        if removals is not None:
            return _publish_part(root, folder, rendered, keys, stamp, set(removals))
        return _publish(root, folder, rendered, keys, stamp, on_disk)


def _publish(
    root: Path,
    folder: Folder,
    rendered: Iterable[tuple[str, bytes]],
    keys: Mapping[str, str],
    stamp: str,
    on_disk: set[str] | None,
) -> WriteResult:
    job = _Publish(folder, _recover(root, folder))
    with _unstaged_on_error(root, job):
        _put_in_place(root, job, rendered, keys)
        kept = {p: r for p, r in job.old.files.items() if p in keys and p not in job.refused}
        job.files = {**kept, **job.files}
        removed = job.remove(sorted(set(job.old.files) - set(keys)))
        _remove_empty_folders(folder, removed)
        _clean_temps(folder, present(root) if on_disk is None else on_disk)
        _write_manifest(folder, job.files)
        _finish(job, stamp)
    return _result(job, removed)


@contextlib.contextmanager
def _unstaged_on_error(root: Path, job: _Publish) -> Iterator[None]:
    """Remove what `job` staged and did not rename if the block fails."""
    try:
        yield
    except OSError as exc:
        job.unstage()
        raise DeliveryError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    except BaseException:
        job.unstage()
        raise


def _finish(job: _Publish, stamp: str) -> None:
    """The stamp last (none if a file was refused: the next run plans every file)."""
    write_into(job.folder, STAMP, stamp.encode() if not job.refused else b"", private=False)
    job.folder.unlink(PENDING)  # gone already is fine


def _put_in_place(
    root: Path, job: _Publish, rendered: Iterable[tuple[str, bytes]], keys: Mapping[str, str]
) -> None:
    """Stage every rendered file, flush them, record them ahead, rename them into place."""
    for path, data in rendered:
        job.stage(path, data, keys.get(path, ""))
    if job.staged:
        _sync_filesystem(root)
        # written ahead: a run killed among the renames below leaves files that the next
        # run can still prove are syndicate's (see `_recover`)
        write_into(job.folder, PENDING, records.dump(job.files), private=False)
    for temp, path in job.staged:
        job.rename(temp, path)
    for path in {split(root, path)[0] for _, path in job.staged if path not in job.refused}:
        with contextlib.suppress(Refused, FileNotFoundError):
            job.folder.sync(path)


def _result(job: _Publish, removed: list[str]) -> WriteResult:
    written = tuple(path for _, path in job.staged if path not in job.refused)
    refused = tuple(f"{path}: {reason}" for path, reason in sorted(job.refused.items()))
    return WriteResult(written, tuple(removed), refused)


def _publish_part(
    root: Path,
    folder: Folder,
    rendered: Iterable[tuple[str, bytes]],
    keys: Mapping[str, str],
    stamp: str,
    removals: set[str],
) -> WriteResult:
    """Publish the files in `keys`, remove those in `removals`; the records of the others stay
    in the manifest, unread: only the records of these paths are looked up, and the changed
    ones go to the journal (folded into the manifest once it holds COMPACT records)."""
    journal = read_journal(root)
    base = read_file(root / MANIFEST)
    if journal is None or not records.readable_in_place(base) or os.path.lexists(root / PENDING):
        raise DeliveryError(f"cannot publish part of {root}: publish it whole")
    assert base is not None
    wanted = set(keys) | removals
    old = records.lookup(base, wanted - set(journal))
    old |= {p: r for p, r in journal.items() if p in wanted and r is not None}
    job = _Publish(folder, Manifest(old))
    with _unstaged_on_error(root, job):
        _put_in_place(root, job, rendered, keys)
        removed = job.remove(sorted(removals - set(keys)))
        _remove_empty_folders(folder, removed)
        changed = {**journal, **dict.fromkeys((*removed, *job.refused)), **job.files}
        whole = records.parse(base) if len(changed) > COMPACT else None
        if whole is not None and not whole.damage:
            merged = {**whole.files, **changed}
            _write_manifest(folder, {p: r for p, r in merged.items() if r is not None})
        else:
            write_into(folder, JOURNAL, records.dump_journal(base_id(root), changed), private=False)
        _finish(job, stamp)
    return _result(job, removed)
