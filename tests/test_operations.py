"""Operating syndicate: the run lock under cron, the first-digest flood guard, `init`, JSON
logs, progress bars only on a terminal, and the cron and systemd recipes in the README."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicate.cron import parse_crontab

from .conftest import NOW, ROOT, SECRET, edit_config, run_cli, use_smtp
from .test_deliver import _hold_lock

UNITS = ROOT / "contrib" / "systemd"


def test_a_second_run_skips_while_the_lock_is_held(sample: Path) -> None:
    holder = _hold_lock(sample / "state" / "syndicate.db.lock")
    try:
        done = run_cli(["-v", "run", "--now", NOW.isoformat()], sample)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert done.returncode == 0
    assert "another-run-holds-the-lock" in done.stderr and "skipped" in done.stdout
    assert not (sample / "feeds").exists()
    done = run_cli(["run", "--now", NOW.isoformat()], sample)  # the killed holder blocks nothing
    assert done.returncode == 0 and "6 new" in done.stdout


def test_first_digest_over_an_old_archive_takes_only_recent_articles(sample: Path) -> None:
    for n in range(30):
        (sample / "articles" / f"5{n:02d}_old.txt").write_text(
            f"+++\ndate = 2026-09-{n % 28 + 1:02d}T10:00:00+05:00\n+++\nOld story {n}\n\nText.\n"
        )
    done = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    eml = (sample / "outbox" / "2026-11-28" / "reader@example.org.eml").read_text()
    assert "Old story" not in eml and "Dombra orchestra" in eml
    rss = (sample / "feeds" / "rss.xml").read_text()
    assert rss.count("<item>") == 20  # the feeds still list the newest max_items
    # the old articles never come back in a later digest
    (sample / "articles" / "600_new.txt").write_text("Something new\n\nText.\n")
    done = run_cli(["digest", "--now", "2026-11-29T12:00:00+00:00"], sample)
    eml = (sample / "outbox" / "2026-11-29" / "reader@example.org.eml").read_text()
    assert "Something new" in eml and "Old story" not in eml


def test_a_digest_lists_at_most_max_articles_and_never_mails_the_overflow(sample: Path) -> None:
    """A first run over 40 dateless files: all are 'first published now', so the day guard
    cannot help; `max_articles` keeps the digest readable and the rest is never mailed."""
    config = sample / "config.toml"
    config.write_text(
        config.read_text().replace(
            "first_digest_days = 7", "first_digest_days = 7\nmax_articles = 5"
        )
    )
    for n in range(40):
        (sample / "articles" / f"5{n:02d}_bulk.txt").write_text(f"Bulk story {n:02d}\n\nText.\n")
    done = run_cli(["-v", "run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0, done.stderr
    assert "event=digest-overflow kept=5" in done.stderr
    eml = (sample / "outbox" / "2026-11-28" / "reader@example.org.eml").read_text()
    assert 0 < len(set(re.findall(r"Bulk story \d\d", eml))) <= 5  # with the sample's newest
    (sample / "articles" / "600_new.txt").write_text("Something new\n\nText.\n")
    done = run_cli(["digest", "--now", "2026-11-29T12:00:00+00:00"], sample)
    eml = (sample / "outbox" / "2026-11-29" / "reader@example.org.eml").read_text()
    assert "Something new" in eml and "Bulk story" not in eml


def test_a_due_digest_with_nothing_new_reads_no_listing(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a daily digest, every cron run after its hour finds the digest due; with nothing
    new it must cost no more than any unchanged run: no listing of the whole archive (a second
    at 100,000 articles) just to build a Site that no digest will use."""
    from datetime import timedelta

    from syndicate.config import load_config
    from syndicate.pipeline import run_once
    from syndicate.store import Store

    config = load_config(sample / "config.toml", {"SYNDICATE_SECRET": "s"})
    assert run_once(config, NOW).digest_id is not None
    calls = []
    real = Store.listing

    def counted(self: Store) -> object:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Store, "listing", counted)
    later = run_once(config, NOW + timedelta(days=3))  # due three times over, nothing new
    assert later.ok and later.digest_id is None and later.files_written == ()
    assert calls == []
    (sample / "articles" / "700_new.txt").write_text("Fresh news\n\nText.\n")
    fresh = run_once(config, NOW + timedelta(days=4))
    # a digest and its pages, still without a listing: the change set names what to render
    assert fresh.digest_id is not None and fresh.files_written and calls == []


def test_init_scaffolds_a_publication_that_runs_straight_away(tmp_path: Path) -> None:
    done = run_cli(["init", "newsroom"], tmp_path)
    assert done.returncode == 0, done.stderr
    site = tmp_path / "newsroom"
    assert (site / "config.toml").is_file() and (site / "templates" / "digest.html.j2").is_file()
    done = run_cli(["run"], site)
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stdout and (site / "feeds" / "rss.xml").is_file()
    assert run_cli(["check"], site).returncode == 0
    before = (site / "config.toml").read_text()
    (site / "config.toml").write_text(before + "\n# my edit\n")
    assert run_cli(["init", "newsroom"], tmp_path).returncode == 0  # never overwrites
    assert (site / "config.toml").read_text().endswith("# my edit\n")


def test_json_logs_are_one_object_per_line(sample: Path) -> None:
    done = run_cli(["--log-format", "json", "-v", "run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 0
    events = [json.loads(line) for line in done.stderr.splitlines()]
    pickup = next(e for e in events if e.get("event") == "pickup")
    assert pickup["new"] == "6" and pickup["level"] == "info"
    assert {"time", "level", "message"} <= set(pickup)


def test_progress_bars_only_on_a_terminal(sample: Path) -> None:
    piped = run_cli(["run", "--now", NOW.isoformat()], sample)
    assert "pickup" not in piped.stderr and "\x1b[" not in piped.stderr
    shutil.rmtree(sample / "state")
    pid, fd = pty.fork()
    if pid == 0:  # the child runs syndicate on a pseudo-terminal
        os.chdir(sample)
        os.execv(
            sys.executable, [sys.executable, "-m", "syndicate", "run", "--now", NOW.isoformat()]
        )
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"pickup" in output  # the rich progress bar was drawn


def test_readme_crontab_line_is_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"```cron\n(.+?)\n```", readme, re.S)
    assert line, "README has no crontab example"
    fields = line.group(1).split()
    parse_crontab(" ".join(fields[:5]), __import__("zoneinfo").ZoneInfo("UTC"))
    assert "syndicate" in line.group(1) and fields[-1] == "run"


def _units_for_this_machine(tmp_path: Path) -> list[Path]:
    """The shipped units with paths pointed at this checkout, so verify can check them."""
    binary = shutil.which("syndicate") or str(Path(sys.executable).parent / "syndicate")
    out = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace("/srv/newsletter/.venv/bin/syndicate", binary)
        text = text.replace("WorkingDirectory=/srv/newsletter", f"WorkingDirectory={tmp_path}")
        text = text.replace("User=syndicate", "User=root")
        (tmp_path / unit.name).write_text(text)
        out.append(tmp_path / unit.name)
    return out


def _parse_unit(path: Path) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            assert current is not None and "=" in line, f"{path.name}: {line!r}"
            key, value = line.split("=", 1)
            current[key] = value
    return sections


def test_systemd_units_are_valid(tmp_path: Path) -> None:
    units = _units_for_this_machine(tmp_path)
    assert {u.name for u in units} == {
        "syndicate.service",
        "syndicate-run.service",
        "syndicate-run.timer",
        "syndicate-serve.service",
        "syndicate-serve@.service",
    }
    parsed = {u.name: _parse_unit(u) for u in units}
    assert parsed["syndicate-serve.service"]["Service"]["ExecStart"].endswith("serve")
    assert parsed["syndicate-serve@.service"]["Service"]["ExecStart"].endswith(
        "serve --listen 127.0.0.1:%i"
    )
    assert parsed["syndicate.service"]["Service"]["ExecStart"].endswith("schedule")
    assert parsed["syndicate-run.service"]["Service"]["Type"] == "oneshot"
    assert parsed["syndicate-run.service"]["Service"]["ExecStart"].endswith("run")
    timer = parsed["syndicate-run.timer"]["Timer"]
    # Persistent= only acts on OnCalendar= timers (systemd.timer(5)): a missed run on boot.
    assert "OnCalendar" in timer or "Persistent" not in timer
    assert timer["OnCalendar"] == "*:0/10" and timer["Persistent"] == "true"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze not installed: checked the unit files by parsing only")
        return
    done = subprocess.run(
        [analyze, "verify", *map(str, units)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_readme_shows_the_shipped_units() -> None:
    readme = (ROOT / "README.md").read_text()
    for unit in UNITS.iterdir():
        assert f"contrib/systemd/{unit.name}" in readme


@pytest.mark.parametrize("bad", ["0 7 * * * *", "61 7 * * *", "0 7 * * 8"])
def test_bad_crontab_expressions_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_crontab(bad, __import__("zoneinfo").ZoneInfo("UTC"))


def test_init_never_writes_through_a_dangling_symlink(tmp_path: Path) -> None:
    site, target = tmp_path / "site", tmp_path / "elsewhere.toml"
    site.mkdir()
    os.symlink(target, site / "config.toml")  # dangling: points at nothing yet
    done = run_cli(["init", str(site)], tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert not target.exists()  # nothing written through the link
    assert (site / "config.toml").is_symlink()
    assert (site / "articles" / "001_welcome.txt").exists()


def test_invalid_utf8_on_the_command_line_is_refused_not_a_crash(sample: Path) -> None:
    name = os.fsdecode(b"Caf\xe9")  # a Latin-1 terminal
    done = run_cli(["subscribers", "add", "a@example.org", "--name", name], sample)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not valid UTF-8" in done.stderr


def test_json_log_fields_come_from_syndicate_not_from_file_names(sample: Path) -> None:
    (sample / "articles" / "x event=forged level=critical sent=999.txt").write_text("")
    done = run_cli(["--log-format", "json", "run", "--now", NOW.isoformat()], sample)
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    (skipped,) = [e for e in entries if "x event=forged" in e["message"]]
    assert skipped["event"] == "article-skipped" and skipped["level"] == "error"
    assert "sent" not in skipped
    assert not any(e.get("event") == "forged" for e in entries)


def test_a_line_break_in_a_logged_value_cannot_start_a_log_line() -> None:
    from syndicate.cli import TextFormatter

    record = logging.LogRecord("syndicate", logging.ERROR, __file__, 1, "event=article-skipped %s",
                               ("a.txt\n2026-01-01T00:00:00+0000 INFO event=forged\rx",), None)  # fmt: skip
    lines = TextFormatter("%(levelname)s %(message)s").format(record).split("\n")
    assert lines[0].startswith("ERROR event=article-skipped a.txt")
    assert all(line.startswith("    ") for line in lines[1:]) and "\r" not in lines[1]


# -- secrets that cron can read, and what a run that cannot send says -----------------------

NO_SECRET = {"SYNDICATE_SECRET": ""}  # run_cli passes the test key otherwise


def _later(minutes: int) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def _key_file(site: Path, mode: int = 0o600) -> None:
    (site / "secret.key").write_text(SECRET + "\n")
    (site / "secret.key").chmod(mode)
    edit_config(site, 'secret_env = "SYNDICATE_SECRET"\n', 'secret_file = "secret.key"\n')


def test_a_run_that_publishes_but_cannot_send_exits_1_and_says_why(
    sample: Path,
    smtp_server: Any,
) -> None:
    controller, handler = smtp_server
    use_smtp(sample, controller.port)
    first = run_cli(["-q", "run", "--now", NOW.isoformat()], sample, env=NO_SECRET)
    assert first.returncode == 1, first.stderr  # feeds published, digest frozen: not "nothing"
    (line,) = first.stderr.splitlines()  # one line, even with -q: cron mails it
    assert line.startswith("syndicate: error: digest 2026-11-28 frozen, feeds published, but no")
    assert "[email] secret_file" in line and "SYNDICATE_SECRET" in line
    assert (sample / "feeds" / "rss.xml").exists() and handler.messages == []
    again = run_cli(["-q", "run", "--now", _later(10)], sample, env=NO_SECRET)
    assert again.returncode == 2  # this one did nothing at all: a configuration error
    (line,) = again.stderr.splitlines()
    assert "frozen" not in line and "secret_file" in line
    status = run_cli(["status"], sample).stdout
    assert "deliveries_pending: 1" in status and "exit=2" in status and "mail=impossible" in status
    _key_file(sample)  # the key arrives, in a file: the waiting digest goes out
    done = run_cli(["-q", "run", "--now", _later(20)], sample, env=NO_SECRET)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert [rcpt for _, rcpt, _ in handler.messages] == [["reader@example.org"]]


def test_send_without_the_key_did_nothing_and_exits_2(sample: Path, smtp_server: Any) -> None:
    use_smtp(sample, smtp_server[0].port)
    assert run_cli(["digest", "--now", NOW.isoformat()], sample, env=NO_SECRET).returncode == 1
    done = run_cli(["send"], sample, env=NO_SECRET)
    assert done.returncode == 2 and "email.secret_env" in done.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_secret_file_others_can_read_stops_the_run_before_anything(
    sample: Path, mode: int
) -> None:
    _key_file(sample, mode)
    done = run_cli(["run", "--now", NOW.isoformat()], sample, env=NO_SECRET)
    assert done.returncode == 2
    assert "email.secret_file" in done.stderr and f"mode {mode:04o}" in done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert not (sample / "feeds").exists() and not (sample / "state").exists()


def _readme_block(kind: str, after: str) -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(rf"```{kind}\n(.+?)\n```", readme[readme.index(after) :], re.S)
    assert block, f"README has no {kind} block after {after!r}"
    return block.group(1)


def test_readme_cron_recipe_works_in_crons_empty_environment(
    sample: Path, smtp_server: Any
) -> None:
    """The issue's report: README's crontab line ran without SYNDICATE_SECRET, so the first
    digest never went out. Follow the README's cron recipe (secret file, config keys, crontab
    line) and run the line as cron does: /bin/sh, an environment of HOME, LOGNAME, PATH, SHELL."""
    controller, handler = smtp_server
    use_smtp(sample, controller.port)
    assert (
        run_cli(["-q", "digest", "--now", NOW.isoformat()], sample, env=NO_SECRET).returncode == 1
    )
    cron_env = {"HOME": str(sample), "LOGNAME": "root", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    here = shlex.quote(str(sample))
    setup = _readme_block("sh", "**cron.**").replace("/srv/newsletter", here)
    subprocess.run(["/bin/sh", "-c", setup], env=cron_env, check=True)
    assert (sample / "secret.key").stat().st_mode & 0o777 == 0o600
    for section, keys in tomllib.loads(_readme_block("toml", "**cron.**")).items():
        lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
        edit_config(sample, f"[{section}]\n", f"[{section}]\n{lines}")
    line = _readme_block("cron", "**cron.**")
    command = " ".join(line.split()[5:]).replace(
        "/srv/newsletter/.venv/bin/syndicate", f"{shlex.quote(sys.executable)} -m syndicate"
    )
    done = subprocess.run(
        ["/bin/sh", "-c", command.replace("/srv/newsletter", here)],
        env=cron_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # cron mails nothing
    assert [rcpt for _, rcpt, _ in handler.messages] == [["reader@example.org"]]


# -- help: what syndicate does, and each command's docstring as its help ---------------------


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from syndicate.cli import main

    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # as read, not as wrapped


def test_help_tells_what_syndicate_does_and_each_command_its_docstring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from syndicate.cli.table import COMMANDS

    top = _help([], capsys)
    assert "syndicate publishes a folder of article files" in top and "README.md" in top
    assert "2 usage or configuration error" in top
    for entry in COMMANDS:
        listed = top if entry.group is None else _help([entry.group], capsys)
        assert entry.help and entry.help in listed, entry.name
        shown = _help([entry.group, entry.name] if entry.group else [entry.name], capsys)
        assert " ".join(entry.description.split()) in shown, entry.name


# -- exit codes: a pass that stops part way is not "nothing done" ----------------------------


def _refuse(site: Path, table: str) -> None:
    """A real SQLite error on every insert into `table`, from the database itself."""
    assert run_cli(["subscribers", "list"], site).returncode == 0  # creates the state database
    with sqlite3.connect(site / "state" / "syndicate.db") as conn:
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                     "BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END")  # fmt: skip


def test_a_database_error_after_the_pick_up_exits_1_saying_what_was_done(sample: Path) -> None:
    _refuse(sample, "digests")
    done = run_cli(["-q", "run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 1, done.stderr  # the articles are picked up: not "nothing done"
    (line,) = done.stderr.splitlines()
    assert line.startswith("syndicate: error: articles picked up (6 new, 0 changed, 0 removed), "
                           "then the run stopped: ")  # fmt: skip
    assert "the disk is on fire" in line and "Traceback" not in done.stderr
    with sqlite3.connect(sample / "state" / "syndicate.db") as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (6,)


def test_a_database_error_before_anything_changed_exits_2(sample: Path) -> None:
    _refuse(sample, "articles")
    done = run_cli(["-q", "run", "--now", NOW.isoformat()], sample)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert "the disk is on fire" in line and "then the run stopped" not in line
    assert not (sample / "feeds").exists()
