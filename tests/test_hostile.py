"""A corpus of hostile article files (tests/data/hostile, plus a 10 MB file and a symlink made
here): each is published safely or skipped with a clear message, never a crash, never
unescaped markup in feeds, pages or mail, never a forged header."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import feedparser
import html5lib
import pytest
from lxml import etree

from .conftest import DATA, NOW, call_cli, copy_sample, run_cli

HOSTILE = DATA / "hostile"
EVE = """
[[subscribers]]
email = "eve@example.org"
name = "=?utf-8?q?Eve=0D=0AReply-To:_evil@example.org=0D=0A=0D=0A<h1>evil</h1>?="
"""
SKIPPED = {
    "empty.txt": "empty file",
    "whitespace.txt": "only whitespace",
    "binary.txt": "binary file",
    "broken-front-matter.txt": "broken front matter",
    "outside-link.txt": "symlink points outside",
    "duplicate-title-b.txt": None,  # same title is fine: ids differ, so both are published
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, int]:
    from .conftest import ROOT

    site = tmp_path_factory.mktemp("hostile")
    shutil.copy(ROOT / "config.toml", site / "config.toml")
    with (site / "config.toml").open("a") as config:  # an imported name with an encoded word
        config.write(EVE)
    shutil.copytree(ROOT / "templates", site / "templates")
    shutil.copytree(HOSTILE, site / "articles")
    secret = site / "secret.txt"
    secret.write_text("Secret outside the articles folder\n\nDo not publish.\n")
    os.symlink(secret, site / "articles" / "outside-link.txt")
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30
    (site / "articles" / "big.txt").write_text(
        "A ten megabyte article\n\n" + (paragraph + "\n\n") * 6000
    )
    done = run_cli(["run", "--now", NOW.isoformat()], site)
    return site, done.stdout, done.stderr, done.returncode


def test_the_run_finishes_and_reports_each_bad_file(published: tuple[Path, str, str, int]) -> None:
    site, _, err, code = published
    assert code == 1, err
    assert "Traceback" not in err
    for name, reason in SKIPPED.items():
        if reason:
            assert any(line.count(name) and reason in line for line in err.splitlines()), name
    assert "Do not publish" not in (site / "feeds" / "rss.xml").read_text()


def test_feeds_are_well_formed_and_escape_markup(published: tuple[Path, str, str, int]) -> None:
    site = published[0]
    for name in ("rss.xml", "atom.xml"):
        data = (site / "feeds" / name).read_bytes()
        tree = etree.fromstring(data)
        assert not feedparser.parse(data).bozo
        texts = " ".join(tree.itertext())
        assert "\x01" not in texts and "\x0b" not in texts
        assert b"<script" not in data and b"<iframe" not in data  # only ever as &lt;script
    rss = (site / "feeds" / "rss.xml").read_text()
    assert "مرحبا بالعالم 👋🏽" in rss and "Café society" in rss


def _visible_markup(page: str) -> list[str]:
    tree = html5lib.parse(page, treebuilder="lxml", namespaceHTMLElements=False)
    bad = [el.tag for el in tree.iter() if el.tag in ("script", "iframe", "img")]
    links = [a.get("href", "") for a in tree.iter("a")]
    return bad + [href for href in links if href.lower().startswith("javascript:")]


def test_pages_never_carry_active_markup(published: tuple[Path, str, str, int]) -> None:
    site = published[0]
    pages = sorted((site / "feeds").rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        assert _visible_markup(page.read_text()) == [], page.name


def test_mail_headers_cannot_be_forged(published: tuple[Path, str, str, int]) -> None:
    site = published[0]
    emls = sorted((site / "outbox").rglob("*.eml"))
    assert [e.name for e in emls] == ["eve@example.org.eml", "reader@example.org.eml"]
    for eml in emls:
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert message["Bcc"] is None and message["X-Evil"] is None
        assert message["Reply-To"] is None
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        html = message.get_body(("html",)).get_content()
        assert _visible_markup(html) == [] and "<h1>evil" not in html


def test_odd_file_names_and_encodings_are_published(published: tuple[Path, str, str, int]) -> None:
    site = published[0]
    rss = (site / "feeds" / "rss.xml").read_text()
    for title in ("A file name with spaces", "Non-ASCII file name", "BOM and CRLF title",
                  "A ten megabyte article", "Same title twice"):  # fmt: skip
        assert title in rss, title
    assert rss.count("Same title twice") == 2
    assert "Read the full article" in rss  # the 10 MB article is linked, not inlined
    assert (site / "feeds" / "articles" / "big.html").stat().st_size > 10_000_000
    pages = {p.name for p in (site / "feeds" / "articles").iterdir()}
    assert "file-with-spaces.html" in pages
    assert all(name.isascii() and "/" not in name for name in pages)


def test_an_encoded_word_title_and_name_stay_text_in_every_copy(sample: Path) -> None:
    """The attack of issue 14: a title and an imported name whose RFC 2047 encoded words
    decode to CR LF must reach the reader as text, never as headers or a new body."""
    for old in (sample / "articles").iterdir():
        old.unlink()
    shutil.copy(HOSTILE / "encoded-word-title.txt", sample / "articles")
    with (sample / "config.toml").open("a") as config:
        config.write(EVE)
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    emls = sorted((sample / "outbox").rglob("*.eml"))
    assert len(emls) == 2
    for eml in emls:
        raw = eml.read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        names = [k.lower() for k in message]
        assert len(names) == len(set(names)) and "reply-to" not in names and "bcc" not in names
        assert message["Subject"].endswith(
            ": =?utf-8?q?News=0D=0ABcc:_victim@example.org"
            "=0D=0AX-Evil:_1=0D=0A=0D=0A<h1>evil</h1>?="
        )
        assert "<h1>evil</h1>" not in message.get_body(("html",)).get_content()
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_a_damaged_manifest_neither_crashes_nor_blocks_mail(sample: Path) -> None:
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    shutil.rmtree(sample / "outbox")
    (sample / "feeds" / ".syndicate-manifest.json").write_text('{"files": {"../../x": 1}}')
    (sample / "articles" / "late.txt").write_text("A late story\n\nIt arrived after the digest.\n")
    later = NOW.replace(day=29)
    done = run_cli(["digest", "--now", later.isoformat()], sample)
    assert "Traceback" not in done.stderr
    assert "event=manifest-damaged" in done.stderr
    assert sorted((sample / "outbox").rglob("*.eml")), done.stderr  # the digest still went out
    assert "A late story" in (sample / "feeds" / "rss.xml").read_text()


def test_a_hand_written_file_at_an_article_path_is_reported_not_replaced(sample: Path) -> None:
    (sample / "feeds" / "articles").mkdir(parents=True)
    mine = sample / "feeds" / "articles" / "mine.html"
    mine.write_text("my own page")
    (sample / "articles" / "mine.txt").write_text("Mine\n\nA story whose page is taken.\n")
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1
    assert "event=output-refused articles/mine.html" in done.stderr
    assert mine.read_text() == "my own page"
    (sample / "articles" / "mine.txt").unlink()
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    assert mine.read_text() == "my own page"  # never deleted either


def test_non_utf8_and_control_character_file_names_are_reported(sample: Path) -> None:
    articles = os.fsencode(sample / "articles")
    with open(articles + b"/caf\xe9-latin1.txt", "wb") as latin1:
        latin1.write(b"A Latin-1 name\n\nUploaded over FTP.\n")
    (sample / "articles" / "x\nevent=forged level=error.txt").write_text("Forged\n\nA log line.\n")
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "caf\\xe9-latin1.txt:1: file name is not valid UTF-8" in done.stderr
    assert "x\\nevent=forged level=error.txt:1: file name holds control characters" in done.stderr
    assert not any(line.startswith("event=forged") for line in done.stderr.splitlines())
    assert "6 new" in done.stdout  # the other articles are published
    check = run_cli(["check"], sample)
    assert (
        check.returncode != 0
        and "caf\\xe9-latin1.txt:1: file name is not valid" in check.stdout + check.stderr
    )


@pytest.mark.parametrize(
    ("date", "year"),
    [
        ("0001-01-01T00:30:00+05:00", 1),  # year 1 east of UTC: before year 1 in UTC
        ("9999-12-31T23:00:00-05:00", 9999),  # year 9999 west of UTC: past 9999 in UTC
        ("9999-12-31T23:00:00+00:00", 9999),  # fine in UTC, past 9999 in Asia/Almaty
        ("0001-01-01", 1),
    ],
)
def test_an_out_of_range_date_skips_its_file_only(sample: Path, date: str, year: int) -> None:
    assert 'timezone = "Asia/Almaty"' in (sample / "config.toml").read_text()  # UTC+5
    (sample / "articles" / "far.txt").write_text(f"+++\ndate = {date}\n+++\nFar away\n\nBody.\n")
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"far.txt:2: front matter 'date': year {year} is outside 2..9998" in done.stderr
    assert "6 new" in done.stdout
    again = run_cli(["run", "--now", NOW.isoformat()], sample)  # and every later run renders
    assert again.returncode == 1 and "Traceback" not in again.stderr


def test_a_thousand_tags_are_cut_to_max_tags_and_reported(sample: Path) -> None:
    tags = ", ".join(f'"tag {n}"' for n in range(1000))
    (sample / "articles" / "tags.txt").write_text(f"+++\ntags = [{tags}]\n+++\nTagged\n\nBody.\n")
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert "Traceback" not in done.stderr
    assert "tags.txt:2: 1000 tags, only the first 20 are kept ([feeds] max_tags)" in done.stderr
    rss = etree.fromstring((sample / "feeds" / "rss.xml").read_bytes())
    (item,) = [i for i in rss.iter("item") if i.findtext("title") == "Tagged"]
    assert [c.text for c in item.iter("category")] == [f"tag {n}" for n in range(20)]
    assert not (sample / "feeds" / "tags" / "tag-20").exists()


def test_an_id_over_the_column_limit_is_that_files_problem_only(sample: Path) -> None:
    (sample / "articles" / "long-id.txt").write_text(f'+++\nid = "{"x" * 1025}"\n+++\nLong\n\nB.\n')
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert "long-id.txt:2: front matter 'id': 1025 characters, more than 1024" in done.stderr
    assert done.returncode == 1 and "6 new" in done.stdout


COMMANDS = [["run"], ["run", "--dry-run"], ["preview"], ["digest"], ["send"], ["status"],
            ["subscribers", "list"]]  # fmt: skip


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample after one good `syndicate run`, made once for the module: each case
    below damages its own copy of it."""
    site = copy_sample(tmp_path_factory.mktemp("good") / "site")
    done = run_cli(["run", "--now", NOW.isoformat()], site)
    assert done.returncode == 0, done.stderr
    return site


@pytest.mark.parametrize("damage", ["not a database", "junk pages", "abc", "-1", ""])
def test_a_damaged_database_is_a_clear_error_from_every_command(
    first_run: Path, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Each command as a real process for the first damage (the exit code a shell sees), then
    through `main` in this process for the others: the same code path, 28 fewer start-ups."""
    sample = tmp_path / "site"
    shutil.copytree(first_run, sample)  # a whole database, feeds and outbox, as the run left them
    db = sample / "state" / "syndicate.db"
    if damage == "not a database":
        db.write_text("hello, not a database\n")
    elif damage == "junk pages":
        with db.open("r+b") as handle:
            handle.seek(100)
            handle.write(b"\xde\xad" * 2000)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (damage,))
    for command in COMMANDS:
        args = [*command, "--now", NOW.isoformat()] if command[0] in ("run", "preview", "digest") else command  # fmt: skip
        if damage == "not a database":
            done = run_cli(args, sample)
        else:
            done = call_cli(args, sample, monkeypatch, capsys)
        assert done.returncode == 2, (command, done.stderr)
        assert "Traceback" not in done.stderr and "state database" in done.stderr, command


def _read_only(paths: list[Path], on: bool) -> None:
    """Make files and folders unwritable even for root (chattr +i: immutable), or writable."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod((0o555 if path.is_dir() else 0o444) if on else 0o755)


def test_status_reads_a_database_it_may_not_write(sample: Path) -> None:
    assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    state = sample / "state"
    locked = [*state.iterdir(), state]
    _read_only(locked, on=True)
    try:
        refused = run_cli(["run", "--now", NOW.isoformat()], sample)  # it may not write
        done = run_cli(["status"], sample)
    finally:
        _read_only(locked, on=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    assert done.returncode == 0, done.stderr
    assert "articles: 6" in done.stdout
