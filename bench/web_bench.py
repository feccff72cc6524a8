"""One-click unsubscribes against one `syndicate serve`: N RFC 8058 POSTs from C concurrent
clients, on SQLite and on PostgreSQL.

    .venv/bin/python bench/web_bench.py                       # 10,000 from 100 clients, both
    .venv/bin/python bench/web_bench.py --count 2000 --databases sqlite --repeat 1

Each run starts from N active subscribers, starts a real `syndicate serve` process on
127.0.0.1 and has C clients (each its own keep-alive connection, as many mail providers would
be) POST `List-Unsubscribe=One-Click` to every subscriber's unsubscribe URL, as Gmail does.
Reported: throughput, p50 and p99 latency, errors (anything but 200) and lost (addresses still
active afterwards). PostgreSQL runs in a throwaway cluster (initdb + pg_ctl, as tests/pg.py).
Timings are printed and written, never asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import ROOT, Report, arguments

from syndicate.models import Subscriber
from syndicate.store import Store
from syndicate.tokens import make_token

SECRET = "bench-secret"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields a database URL."""
    found = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))), None
    )
    if found is None:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    bin_dir, root = Path(found).parent, Path(tempfile.mkdtemp(prefix="syndicate-bench-pg-"))
    os.chmod(root, 0o777)
    data, port = root / "data", free_port()
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -h 127.0.0.1 -k {root} -c max_connections=200"
    subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                                 "-l", str(root / "log"), "-w", "start"]),
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def make_site(folder: Path, database: str, port: int) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    base = f"http://127.0.0.1:{port}/"
    (folder / "config.toml").write_text(
        f'[site]\ntitle = "Bench"\nurl = "{base}"\n\n[paths]\ndatabase = "{database}"\n\n'
        f'[web]\nlisten = "127.0.0.1:{port}"\nstatic = false\n'
    )
    (folder / "feeds").mkdir()
    return folder / "config.toml"


def addresses(count: int) -> list[str]:
    return [f"reader{n:06d}@example.net" for n in range(count)]


def reset(database: str, people: list[str]) -> None:
    """Every address active, as before a run."""
    store = Store.open(database)
    try:
        store.upsert_subscribers(
            [Subscriber(a) for a in people], datetime.now(UTC), resubscribe=True
        )
    finally:
        store.close()


def still_active(database: str) -> int:
    store = Store.open(database)
    try:
        return sum(p.status == "active" for p in store.subscribers())
    finally:
        store.close()


@contextlib.contextmanager
def serving(config: Path, port: int) -> Iterator[None]:
    env = {**os.environ, "SYNDICATE_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "syndicate", "--config", str(config), "-q",
                                "serve"], env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/unsubscribe", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("syndicate serve did not start") from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


async def one_click(urls: list[str], clients: int) -> tuple[float, list[float], int]:
    """POST every URL once from `clients` concurrent clients: (seconds, latencies, errors)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=120) as http:
            while not queue.empty():
                url = queue.get_nowait()
                started = time.perf_counter()
                try:
                    answer = await http.post(url, content=b"List-Unsubscribe=One-Click", headers={
                        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
                    errors += answer.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, errors


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def case(report: Report, label: str, database: str, work: Path, args: object) -> None:
    count, clients, repeat = args.count, args.clients, args.repeat  # type: ignore[attr-defined]
    port = free_port()
    config = make_site(work / f"web-{label}", database, port)
    people = addresses(count)
    tokens = [make_token(SECRET, a) for a in people]
    urls = [f"http://127.0.0.1:{port}/unsubscribe?token={t}" for t in tokens]
    rates, p50s, p99s, errors, lost = [], [], [], [], []
    with serving(config, port):
        for _ in range(repeat):
            reset(database, people)
            assert still_active(database) == count
            seconds, latencies, failed = asyncio.run(one_click(urls, clients))
            rates.append(count / seconds)
            p50s.append(percentile(latencies, 0.50) * 1000)
            p99s.append(percentile(latencies, 0.99) * 1000)
            errors.append(failed)
            lost.append(still_active(database))
            print(f"{label}: {count / seconds:.0f}/s p50 {p50s[-1]:.1f} ms p99 {p99s[-1]:.1f} ms "
                  f"errors {failed} lost {lost[-1]}", flush=True)  # fmt: skip
    what = f"{count:,} one-click unsubscribes, {clients} clients"
    report.row(f"{label}: {what}, throughput", rates, "req/s")
    report.row(f"{label}: latency p50", p50s, "ms")
    report.row(f"{label}: latency p99", p99s, "ms")
    report.row(f"{label}: errors (answers other than 200)", [float(e) for e in errors], "requests")
    report.row(f"{label}: lost (still active afterwards)", [float(x) for x in lost], "addresses")
    report.target(f"{label}: 0 errors and 0 lost in every run", f"{max(errors)} errors, "
                  f"{max(lost)} lost", max(errors) == 0 and max(lost) == 0)  # fmt: skip


def main() -> None:
    args = arguments(__doc__, count=10_000, clients=100, databases="sqlite,postgresql")
    report = Report("Web side: one-click unsubscribe (`syndicate serve`)")
    report.notes.append(
        f"One `syndicate serve` process (uvicorn, one worker) on 127.0.0.1; {args.clients} "
        "httpx clients in one process on the same 2 cores, each with its own keep-alive "
        "connection; every run starts from all addresses active."
    )
    for label in args.databases.split(","):
        if label == "sqlite":
            database = f"sqlite:///{args.work / 'web-sqlite.db'}"
            Path(args.work / "web-sqlite.db").unlink(missing_ok=True)
            case(report, "SQLite", database, args.work, args)
        else:
            with postgres() as url:
                case(report, "PostgreSQL", url, args.work, args)
    report.write(args.json)
    print(f"(run from {ROOT})")


if __name__ == "__main__":
    main()
