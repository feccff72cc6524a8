"""SMTP PIPELINING (RFC 2920) against a real aiosmtpd server on 127.0.0.1 that offers it (or
not), reading the bytes off the wire: each message's MAIL FROM, RCPT TO and DATA in one write
where the server offers it and `[smtp] pipelining` is on, one command per round trip otherwise;
refusals inside a pipelined group recorded per message as without pipelining (4xx deferred,
5xx failed and bounced, content refused failed, a refused sender stops the batch), and the
connection carrying on after each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syndicate import pipeline

from .conftest import NOW
from .smtp_servers import PipeliningSink, serving
from .test_smtp_delivery import EVERYONE, READERS, ledger, smtp_site, statuses


@pytest.mark.parametrize(
    ("offered", "wanted", "grouped"),
    [(True, True, 13), (True, False, 0), (False, True, 0)],
    ids=["offered", "turned-off", "not-offered"],
)
def test_pipelining_only_where_offered_and_wanted(
    sample: Path, offered: bool, wanted: bool, grouped: int
) -> None:
    sink = PipeliningSink(offer=offered)
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=1, pipelining=wanted)
        report = pipeline.run_once(config, NOW)
    assert report.ok and report.sent == 13
    assert sorted(sink.recipients()) == EVERYONE
    assert set(ledger(config).values()) == {("sent", 1)}
    assert sink.grouped() == grouped
    if not grouped:  # every command waited for the answer to the one before
        assert not [c for c in sink.chunks if c.count(b"\r\n") > 1 and b"RCPT TO" in c]
    assert len(set(sink.peers)) == 1  # one connection throughout


class Refusing(PipeliningSink):
    """Refuses chosen recipients at RCPT (`refuse`) and chosen messages after their data."""

    def __init__(self, *, offer: bool) -> None:
        super().__init__(offer=offer)
        self.content: set[str] = set()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if set(envelope.rcpt_tos) & self.content:
            return "554 5.7.1 message content rejected"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("offered", [True, False], ids=["pipelined", "one-by-one"])
def test_refusals_in_a_pipelined_group_are_recorded_per_message(
    sample: Path, offered: bool
) -> None:
    sink = Refusing(offer=offered)
    sink.refuse = {
        READERS[0]: "451 4.3.0 try again later",
        READERS[1]: "550 5.1.1 no such user",
        READERS[2]: "421 4.7.0 too busy, closing",
    }
    sink.content = {READERS[3]}
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=1, retry_after=60)
        report = pipeline.run_once(config, NOW)
    assert sorted(report.failed) == [READERS[1], READERS[3]]  # final: a 5xx
    assert sorted(report.deferred) == [READERS[0], READERS[2]]  # 4xx: retried later
    assert report.sent == 9
    rows = ledger(config)
    assert rows[READERS[0]] == rows[READERS[2]] == ("pending", 1)
    assert rows[READERS[1]] == rows[READERS[3]] == ("failed", 1)
    people = statuses(config)
    assert people[READERS[1]] == "bounced"  # the address refused
    assert people[READERS[3]] == "active"  # the content refused: not the address's fault
    assert sorted(sink.recipients()) == sorted(set(EVERYONE) - set(READERS[:4]))
    assert sink.grouped() == (13 if offered else 0)
    assert len(set(sink.peers)) <= 2  # the 421 closed one connection; the next carried on


class RefusingSender(PipeliningSink):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        return "553 5.7.1 sender not allowed"


def test_a_sender_refused_in_a_pipelined_group_stops_the_batch(sample: Path) -> None:
    sink = RefusingSender()
    with serving(sink) as port:
        config = smtp_site(sample, port, max_connections=1)
        report = pipeline.run_once(config, NOW)
    assert report.sent == 0 and report.failed == () and not report.ok
    assert set(ledger(config).values()) == {("pending", 0)}  # no attempt counted
    assert re.search(rb"^MAIL FROM:.*\r\nRCPT TO:.*\r\nDATA\r\n$", sink.chunks[1], re.M)
    assert sink.messages == []
