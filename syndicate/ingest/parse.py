"""Parse one article's text into an `Article`. Pure: no disk, no clock, no network.

The publisher's plain format: line 1 is the title, paragraphs are separated by blank lines,
lines of exactly 13 hex digits and whitespace-only lines are noise, and a closing paragraph that
matches a call-to-action pattern is lifted out of the body. `.md` bodies are CommonMark with raw
HTML disabled. Both may open with TOML front matter between `+++` lines.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import html
import itertools
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from syndicate.errors import ArticleError
from syndicate.ingest.front import split_front
from syndicate.models import Article, Asset
from syndicate.text import one_line, slugify, truncate, xml_safe

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SUMMARY_LENGTH = 300
MAX_ID = 1024  # characters: the store's `articles.id` column (PostgreSQL enforces it)
_NOISE = re.compile(r"[0-9a-fA-F]{13}")
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")
_ATX = re.compile(r"\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_BREAKS = ("softbreak", "hardbreak")


@functools.cache
def _md() -> MarkdownIt:
    """The CommonMark parser, made on first use: a run of plain `.txt` articles (and every
    command that parses nothing) does not import markdown-it (17 ms of start-up)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "typographer": False})


@dataclass(frozen=True)
class ParseOptions:
    """What parsing depends on besides the text: the publication's timezone and CTA patterns."""

    tz: tzinfo
    cta_patterns: tuple[re.Pattern[str], ...]
    max_tags: int = 20  # `[feeds] max_tags`: tags kept per article, the others reported

    def fingerprint(self) -> str:
        """Changes whenever a stored parse may no longer match a fresh one."""
        parts = [str(self.tz), *(p.pattern for p in self.cta_patterns), str(self.max_tags)]
        parts.append("parser-2")
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


def _plain_inline(source: str) -> str:
    """The plain text of one line of Markdown inline markup (emphasis, links, code)."""
    tokens = _md().parseInline(source)
    children = tokens[0].children or [] if tokens else []
    return "".join(t.content if t.type not in _BREAKS else " " for t in children)


def _title(block: str, markdown: bool) -> tuple[str, str]:
    """Split a first block into (title, the rest of the block). Line 1 is the title; in
    Markdown an ATX (`# T #`) or setext (`T` over `===`) heading gives its plain text."""
    head, _, rest = block.partition("\n")
    if not markdown:
        return one_line(head), rest
    underline, _, after = rest.partition("\n")
    if underline.strip() and set(underline.strip()) <= {"=", "-"}:
        return one_line(_plain_inline(head)), after
    heading = _ATX.match(head)
    return one_line(_plain_inline(heading.group(1) if heading else head)), rest


def _lift_cta(blocks: list[tuple[int, str]], patterns: tuple[re.Pattern[str], ...]) -> str | None:
    if blocks and any(p.search(one_line(blocks[-1][1])) for p in patterns):
        return one_line(blocks.pop()[1])
    return None


def _markdown_lede(tokens: list[Token]) -> str:
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "paragraph_open" and inline.children is not None:
            parts = [t.content if t.type not in _BREAKS else " " for t in inline.children]
            return "".join(parts)
    return ""


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _local(url: str) -> str | None:
    """The file a relative link names, relative to the articles folder (may start with `..`),
    or None for links elsewhere (a scheme, a host, `/site-root`, `#fragment`)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
        return None
    return posixpath.normpath(unquote(parts.path))


def _line_of(url: str, path: str, lines: list[str], first: int) -> int:
    """The first line after the front matter that holds the link (as written or decoded)."""
    for number, line in enumerate(lines, start=first):
        if url in line or path in line or unquote(url) in line:
            return number
    return first


def assets(tokens: list[Token], lines: list[str], first: int) -> tuple[Asset, ...]:
    """The local files a Markdown body (its tokens) links to or shows, in order, each once."""
    found: dict[str, Asset] = {}
    for token in _walk(tokens):
        if token.type == "image":
            url, alt = str(token.attrGet("src") or ""), token.content
        elif token.type == "link_open":
            url, alt = str(token.attrGet("href") or ""), None
        else:
            continue
        path = _local(url)
        if path is not None and path not in found:
            found[path] = Asset(path, _line_of(url, path, lines, first), alt)
    return tuple(found.values())


def parse_article(
    text: str, path: str, options: ParseOptions, warnings: list[str] | None = None
) -> Article:
    """Turn an article's text into an Article, or raise ArticleError naming the line.
    What is published but cut (extra tags) is reported in `warnings`."""
    front, lines, first = split_front(text, path)
    markdown = path.lower().endswith((".md", ".markdown"))
    blocks = _blocks(lines, first)
    title = front.values.title
    if title is None:
        if not blocks:
            raise ArticleError(path, first, "no title: the first line must be the title")
        line, block = blocks.pop(0)
        title, rest = _title(block, markdown)
        if rest.strip():
            blocks.insert(0, (line + 1, rest))
    cta = _lift_cta(blocks, options.cta_patterns)
    if not blocks:
        raise ArticleError(path, first, "no article text after the title")
    if markdown:
        body_text = "\n\n".join(block for _, block in blocks)
        md = _md()
        tokens = md.parse(body_text)  # once, for the HTML, the lede and the linked files
        body_html = md.renderer.render(tokens, md.options, {})
        lede, linked = _markdown_lede(tokens), assets(tokens, lines, first)
    else:
        linked = ()
        paragraphs = [one_line(block) for _, block in blocks]
        body_text = "\n\n".join(paragraphs)
        body_html = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
        lede = paragraphs[0]
    uri = front.values.uri_id
    article_id = front.values.id or path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if len(article_id) > MAX_ID:
        raise front.error("id", f"{len(article_id)} characters, more than {MAX_ID}")
    title = title or "Untitled"
    # A URI id names no page: the page is named after the title (or the front-matter slug).
    slug = front.values.slug or (title if uri else article_id)
    return Article(
        id=article_id,
        source=path,
        title=title,
        slug=slugify(slug),
        body_html=body_html,
        body_text=body_text,
        summary=truncate(front.values.summary or lede, SUMMARY_LENGTH),
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        date=front.when("date", options.tz),
        updated=front.when("updated", options.tz),
        author=front.values.author,
        tags=front.tags(options.max_tags, [] if warnings is None else warnings),
        draft=front.values.draft,
        cta=cta,
        language=front.values.language,
        assets=linked,
        title_slug=bool(uri) and front.values.slug is None,
    )
