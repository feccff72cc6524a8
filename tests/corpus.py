"""A publication that shows every page type and feature at once, for whole-output checks (the
link check, the browser's contrast and axe-core checks): the bundled sample plus articles with a
linked image and file, a URI id, Russian, Japanese and Arabic text, tags, and a page size small
enough for numbered pages on the index and on a tag."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

from syndicate.config import load_config
from syndicate.pipeline import run_once

from .conftest import NOW, ROOT, SECRET

EXTRA = {
    "pictures.md": (
        '+++\ndate = 2026-11-27T10:00:00Z\ntags = ["culture"]\nauthor = "Aigerim Sadykova"\n+++\n'
        "# Pictures from the dombra concert\n\nThe orchestra on stage:\n\n"
        "![The youth orchestra on stage](images/stage.png)\n\n"
        "The [programme](files/programme.pdf) is a PDF.\n"
    ),
    "moved.md": (
        '+++\nid = "urn:uuid:3f2a8c1e-7b4d-4e6a-9c0f-1d2e3f4a5b6c"\n'
        'date = 2026-11-26T08:00:00Z\ntags = ["culture"]\n+++\n'
        "# A story moved from another system\n\nIts readers already hold its id.\n"
    ),
    "russian.txt": (
        '+++\nlanguage = "ru"\ntags = ["культура"]\n+++\nОркестр домбристов в Астане\n\n'
        "Молодёжный оркестр дал концерт в столице.\n"
    ),
    "japanese.txt": (
        '+++\nlanguage = "ja"\n+++\nアスタナの冬\n\n市内に40のスケートリンクが開かれた。\n'
    ),
    "arabic.txt": (
        '+++\nlanguage = "ar"\ntags = ["culture"]\n+++\nأوركسترا الدومبرا في أستانا\n\n'
        "قدمت الأوركسترا حفلا موسيقيا في العاصمة.\n"
    ),
}


def png(width: int, height: int) -> bytes:
    """A real PNG file: one red image of width x height."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    image = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + image


def build(site: Path, url: str = "https://example.org/") -> Path:
    """Write the publication into `site` (published for `url`), run it once, return `site`."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "articles", site / "articles")
    shutil.copytree(ROOT / "templates", site / "templates")
    config = (ROOT / "config.toml").read_text().replace("https://example.org/", url)
    config = config.replace("max_items = 20", "max_items = 20\npage_size = 3")
    config += '\n[[subscribers]]\nemail = "second@example.org"\n'
    (site / "config.toml").write_text(config)
    for name, text in EXTRA.items():
        (site / "articles" / name).write_text(text, encoding="utf-8")
    (site / "articles/images").mkdir()
    (site / "articles/images/stage.png").write_bytes(png(800, 600))
    (site / "articles/files").mkdir()
    (site / "articles/files/programme.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    report = run_once(load_config(site / "config.toml", env={"SYNDICATE_SECRET": SECRET}), NOW)
    assert report.ok and report.digest_id, report
    return site
