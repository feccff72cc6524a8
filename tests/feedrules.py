"""The W3C Feed Validation Service's rules that matter for syndicate's feeds, restated as checks.

Read from w3c/feedvalidator (validators.py, item.py, content.py, link.py): plain-text elements
must not look like HTML (`nonhtml`), HTML elements must parse strictly, hold only safe elements
and no relative URLs (`safeHtml`, `absUrlMixin`), dates are RFC 822 (RSS) and RFC 3339 (Atom)
with a correct weekday, guids unique (and permalinks http URLs), URIs absolute and ASCII
(`rfc2396_full`), the self link is the published URL, no C1 controls or U+FFFD
(`BadCharacters`), and no two Atom entries with the same `updated` (`DuplicateUpdated`, "Two
entries with the same value for atom:updated"): a strict-level warning. Each check returns a list of problems; an empty list means no warning.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.entities import name2codepoint

import html5lib
from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "atom": ATOM,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
HTML_TAGS = {
    "a", "b", "i", "em", "strong", "p", "div", "span", "script", "style", "br", "img", "ul",
    "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td", "code", "pre", "iframe",
    "html", "body", "head", "title", "blockquote", "u", "s", "small", "sub", "sup", "q",
}  # fmt: skip
UNSAFE_TAGS = {"script", "style", "iframe", "object", "embed", "link", "meta", "base", "frame"}
URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d(:\d\d)? [+-]\d\d[03]0$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|[+-]\d\d:\d\d)$")
BAD_CHARACTERS = re.compile("[\x80-\x9f\ufffd]")
MIME = re.compile(r"^[^\s()<>,;:\\\"/\[\]?=]+/[^\s()<>,;:\\\"/\[\]?=]+$")


def nonhtml(value: str) -> list[str]:
    """A plain-text element that a reader could take for HTML."""
    problems = [
        f"contains HTML </{t}>" for t in re.findall(r"</(\w+)>", value) if t.lower() in HTML_TAGS
    ]
    for word in re.findall(r"&(#?\w+)", value):
        if word in name2codepoint or word == "apos" or not word.isalpha():
            problems.append(f"contains an HTML entity &{word}")
    if re.search(r"&#[x0-9]|<[/a-zA-Z]", value):
        problems.append(f"contains markup-like text {value[:40]!r}")
    return problems


def safe_html(value: str) -> list[str]:
    """An HTML element: strict HTML5, no unsafe elements, no relative links."""
    parser = html5lib.HTMLParser(strict=True)
    try:
        fragment = parser.parseFragment(value)
    except html5lib.html5parser.ParseError as exc:
        return [f"not HTML: {exc}"]
    problems = []
    for element in fragment.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.split("}")[-1]
        if tag in UNSAFE_TAGS:
            problems.append(f"unsafe element <{tag}>")
        for name in ("href", "src"):
            link = element.get(name)
            if link is not None and not re.match(r"\w+:", link.strip()):
                problems.append(f"relative URL {link!r}")
    return problems


def uri(value: str | None, what: str) -> list[str]:
    return [] if value and URI.match(value) else [f"{what}: not an absolute ASCII URI: {value!r}"]


def rfc822(value: str | None) -> list[str]:
    if not value or not RFC2822.match(value):
        return [f"not an RFC 822 date: {value!r}"]
    if parsedate_to_datetime(value).strftime("%a") != value[:3]:
        return [f"wrong weekday: {value!r}"]
    return [f"implausible date {value!r}"] if parsedate_to_datetime(value).year < 1990 else []


def rfc3339(value: str | None) -> list[str]:
    if not value or not RFC3339.match(value):
        return [f"not an RFC 3339 date: {value!r}"]
    return [f"implausible date {value!r}"] if datetime.fromisoformat(value).year < 1990 else []


def _characters(root: etree._Element) -> list[str]:
    texts = [t for el in root.iter() for t in (el.text, *el.attrib.values()) if t]
    return [f"bad character in {t[:30]!r}" for t in texts if BAD_CHARACTERS.search(t)]


def _self_link(element: etree._Element, url: str, mime: str) -> list[str]:
    found = [
        dict(link.attrib) for link in element.findall("atom:link", NS) if link.get("rel") == "self"
    ]
    return [] if found == [{"href": url, "rel": "self", "type": mime}] else [f"self link {found}"]


def rss_problems(data: bytes, published_url: str) -> list[str]:
    """Every rule an RSS 2.0 feed published at `published_url` breaks."""
    root = etree.fromstring(data)
    channel = root.find("channel")
    assert root.get("version") == "2.0" and channel is not None
    problems = _characters(root) + _self_link(channel, published_url, "application/rss+xml")
    problems += nonhtml(channel.findtext("title", "")) + uri(channel.findtext("link"), "link")
    problems += [] if channel.findtext("language") else ["no language"]
    problems += (
        []
        if (channel.findtext("ttl") or "0").isdigit() and int(channel.findtext("ttl") or 0) > 0
        else ["no ttl"]
    )
    problems += rfc822(channel.findtext("lastBuildDate"))
    problems += [
        p for link in channel.findall("atom:link", NS) for p in uri(link.get("href"), "atom:link")
    ]
    guids: list[str] = []
    for item in channel.findall("item"):
        guid = item.find("guid")
        assert guid is not None, "item without guid"
        guids.append(guid.text or "")
        permalink = guid.get("isPermaLink", "true") == "true"
        if permalink and guid.text != item.findtext("link"):
            problems.append(f"guid {guid.text!r} is a permalink but not the item's link")
        problems += uri(guid.text, "guid") + uri(item.findtext("link"), "item link")
        problems += nonhtml(item.findtext("title", "")) + rfc822(item.findtext("pubDate"))
        problems += safe_html(item.findtext("description", ""))
        problems += safe_html(item.findtext("content:encoded", "", NS))
        problems += [p for c in item.findall("category") for p in nonhtml(c.text or "")]
        creator = item.find("dc:creator", NS)
        if creator is not None and not (creator.text or "").strip():
            problems.append(f"item {guid.text} has a blank dc:creator")
    problems += ["duplicate guids"] if len(set(guids)) != len(guids) else []
    return problems


def atom_problems(data: bytes, published_url: str) -> list[str]:
    """Every rule an Atom 1.0 feed published at `published_url` breaks."""
    root = etree.fromstring(data)
    assert root.tag == f"{{{ATOM}}}feed"
    problems = _characters(root) + _self_link(root, published_url, "application/atom+xml")
    problems += [] if root.get("{http://www.w3.org/XML/1998/namespace}lang") else ["no xml:lang"]
    problems += uri(root.findtext("atom:id", None, NS), "feed id") + rfc3339(
        root.findtext("atom:updated", None, NS)
    )
    problems += nonhtml(root.findtext("atom:title", "", NS)) + nonhtml(
        root.findtext("atom:subtitle", "", NS)
    )
    problems += [] if root.findtext("atom:author/atom:name", "", NS).strip() else ["no feed author"]
    for link in root.iter(f"{{{ATOM}}}link"):
        problems += uri(link.get("href"), "link")
        problems += [] if MIME.match(link.get("type", "a/b")) else [f"bad type {link.get('type')}"]
    ids = [e.findtext("atom:id", "", NS) for e in root.findall("atom:entry", NS)]
    problems += ["duplicate ids"] if len(set(ids)) != len(ids) else []
    updated = [e.findtext("atom:updated", "", NS) for e in root.findall("atom:entry", NS)]
    problems += [
        f"DuplicateUpdated: {value} on {updated.count(value)} entries"
        for value in sorted(set(updated))
        if updated.count(value) > 1
    ]
    for entry in root.findall("atom:entry", NS):
        problems += uri(entry.findtext("atom:id", None, NS), "entry id")
        problems += nonhtml(entry.findtext("atom:title", "", NS))
        problems += rfc3339(entry.findtext("atom:updated", None, NS))
        problems += rfc3339(entry.findtext("atom:published", None, NS))
        content = entry.find("atom:content", NS)
        assert content is not None and content.get("type") == "html"
        problems += safe_html(content.text or "")
        summary = entry.findtext("atom:summary", "", NS)
        problems += nonhtml(summary) + ([] if summary.strip() else ["blank summary"])
        for name in entry.findall("atom:author/atom:name", NS):
            problems += nonhtml(name.text or "") + (
                [] if (name.text or "").strip() else ["blank author"]
            )
    return problems
