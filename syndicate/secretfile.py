"""Read a secret (the token-signing key, the SMTP password) from a file only its owner can use.

What cron needs: cron runs with an almost empty environment, so a secret kept in a file beside
the config reaches every run. The file is refused, with a ConfigError naming the config key,
if group or others may read or write it, if it is not a regular file, or if it is missing,
unreadable or empty. The mode is checked on the opened file (fstat), so a symlink is judged by
the file it leads to, and a file swapped after the check cannot slip through. Reads that one
file; knows nothing of the config's format or of the environment.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from syndicate.errors import ConfigError

MAX_BYTES = 64 * 1024  # a key or a password; anything longer is not one
_SHARED = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def read_secret_file(path: Path, key: str) -> str:
    """The secret in `path`, surrounding whitespace (a trailing newline) removed."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)  # a FIFO must not hang us
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(f"secret file {path} does not exist", key=key) from None
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}", key=key) from None
    try:
        _check(os.fstat(fd).st_mode, path, key)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise ConfigError(f"secret file {path} is larger than {MAX_BYTES} bytes", key=key)
    try:
        secret = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"secret file {path} is not UTF-8 text", key=key) from None
    if not secret:
        raise ConfigError(f"secret file {path} is empty", key=key)
    return secret


def _check(mode: int, path: Path, key: str) -> None:
    """Refuse anything but a regular file that group and others can neither read nor write."""
    if not stat.S_ISREG(mode):
        raise ConfigError(f"secret file {path} is not a regular file", key=key)
    if mode & _SHARED:
        raise ConfigError(
            f"secret file {path} can be read or written by other users (mode "
            f"{stat.S_IMODE(mode):04o}); allow only its owner: chmod 600 {path}",
            key=key,
        )
