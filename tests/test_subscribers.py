"""Subscribers: the CSV stage, the store's statuses, and the real `syndicate subscribers` and
`syndicate unsubscribe` commands on a temp copy of the sample with a real SQLite file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.models import Subscriber
from syndicate.store import Store
from syndicate.subscribers import parse_csv, to_csv
from syndicate.tokens import make_legacy_token, make_token

from .conftest import NOW, SECRET, copy_sample, run_cli

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_csv_rows_are_validated_normalised_and_deduplicated() -> None:
    parsed = parse_csv(
        "email,name\n"
        "a@EXAMPLE.org,Ann  Reader\n"
        "not-an-address,X\n"
        "\n"
        "a@example.org,Duplicate\n"
        '"b@example.org","Bee\nwith a newline"\n'
        ",no address\n"
        "c@example.org\n",
        "people.csv",
    )
    assert parsed.people == (
        Subscriber("a@example.org", "Ann Reader"),
        Subscriber("b@example.org", "Bee with a newline"),
        Subscriber("c@example.org", ""),
    )
    assert parsed.duplicates == 1
    assert len(parsed.problems) == 2
    assert parsed.problems[0].startswith("people.csv:3: 'not-an-address' is not a valid email")
    assert parsed.problems[1] == "people.csv:8: no email address in this row"


def test_csv_without_header_and_with_other_column_order() -> None:
    assert parse_csv("x@example.org,X\n", "f").people == (Subscriber("x@example.org", "X"),)
    swapped = parse_csv("Name,Email,Extra\nY,y@example.org,z\n", "f")
    assert swapped.people == (Subscriber("y@example.org", "Y"),) and not swapped.problems


def test_export_round_trips_through_import() -> None:
    people = [Subscriber("a@example.org", 'Ann "A", Reader'), Subscriber("b@example.org")]
    data = to_csv(people)
    assert data.startswith(b"email,name\n")
    assert list(parse_csv(data.decode(), "f").people) == people


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path}/state.db")


def test_unsubscribed_and_bounced_stay_off_unless_resubscribed(store: Store) -> None:
    store.upsert_subscribers([Subscriber("u@example.org", "U"), Subscriber("b@example.org")], T0)
    assert store.set_subscriber_status("u@example.org", "unsubscribed", T0)
    assert store.set_subscriber_status("b@example.org", "bounced", T0)
    assert not store.set_subscriber_status("nobody@example.org", "unsubscribed", T0)
    again = store.upsert_subscribers([Subscriber("u@example.org"), Subscriber("b@example.org")], T0)
    assert again.kept_inactive == ["u@example.org", "b@example.org"]
    assert {p.status for p in store.subscribers()} == {"unsubscribed", "bounced"}
    back = store.upsert_subscribers([Subscriber("u@example.org")], T0, resubscribe=True)
    assert back.reactivated == ["u@example.org"]
    assert store.subscribers()[1] == Subscriber("u@example.org", "U", "active")  # name kept


def _cli(site: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli(list(args), site)
    return done.returncode, done.stdout, done.stderr


def test_subscriber_commands_end_to_end(sample: Path) -> None:
    code, out, _ = _cli(sample, "subscribers", "add", "Ann@EXAMPLE.org", "--name", "Ann")
    assert code == 0 and "added: Ann@EXAMPLE.org" in out
    (sample / "in.csv").write_text("email,name\nb@example.org,Bee\nbroken@,X\nc@example.org,\n")
    code, out, err = _cli(sample, "subscribers", "import", "in.csv")
    assert code == 1, "a bad row makes the import exit 1"
    assert "in.csv:3: 'broken@' is not a valid email address" in err
    assert "2 added" in out and "1 bad rows" in out
    code, out, _ = _cli(sample, "subscribers", "remove", "b@example.org")
    assert code == 0 and "unsubscribed: b@example.org" in out
    code, out, _ = _cli(sample, "subscribers", "import", "in.csv")
    assert "0 added" in out and "1 kept unsubscribed or bounced" in out
    code, out, _ = _cli(sample, "subscribers", "list")
    assert "Ann@example.org\tAnn\tactive" in out and "b@example.org\tBee\tunsubscribed" in out
    code, out, _ = _cli(sample, "subscribers", "export", "out.csv")
    assert code == 0
    assert (sample / "out.csv").read_text() == "email,name\nAnn@example.org,Ann\nc@example.org,\n"


def test_readding_an_unsubscribed_address_needs_the_flag(sample: Path) -> None:
    assert _cli(sample, "subscribers", "add", "x@example.org")[0] == 0
    assert _cli(sample, "subscribers", "remove", "x@example.org")[0] == 0
    code, _, err = _cli(sample, "subscribers", "add", "x@example.org")
    assert code == 1 and "x@example.org" in err and "--resubscribe" in err
    code, out, _ = _cli(sample, "subscribers", "add", "x@example.org", "--resubscribe")
    assert code == 0 and "resubscribed" in out


def test_bad_input_names_the_address_or_file(sample: Path) -> None:
    code, _, err = _cli(sample, "subscribers", "add", "no-at-sign")
    assert code == 2 and "'no-at-sign' is not a valid email address" in err
    code, _, err = _cli(sample, "subscribers", "remove", "ghost@example.org")
    assert code == 1 and "ghost@example.org is not on the subscriber list" in err
    code, _, err = _cli(sample, "subscribers", "import", "missing.csv")
    assert code == 1 and "missing.csv" in err


def test_config_subscriber_who_unsubscribed_gets_no_digest(sample: Path) -> None:
    token = make_token(SECRET, "reader@example.org")
    assert _cli(sample, "subscribers", "add", "reader@example.org")[0] == 0
    code, out, _ = _cli(sample, "unsubscribe", token)
    assert code == 0 and "unsubscribed: reader@example.org" in out
    code, out, err = _cli(sample, "run", "--now", NOW.isoformat())
    assert code == 0, err
    assert "0 sent" in out and not (sample / "outbox").exists()  # config lists it: still off


@pytest.fixture(scope="module")
def with_reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with reader@example.org added by the real command, made once for the module:
    each token case below gets its own copy of the folder and its database."""
    site = copy_sample(tmp_path_factory.mktemp("subscribers") / "site")
    assert _cli(site, "subscribers", "add", "reader@example.org")[0] == 0
    return site


@pytest.mark.parametrize(
    "token",
    [
        make_token("another-secret", "reader@example.org"),
        make_token(SECRET, "reader@example.org")[:-2] + "AA",
        make_legacy_token(SECRET, "reader@example.org").replace("cmVh", "cmVi"),
        make_token(SECRET, "reader@example.org")[:5] + "A" + make_token(SECRET, "x@y.org")[6:],
        "garbage",
    ],
)
def test_forged_or_altered_tokens_are_refused(
    with_reader: Path, tmp_path: Path, token: str
) -> None:
    sample = tmp_path / "site"
    shutil.copytree(with_reader, sample)  # reader@example.org added, active
    code, _, err = _cli(sample, "unsubscribe", token)
    assert code == 1 and "refused" in err
    assert "reader@example.org\t\tactive" in _cli(sample, "subscribers", "list")[1]


def test_unsubscribing_cancels_waiting_messages(store: Store) -> None:
    from syndicate.ingest import Changes
    from syndicate.models import Article, Digest

    art = Article("a", "a.txt", "T", "a", "<p>x</p>", "x", "x", "h")
    store.apply(Changes(new=(art,)), {}, T0)
    store.upsert_subscribers([Subscriber("a@example.org"), Subscriber("b@example.org")], T0)
    store.freeze_digest(Digest("d1", T0, "s", "h", "t", "w", "m", ("a",)), [], T0)
    store.set_subscriber_status("a@example.org", "unsubscribed", T0, "unsubscribed by link")
    assert [d.email for d in store.open_deliveries()] == ["b@example.org"]
    counts = store.counts()
    assert counts["deliveries_failed"] == 1 and counts["subscribers_unsubscribed"] == 1


def test_addresses_are_stored_in_a_form_every_server_accepts() -> None:
    parsed = parse_csv("user@bücher.example,B\nδοκιμή@example.org,D\n", "f.csv")
    assert parsed.people == (Subscriber("user@xn--bcher-kva.example", "B"),)  # punycode domain
    assert parsed.problems[0].startswith("f.csv:2: 'δοκιμή@example.org' is not a valid")


def test_a_cancelled_message_cannot_be_claimed_for_sending(store: Store) -> None:
    from syndicate.ingest import Changes
    from syndicate.models import Article, Digest

    store.apply(Changes(new=(Article("a", "a.txt", "T", "a", "<p>x</p>", "x", "x", "h"),)), {}, T0)
    store.upsert_subscribers([Subscriber("a@example.org")], T0)
    store.freeze_digest(Digest("d1", T0, "s", "h", "t", "w", "m", ("a",)), [], T0)
    (queued,) = store.open_deliveries(T0)  # a sender read its queue ...
    store.set_subscriber_status("a@example.org", "unsubscribed", T0)  # ... then the reader left
    assert store.mark_delivery(queued, "sending", T0) is False
    assert store.counts()["deliveries_failed"] == 1


@pytest.mark.parametrize(
    "cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=x", "=HYPERLINK(1)"]
)
def test_export_escapes_spreadsheet_formulas_and_import_restores_them(cell: str) -> None:
    people = [Subscriber("a@example.org", cell), Subscriber("-b@example.org", "Bee")]
    data = to_csv(people).decode()
    rows = data.splitlines()[1:]
    assert all(not field.startswith(("=", "+", "-", "@", "\t", "\r"))
               for row in rows for field in row.split(",") if field and field[0] != '"')  # fmt: skip
    assert "'" + cell.strip()[:2] in data and "'-b@example.org" in data
    parsed = parse_csv(data, "f")
    assert parsed.people[1] == Subscriber("-b@example.org", "Bee")
    assert parsed.people[0].name == " ".join(cell.split())


def test_a_cell_starting_with_cr_is_escaped_too() -> None:
    assert to_csv([Subscriber("a@example.org", "\r=1\rx")]).endswith(b"\na@example.org,'=1 x\n")


def test_a_row_with_a_nul_byte_is_reported_by_line_and_skipped() -> None:
    parsed = parse_csv(
        "email,name\na@example.org,Ann\nb@example.org,B\x00ob\nc@example.org,C\n", "f"
    )
    assert [p.email for p in parsed.people] == ["a@example.org", "c@example.org"]
    assert parsed.problems == ("f:3: holds a NUL or another control character",)


def test_unsubscribe_of_an_address_not_on_the_list_says_so(sample: Path) -> None:
    token = make_token(SECRET, "ghost@example.org")  # validly signed, but never subscribed
    done = run_cli(["unsubscribe", token], sample, {"SYNDICATE_SECRET": SECRET})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "ghost@example.org is not on the subscriber list" in done.stderr
    assert "unsubscribed:" not in done.stdout


# -- one address, one subscriber, whatever its case ----------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "postgresql":
        return Store.open(request.getfixturevalue("postgres_url"))
    return Store.open(f"sqlite:///{tmp_path}/state.db")


def test_an_address_in_another_case_is_the_same_subscriber(any_store: Store) -> None:
    store = any_store
    first = store.upsert_subscribers([Subscriber("reader.two@example.org", "Two")], T0)
    again = store.upsert_subscribers([Subscriber("READER.TWO@example.org", "R. Two")], T0)
    assert first.added == ["reader.two@example.org"] and not again.added
    assert again.updated == ["READER.TWO@example.org"]
    assert store.subscribers() == [Subscriber("reader.two@example.org", "R. Two")]  # first spelling
    assert store.set_subscriber_status("Reader.Two@example.org", "unsubscribed", T0)
    kept = store.upsert_subscribers([Subscriber("READER.TWO@example.org")], T0)
    assert kept.kept_inactive == ["READER.TWO@example.org"]  # an import never reactivates
    assert store.subscribers() == [Subscriber("reader.two@example.org", "R. Two", "unsubscribed")]
    back = store.upsert_subscribers([Subscriber("Reader.TWO@example.org")], T0, resubscribe=True)
    assert back.reactivated == ["Reader.TWO@example.org"]
    assert [p.status for p in store.subscribers()] == ["active"]


def test_the_database_refuses_a_second_copy_in_another_case(any_store: Store) -> None:
    import sqlalchemy as sa

    from syndicate.store.schema import subscribers

    any_store.upsert_subscribers([Subscriber("reader@example.org")], T0)
    with pytest.raises(sa.exc.IntegrityError), any_store.engine.begin() as conn:
        row = {"email": "Reader@Example.org", "name": "", "status": "active"}
        conn.execute(subscribers.insert().values(**row, created=T0, updated=T0))
    assert len(any_store.subscribers()) == 1


def test_one_batch_with_two_cases_of_one_address_makes_one_subscriber(any_store: Store) -> None:
    done = any_store.add_subscribers([Subscriber("x@example.org"), Subscriber("X@example.org")], T0)
    assert done == 1 and [p.email for p in any_store.subscribers()] == ["x@example.org"]


def test_leaving_cancels_messages_queued_under_another_case(store: Store) -> None:
    import sqlalchemy as sa

    from syndicate.ingest import Changes
    from syndicate.models import Article, Digest
    from syndicate.store.schema import deliveries

    store.apply(Changes(new=(Article("a", "a.txt", "T", "a", "<p>x</p>", "x", "x", "h"),)), {}, T0)
    store.upsert_subscribers([Subscriber("Reader@example.org")], T0)
    store.freeze_digest(Digest("d1", T0, "s", "h", "t", "w", "m", ("a",)), [], T0)
    with store.engine.begin() as conn:  # as a v5 ledger may hold it: queued in another case
        conn.execute(deliveries.update().values(email="READER@example.org"))
    assert store.set_subscriber_status("reader@example.org", "bounced", T0, "550 no such user")
    assert store.open_deliveries() == [] and store.counts()["deliveries_failed"] == 1
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(deliveries.c.last_error)) == "cancelled: 550 no such user"


def test_csv_duplicates_in_another_case_are_merged() -> None:
    parsed = parse_csv("Reader@example.org,First\nREADER@example.org,Second\n", "f.csv")
    assert parsed.people == (Subscriber("Reader@example.org", "First"),)
    assert parsed.duplicates == 1


def test_add_import_config_and_token_follow_one_rule(sample: Path) -> None:
    """The issue's reports, through the real commands: an import in capitals added a second
    copy, and re-activated a reader who had left."""
    assert _cli(sample, "subscribers", "add", "reader.two@example.org")[0] == 0
    assert _cli(sample, "subscribers", "add", "gone@example.org")[0] == 0
    assert _cli(sample, "subscribers", "remove", "gone@example.org")[0] == 0
    (sample / "in.csv").write_text("email\nREADER.TWO@example.org\nGONE@EXAMPLE.ORG\n")
    code, out, _ = _cli(sample, "subscribers", "import", "in.csv")
    assert code == 0 and "0 added, 1 updated, 1 kept unsubscribed or bounced" in out
    code, _, err = _cli(sample, "subscribers", "add", "Gone@example.org")
    assert code == 1 and "--resubscribe" in err
    with (sample / "config.toml").open("a") as config:  # the config lists one in capitals too
        config.write('\n[[subscribers]]\nemail = "Reader.Two@Example.org"\n')
    code, out, err = _cli(sample, "run", "--now", NOW.isoformat())
    assert code == 0, err
    mailed = [p.name.lower() for p in (sample / "outbox").rglob("*.eml")]
    assert mailed.count("reader.two@example.org.eml") == 1  # one copy, not two or three
    assert "gone@example.org.eml" not in mailed
    listed = _cli(sample, "subscribers", "list")[1]
    assert listed.lower().count("reader.two@example.org") == 1
    assert "gone@example.org\t\tunsubscribed" in listed
    code, out, _ = _cli(sample, "unsubscribe", make_token(SECRET, "READER.TWO@example.org"))
    assert code == 0  # a token minted for another case unsubscribes the one subscriber
    assert "reader.two@example.org\t\tunsubscribed" in _cli(sample, "subscribers", "list")[1]
