"""Unit tests for syndicate.ingest: scan() on real folders and the pure plan()."""

from __future__ import annotations

import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicate.config import DEFAULT_CTA_PATTERNS
from syndicate.errors import ConfigError
from syndicate.ingest import Changes, Known, ParseOptions, ScanResult, plan, scan
from syndicate.models import Article, FileStat

OPTIONS = ParseOptions(ZoneInfo("Asia/Almaty"), tuple(re.compile(p) for p in DEFAULT_CTA_PATTERNS))


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def story(title: str, body: str = "Body paragraph.", front: str = "") -> str:
    head = f"+++\n{front}\n+++\n" if front else ""
    return f"{head}{title}\n\n{body}\n"


def run(root: Path, known: dict[str, FileStat] | None = None) -> ScanResult:
    return scan(root, known or {}, OPTIONS)


def known_of(articles: list[Article]) -> dict[str, Known]:
    return {a.id: Known(a.id, a.source, a.slug, a.content_hash) for a in articles}


def sources(articles: tuple[Article, ...] | list[Article]) -> list[str]:
    return [a.source for a in articles]


def problem_paths(changes: Changes | ScanResult) -> list[str]:
    return [p.path for p in changes.problems]


def bump_mtime(path: Path, seconds: int = 10) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


# --- scan -----------------------------------------------------------------------------------


def test_scan_ignores_hidden_files_editor_leftovers_and_other_suffixes(tmp_path: Path) -> None:
    good = story("Good")
    for name in (
        "good.txt",
        ".hidden.txt",
        "backup.txt~",
        ".#lock.txt",
        "#autosave.txt#",
        "#autosave.txt",
        "swap.txt.swp",
        ".swap.txt.swp",
        "tmp.txt.tmp",
        "notes.rst",
        "page.html",
        "README",
        "image.png",
    ):
        write(tmp_path, name, good)
    result = run(tmp_path)
    assert sorted(result.stats) == ["good.txt"]
    assert sources(result.parsed) == ["good.txt"]
    assert result.problems == []


def test_scan_accepts_txt_md_and_markdown_any_case(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", "c.markdown", "D.TXT", "e.Md"):
        write(tmp_path, name, story(f"Title {name}"))
    result = run(tmp_path)
    assert sorted(result.stats) == ["D.TXT", "a.txt", "b.md", "c.markdown", "e.Md"]
    assert sorted(sources(result.parsed)) == sorted(result.stats)
    assert result.problems == []


def test_scan_reports_bad_files_and_still_parses_good_ones(tmp_path: Path) -> None:
    write(tmp_path, "a_good.txt", story("Good A"))
    (tmp_path / "b_empty.txt").write_bytes(b"")
    (tmp_path / "c_binary.txt").write_bytes(b"\x89PNG\x00\x00\x00")
    write(tmp_path, "d_title_only.txt", "Only a title\n")
    write(tmp_path, "e_front.txt", '+++\nsize = "XL"\n+++\nT\n\nB\n')
    (tmp_path / "f_dir.txt").mkdir()
    write(tmp_path, "g_good.md", story("# Good G"))
    result = run(tmp_path)
    assert sources(result.parsed) == ["a_good.txt", "g_good.md"]
    problems = {p.path: p for p in result.problems}
    assert sorted(problems) == [
        "b_empty.txt",
        "c_binary.txt",
        "d_title_only.txt",
        "e_front.txt",
        "f_dir.txt",
    ]
    assert "empty" in problems["b_empty.txt"].reason
    assert "binary" in problems["c_binary.txt"].reason
    assert "no article text" in problems["d_title_only.txt"].reason
    assert problems["e_front.txt"].line == 2
    assert "'size'" in problems["e_front.txt"].reason
    assert "not a regular file" in problems["f_dir.txt"].reason
    assert str(problems["e_front.txt"]).startswith("e_front.txt:2: ")
    # Bad files are still listed with their stats (the store decides what to remember).
    assert "b_empty.txt" in result.stats


def test_scan_collects_decode_warnings(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_bytes(b"Caf\xe9 news\n\nBody \x93quoted\x94\n")
    result = run(tmp_path)
    assert [a.title for a in result.parsed] == ["Café news"]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("old.txt:1:")


def test_symlink_outside_the_folder_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    outside = write(tmp_path, "secret.txt", story("Outside"))
    os.symlink(outside, root / "link.txt")
    write(root, "inside.txt", story("Inside"))
    os.symlink(root / "inside.txt", root / "alias.txt")
    result = run(root)
    assert [p.path for p in result.problems] == ["link.txt"]
    assert "outside" in result.problems[0].reason
    assert sorted(sources(result.parsed)) == ["alias.txt", "inside.txt"]


def test_relative_symlink_escaping_the_folder_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "articles"
    root.mkdir()
    write(tmp_path, "secret.txt", story("Outside"))
    os.symlink("../secret.txt", root / "sneaky.txt")
    result = run(root)
    assert result.parsed == []
    assert [p.path for p in result.problems] == ["sneaky.txt"]


def test_dangling_symlink_is_a_problem(tmp_path: Path) -> None:
    os.symlink(tmp_path / "missing.txt", tmp_path / "dangling.txt")
    write(tmp_path, "ok.txt", story("OK"))
    result = run(tmp_path)
    assert sources(result.parsed) == ["ok.txt"]
    assert [p.path for p in result.problems] == ["dangling.txt"]


def test_known_file_with_same_stat_is_not_reread(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", story("Original title", "Original body."))
    write(tmp_path, "b.txt", story("Other"))
    first = run(tmp_path)
    assert sorted(sources(first.parsed)) == ["a.txt", "b.txt"]
    recorded = path.stat()
    # Replace the content with different text of the same size, then restore the mtime.
    replacement = story("Replaced title", "Replaced body.")
    assert len(replacement) == len(story("Original title", "Original body."))
    path.write_text(replacement, encoding="utf-8")
    os.utime(path, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))
    assert path.stat().st_size == recorded.st_size

    second = run(tmp_path, dict(first.stats))
    assert second.parsed == []  # neither file was re-read
    assert second.stats == first.stats
    assert second.problems == []
    # Proof that the content did change: without `known`, the new text is read.
    fresh = run(tmp_path)
    assert {a.source: a.title for a in fresh.parsed}["a.txt"] == "Replaced title"


def test_changed_mtime_or_size_is_reread(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A"))
    b = write(tmp_path, "b.txt", story("B"))
    write(tmp_path, "c.txt", story("C"))
    first = run(tmp_path)
    bump_mtime(a)
    b.write_text(story("B", "A longer body than before."), encoding="utf-8")
    second = run(tmp_path, dict(first.stats))
    assert sorted(sources(second.parsed)) == ["a.txt", "b.txt"]
    assert second.stats["a.txt"].mtime_ns != first.stats["a.txt"].mtime_ns
    assert second.stats["c.txt"] == first.stats["c.txt"]


def test_stats_describe_each_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", story("A"))
    stat = path.stat()
    result = run(tmp_path)
    assert result.stats == {"a.txt": FileStat("a.txt", stat.st_size, stat.st_mtime_ns)}


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        run(tmp_path / "nowhere")
    assert "paths.articles" in str(info.value)
    assert "nowhere" in str(info.value)


def test_articles_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    not_a_folder = write(tmp_path, "articles", "I am a file")
    with pytest.raises(ConfigError) as info:
        run(not_a_folder)
    assert "paths.articles" in str(info.value)


def test_pathological_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("Fine"))
    write(tmp_path, "b.txt", "+++\ntags = " + "[" * 5000 + "]" * 5000 + "\n+++\nT\n\nB\n")
    result = run(tmp_path)
    assert sources(result.parsed) == ["a.txt"]
    assert problem_paths(result) == ["b.txt"]


# --- plan -----------------------------------------------------------------------------------


def test_plan_everything_new(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A"))
    write(tmp_path, "b.md", story("# B"))
    changes = plan({}, run(tmp_path))
    assert sources(changes.new) == ["a.txt", "b.md"]
    assert changes.changed == changes.moved == changes.removed == changes.problems == ()
    assert changes.unchanged == 0


def test_plan_unchanged_when_not_reread(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A"))
    write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert changes == Changes(unchanged=2)


def test_plan_touch_is_not_an_edit(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A"))
    write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    bump_mtime(a)
    a.write_bytes(a.read_bytes().replace(b"\n", b"\r\n"))  # same text, other line ends
    second = run(tmp_path, dict(first.stats))
    assert sources(second.parsed) == ["a.txt"]
    changes = plan(known, second)
    assert changes.changed == changes.new == changes.moved == ()
    assert changes.unchanged == 2


def test_plan_changed_when_hash_differs(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A", "First version."))
    write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    a.write_text(story("A", "Second, corrected version."), encoding="utf-8")
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert sources(changes.changed) == ["a.txt"]
    assert changes.changed[0].body_text == "Second, corrected version."
    assert changes.new == changes.moved == changes.removed == ()
    assert changes.unchanged == 1


def test_plan_changed_when_slug_differs(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A", front='slug = "first"'))
    first = run(tmp_path)
    known = {
        k: Known(v.id, v.source, "old-slug", v.content_hash)
        for k, v in known_of(first.parsed).items()
    }
    bump_mtime(a)
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert sources(changes.changed) == ["a.txt"]


def test_plan_moved_same_id_and_hash_new_file_name(tmp_path: Path) -> None:
    old = write(tmp_path, "old-name.txt", story("A", front='id = "story-a"'))
    write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    old.rename(tmp_path / "new-name.txt")
    second = run(tmp_path, dict(first.stats))
    assert sources(second.parsed) == ["new-name.txt"]
    changes = plan(known, second)
    assert sources(changes.moved) == ["new-name.txt"]
    assert changes.moved[0].id == "story-a"
    assert changes.new == changes.changed == changes.removed == changes.problems == ()
    assert changes.unchanged == 1


def test_plan_rename_without_front_matter_id_is_remove_and_new(tmp_path: Path) -> None:
    old = write(tmp_path, "old-name.txt", story("A"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    old.rename(tmp_path / "new-name.txt")
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert sources(changes.new) == ["new-name.txt"]
    assert changes.removed == ("old-name",)


def test_plan_removed_when_file_is_gone(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A"))
    b = write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    b.unlink()
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert changes.removed == ("b",)
    assert changes.unchanged == 1
    assert changes.new == changes.changed == ()


def test_plan_drafts_are_counted_and_never_new(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A"))
    write(tmp_path, "d1.txt", story("Draft 1", front="draft = true"))
    write(tmp_path, "d2.md", story("# Draft 2", front="draft = true"))
    changes = plan({}, run(tmp_path))
    assert changes.drafts == 2
    assert sources(changes.new) == ["a.txt"]


def test_plan_published_article_turned_draft_is_removed(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    a.write_text(story("A", front="draft = true"), encoding="utf-8")
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert changes.drafts == 1
    assert changes.removed == ("a",)
    assert changes.changed == changes.new == ()


def test_plan_duplicate_id_first_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A", front='id = "same"'))
    write(tmp_path, "b.txt", story("B", front='id = "same"'))
    write(tmp_path, "c.txt", story("C"))
    changes = plan({}, run(tmp_path))
    assert sources(changes.new) == ["a.txt", "c.txt"]
    assert problem_paths(changes) == ["b.txt"]
    problem = changes.problems[0]
    assert "duplicate id 'same'" in problem.reason
    assert "a.txt" in problem.reason


def test_plan_duplicate_slug_first_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A", front='slug = "Same Slug"'))
    write(tmp_path, "b.txt", story("B", front='slug = "same-slug"'))
    changes = plan({}, run(tmp_path))
    assert sources(changes.new) == ["a.txt"]
    assert problem_paths(changes) == ["b.txt"]
    assert "duplicate slug 'same-slug'" in changes.problems[0].reason


def test_plan_new_file_cannot_take_the_id_of_an_unchanged_article(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", story("B", front='id = "x"'))
    first = run(tmp_path)
    known = known_of(first.parsed)
    write(tmp_path, "c.txt", story("C", front='id = "x"'))
    changes = plan(known, run(tmp_path, dict(first.stats)))
    assert problem_paths(changes) == ["c.txt"]
    assert changes.new == changes.changed == changes.removed == ()
    assert changes.unchanged == 1


def test_plan_duplicate_id_winner_does_not_depend_on_rereading(tmp_path: Path) -> None:
    """Touching a file (not an edit) must not change which of two duplicates is published."""
    b = write(tmp_path, "b.txt", story("B", front='id = "x"'))
    first = run(tmp_path)
    known = known_of(first.parsed)
    write(tmp_path, "a.txt", story("A", front='id = "x"'))
    untouched = plan(known, run(tmp_path, dict(first.stats)))
    bump_mtime(b)
    touched = plan(known, run(tmp_path, dict(first.stats)))
    assert problem_paths(untouched) == problem_paths(touched)
    assert sources(untouched.changed) == sources(touched.changed)


def test_plan_known_article_with_broken_file_is_kept(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", story("A"))
    write(tmp_path, "b.txt", story("B"))
    first = run(tmp_path)
    known = known_of(first.parsed)
    a.write_text("Only a title now\n", encoding="utf-8")
    second = run(tmp_path, dict(first.stats))
    assert problem_paths(second) == ["a.txt"]
    changes = plan(known, second)
    assert changes.removed == ()
    assert changes.new == changes.changed == changes.moved == ()
    assert problem_paths(changes) == ["a.txt"]
    assert changes.unchanged == 1  # b; a is neither unchanged nor removed


def test_plan_does_not_mutate_its_inputs(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", story("A", front='id = "same"'))
    write(tmp_path, "b.txt", story("B", front='id = "same"'))
    scanned = run(tmp_path)
    parsed_before = list(scanned.parsed)
    problems_before = list(scanned.problems)
    known: dict[str, Known] = {}
    plan(known, scanned)
    assert scanned.parsed == parsed_before
    assert scanned.problems == problems_before
    assert known == {}
