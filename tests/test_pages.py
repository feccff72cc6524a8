"""The web archive of syndicate.render.pages: pagination, article pages, autodiscovery, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import html5lib
import lxml.html
import pytest

from syndicate.errors import RenderError
from syndicate.models import Digest
from syndicate.pipeline.plan import archive
from syndicate.render.common import make_environment, render_template

from .factories import BASE, TEMPLATES, make_entry, newest_first
from .factories import make_site as make_default_site

NASTY = "<script>alert(1)</script>"


# The CTA that the article-page and subscribe-page tests assert on.
make_site = partial(
    make_default_site,
    cta_text="Get every story by email, once a week.",
    cta_button="Sign me up",
    cta_links={
        "Mastodon": "https://social.example/@gazette",
        "Bluesky": "https://bsky.example/g",
    },
)


def make_digest(digest_id: str = "2024-03-15") -> Digest:
    web = (
        "<!DOCTYPE html>\n<html><head><title>Digest</title></head>"
        f"<body><p>Web version of {digest_id}</p></body></html>\n"
    )
    return Digest(
        id=digest_id,
        created=BASE,
        subject="The Gazette: Story number 3 and 2 more",
        html="<p>email %%synx:email%%</p>",
        text="text %%synx:email%%",
        web_html=web,
        marker="synx",
        article_ids=("story-3", "story-2", "story-1"),
    )


@pytest.fixture
def env() -> Any:
    return make_environment(TEMPLATES)


def doc(data: bytes) -> Any:
    return lxml.html.document_fromstring(data)


def teaser_links(data: bytes) -> list[str]:
    return [a.get("href") for a in doc(data).xpath("//article[@class='teaser']//h2/a")]


def html_pages(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if path.endswith(".html")}


# --- the file set -----------------------------------------------------------------------------


def test_archive_file_set(env: Any) -> None:
    files = archive(env, make_site(), newest_first(3), [make_digest()])
    assert sorted(files) == [
        "articles/story-1.html",
        "articles/story-2.html",
        "articles/story-3.html",
        "digests/2024-03-15.html",
        "index.html",
        "style.css",
        "subscribe.html",
    ]
    assert all(isinstance(v, bytes) for v in files.values())


def test_style_css_is_the_bundled_stylesheet(env: Any) -> None:
    files = archive(env, make_site(), newest_first(1), [])
    assert files["style.css"] == (TEMPLATES / "style.css").read_bytes()


def test_empty_archive_has_an_index_saying_so(env: Any) -> None:
    files = archive(env, make_site(), [], [])
    assert sorted(files) == ["index.html", "style.css", "subscribe.html"]
    assert "Nothing published yet." in files["index.html"].decode()


def test_rendering_is_deterministic(env: Any) -> None:
    args = (make_site(page_size=2), newest_first(5), [make_digest()])
    assert archive(env, *args) == archive(make_environment(TEMPLATES), *args)


# --- pagination -------------------------------------------------------------------------------


def test_single_page_has_no_pager(env: Any) -> None:
    files = archive(env, make_site(page_size=5), newest_first(5), [])
    assert not any(path.startswith("page/") for path in files)
    assert doc(files["index.html"]).xpath("//nav[@class='pager']") == []
    assert len(teaser_links(files["index.html"])) == 5


def test_pages_count_from_the_oldest_and_hold_every_entry_once(env: Any) -> None:
    entries = newest_first(7)  # story-7 is the newest
    files = archive(env, make_site(page_size=3), entries, [])

    assert sorted(p for p in files if p.startswith("page/")) == ["page/1.html", "page/2.html"]
    url = "https://example.org/articles/story-{}.html".format
    assert teaser_links(files["index.html"]) == [url(7), url(6), url(5)]  # the newest three
    assert teaser_links(files["page/1.html"]) == [url(3), url(2), url(1)]  # the oldest three
    assert teaser_links(files["page/2.html"]) == [url(4)]  # the rest: not yet a full page


def test_the_issue_example_repeats_no_story(env: Any) -> None:
    """36 stories, 20 a page: page/2.html held 16 stories all on index.html, page/1.html
    repeated 4 of them, and page 1's "Newer" led to the duplicate page."""
    files = archive(env, make_site(page_size=20), newest_first(36), [])
    assert sorted(p for p in files if p.startswith("page/")) == ["page/1.html"]
    assert len(teaser_links(files["page/1.html"])) == 16
    assert not set(teaser_links(files["page/1.html"])) & set(teaser_links(files["index.html"]))
    assert pager(files, "page/1.html")[0] == "https://example.org/index.html"


def pager(files: dict[str, bytes], path: str) -> tuple[str | None, str | None, str]:
    tree = doc(files[path])
    prev = tree.xpath("//nav[@class='pager']/a[@rel='prev']/@href")
    nxt = tree.xpath("//nav[@class='pager']/a[@rel='next']/@href")
    label = tree.xpath("string(//nav[@class='pager']/span)")
    return (prev[0] if prev else None, nxt[0] if nxt else None, label)


def test_pagination_links(env: Any) -> None:
    files = archive(env, make_site(page_size=2), newest_first(5), [])
    page = "https://example.org/page/{}.html".format
    # index shows 5, 4; page 1 holds 2, 1 and page 2 the rest (3)
    assert pager(files, "index.html") == (None, page(2), "")
    assert pager(files, "page/2.html") == ("https://example.org/index.html", page(1), "Page 2")
    assert pager(files, "page/1.html") == (page(2), None, "Page 1")
    assert "page 2" in doc(files["page/2.html"]).findtext(".//title")


def test_a_new_story_changes_only_the_index_and_the_newest_page(env: Any) -> None:
    site = make_site(page_size=3)
    before = archive(env, site, newest_first(7), [])
    after = archive(env, site, newest_first(8), [])
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == {"index.html", "page/2.html", "articles/story-8.html"}
    filled = archive(env, site, newest_first(10), [])  # page 2 full: page 3 begins
    changed = {p for p in filled if after.get(p) != filled[p]}
    assert changed == {
        "index.html", "page/2.html", "page/3.html", "articles/story-9.html",
        "articles/story-10.html",
    }  # fmt: skip


def test_entries_exactly_filling_pages_make_no_empty_page(env: Any) -> None:
    files = archive(env, make_site(page_size=2), newest_first(6), [])
    assert sorted(p for p in files if p.startswith("page/")) == ["page/1.html", "page/2.html"]
    assert pager(files, "page/2.html")[0] == "https://example.org/index.html"
    assert pager(files, "page/1.html")[1] is None


# --- article pages ----------------------------------------------------------------------------


def test_article_page_has_title_date_author_tags_body_and_cta(env: Any) -> None:
    # 23:30 UTC on 1 March is 1:30 on 2 March in Helsinki: the page shows the site's date.
    entry = make_entry(
        1,
        published=datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
        author="Zoë Writer",
        tags=("politics", "city hall"),
        body_html="<p>The council met <strong>again</strong>.</p>\n",
        summary="The council met again.",
    )
    site = make_site()
    page = archive(env, site, [entry], [])["articles/story-1.html"]
    tree = doc(page)

    assert tree.findtext(".//h1") == "Story number 1"
    assert tree.findtext(".//title") == "Story number 1 · The Gazette"
    time = tree.xpath("//article//time")[0]
    assert time.text == "2 March 2024"
    assert time.get("datetime") == "2024-03-02T01:30:00+02:00"
    assert "Zoë Writer" in tree.xpath("string(//article//p[@class='meta'])")
    tags = [(a.text, a.get("href")) for a in tree.xpath("//article//a[@class='tag'][@rel='tag']")]
    assert tags == [
        ("politics", "https://example.org/tags/politics/index.html"),
        ("city hall", "https://example.org/tags/city-hall/index.html"),
    ]
    body = tree.xpath("//article//div[@class='body']")[0]
    assert body.xpath("string(.//strong)") == "again"  # body HTML is kept as markup
    assert tree.xpath("//meta[@name='description']/@content") == ["The council met again."]
    assert tree.xpath("//link[@rel='canonical']/@href") == [
        "https://example.org/articles/story-1.html"
    ]

    cta = tree.xpath("//aside[@class='cta']")[0]
    assert "Get every story by email, once a week." in cta.text_content()
    button = cta.xpath(".//a[@class='button']")[0]
    assert button.text == "Sign me up"
    assert button.get("href") == "https://example.org/join"
    assert [(a.text, a.get("href")) for a in cta.xpath(".//p[@class='social']/a")] == [
        ("Mastodon", "https://social.example/@gazette"),
        ("Bluesky", "https://bsky.example/g"),
    ]


def test_article_without_author_tags_or_cta_links(env: Any) -> None:
    entry = make_entry(1, author=None, tags=())
    site = make_site(cta_links={}, cta_url="")
    tree = doc(archive(env, site, [entry], [])["articles/story-1.html"])
    assert tree.xpath("//p[@class='tags']") == []
    assert tree.xpath("normalize-space(//article//p[@class='meta'])") == "11 March 2024"
    assert tree.xpath("//p[@class='social']") == []
    # with no CTA URL configured the button leads to the sign-up form on the subscribe page
    assert tree.xpath("//aside[@class='cta']//a[@class='button']/@href") == [
        "https://example.org/subscribe.html#email"
    ]


def test_article_page_shows_a_later_update(env: Any) -> None:
    entry = make_entry(1, updated=BASE + timedelta(days=20))
    tree = doc(archive(env, make_site(), [entry], [])["articles/story-1.html"])
    times = tree.xpath("//article//p[@class='meta']//time/text()")
    assert times == ["11 March 2024", "30 March 2024"]
    assert "updated" in tree.xpath("string(//article//p[@class='meta'])")


def test_every_entry_gets_an_article_page(env: Any) -> None:
    entries = newest_first(5)
    files = archive(env, make_site(page_size=2), entries, [])
    for entry in entries:
        tree = doc(files[f"articles/{entry.article.slug}.html"])
        assert tree.findtext(".//h1") == entry.article.title


# --- digests and subscribe page -------------------------------------------------------------


def test_digest_pages_are_the_digests_web_html(env: Any) -> None:
    digests = [make_digest("2024-03-15"), make_digest("2024-03-22")]
    files = archive(env, make_site(), newest_first(2), digests)
    for digest in digests:
        assert files[f"digests/{digest.id}.html"] == digest.web_html.encode("utf-8")
    assert b"%%synx" not in files["digests/2024-03-15.html"]


def test_subscribe_page_lists_every_feed_reader_links_and_the_cta(env: Any) -> None:
    tree = doc(archive(env, make_site(), newest_first(1), [])["subscribe.html"])
    feeds = [(a.text, a.get("href")) for a in tree.xpath("//ul[@class='feeds']//a")]
    assert feeds == [
        ("https://example.org/rss.xml", "https://example.org/rss.xml"),
        ("https://example.org/atom.xml", "https://example.org/atom.xml"),
        ("https://example.org/feed.json", "https://example.org/feed.json"),
    ]
    readers = {a.text: a.get("href") for a in tree.xpath("//ul[@class='readers']//a")}
    assert readers == {
        "Your feed reader (feed: link)": "feed://example.org/rss.xml",
        "Feedly": "https://feedly.com/i/subscription/feed%2Fhttps%3A%2F%2Fexample.org%2Frss.xml",
        "Inoreader": "https://www.inoreader.com/?add_feed=https%3A%2F%2Fexample.org%2Frss.xml",
        "NetNewsWire": "x-netnewswire-feed://example.org/rss.xml",
    }
    # by email: the sign-up form itself, posting to `syndicate serve`, without JavaScript
    form = tree.xpath("//form[@class='signup']")[0]
    assert form.get("method") == "post" and form.get("action") == "https://example.org/subscribe"
    fields = {i.get("name"): i for i in form.xpath(".//input")}
    assert set(fields) == {"email", "name", "website"}
    assert fields["email"].get("type") == "email" and fields["email"].get("id") == "email"
    assert "required" in fields["email"].attrib and "required" not in fields["name"].attrib
    assert fields["website"].getparent().get("class") == "hp"  # the honeypot, hidden by CSS
    assert form.xpath(".//button[@type='submit']/text()") == ["Sign me up"]
    assert tree.xpath("//aside[@class='cta']") == []  # no button leading to this very page


# --- on every page ----------------------------------------------------------------------------


def test_every_templated_page_has_absolute_feed_autodiscovery(env: Any) -> None:
    files = archive(env, make_site(page_size=2), newest_first(5), [make_digest()])
    templated = [p for p in html_pages(files) if not p.startswith("digests/")]
    assert len(templated) == 1 + 2 + 5 + 1  # index + 2 pages, 5 articles, subscribe
    for path in templated:
        tree = doc(files[path])
        rss = tree.xpath("//head/link[@rel='alternate'][@type='application/rss+xml']/@href")
        atom = tree.xpath("//head/link[@rel='alternate'][@type='application/atom+xml']/@href")
        json = tree.xpath("//head/link[@rel='alternate'][@type='application/feed+json']/@href")
        assert rss == ["https://example.org/rss.xml"], path
        assert atom == ["https://example.org/atom.xml"], path
        assert json == ["https://example.org/feed.json"], path
        assert tree.xpath("//a[text()='Subscribe']/@href") == [
            "https://example.org/subscribe.html"
        ], path
        assert tree.xpath("//head/link[@rel='stylesheet']/@href") == [
            "https://example.org/style.css"
        ], path
        assert tree.get("lang") == "en", path


def test_every_page_parses_as_html(env: Any) -> None:
    entries = [make_entry(3, title=NASTY), make_entry(2, tags=("a&b",)), make_entry(1)]
    files = archive(env, make_site(page_size=2), entries, [make_digest()])
    pages = html_pages(files)
    assert len(pages) == 1 + 1 + 3 + 1 + 1  # index, 1 page, 3 articles, subscribe, digest
    for path, data in pages.items():
        assert data.startswith(b"<!DOCTYPE html>"), path
        parser = html5lib.HTMLParser(strict=True)
        parser.parse(data.decode("utf-8"))  # strict: raises on any HTML parse error
        assert parser.errors == [], path
        tree = doc(data)
        assert tree.find("head") is not None, path
        assert tree.find("body") is not None, path


@pytest.mark.parametrize("field", ["title", "summary", "author", "tags"])
def test_markup_in_article_fields_is_escaped_everywhere(env: Any, field: str) -> None:
    value: Any = (NASTY,) if field == "tags" else NASTY
    entry = make_entry(1, **{field: value})
    files = archive(env, make_site(), [entry], [])
    for path, data in html_pages(files).items():
        assert b"<script" not in data, path
    article = files["articles/story-1.html"].decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in article
    tree = doc(files["articles/story-1.html"])
    shown = [tree.text_content(), *tree.xpath("//meta[@name='description']/@content")]
    assert any(NASTY in text for text in shown)  # the reader sees the text, not markup


def test_markup_in_site_title_and_cta_is_escaped(env: Any) -> None:
    site = make_site(
        title=f"Gazette {NASTY}",
        description=f"News {NASTY}",
        cta_text=f"Join {NASTY}",
        cta_button=f"Go {NASTY}",
        cta_links={f"M {NASTY}": "https://social.example/@g"},
    )
    files = archive(env, site, newest_first(2), [])
    for path, data in html_pages(files).items():
        assert b"<script" not in data, path
    assert doc(files["index.html"]).findtext(".//h1") == f"Gazette {NASTY}"


# --- templates: user overrides and errors ---------------------------------------------------


def test_users_templates_override_the_bundled_ones(tmp_path: Path) -> None:
    (tmp_path / "index.html.j2").write_text(
        "<!DOCTYPE html>\n<title>{{ site.title }}</title>"
        "<p id=custom>{{ entries | length }} on page {{ page.number }}</p>\n"
    )
    (tmp_path / "style.css").write_text("body { color: red; }\n")
    files = archive(make_environment(tmp_path), make_site(page_size=2), newest_first(5), [])
    assert doc(files["index.html"]).xpath("string(//p[@id='custom'])") == "2 on page 0"
    assert doc(files["page/2.html"]).xpath("string(//p[@id='custom'])") == "1 on page 2"
    assert files["style.css"] == b"body { color: red; }\n"
    # templates the user did not provide still come from syndicate's bundled set
    assert doc(files["articles/story-1.html"]).findtext(".//h1") == "Story number 1"


def test_users_partial_template_is_used_by_bundled_pages(tmp_path: Path) -> None:
    (tmp_path / "cta.html.j2").write_text('<aside id="my-cta">{{ site.cta_button }}</aside>\n')
    files = archive(make_environment(tmp_path), make_site(), newest_first(1), [])
    assert (
        doc(files["articles/story-1.html"]).xpath("string(//aside[@id='my-cta'])") == "Sign me up"
    )
    (tmp_path / "signup-form.html.j2").write_text('<p id="my-form">{{ site.signup_url }}</p>\n')
    files = archive(make_environment(tmp_path), make_site(), newest_first(1), [])
    assert doc(files["subscribe.html"]).xpath("string(//p[@id='my-form'])") == (
        "https://example.org/subscribe"
    )


def test_missing_template_is_a_render_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "article.html.j2").write_text(
        '{% extends "base.html.j2" %}{% block main %}{% include "byline.html.j2" %}{% endblock %}\n'
    )
    with pytest.raises(RenderError) as caught:
        archive(make_environment(tmp_path), make_site(), newest_first(1), [])
    assert "byline.html.j2" in str(caught.value)
    assert "not found" in str(caught.value)


def test_render_template_with_unknown_name_is_a_render_error() -> None:
    with pytest.raises(RenderError, match=r"'no-such-page\.html\.j2'"):
        render_template(make_environment(TEMPLATES), "no-such-page.html.j2", site=make_site())


def test_jinja_syntax_error_is_a_render_error_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "subscribe.html.j2").write_text("<!DOCTYPE html>\n<p>fine</p>\n{% for %}\n")
    with pytest.raises(RenderError) as caught:
        archive(make_environment(tmp_path), make_site(), newest_first(1), [])
    message = str(caught.value)
    assert f"{tmp_path / 'subscribe.html.j2'}:3:" in message
    assert "Expected an expression" in message
    assert caught.value.__cause__ is None  # reported as a RenderError, not a jinja2 chain


def test_unclosed_block_is_a_render_error(tmp_path: Path) -> None:
    (tmp_path / "article.html.j2").write_text("{% if entry %}\n<p>never closed</p>\n")
    with pytest.raises(RenderError, match=r"article\.html\.j2:\d+: Unexpected end of template"):
        archive(make_environment(tmp_path), make_site(), newest_first(1), [])


def test_undefined_variable_is_a_render_error(tmp_path: Path) -> None:
    (tmp_path / "index.html.j2").write_text("<!DOCTYPE html>\n<p>{{ site.no_such_field }}</p>\n")
    with pytest.raises(RenderError, match=r"index\.html\.j2.*no_such_field"):
        archive(make_environment(tmp_path), make_site(), newest_first(1), [])
