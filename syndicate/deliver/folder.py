"""Files under one folder, reached without following a symlink at any step.

Every path is split into segments (never `..`, `.` or empty) and each folder on the way is
opened with O_NOFOLLOW | O_DIRECTORY relative to its parent's descriptor; files are opened with
O_NOFOLLOW and judged by `fstat` on the open descriptor, and temp files are created and renamed
relative to their folder's descriptor. So what was checked is what is written: a symlink put
in place of a folder or a file is refused (`Refused`), never written through, whenever it
appears. Only the root itself is reached by path (it comes from the trusted config).

This module knows nothing of manifests, feeds or mail: it opens, reads, writes and renames.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections import OrderedDict
from pathlib import Path
from types import TracebackType

from syndicate.errors import DeliveryError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
TEMP = re.compile(r"\.syndicate-[0-9a-f]{16}\.tmp")  # the temp files of this module, and only
_OPEN_FOLDERS = 64  # descriptors kept open at most (a publish touches a folder per tag)


class Refused(DeliveryError):
    """A path syndicate will not write: a symlink, or not a regular file or folder."""


def split(root: Path, relative: str) -> tuple[str, str]:
    """(folder, name) of a path under root, refusing any that could leave it."""
    parts = relative.split("/")
    if relative.startswith("/") or "\x00" in relative or any(p in ("", ".", "..") for p in parts):
        raise DeliveryError(f"refusing to write {relative!r}: outside {root}")
    return "/".join(parts[:-1]), parts[-1]


def temp_name() -> str:
    return f".syndicate-{secrets.token_hex(8)}.tmp"


class Folder:
    """A folder opened once; its subfolders opened (and kept, a few) without following links."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        if create:
            root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._open: OrderedDict[str, int] = OrderedDict()

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()
        os.close(self.fd)

    def dir(self, folder: str, *, create: bool = False) -> int:
        """The descriptor of `folder` (relative, "" = the root); FileNotFoundError if absent
        and not `create`; `Refused` if any segment is a symlink or a file."""
        if not folder:
            return self.fd
        if folder in self._open:
            self._open.move_to_end(folder)
            return self._open[folder]
        parent = self.fd
        for depth, part in enumerate(parts := folder.split("/")):
            try:
                fd = self._step(parent, part, create)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    where = "/".join(parts[: depth + 1])
                    raise Refused(f"{where}: a symlink or a file, not a folder") from None
                raise
            finally:
                if parent != self.fd:
                    os.close(parent)
            parent = fd
        self._open[folder] = parent
        if len(self._open) > _OPEN_FOLDERS:
            os.close(self._open.popitem(last=False)[1])
        return parent

    @staticmethod
    def _step(parent: int, part: str, create: bool) -> int:
        try:
            return os.open(part, _DIR, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=parent)
        return os.open(part, _DIR, dir_fd=parent)

    def read(self, relative: str) -> tuple[bytes, os.stat_result] | None:
        """The bytes and status of a regular file, None if there is none; `Refused` if the
        path holds a symlink, a folder or anything else."""
        folder, name = split(self.root, relative)
        try:
            fd = os.open(name, _READ, dir_fd=self.dir(folder))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Refused(f"{relative}: a symlink") from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{relative}: not a regular file")
            with open(fd, "rb", closefd=False) as handle:
                return handle.read(), info
        finally:
            os.close(fd)

    def lstat(self, relative: str) -> os.stat_result | None:
        folder, name = split(self.root, relative)
        try:
            return os.stat(name, dir_fd=self.dir(folder), follow_symlinks=False)
        except (FileNotFoundError, Refused):
            return None

    def write_temp(
        self, relative: str, data: bytes, mode: int, *, keep: int | None = None, sync: bool = False
    ) -> tuple[str, os.stat_result]:
        """A new temp file beside `relative` holding `data`: (its name, its status). Created
        with `mode` (the umask applies), or set to exactly `keep` (an existing file's mode);
        `sync` flushes it to disk."""
        folder, _ = split(self.root, relative)
        where = self.dir(folder, create=True)
        temp = temp_name()
        fd = os.open(temp, _CREATE, mode, dir_fd=where)
        try:
            with open(fd, "wb", closefd=False) as handle:
                handle.write(data)
            if keep is not None:
                os.fchmod(fd, keep)
            elif mode & 0o044:  # published: world-readable whatever the umask
                os.fchmod(fd, mode)
            if sync:
                os.fsync(fd)
            return temp, os.fstat(fd)
        except BaseException:
            os.unlink(temp, dir_fd=where)
            raise
        finally:
            os.close(fd)

    def replace(self, temp: str, relative: str) -> None:
        """Rename a temp file of `write_temp` over `relative` (a symlink there is replaced,
        never followed)."""
        folder, name = split(self.root, relative)
        where = self.dir(folder)
        os.replace(temp, name, src_dir_fd=where, dst_dir_fd=where)

    def unlink(self, relative: str, name: str | None = None) -> None:
        """Remove `relative` (or the file `name` in its folder); gone already is fine."""
        folder, last = split(self.root, relative)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name or last, dir_fd=self.dir(folder))

    def rmdir(self, folder: str) -> None:
        """Remove an empty folder; a folder that is not empty (or gone) is left alone."""
        parent, name = split(self.root, folder)
        if (open_fd := self._open.pop(folder, None)) is not None:
            os.close(open_fd)
        with contextlib.suppress(OSError):
            os.rmdir(name, dir_fd=self.dir(parent))

    def sync(self, folder: str) -> None:
        os.fsync(self.dir(folder))
