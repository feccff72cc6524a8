"""`syndicate bounces` on a real Maildir and a real SQLite state: what each kind of returned
message does to the list, hostile input that must change no one but the right reader, and
exactly-once processing across reruns and a crash between the record and the mark."""

from __future__ import annotations

import dataclasses
import email
import json
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syndicate import pipeline, verp
from syndicate.bounces.mailboxes import Maildir
from syndicate.config import BouncesConfig, Config, load_config, parse_config
from syndicate.errors import ConfigError, SubscriberError
from syndicate.pipeline import people
from syndicate.store import LastBounce, Store
from syndicate.store.schema import returned

from . import returned_samples as samples
from .conftest import NOW, SECRET, add_readers, run_cli, use_smtp
from .smtp_servers import Sink, serving

BOUNCES, UNSUBSCRIBE = "bounces@lists.example", "unsubscribe@lists.example"
READERS = [f"r{n}@example.org" for n in range(4)]


@dataclass
class Site:
    folder: Path
    config: Config
    maildir: Path
    digest: str

    def verp(self, address: str, key: str = SECRET, digest: str = "") -> str:
        token = verp.envelope_id(key, address, digest or self.digest)
        return f"bounces+{token}@lists.example"

    def mailto(self, address: str, key: str = SECRET) -> str:
        return f"unsubscribe+{verp.mailto_token(key, address)}@lists.example"

    def drop(self, message: bytes) -> str:
        return str(mailbox.Maildir(self.maildir, create=False).add(message))

    def read(self, now: datetime = NOW) -> pipeline.BounceReport:
        report = pipeline.bounces(self.config, now)
        assert report is not None
        return report

    def statuses(self) -> dict[str, str]:
        return {p.email: p.status for p in people.listing(self.config)}

    def soft_count(self, address: str) -> int:
        store = Store.open(self.config.paths.database)
        try:
            return sum(1 for k in _kinds(store, address) if k == "soft")
        finally:
            store.close()


def _kinds(store: Store, address: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.select(returned.c.kind).where(returned.c.email == address)))


def bounce_site(sample: Path, tmp_path: Path, extra: str = "", readers: int = 4) -> Site:
    """The sample publication with `readers` more readers (r<n>@example.org), [bounces] on a
    fresh Maildir, and a first digest sent (as .eml files) to all of them."""
    maildir = tmp_path / "Maildir"
    mailbox.Maildir(maildir, create=True)
    add_readers(sample, readers)
    config_file = sample / "config.toml"
    config_file.write_text(
        config_file.read_text()
        + f'\n[bounces]\naddress = "{BOUNCES}"\nunsubscribe_address = "{UNSUBSCRIBE}"\n'
        + f"maildir = {json.dumps(str(maildir))}\nmax_size = 65536\n{extra}"
    )
    config = load_config(config_file, {"SYNDICATE_SECRET": SECRET})
    report = pipeline.run_once(config, NOW, force_digest=True)
    assert report.digest_id and report.sent == readers + 1
    return Site(sample, config, maildir, report.digest_id)


@pytest.fixture
def site(sample: Path, tmp_path: Path) -> Site:
    return bounce_site(sample, tmp_path)


def _flags(site: Site) -> dict[str, str]:
    return {p.name.partition(":2,")[0]: p.name.partition(":2,")[2]
            for p in (site.maildir / "cur").iterdir()}  # fmt: skip


def test_each_recipient_gets_its_own_tokens_and_none_names_the_address(site: Site) -> None:
    outbox = sorted(site.config.paths.outbox.rglob("*.eml"))
    assert len(outbox) == len(READERS) + 1
    seen = set()
    for path in outbox:
        message = email.message_from_bytes(path.read_bytes())
        header = str(message["List-Unsubscribe"])
        mailto = re.search(r"<mailto:([^>?]+)\?subject=unsubscribe>", header)
        assert mailto is not None, header
        address = str(message["To"]).strip("<>").rpartition("<")[2].strip(">")
        assert mailto.group(1) == site.mailto(address) and address.split("@")[
            0
        ] not in mailto.group(1)
        seen.add(mailto.group(1))
    assert len(seen) == len(outbox)


def test_without_bounces_the_envelope_and_mailto_stay_the_from_address(sample: Path) -> None:
    sink = Sink()
    with serving(sink) as port:
        use_smtp(sample, port)
        assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    [(mail_from, _, content)] = sink.messages
    assert mail_from == "newsletter@example.org"
    assert b"<mailto:newsletter@example.org?subject=unsubscribe>" in content


def test_with_bounces_every_message_has_its_own_verp_envelope_sender(sample: Path) -> None:
    sink = Sink()
    add_readers(sample, 3)
    with serving(sink) as port:
        use_smtp(sample, port)
        (sample / "config.toml").write_text(
            (sample / "config.toml").read_text() + f'\n[bounces]\naddress = "{BOUNCES}"\n'
        )
        assert run_cli(["run", "--now", NOW.isoformat()], sample).returncode == 0
    senders = {rcpts[0]: mail_from for mail_from, rcpts, _ in sink.messages}
    assert len(senders) == 4 and len(set(senders.values())) == 4
    directory = verp.Directory(SECRET, list(senders))
    for rcpt, mail_from in senders.items():
        local, _, domain = mail_from.partition("@")
        assert domain == "lists.example" and local.startswith("bounces+v") and len(local) <= 64
        named = directory.name(local.partition("+")[2])
        assert named is not None and named.address == rcpt
    contents = b"".join(content for _, _, content in sink.messages)
    assert b"mailto:bounces+u" in contents  # the unsubscribe mailbox defaults to the address


def test_a_hard_bounce_marks_the_verp_reader_not_the_one_the_dsn_names(site: Site) -> None:
    forged = samples.postfix_dsn(site.verp(READERS[0]), READERS[1], original=READERS[2])
    site.drop(forged)
    report = site.read()
    assert report.kinds == {"hard": 1} and report.changed == {"bounced": 1}
    assert site.statuses() == {"reader@example.org": "active", READERS[0]: "bounced",
                               READERS[1]: "active", READERS[2]: "active", READERS[3]: "active"}  # fmt: skip
    assert set(_flags(site).values()) == {"S"} and not list((site.maildir / "new").iterdir())


def test_hostile_tokens_change_no_one(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="syndicate")
    before = site.statuses()
    other = "another publication's signing key"
    site.drop(samples.postfix_dsn(site.verp(READERS[0], key=other), READERS[0]))
    site.drop(samples.postfix_dsn(site.verp(READERS[0], digest="2020-01-01"), READERS[0]))
    site.drop(samples.postfix_dsn(site.verp("stranger@example.org"), "stranger@example.org"))
    site.drop(samples.apple_mail_unsubscribe(READERS[1], site.mailto(READERS[1], key=other)))
    site.drop(samples.rfc5965_arf("fbl@example.org", site.verp(READERS[2], key=other),
                                  READERS[2], f"mailto:{site.mailto(READERS[2], key=other)}"))  # fmt: skip
    site.drop(samples.postfix_dsn(f"bounces+{'v' + 'a' * 32}@lists.example", READERS[3]))
    site.drop(samples.vacation_reply(site.verp(READERS[3]), READERS[3]))
    report = site.read()
    assert report.kinds == {"ignored": 7} and not report.changed
    assert site.statuses() == before
    ignored = [r for r in caplog.records if "event=returned " in r.getMessage()]
    assert len(ignored) == 7 and all("subscriber=unchanged" in r.getMessage() for r in ignored)
    caplog.clear()
    assert site.read().read == 0  # each was reported once
    assert not [r for r in caplog.records if "event=returned " in r.getMessage()]


def test_soft_bounces_mark_a_reader_bounced_only_within_the_window(site: Site) -> None:
    reader = READERS[0]
    for day in (0, 1):
        site.drop(samples.rfc3464_delayed(site.verp(reader), reader))
        site.read(NOW + timedelta(days=day))
    assert site.statuses()[reader] == "active" and site.soft_count(reader) == 2
    for day in (40, 41):  # the first two are out of the 30-day window by now
        site.drop(samples.rfc3464_failed_transient(site.verp(reader), reader))
        site.read(NOW + timedelta(days=day))
    assert site.statuses()[reader] == "active"
    site.drop(samples.rfc3464_delayed(site.verp(reader), reader))
    report = site.read(NOW + timedelta(days=42))
    assert report.changed == {"bounced": 1} and site.statuses()[reader] == "bounced"
    assert site.soft_count(reader) == 5


def test_a_complaint_is_final_unless_the_operator_resubscribes(site: Site) -> None:
    reader = READERS[1]
    site.drop(samples.yahoo_arf(site.verp(reader), "redacted@yahoo.example", "mailto:x@y.example"))
    assert site.read().changed == {"complained": 1}
    site.drop(samples.postfix_dsn(site.verp(reader), reader))  # a weaker standing: no change
    site.drop(samples.apple_mail_unsubscribe(reader, site.mailto(reader)))
    report = site.read()
    assert report.kinds == {"hard": 1, "unsubscribe": 1} and not report.changed
    assert site.statuses()[reader] == "complained"
    with pytest.raises(SubscriberError, match="complained"):
        people.add(site.config, reader, "", NOW, resubscribe=False)
    assert site.statuses()[reader] == "complained"
    assert people.add(site.config, reader, "", NOW, resubscribe=True) == "resubscribed"
    assert site.statuses()[reader] == "active"


@pytest.mark.parametrize(
    "build",
    [
        lambda s, r: samples.aol_redacted_arf(f"mailto:{s.mailto(r)}?subject=unsubscribe"),
        lambda s, r: samples.microsoft_jmrp("x@outlook.example", f"mailto:{s.mailto(r)}"),
        lambda s, r: samples.returnpath_fbl(s.verp(r), "redacted"),
        lambda s, r: samples.rfc5965_arf("fbl@example.org", s.verp(r), READERS[0], "mailto:a@b.c"),
    ],
    ids=["aol-redacted", "microsoft-jmrp", "returnpath-fbl", "rfc5965"],
)
def test_each_complaint_format_marks_its_reader_complained(site: Site, build: object) -> None:
    reader = READERS[3]
    site.drop(build(site, reader))  # type: ignore[operator]
    assert site.read().changed == {"complained": 1}
    assert {a for a, s in site.statuses().items() if s != "active"} == {reader}


def test_a_mailto_unsubscribe_unsubscribes_that_reader_only(site: Site) -> None:
    site.drop(samples.apple_mail_unsubscribe("someone@icloud.example", site.mailto(READERS[2])))
    assert site.read().changed == {"unsubscribed": 1}
    assert {a for a, s in site.statuses().items() if s != "active"} == {READERS[2]}


def test_unparseable_mail_is_left_flagged_for_the_operator_and_named(site: Site) -> None:
    key = site.drop(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n"
                    b"\r\n--x\r\nContent-Type: text/plain\r\n\r\nnothing\r\n--x--\r\n")  # fmt: skip
    before = site.statuses()
    result = run_cli(["bounces", "--now", NOW.isoformat()], site.folder)
    assert (
        result.returncode == 1 and key in result.stderr and "left for the operator" in result.stderr
    )
    assert _flags(site) == {key: "FS"} and site.statuses() == before
    again = run_cli(["bounces", "--now", NOW.isoformat()], site.folder)
    assert again.returncode == 0 and key not in again.stderr


def test_a_huge_message_is_read_only_up_to_max_size(site: Site) -> None:
    dsn = samples.postfix_dsn(site.verp(READERS[0]), READERS[0])
    padding = b"X-Padding: " + b"x" * 900 + b"\r\n"
    huge = dsn.replace(b"Subject: The Astana Times digest", b"Subject: digest\r\n" + padding * 9000)
    assert len(huge) > 8_000_000
    key = site.drop(huge)
    only_padding = site.drop(b"Subject: huge\r\n" + padding * 9000 + b"\r\nbody\r\n")
    box = Maildir(str(site.maildir), 65536)
    assert box.keys() and len(box.read(key)) == 65536
    report = site.read()
    assert report.kinds == {"hard": 1, "ignored": 1} and site.statuses()[READERS[0]] == "bounced"
    assert set(_flags(site)) == {key, only_padding}


def test_a_crash_between_recording_and_marking_never_counts_twice(site: Site) -> None:
    reader = READERS[0]
    key = site.drop(samples.rfc3464_delayed(site.verp(reader), reader))
    store = Store.open(site.config.paths.database)
    try:  # what a run killed right after its commit leaves: recorded, still in new/
        store.record_returned(key, "soft", reader, NOW, status="4.0.0")
    finally:
        store.close()
    report = site.read()
    assert report.read == 0 and site.soft_count(reader) == 1
    assert _flags(site) == {key: "S"}


def test_run_reads_returned_mail_before_the_next_digest(site: Site) -> None:
    site.drop(samples.postfix_dsn(site.verp(READERS[0]), READERS[0]))
    (site.folder / "articles" / "zz-new.txt").write_text(
        "A story for the next digest\n\nWith a paragraph long enough to be an article here.\n"
    )
    report = pipeline.run_once(site.config, NOW + timedelta(days=1), force_digest=True)
    assert report.digest_id and report.digest_id != site.digest
    assert report.sent == len(READERS)  # everyone but the reader who bounced
    outbox = site.config.paths.outbox / report.digest_id
    assert READERS[0] not in {p.stem for p in outbox.iterdir()}


def test_status_and_list_show_bounces_complaints_and_soft_counts(site: Site) -> None:
    site.drop(samples.postfix_dsn(site.verp(READERS[0]), READERS[0]))
    site.drop(samples.rfc5965_arf("fbl@example.org", site.verp(READERS[1]), "x", "mailto:a@b.c"))
    site.drop(samples.rfc3464_delayed(site.verp(READERS[2]), READERS[2]))
    site.read()
    listed = run_cli(["subscribers", "list"], site.folder).stdout
    status = run_cli(["status"], site.folder).stdout
    assert "subscribers_bounced: 1" in status and "subscribers_complained: 1" in status
    assert re.search(r"soft bounces in the last 30 days: \d+ from \d+ addresses", status)
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.splitlines() if "\t" in line}
    assert rows[READERS[0]][2] == "bounced" and rows[READERS[0]][3].startswith("hard: ")
    assert rows[READERS[1]][2:4] == ["complained", "complaint: abuse report from SomeGenerator/1.0"]
    assert rows[READERS[2]][2] == "active" and rows[READERS[2]][3].startswith("soft: ")
    assert rows[READERS[3]][2:] == ["active", "", ""]
    assert all(len(row) == 5 for row in rows.values())


_SITE = '[site]\ntitle = "Example News"\nurl = "https://news.example.org/"\n'


def _config(bounces: str, env: dict[str, str] | None = None) -> Config:
    return parse_config(_SITE + "[bounces]\n" + bounces, Path("/srv/pub/config.toml"), env or {})


def test_bounces_config_defaults_resolve_and_read_the_imap_password() -> None:
    config = _config('address = "bounces@example.org"\nmaildir = "mail/bounces"\n')
    assert config.bounces.unsubscribe_address == "bounces@example.org"
    assert config.bounces.maildir == "/srv/pub/mail/bounces" and config.bounces.reads
    imap = _config('address = "b@example.org"\nimap = "imaps://b%40x@mail.example.org/Bounces"\n',
                   {"SYNDICATE_IMAP_PASSWORD": "pw"})  # fmt: skip
    assert imap.bounces.password == "pw" and "pw" not in repr(imap.bounces)
    assert not _config("").bounces.reads and _config("").bounces.address == ""


@pytest.mark.parametrize(
    ("bounces", "key", "words"),
    [
        ('address = "not an address"\n', "bounces.address", "not a valid email"),
        ('address = "a+b@example.org"\n', "bounces.address", "no '+'"),
        (f'address = "{"x" * 31}@example.org"\n', "bounces.address", "at most 30"),
        ('unsubscribe_address = "u+x@example.org"\n', "bounces.unsubscribe_address", "no '+'"),
        ('address = "b@example.org"\nmaildir = "m"\nimap = "imaps://u@h/INBOX"\n', "bounces",
         "not both"),
        ('maildir = "m"\n', "bounces.address", "required"),
        ('address = "b@example.org"\nimap = "imap://u@h/INBOX"\n', "bounces.imap", "TLS only"),
        ('address = "b@example.org"\nimap = "imaps://h/INBOX"\n', "bounces.imap", "user@host"),
        ("soft_limit = 0\n", "bounces.soft_limit", "must be between 1 and 1000"),
        ("soft_days = 0\n", "bounces.soft_days", "must be between 0.01 and 3650"),
        ("max_size = 0\n", "bounces.max_size", "must be between 1024 and"),
        ("mailbox = 'x'\n", "bounces.mailbox", "unknown key"),
    ],
)  # fmt: skip
def test_bad_bounces_config_names_the_key(bounces: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _config(bounces)
    assert info.value.key == key and words in str(info.value)


def test_bounces_without_a_mailbox_is_a_configuration_error(sample: Path) -> None:
    (sample / "config.toml").write_text(
        (sample / "config.toml").read_text() + '\n[bounces]\naddress = "bounces@example.org"\n'
    )
    result = run_cli(["bounces"], sample)
    assert result.returncode == 2 and "set [bounces] maildir or imap" in result.stderr


def test_a_dry_run_never_touches_the_real_mailbox(site: Site) -> None:
    key = site.drop(samples.postfix_dsn(site.verp(READERS[0]), READERS[0]))
    report, _ = pipeline.dry_run(site.config, NOW + timedelta(days=1))
    assert not report.skipped_locked
    assert [p.name for p in (site.maildir / "new").iterdir()] == [key]
    assert site.read().kinds == {"hard": 1}


def test_the_scheduler_reads_returned_mail_in_a_job_of_its_own(site: Site) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from syndicate.schedule import build_scheduler

    jobs = {job.id: job for job in build_scheduler(site.config, lambda: NOW,
                                                   BackgroundScheduler).get_jobs()}  # fmt: skip
    assert set(jobs) == {"pickup", "digest", "send", "bounces"}
    assert jobs["bounces"].trigger.interval == timedelta(seconds=300)
    site.drop(samples.postfix_dsn(site.verp(READERS[0]), READERS[0]))
    jobs["bounces"].func(*jobs["bounces"].args)
    assert site.statuses()[READERS[0]] == "bounced"
    plain = dataclasses.replace(site.config, bounces=BouncesConfig())
    assert "bounces" not in {j.id for j in build_scheduler(plain, lambda: NOW,
                                                           BackgroundScheduler).get_jobs()}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The returned-mail store on a real SQLite file and a real PostgreSQL 15 database."""
    if request.param == "postgresql":
        opened = Store.open(request.getfixturevalue("postgres_url"))
    else:
        opened = Store.open(f"sqlite:///{tmp_path}/state/db.sqlite")
    yield opened
    opened.close()


def test_store_records_each_key_once_and_only_raises_standing(store: Store) -> None:
    from syndicate.models import Subscriber

    store.upsert_subscribers([Subscriber("Ann@example.org"), Subscriber("bo@example.org")], NOW)
    window = {"soft_limit": 2, "soft_window": timedelta(days=30)}
    assert store.record_returned("k1", "soft", "Ann@example.org", NOW, **window).soft_count == 1
    assert store.record_returned("k1", "soft", "Ann@example.org", NOW, **window).duplicate
    done = store.record_returned("k2", "soft", "Ann@example.org", NOW, reason="4.2.2 full",
                                 **window)  # fmt: skip
    assert (done.status, done.soft_count) == ("bounced", 2)
    assert store.record_returned("k3", "unsubscribe", "Ann@example.org", NOW).status == ""
    assert store.record_returned("k4", "complaint", "Ann@example.org", NOW).status == "complained"
    assert store.record_returned("k5", "hard", "Ann@example.org", NOW).status == ""
    assert store.record_returned("k6", "ignored", None, NOW).status == ""
    assert store.returned_kinds(["k1", "k6", "k7"]) == {"k1": "soft", "k6": "ignored"}
    assert {p.email: p.status for p in store.subscribers()} == {
        "Ann@example.org": "complained", "bo@example.org": "active"}  # fmt: skip
    last = store.last_bounces()
    assert set(last) == {"ann@example.org"} and last["ann@example.org"].kind == "complaint"
    store.record_returned("k8", "soft", "bo@example.org", NOW + timedelta(days=1), reason="busy")
    assert store.last_bounces()["bo@example.org"] == LastBounce(
        "soft", "busy", NOW + timedelta(days=1)
    )
    assert store.soft_bounces(NOW - timedelta(days=1)) == (3, 2)
    assert store.soft_bounces(NOW + timedelta(seconds=1)) == (1, 1)
