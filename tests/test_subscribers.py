"""Subscribers: the CSV stage, the store's statuses, and the real `syndicate subscribers` and
`syndicate unsubscribe` commands on a temp copy of the sample with a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.models import Subscriber
from syndicate.store import Store
from syndicate.subscribers import parse_csv, to_csv
from syndicate.tokens import make_legacy_token, make_token

from .conftest import NOW, SECRET, run_cli

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
def test_forged_or_altered_tokens_are_refused(sample: Path, token: str) -> None:
    assert _cli(sample, "subscribers", "add", "reader@example.org")[0] == 0
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
