"""Reading the articles folder's files safely: an article's bytes through a descriptor opened
without following links (a symlink is followed once, and only to a file of the folder itself),
and the files articles link to (assets), refused when they leave the folder, are hidden, are
articles, are not regular files or are too large. Every check is made on the open descriptor,
so a file swapped between a look and a read cannot slip through. Parses nothing; never writes.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from syndicate.errors import ArticleError

SUFFIXES = (".txt", ".md", ".markdown")
MAX_BYTES = 20 * 1024 * 1024
MAX_ASSET_BYTES = 100 * 1024 * 1024  # a linked file is published whole: refuse a runaway one
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO opens, never blocks


def _follow_once(folder: int, real: tuple[str, ...], name: str) -> int:
    """Open the file a symlink names, if that is a file of the articles folder itself (`real`:
    the folder's paths); its target is opened without following any further link."""
    target = os.readlink(name, dir_fd=folder)
    for base in real:
        path = os.path.normpath(os.path.join(base, target))
        if os.path.dirname(path) == base:
            try:
                return os.open(os.path.basename(path), _OPEN, dir_fd=folder)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ArticleError(name, 1, "symlink to a symlink, not followed") from None
                raise
    raise ArticleError(name, 1, f"symlink points outside the articles folder ({target})")


def read_article_bytes(folder: int, real: tuple[str, ...], name: str) -> bytes:
    """Open first, then decide from the open file: a symlink swapped in between a check and a
    read cannot make syndicate read a file it refused."""
    try:
        fd = os.open(name, _OPEN, dir_fd=folder)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        fd = _follow_once(folder, real, name)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArticleError(name, 1, "not a regular file")
        if info.st_size > MAX_BYTES:
            raise ArticleError(name, 1, f"larger than {MAX_BYTES // 2**20} MiB, not an article")
        chunks, size = [], 0
        while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:  # it grew while being read
            raise ArticleError(name, 1, f"larger than {MAX_BYTES // 2**20} MiB, not an article")
        return b"".join(chunks)
    finally:
        os.close(fd)


def asset_file(root: Path, relative: str) -> Path:
    """The file of an asset path; ValueError saying why it is refused when it is
    outside the articles folder (also through a symlink), hidden, an article's own source,
    not a regular file, missing or too large."""
    parts = relative.split("/")
    if relative.startswith("/") or ".." in parts:
        raise ValueError("points outside the articles folder; not published")
    if any(part.startswith(".") for part in parts):
        raise ValueError("is a hidden file; not published")
    if relative.lower().endswith(SUFFIXES):
        raise ValueError("is an article file, not an asset: link to its page instead")
    path = root / relative
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError("not found in the articles folder") from None
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise ValueError("is a symlink that leaves the articles folder; not published")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file")
    if info.st_size > MAX_ASSET_BYTES:
        raise ValueError(f"is larger than {MAX_ASSET_BYTES // 2**20} MiB; not published")
    return resolved


def read_asset(root: Path, relative: str) -> bytes:
    """The bytes of a linked file, checked as `asset_file` checks it (ValueError if refused).

    The checks are made again on the open descriptor (where it really leads, what it is), so a
    symlink swapped in between `asset_file`'s look and the read cannot publish a file from
    outside the articles folder."""
    fd = os.open(asset_file(root, relative), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
        info = os.fstat(fd)
        if not opened.is_relative_to(root.resolve()) or not stat.S_ISREG(info.st_mode):
            raise ValueError("changed while it was read (a symlink out?); not published")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_ASSET_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_ASSET_BYTES:
        raise ValueError(f"is larger than {MAX_ASSET_BYTES // 2**20} MiB; not published")
    return data


def image_size(root: Path, relative: str) -> tuple[int, int] | None:
    """(width, height) of a linked PNG, JPEG, GIF or WebP image from its header (imagesize),
    or None for a file that is not one or is refused."""
    import imagesize  # here: only a run that links an image pays for importing it

    try:
        width, height = imagesize.get(asset_file(root, relative))
    except Exception:  # a refused file, or a header too broken for imagesize: no size
        return None
    return (width, height) if width > 0 and height > 0 else None
