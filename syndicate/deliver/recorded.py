"""What a publish recorded in an output folder, read back: the manifest (with its backup and
the journal of publishes in part), the stamp, and the names of the files present. Reads only:
writing them is `deliver.publishing`'s."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from syndicate.deliver import manifest as records
from syndicate.deliver.folder import Folder, Refused
from syndicate.deliver.manifest import MANIFEST, Manifest, Record

STAMP = ".syndicate-stamp"
BACKUP = ".syndicate-manifest.backup.json"
PENDING = ".syndicate-manifest.pending.json"  # what a publish is about to rename into place
JOURNAL = ".syndicate-manifest.journal.json"  # what publishes in part changed since (manifest)
COMPACT = 4000  # records a journal holds before a publish folds it into the manifest


def read_file(path: Path) -> bytes | None:
    try:
        with Folder(path.parent, create=False) as folder:
            found = folder.read(path.name)
    except (FileNotFoundError, NotADirectoryError, Refused):
        return None
    return None if found is None else found[0]


def load_manifest(root: Path) -> Manifest:
    """What the last publish recorded in `root` (see `deliver.manifest`). A damaged record is
    replaced by its backup copy if that one is whole; `damage` says what happened."""
    manifest = records.parse(read_file(root / MANIFEST))
    if not manifest.damage:
        return _journaled(root, manifest)
    backup = records.parse(read_file(root / BACKUP))
    if backup.damage or not backup.files:
        return Manifest(damage=f"{manifest.damage}; rebuilt from the files syndicate reproduces")
    return Manifest(backup.files, damage=f"{manifest.damage}; recovered from {BACKUP}")


def base_id(root: Path) -> records.BaseId:
    try:
        info = os.stat(root / MANIFEST, follow_symlinks=False)
    except OSError:
        return (-1, -1, -1)
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def read_journal(root: Path) -> dict[str, Record | None] | None:
    """The journal's records if it extends the manifest now on disk ({} if it does not: a
    manifest written since holds them), None if it is damaged."""
    found = records.parse_journal(read_file(root / JOURNAL))
    if found is None:
        return None
    base, files = found
    return files if base == base_id(root) else {}


def _journaled(root: Path, manifest: Manifest) -> Manifest:
    journal = read_journal(root)
    if journal is None:
        return Manifest(damage=f"{JOURNAL} is damaged; rebuilt from the files syndicate reproduces")
    if not journal:
        return manifest
    files = {**manifest.files, **journal}
    return Manifest({p: r for p, r in files.items() if r is not None}, manifest.damage)


def publishes_in_part(root: Path) -> bool:
    """Can a publish of part of `root` (`publish` with `removals`) run: the manifest is whole
    and readable in place, its journal whole, and no publish was killed part way."""
    try:
        with open(root / MANIFEST, "rb") as file:
            head = file.read(64)  # the whole is read by the publish, through `Folder`
    except OSError:
        return False
    return (
        not os.path.lexists(root / PENDING)
        and records.readable_in_place(head)
        and read_journal(root) is not None
    )


def read_manifest(root: Path) -> dict[str, str]:
    """Each file syndicate manages in `root`, with the key of the inputs it was rendered from
    ("" for a manifest older than keys, or a damaged one: re-render and compare)."""
    return {path: record.key for path, record in load_manifest(root).files.items()}


def read_stamp(root: Path) -> str:
    """The stamp the last complete publish left (see `publish`), "" if none."""
    data = read_file(root / STAMP)
    try:
        return "" if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def present(root: Path) -> set[str]:
    """Relative paths of the files under `root` (names only, no stat: cheap at 100,000)."""
    found: set[str] = set()
    folders = [(root, "")]
    while folders:
        folder, prefix = folders.pop()
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(folder):
                if entry.is_dir(follow_symlinks=False):
                    folders.append((Path(entry.path), f"{prefix}{entry.name}/"))
                else:
                    found.add(prefix + entry.name)
    return found
