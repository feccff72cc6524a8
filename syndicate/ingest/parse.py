"""Parse one article's text into an `Article`. Pure: no disk, no clock, no network.

The publisher's plain format: line 1 is the title, paragraphs are separated by blank lines,
lines of exactly 13 hex digits and whitespace-only lines are noise, and a closing paragraph that
matches a call-to-action pattern is lifted out of the body. `.md` bodies are CommonMark with raw
HTML disabled. Both may open with TOML front matter between `+++` lines.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import itertools
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any

from markdown_it import MarkdownIt

from syndicate.errors import ArticleError
from syndicate.models import Article
from syndicate.text import one_line, slugify, truncate, xml_safe

FRONT_KEYS = ("id", "title", "date", "updated", "author", "tags", "summary", "slug", "draft")
SUMMARY_LENGTH = 300
_NOISE = re.compile(r"[0-9a-fA-F]{13}")
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")
_MD = MarkdownIt("commonmark", {"html": False, "typographer": False})
_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True)
class ParseOptions:
    """What parsing depends on besides the text: the publication's timezone and CTA patterns."""

    tz: tzinfo
    cta_patterns: tuple[re.Pattern[str], ...]

    def fingerprint(self) -> str:
        """Changes whenever a stored parse may no longer match a fresh one."""
        parts = [str(self.tz), *(p.pattern for p in self.cta_patterns), "parser-1"]
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def decode(data: bytes, path: str) -> tuple[str, list[str]]:
    """Bytes to normalised text (BOM dropped, LF line ends, XML-safe); warnings for fallbacks."""
    warnings: list[str] = []
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            data = data[len(bom) :].decode(codec, errors="replace").encode()
    if b"\x00" in data:
        raise ArticleError(path, 1, "binary file (contains NUL bytes), not an article")
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        warnings.append(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); read as cp1252"
        )
        text = data.decode("cp1252", errors="replace")
    text = xml_safe(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise ArticleError(path, 1, "empty file" if not text else "file holds only whitespace")
    return text, warnings


def _is_noise(line: str) -> bool:
    stripped = line.translate(_INVISIBLE).strip()
    return not stripped or bool(_NOISE.fullmatch(stripped))


def _blocks(lines: list[str], first_line: int) -> list[tuple[int, str]]:
    """Group lines into paragraphs (line number, text): noise lines separate and vanish."""
    blocks: list[tuple[int, list[str]]] = []
    in_block = False
    for number, line in enumerate(lines, start=first_line):
        if _is_noise(line):
            in_block = False
        elif in_block:
            blocks[-1][1].append(line)
        else:
            blocks.append((number, [line]))
            in_block = True
    return [(number, "\n".join(part)) for number, part in blocks]


def _split_front(text: str, path: str) -> tuple[dict[str, Any], list[str], int]:
    """Return (front matter, body lines, line number of the first body line)."""
    lines = text.split("\n")
    if lines[0].strip() != "+++":
        return {}, lines, 1
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration:
        raise ArticleError(path, 1, "front matter opened with +++ is never closed") from None
    try:
        front = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found.group(1)) + 1 if found else 2
        raise ArticleError(path, line, f"broken front matter: {exc}") from None
    for key in front:
        if key not in FRONT_KEYS:
            line = next((i + 1 for i in range(1, end) if lines[i].lstrip().startswith(key)), 2)
            known = ", ".join(FRONT_KEYS)
            raise ArticleError(path, line, f"unknown front matter key {key!r} (known: {known})")
    return front, lines[end + 1 :], end + 2


def _when(value: Any, key: str, path: str, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ArticleError(
                path, 1, f"front matter {key!r}: not an ISO 8601 date: {value!r}"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)  # PITFALLS F5
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz)
    raise ArticleError(path, 1, f"front matter {key!r}: expected a date, got {value!r}")


def _text_field(front: dict[str, Any], key: str, path: str) -> str | None:
    value = front.get(key)
    if value is not None and not isinstance(value, str):
        raise ArticleError(path, 1, f"front matter {key!r}: expected a string, got {value!r}")
    return one_line(value) if value else None


def _tags(front: dict[str, Any], path: str) -> tuple[str, ...]:
    value = front.get("tags", [])
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise ArticleError(
            path, 1, f"front matter 'tags': expected a list of strings, got {value!r}"
        )
    return tuple(dict.fromkeys(tag for tag in map(one_line, items) if tag))


def _lift_cta(blocks: list[tuple[int, str]], patterns: tuple[re.Pattern[str], ...]) -> str | None:
    if blocks and any(p.search(one_line(blocks[-1][1])) for p in patterns):
        return one_line(blocks.pop()[1])
    return None


def _markdown_lede(source: str) -> str:
    tokens = _MD.parse(source)
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "paragraph_open" and inline.children is not None:
            parts = [t.content if t.type != "softbreak" else " " for t in inline.children]
            return "".join(parts)
    return ""


def parse_article(text: str, path: str, options: ParseOptions) -> Article:
    """Turn an article's text into an Article, or raise ArticleError naming the line."""
    front, lines, first = _split_front(text, path)
    markdown = path.lower().endswith((".md", ".markdown"))
    blocks = _blocks(lines, first)
    title = _text_field(front, "title", path)
    if title is None:
        if not blocks:
            raise ArticleError(path, first, "no title: the first line must be the title")
        _, raw = blocks.pop(0)
        title = one_line(raw.removeprefix("#").lstrip("#") if markdown else raw)
    cta = _lift_cta(blocks, options.cta_patterns)
    if not blocks:
        raise ArticleError(path, first, "no article text after the title")
    if markdown:
        body_text = "\n\n".join(block for _, block in blocks)
        body_html, lede = _MD.render(body_text), _markdown_lede(body_text)
    else:
        paragraphs = [one_line(block) for _, block in blocks]
        body_text = "\n\n".join(paragraphs)
        body_html = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
        lede = paragraphs[0]
    name = path.rsplit("/", 1)[-1]
    article_id = _text_field(front, "id", path) or name.rsplit(".", 1)[0]
    draft = front.get("draft", False)
    if not isinstance(draft, bool):
        raise ArticleError(path, 1, f"front matter 'draft': expected true or false, got {draft!r}")
    return Article(
        id=article_id,
        source=path,
        title=title or "Untitled",
        slug=slugify(_text_field(front, "slug", path) or article_id),
        body_html=body_html,
        body_text=body_text,
        summary=truncate(_text_field(front, "summary", path) or lede, SUMMARY_LENGTH),
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        date=_when(front.get("date"), "date", path, options.tz),
        updated=_when(front.get("updated"), "updated", path, options.tz),
        author=_text_field(front, "author", path),
        tags=_tags(front, path),
        draft=draft,
        cta=cta,
    )
