"""Benchmark: a million subscribers, on SQLite and on PostgreSQL (issue 18, item 4).

For each database, with real `syndicate` processes (wall time and the process's peak RSS):
  1. `syndicate subscribers import` of a CSV of N addresses (default 1,000,000 over 2,000
     domains, plus 0.1% duplicates in another case and 0.1% bad rows): validation included;
  2. `syndicate digest` freezing a 50-article digest for them (its SMTP port closed, so it
     only freezes; the pass also picks up and publishes the 50 articles);
  3. `syndicate send` of that whole digest into Postfix's smtp-sink on 127.0.0.1 over
     `--connections` connections (every message counted by the sink);
  4. the same import, freeze and send at `--small` subscribers (10,000), for the send rate the
     million is compared with.
`--tail N` sends only the last N messages of the million (the others marked sent first): the
rate at the end of a million-row ledger, where a claim that skipped sent rows was slowest,
`make bench` sends the last 100,000 (about 4 minutes per database instead of 20).
The million case runs once (a repeat would double a 10-minute send); the figures say so.
PostgreSQL runs in a throwaway cluster (`web_bench.postgres`); its server's memory is not in
the peak, which is syndicate's own process.

Run:  .venv/bin/python bench/million.py [--subscribers 100000] [--db sqlite,postgres]
          [--connections 4] [--small 10000] [--tail 0] [--work DIR] [--json F]
"""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from common import NOW, Report, arguments, generate, run_cli, site
from delivery import Sink, configure, ensure_postfix, free_port, sink

TARGET_IMPORT, TARGET_FREEZE, TARGET_PEAK = 60.0, 30.0, 200.0  # s, s, MB
DOMAINS = 2_000


def subscriber_csv(work: Path, count: int) -> tuple[Path, int, int]:
    """`count` distinct valid addresses (cached), plus a duplicate (another case) and a bad row
    every 1,000 rows; returns the file, the duplicates and the bad rows."""
    path = work / f"subscribers-{count}.csv"
    extra = count // 1000
    if not path.exists():
        rng = random.Random(18)
        domains = [f"mail{d}.example{d % 7}.net" for d in range(DOMAINS)]
        with path.open("w") as out:
            out.write("email,name\n")
            for n in range(count):
                address = f"reader.{n:07d}@{domains[rng.randrange(DOMAINS)]}"
                out.write(f"{address},Reader {n}\n")
                if n % 1000 == 999:
                    out.write(f"{address.upper()},Again\nnot-an-address-{n},Bad\n")
    return path, extra, extra


def set_database(folder: Path, url: str) -> None:
    config = folder / "config.toml"
    text = re.sub(r'database = "[^"]*"', f'database = "{url}"', config.read_text())
    config.write_text(text)


@contextlib.contextmanager
def database(kind: str, work: Path) -> Iterator[str]:
    """A database URL prefix: a folder for SQLite files, or a fresh PostgreSQL cluster."""
    if kind == "sqlite":
        yield "sqlite"
        return
    from web_bench import postgres

    with postgres() as url:
        yield url


def fresh_database(kind: str, base: str, name: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'state' / 'syndicate.db'}"
    import psycopg

    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}"


class Case:
    """One publication with `count` subscribers on one database, through import, freeze, send."""

    def __init__(self, work: Path, kind: str, base: str, count: int) -> None:
        corpus = generate(work / "corpus-digest-50", 50, markdown_every=0)
        self.count, self.kind = count, kind
        self.folder = site(corpus, work / f"million-{kind}-{count}")
        configure(self.folder, free_port(), 1)  # nothing listens there: digest only freezes
        self.url = fresh_database(kind, base, f"million_{count}", self.folder)
        set_database(self.folder, self.url)

    def import_csv(self, csv: Path) -> tuple[float, float]:
        # its bad rows, one line each on stderr, are the file's (a known 0.1%)
        return run_cli(self.folder, "subscribers", "import", str(csv), stderr=subprocess.DEVNULL)

    def freeze(self) -> tuple[float, float]:
        return run_cli(self.folder, "digest", "--now", NOW)

    def send(self, box: Sink, connections: int, tail: int) -> tuple[float, float, int]:
        """Send the digest (with `tail`, only its last `tail` messages: the rest is marked
        sent first, as if a run had sent them); returns seconds, peak MB and messages."""
        configure(self.folder, box.port, connections)
        set_database(self.folder, self.url)
        messages = self.count
        if 0 < tail < self.count:
            messages = tail
            engine = sa.create_engine(self.url)
            with engine.begin() as conn:
                first = conn.scalar(sa.text("SELECT email FROM deliveries ORDER BY email "
                                            f"LIMIT 1 OFFSET {self.count - tail}"))  # fmt: skip
                conn.execute(sa.text("UPDATE deliveries SET status = 'sent' WHERE email < :e"),
                             {"e": first})  # fmt: skip
            if self.kind == "postgres":  # what autovacuum does over a send that marks rows one
                with engine.connect() as conn:  # by one; not left to race the timed send
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("VACUUM ANALYZE deliveries")
            engine.dispose()
        before = box.count()
        seconds, peak = run_cli(self.folder, "send")
        box.expect(before, messages, f"syndicate send ({self.kind}, {messages:,})")
        return seconds, peak, messages


def measure(report: Report, kind: str, case: Case, csv: Path, box: Sink, connections: int,
            label: str, tail: int = 0) -> dict[str, float]:  # fmt: skip
    """Import, freeze and send; rows in the report; returns the figures."""
    n = f"{case.count:,}"
    seconds, peak = case.import_csv(csv)
    report.row(f"{kind}, {n} ({label}): import CSV", [seconds], "s", f"peak {peak:.0f} MB")
    report.row(f"{kind}, {n}: import rate", [case.count / seconds], "rows/s")
    freeze, freeze_peak = case.freeze()
    report.row(f"{kind}, {n}: digest (freeze)", [freeze], "s", f"peak {freeze_peak:.0f} MB")
    send, send_peak, messages = case.send(box, connections, tail)
    rate = messages / send
    what = "the whole digest" if messages == case.count else f"its last {messages:,} messages"
    report.row(f"{kind}, {n}: send into smtp-sink, {connections} connections", [rate], "msg/s",
               f"{what}: {send:.0f} s, peak {send_peak:.0f} MB")  # fmt: skip
    return {"import": seconds, "import_peak": peak, "freeze": freeze, "freeze_peak": freeze_peak,
            "send_peak": send_peak, "rate": rate, "sent": messages}  # fmt: skip


def targets(report: Report, kind: str, big: dict[str, float], small: float, count: int) -> None:
    n = f"{count:,}"
    report.target(f"{kind}: import of {n} from CSV <= 60 s (validation included)",
                  f"{big['import']:.1f} s", big["import"] <= TARGET_IMPORT)  # fmt: skip
    report.target(f"{kind}: freeze for {n} < 30 s", f"{big['freeze']:.1f} s",
                  big["freeze"] < TARGET_FREEZE)  # fmt: skip
    peak = max(big["import_peak"], big["freeze_peak"], big["send_peak"])
    report.target(f"{kind}: peak memory < 200 MB during import, freeze and send ({n})",
                  f"{big['import_peak']:.0f} / {big['freeze_peak']:.0f} / "
                  f"{big['send_peak']:.0f} MB", peak < TARGET_PEAK)  # fmt: skip
    ratio = big["rate"] / small
    part = "" if big["sent"] == count else f", its last {big['sent']:,.0f} messages"
    # the target guards against a fall with the ledger's size: a faster send meets it
    report.target(f"{kind}: send rate at {n} within 10% of the rate at 10,000",
                  f"{big['rate']:,.0f} vs {small:,.0f} msg/s ({ratio:.0%}{part})",
                  ratio >= 0.90)  # fmt: skip


def main() -> None:
    args = arguments(__doc__, subscribers=1_000_000, db="sqlite,postgres", connections=4,
                     small=10_000, tail=0)  # fmt: skip
    report = Report("A million subscribers")
    ensure_postfix()
    csv_big, dups, bad = subscriber_csv(args.work, args.subscribers)
    csv_small = subscriber_csv(args.work, args.small)[0]
    report.notes.append(
        f"{args.subscribers:,} addresses over {DOMAINS:,} domains, plus {dups:,} duplicates "
        f"(another case) and {bad:,} bad rows; one run each (no repeats: the million's send "
        f"alone takes minutes); send over {args.connections} connections ([smtp] "
        "max_connections); peak = the syndicate process's peak RSS (PostgreSQL's server not "
        "included); the digest time includes picking up and publishing 50 articles"
    )
    with sink(args.work) as box:
        for kind in args.db.split(","):
            started = time.perf_counter()
            with database(kind, args.work) as base:
                small_case = Case(args.work, kind, base, args.small)
                small = measure(report, kind, small_case, csv_small, box, args.connections, "base")
                big_case = Case(args.work, kind, base, args.subscribers)
                big = measure(report, kind, big_case, csv_big, box, args.connections, "big",
                              args.tail)  # fmt: skip
                targets(report, kind, big, small["rate"], args.subscribers)
            for case in (small_case, big_case):
                shutil.rmtree(case.folder, ignore_errors=True)
            report.notes.append(f"{kind}: the case took {time.perf_counter() - started:.0f} s")
            report.write(args.json)
    report.write(args.json)


if __name__ == "__main__":
    main()
