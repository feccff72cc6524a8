"""Any article text gives archive and tag pages that parse as HTML without a single error, never
carry the text's markup as markup, and render to the same bytes twice."""

from __future__ import annotations

import json
import re

import html5lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.config import DEFAULT_CTA_PATTERNS
from syndicate.errors import ArticleError
from syndicate.ingest.parse import ParseOptions, parse_article
from syndicate.models import Entry
from syndicate.pipeline.plan import archive, tag_files
from syndicate.render.common import make_environment
from syndicate.text import unique_slugs

from .factories import BASE, TEMPLATES, make_site

OPTIONS = ParseOptions(BASE.tzinfo, tuple(re.compile(p) for p in DEFAULT_CTA_PATTERNS))  # type: ignore[arg-type]
ENV = make_environment(TEMPLATES)
any_text = st.one_of(
    st.text(),
    st.text(st.characters(exclude_categories=())),
    st.sampled_from(["<script>alert(1)</script>", "مرحبا \u202e", "👩‍👩‍👧", "&amp; &#0;"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=any_text, body=any_text, author=any_text, tags=st.lists(any_text, max_size=3))
def test_any_article_text_gives_pages_without_html_errors(
    title: str, body: str, author: str, tags: list[str]
) -> None:
    front = f"+++\nauthor = {json.dumps(author)}\ntags = {json.dumps(tags)}\n+++\n"
    try:
        article = parse_article(f"{front}{title}\n\n{body}\n\nMore.\n", "a.txt", OPTIONS)
    except ArticleError:
        return  # a clear per-file error is an accepted outcome
    entries = [Entry(article, BASE, BASE)]
    site = make_site(tag_slugs=unique_slugs(article.tags))
    files = archive(ENV, site, entries, []) | tag_files(ENV, site, entries)
    assert files == archive(ENV, site, entries, []) | tag_files(ENV, site, entries)
    for path, data in files.items():
        if not path.endswith(".html"):
            continue
        parser = html5lib.HTMLParser(strict=True)
        parser.parse(data.decode("utf-8"))
        assert parser.errors == [], path
        assert b"<script" not in data, path
