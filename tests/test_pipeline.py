"""End to end: the real `syndicate` command on a temp copy of the bundled sample."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from lxml import etree

from .conftest import NOW, run_cli, snapshot

SEED_PAGE = "articles/000-f36433ad3d5972c7.html"
CTA = "Get The Astana Times stories sent directly to you!"


def _run(
    site: Path, *args: str, now: str = NOW.isoformat(), command: str = "run"
) -> tuple[int, str, str]:
    done = run_cli([command, "--now", now, *args], site)
    return done.returncode, done.stdout, done.stderr


def test_first_run_publishes_everything(sample: Path) -> None:
    code, out, err = _run(sample)
    assert code == 0, err
    assert "6 new" in out and "digest 2026-11-28 frozen" in out and "1 sent" in out
    feeds = sample / "feeds"
    for name in ("rss.xml", "atom.xml", "index.html", "subscribe.html", "style.css", SEED_PAGE,
                 "digests/2026-11-28.html"):  # fmt: skip
        assert (feeds / name).is_file(), name
    rss = etree.parse(str(feeds / "rss.xml"))
    assert len(rss.findall(".//item")) == 6  # the draft is not published
    assert "water-saving" not in (feeds / "rss.xml").read_text()
    eml = sample / "outbox" / "2026-11-28" / "reader@example.org.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        assert message[header], header
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    # the articles' own call-to-action is stripped from their bodies; the reader already gets
    # the digest, so its CTA block speaks to whoever it was forwarded to
    assert html.count(CTA) == 0 and text.count(CTA) == 0
    assert html.count("Forwarded this? Subscribe at") == 1 == text.count("Forwarded this?")
    web = (feeds / "digests" / "2026-11-28.html").read_text()
    assert web.count(CTA) == 1  # the web version keeps it, in the CTA block
    assert "https://example.org/digests/2026-11-28.html" in html  # view in browser
    assert "unsubscribe?token=" in html and "unsubscribe?token=" in text
    assert (
        'style="' in html and ".wrapper { width: 100%" not in html
    )  # premailer inlined the CSS ...
    assert "@media only screen and (max-width: 620px)" in html  # ... and kept the responsive rules


def test_call_to_action_is_not_part_of_article_bodies(sample: Path) -> None:
    assert _run(sample)[0] == 0
    page = (sample / "feeds" / SEED_PAGE).read_text()
    body = page.split('<div class="body"')[1].split("</div>")[0]
    assert CTA not in body and "5a4c803ad4af2" not in body
    assert page.count(CTA) == 1  # the page's own CTA block
    assert CTA not in (sample / "feeds" / "rss.xml").read_text()


def test_second_run_changes_nothing(sample: Path) -> None:
    assert _run(sample)[0] == 0
    before = snapshot(sample / "feeds") | snapshot(sample / "outbox")
    code, out, _ = _run(sample)
    assert code == 0
    assert "0 new" in out and "0 files written" in out and "0 sent" in out
    assert snapshot(sample / "feeds") | snapshot(sample / "outbox") == before


def test_an_edit_rewrites_only_what_shows_it(sample: Path) -> None:
    assert _run(sample)[0] == 0
    path = sample / "articles" / "001_72ea94c1d4ec9672.txt"
    path.write_text(path.read_text().replace("1.4 million", "1.5 million"))
    before = snapshot(sample / "feeds")
    code, out, _ = _run(sample, now="2026-11-28T13:00:00+00:00")
    assert code == 0 and "1 changed" in out and "0 new" in out
    after = snapshot(sample / "feeds")
    changed = {n for n in after if after[n] != before.get(n) and not n.startswith(".")}
    assert changed == {
        "rss.xml",
        "atom.xml",
        "feed.json",
        "index.html",
        "articles/001-72ea94c1d4ec9672.html",
    }
    atom = (sample / "feeds" / "atom.xml").read_text()
    assert "1.5 million" in atom and "<updated>2026-11-28T13:00:00+00:00</updated>" in atom


def test_a_touch_is_not_an_edit(sample: Path) -> None:
    assert _run(sample)[0] == 0
    path = sample / "articles" / "001_72ea94c1d4ec9672.txt"
    path.touch()
    before = snapshot(sample / "feeds")
    code, out, _ = _run(sample)
    assert code == 0 and "0 changed" in out
    assert snapshot(sample / "feeds") == before


def test_a_deleted_article_leaves_feeds_and_its_page_goes(sample: Path) -> None:
    assert _run(sample)[0] == 0
    (sample / "articles" / "000_f36433ad3d5972c7.txt").unlink()
    code, out, _ = _run(sample)
    assert code == 0 and "1 removed" in out
    assert not (sample / "feeds" / SEED_PAGE).exists()
    assert "UNSC" not in (sample / "feeds" / "rss.xml").read_text()


def test_bad_articles_are_reported_and_skipped(sample: Path) -> None:
    (sample / "articles" / "900_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (sample / "articles" / "901_broken.txt").write_text(
        '+++\ndate = "yesterday\n+++\nTitle\n\nBody\n'
    )
    (sample / "articles" / "902_empty.txt").write_text("")
    (sample / "articles" / ".hidden.txt").write_text("Not an article\n\nIgnored\n")
    (sample / "articles" / "003_backup.txt~").write_text("Editor backup\n\nIgnored\n")
    code, out, err = _run(sample)
    assert code == 1
    assert "900_binary.txt:1: binary file" in err
    assert "901_broken.txt:2: broken front matter" in err
    assert "902_empty.txt:1: empty file" in err
    assert "hidden" not in err and "backup" not in err
    assert "6 new" in out and "3 articles skipped" in out
    assert len(etree.parse(str(sample / "feeds" / "rss.xml")).findall(".//item")) == 6


def test_config_typo_exits_2_before_writing_anything(sample: Path) -> None:
    config = sample / "config.toml"
    config.write_text(config.read_text().replace("max_items = 20", "max_itmes = 20"))
    code, _, err = _run(sample)
    assert code == 2
    assert "feeds.max_itmes" in err and "did you mean 'max_items'" in err
    for folder in ("state", "outbox", "feeds"):
        assert not (sample / folder).exists(), folder


def test_digest_is_never_frozen_twice_for_the_same_articles(sample: Path) -> None:
    assert _run(sample)[0] == 0
    code, out, _ = _run(sample, command="digest")
    assert code == 0 and "frozen" not in out
    (sample / "articles" / "010_new.txt").write_text("A brand new story\n\nFresh text.\n")
    code, out, _ = _run(sample, now="2026-11-28T15:00:00+00:00", command="digest")
    assert code == 0 and "digest 2026-11-28-2 frozen" in out and "1 sent" in out
    second = (sample / "outbox" / "2026-11-28-2" / "reader@example.org.eml").read_text()
    assert "A brand new story" in second and "UNSC" not in second


def test_digest_waits_for_the_schedule(sample: Path) -> None:
    assert _run(sample)[0] == 0  # first digest at 12:00 UTC = 17:00 Almaty
    (sample / "articles" / "010_new.txt").write_text("A brand new story\n\nFresh text.\n")
    code, out, _ = _run(sample, now="2026-11-29T01:00:00+00:00")  # 06:00 Almaty: not yet
    assert code == 0 and "1 new" in out and "frozen" not in out
    code, out, _ = _run(sample, now="2026-11-29T02:30:00+00:00")  # 07:30 Almaty: due
    assert code == 0 and "digest 2026-11-29 frozen" in out


def test_dry_run_changes_no_state(sample: Path) -> None:
    code, out, _ = _run(sample, "--dry-run")
    assert code == 0 and "6 new" in out and "preview in" in out
    assert not (sample / "state").exists() and not (sample / "outbox").exists()
    preview = Path(out.split("preview in ")[1].strip())
    assert (preview / "feeds" / "rss.xml").is_file()


def test_check_validates_without_writing(sample: Path) -> None:
    done = run_cli(["check"], sample)
    assert done.returncode == 0 and "6 articles OK" in done.stdout
    (sample / "articles" / "900_bad.txt").write_text("+++\nauthr = 'x'\n+++\nT\n\nB\n")
    done = run_cli(["check"], sample)
    assert done.returncode == 1
    assert "900_bad.txt:2: unknown front matter key 'authr'" in done.stderr
    assert not (sample / "state").exists() and not (sample / "feeds").exists()


def test_preview_prints_the_next_digest_without_recording_it(sample: Path) -> None:
    done = run_cli(["preview", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.name == "2026-11-28.html" and "UNSC" in path.read_text()
    assert not (sample / "state").exists() and not (sample / "outbox").exists()


def test_status_reports_the_state(sample: Path) -> None:
    assert _run(sample)[0] == 0
    done = run_cli(["status"], sample)
    assert done.returncode == 0
    assert "articles: 6" in done.stdout and "deliveries_sent: 1" in done.stdout
    assert "last run:" in done.stdout


def test_a_bad_file_is_reported_on_every_run_and_a_fixed_one_picked_up(sample: Path) -> None:
    """An unchanged folder skips the file-by-file comparison, but never while a file is bad."""
    assert _run(sample)[0] == 0
    bad = sample / "articles" / "100_bad.txt"
    bad.write_bytes(b"")
    for _ in range(2):
        code, _, err = _run(sample)
        assert code == 1 and "100_bad.txt:1:" in err
    bad.write_text("Fixed now\n\nText.\n")
    code, out, _ = _run(sample)
    assert code == 0 and "1 new" in out
    code, out, _ = _run(sample)
    assert code == 0 and "0 new" in out and "0 files written" in out


def test_status_is_computed_by_the_pipeline_and_changes_nothing(sample: Path) -> None:
    from datetime import timedelta

    from syndicate.config import load_config
    from syndicate.pipeline import run_once
    from syndicate.pipeline.status import status

    from .conftest import SECRET

    config = load_config(sample / "config.toml", env={"SYNDICATE_SECRET": SECRET})
    assert run_once(config, NOW).ok
    db = sample / "state" / "syndicate.db"
    before = db.read_bytes()
    seen = status(config, NOW + timedelta(hours=1), NOW + timedelta(hours=1))
    assert db.read_bytes() == before  # a look, not a change
    assert seen.figures["articles"] == 6 and seen.figures["digests"] == 1
    assert seen.last_run is not None and seen.last_run[1] == 0
    assert not seen.digest_due and seen.next_digest is not None and seen.next_digest > NOW
    lines = seen.lines()
    assert lines[0] == "articles: 6" and f"last run: {NOW.isoformat()} exit=0" in "\n".join(lines)
    assert lines[-1] == "pick-up interval under `syndicate schedule`: 300s"
