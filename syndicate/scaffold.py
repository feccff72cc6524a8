"""`syndicate init DIR`: write a new publication that `syndicate run` accepts as it is.

Creates `config.toml`, `articles/` with one example article, and `templates/` with copies of
the bundled templates to edit. Never overwrites an existing file.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from syndicate.errors import ConfigError

CONFIG = """\
# syndicate configuration: every key is documented in syndicate's README ("Configuration").
# Relative paths are relative to this file.

[site]
title = "My Publication"
url = "https://example.org/"          # where the output folder is published
description = "News and notes."
language = "en"

[paths]
articles = "articles"
output = "feeds"
templates = "templates"
outbox = "outbox"
database = "sqlite:///state/syndicate.db"

[feeds]
max_items = 20

[digest]
schedule = "0 7 * * 1"                # Mondays at 07:00 (weekday 0 and 7 = Sunday, as in cron)
first_digest_days = 7

[cta]
url = "https://example.org/subscribe.html#email"   # the sign-up form on subscribe.html

[web]                                 # `syndicate serve`: sign-up, confirm, unsubscribe
listen = "127.0.0.1:8080"
static = true                         # also serve the output folder (behind nginx: false)

[email]
from = "My Publication <newsletter@example.org>"
delivery = "file"                     # write .eml files to the outbox; "smtp" sends
address = ""
# secret_file = "secret.key"          # with "smtp": the key for unsubscribe links (chmod 600)

[schedule]
timezone = "UTC"
ingest_interval = 300

[[subscribers]]
email = "me@example.org"
name = "Me"
"""

ARTICLE = """\
+++
author = "The Editors"
tags = ["welcome"]
+++
Welcome to My Publication

This is an example article. Its first line is the title; paragraphs are separated by blank lines.

Add more files like this one to the articles folder, then run `syndicate run` to publish them.
"""


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_new(path: Path, text: str) -> bool:
    """Create `path` with `text` unless something is there: a file, a folder or a symlink,
    dangling or not (O_EXCL | O_NOFOLLOW: never written through)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, _CREATE, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def scaffold(folder: Path) -> list[Path]:
    """Create a publication in `folder`; returns the files written (existing ones are kept)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder")
    written = []
    files = {folder / "config.toml": CONFIG, folder / "articles" / "001_welcome.txt": ARTICLE}
    bundled = resources.files("syndicate") / "templates"
    for item in sorted(bundled.iterdir(), key=lambda t: t.name):
        if item.name.endswith((".j2", ".css")):
            files[folder / "templates" / item.name] = item.read_text(encoding="utf-8")
    for path, text in files.items():
        if _write_new(path, text):
            written.append(path)
    return written
