"""The returned-mail parser (syndicate.bounces.parse) and the VERP tokens (syndicate.verp), on
the RFC examples and the providers' formats of tests/returned_samples.py, and on hostile
input: pure functions, no mailbox, no store."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate import verp
from syndicate.bounces.parse import parse

from . import returned_samples as samples

KEY, OTHER_KEY = "test-secret-not-for-production", "another-publication's-key"
OURS = [("bounces", "lists.example"), ("unsubscribe", "lists.example")]
ALICE = "Alice@Readers.example"
ENV = verp.envelope_id(KEY, ALICE, "2026-11-28")
VERP = f"bounces+{ENV}@lists.example"
MAILTO_TOKEN = verp.mailto_token(KEY, ALICE)
MAILTO = f"unsubscribe+{MAILTO_TOKEN}@lists.example"


def test_tokens_are_opaque_lowercase_and_fit_a_local_part() -> None:
    for token in (ENV, MAILTO_TOKEN):
        assert token == token.lower() and token.isalnum()
        assert "alice" not in token and "readers" not in token
    assert len(VERP.partition("@")[0]) <= 64 and len(ENV) == verp.ID_LENGTH
    assert verp.envelope_id(KEY, ALICE, "2026-11-29") != ENV  # names the digest too
    assert verp.envelope_id(KEY, "bob@readers.example", "2026-11-28")[:25] != ENV[:25]


def test_the_directory_reverses_tokens_of_any_case_made_with_its_key_only() -> None:
    directory = verp.Directory(KEY, [ALICE, "bob@readers.example"])
    named = directory.name(ENV.upper())  # an MTA that folds local parts to upper case
    assert named is not None and named.kind == "envelope" and named.address == ALICE
    assert directory.sent_in(named, ["2026-11-27", "2026-11-28"]) == "2026-11-28"
    assert directory.sent_in(named, ["2026-11-27"]) is None
    assert directory.name(MAILTO_TOKEN) == verp.Named("mailto", ALICE)
    assert verp.envelope_id(KEY, "alice@readers.example", "2026-11-28") == ENV  # case-blind
    foreign = verp.Directory(OTHER_KEY, [ALICE, "bob@readers.example"])
    assert foreign.name(ENV) is None and foreign.name(MAILTO_TOKEN) is None
    for forged in ("", "v", "u" + "a" * 24, ENV[:-1], ENV + "a", "x" + ENV[1:], MAILTO_TOKEN + "="):
        assert directory.name(forged) is None, forged


def test_postfix_permanent_failure_is_a_hard_bounce_named_by_the_verp_token() -> None:
    found = parse(samples.postfix_dsn(VERP, "alice@readers.example"), OURS)
    assert (found.kind, found.status, found.tokens) == ("hard", "5.1.1", (ENV,))
    assert "unknown user" in found.reason and found.claimed == "rfc822;alice@readers.example"


def test_temporary_failures_are_soft_whether_delayed_or_given_up() -> None:
    delayed = parse(samples.rfc3464_delayed(VERP, "alice@readers.example"), OURS)
    failed = parse(samples.rfc3464_failed_transient(VERP, "alice@readers.example"), OURS)
    assert (delayed.kind, delayed.status, delayed.tokens) == ("soft", "4.0.0", (ENV,))
    assert (failed.kind, failed.status) == ("soft", "4.0.0")
    assert "426 connection timed out" in delayed.reason


def test_a_dsn_that_reports_success_changes_nothing() -> None:
    relayed = samples.postfix_dsn(VERP, "alice@readers.example", action="relayed", status="2.0.0")
    assert parse(relayed, OURS).kind == "plain"


@pytest.mark.parametrize(
    ("name", "message", "where"),
    [
        ("RFC 5965 B.2", samples.rfc5965_arf("fbl@example.org", VERP, "a@b.example",
                                             f"mailto:{MAILTO}?subject=unsubscribe"), ENV),
        ("Yahoo", samples.yahoo_arf(VERP, "alice@yahoo.example", "mailto:newsletter@example.org"),
         ENV),
        ("AOL, redacted", samples.aol_redacted_arf(f"mailto:{MAILTO}?subject=unsubscribe"),
         MAILTO_TOKEN),
        ("Microsoft JMRP", samples.microsoft_jmrp("alice@outlook.example",
                                                  f"mailto:{MAILTO}?subject=unsubscribe"),
         MAILTO_TOKEN),
        ("ReturnPathFBL", samples.returnpath_fbl(VERP, "alice@terra.example"), ENV),
    ],
)  # fmt: skip
def test_complaints_in_each_providers_format_name_the_reader_by_a_token(
    name: str, message: bytes, where: str
) -> None:
    found = parse(message, OURS)
    assert found.kind == "complaint", name
    assert found.status == "abuse" and where in found.reported, (name, found)


def test_apple_mail_unsubscribe_is_plain_mail_to_the_tokenised_mailto() -> None:
    found = parse(samples.apple_mail_unsubscribe("alice@icloud.example", MAILTO), OURS)
    assert (found.kind, found.tokens) == ("plain", (MAILTO_TOKEN,))


def test_only_our_own_addresses_give_tokens() -> None:
    elsewhere = samples.postfix_dsn(f"bounces+{ENV}@evil.example", "alice@readers.example")
    other_local = samples.postfix_dsn(f"postmaster+{ENV}@lists.example", "a@readers.example")
    assert parse(elsewhere, OURS).tokens == () and parse(other_local, OURS).tokens == ()


def test_original_recipient_is_reported_but_never_a_token() -> None:
    found = parse(samples.postfix_dsn(VERP, "a@r.example", original="victim@readers.example"), OURS)
    assert found.tokens == (ENV,) and "victim@readers.example" in found.claimed


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n--b--\r\n",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: message/feedback-report\r\n\r\nVersion: 1\r\n--b--\r\n",
    ],
)
def test_malformed_reports_are_unparseable_and_never_raise(message: bytes) -> None:
    found = parse(message, OURS)
    assert found.kind in ("unparseable", "plain") and found.tokens == ()
    if b"report" in message:
        assert found.kind == "unparseable"


def test_a_truncated_huge_dsn_is_read_as_far_as_it_goes() -> None:
    whole = samples.postfix_dsn(VERP, "alice@readers.example")
    cut = whole[: whole.index(b"Content-Description: Undelivered Message Headers")]
    assert parse(cut, OURS).kind == "hard"
    assert parse(whole[:400], OURS).kind in ("unparseable", "plain")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_classification(data: bytes) -> None:
    found = parse(data, OURS)
    assert found.kind in ("hard", "soft", "complaint", "plain", "unparseable")
    assert all(len(line) <= 200 for line in (found.reason, found.claimed, found.status))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_inside_a_dsn_never_breaks_the_parser(noise: str) -> None:
    message = samples.postfix_dsn(VERP, "alice@readers.example").replace(
        b"Action: failed", b"Action: failed\r\n" + noise.encode("utf-8", "replace")
    )
    found = parse(message, OURS)
    assert found.kind in ("hard", "soft", "complaint", "plain", "unparseable")
    assert "\n" not in found.reason and "\t" not in found.reason
