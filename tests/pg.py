"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a folder in /dev/shm (or the
temp folder), on a port of 127.0.0.1 reserved for this process (`ports.free_port()`), removed
afterwards. Skips (visibly) only where the server binaries are absent; .ci/run installs them,
so CI always runs the PostgreSQL tests.

The cluster is session-scoped, so under pytest-xdist each worker process starts its own (2-4 s;
40 MB of files plus 8 MB per test database): the multi-process tests on one worker (four
`syndicate send` processes, SIGKILLed clients, two daemons) never use up another worker's
connections or share its advisory locks, and nothing has to decide which worker stops a shared
server. Each test gets a database of its own, named after the process and a counter, so names
never repeat within a cluster."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .ports import free_port

# The cluster lives in memory (tmpfs) where there is one: each test database is some 300 small
# files to create and remove, which took 5-9 s per worker at teardown on this busy disk, 0.2 s
# in /dev/shm (about 8 MB per test database, freed when the session ends).
_MEMORY = Path("/dev/shm")


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL prefix `postgresql+psycopg://postgres@127.0.0.1:<port>/` of a fresh cluster."""
    pytest.importorskip("psycopg", reason="psycopg not installed: pip install -e '.[dev]'")
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql"
        )
    memory = _MEMORY if _MEMORY.is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="syndicate-pg-", dir=memory))
    os.chmod(root, 0o777)  # the postgres user writes here
    data, port = root / "data", free_port()
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c max_connections=60"
    started = subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                                           "-l", str(root / "log"), "-w", "-t", "300", "start"]),
                             check=False, capture_output=True, text=True)  # fmt: skip
    if started.returncode != 0:  # say why (the server's log), then leave nothing behind
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log[-3000:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/"
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


_COUNTER = iter(range(1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database in the session's cluster."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_COUNTER)}"
    dsn = postgres_server.replace("postgresql+psycopg://", "postgresql://") + "postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server + name
