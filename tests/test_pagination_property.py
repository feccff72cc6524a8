"""Pagination invariants over any number of stories and any page size (hypothesis):

- every story is on exactly one listing page: the index or one numbered page;
- no link of any pager leads to a numbered page whose stories the index shows whole;
- the pager is a chain: from the index, "Older" visits every numbered page once, newest first,
  and "Newer" walks back; page numbers count from the oldest;
- pages are permalinks: adding stories never moves a story from one numbered page to another.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.render.pages import Listing, listings

from .factories import make_site, newest_first

counts = st.integers(min_value=0, max_value=130)
sizes = st.integers(min_value=1, max_value=25)


def ids(page: Listing) -> list[str]:
    return [e.article.id for e in page.entries]


@settings(max_examples=300, deadline=None)
@given(count=counts, size=sizes)
def test_every_story_on_exactly_one_page_and_no_pager_link_repeats_the_index(
    count: int, size: int
) -> None:
    entries = newest_first(count)
    pages = listings(make_site(page_size=size), entries)
    index, numbered = pages[0], pages[1:]
    assert index.path == "index.html" and ids(index) == [e.article.id for e in entries[:size]]
    shown = [i for page in pages for i in ids(page)]
    assert sorted(shown) == sorted(e.article.id for e in entries)  # each exactly once
    assert all(1 <= len(page.entries) <= size for page in numbered)
    on_index = set(ids(index))
    by_url = {page.url: page for page in pages}
    for page in pages:
        for link in (page.newer, page.older):
            if link is None:
                continue
            target = by_url[link]  # every link leads to a page that exists
            assert target is index or not set(ids(target)) <= on_index
    # the chain: Older from the index visits every numbered page once, newest first
    seen, page = [], index
    while page.older is not None:
        older = by_url[page.older]
        assert older.newer == page.url
        seen.append(older.number)
        page = older
    assert seen == list(range(len(numbered), 0, -1))
    assert [p.path for p in numbered] == [f"page/{n}.html" for n in range(1, len(numbered) + 1)]


@settings(max_examples=200, deadline=None)
@given(count=counts, more=st.integers(min_value=1, max_value=60), size=sizes)
def test_a_story_never_moves_between_numbered_pages(count: int, more: int, size: int) -> None:
    site = make_site(page_size=size)
    before = {p.number: set(ids(p)) for p in listings(site, newest_first(count))[1:]}
    after = {p.number: set(ids(p)) for p in listings(site, newest_first(count + more))[1:]}
    for number, stories in before.items():
        assert stories <= after[number]  # a page only ever gains stories (the highest one)
        if len(stories) == size:
            assert after[number] == stories  # a full page never changes
