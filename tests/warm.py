"""Warm `syndicate` processes for `run_cli`: a fork server that imports `syndicate.cli` once and
forks one child per call.

Each child is a real process of its own: its own pid, working folder, environment, standard
streams (pipes, never a terminal), file locks and exit status, and a real signal kills it. It
runs `syndicate.cli.entry()`, what the `syndicate` command and `python -m syndicate` run, after
the server has put the caller's folder, environment and argv in place. It skips only the
interpreter's start-up and the imports: about 0.45 s of CPU a process, and more than half the
suite's time when every call paid it.

What a warm child cannot show is the interpreter's own start: `python -m syndicate` as such,
cron's bare environment, the GC policy set at entry. The tests of those spawn `sys.executable`
themselves, as does every test that needs a terminal, a long-running daemon or a signal of its
own choosing. `SYNDICATE_TEST_EXEC=1` makes `run_cli` spawn a fresh interpreter every time, so
the whole suite can be run both ways.

The server is single-threaded (it forks), started once per test process, and ends with it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_server: tuple[subprocess.Popen[bytes], str] | None = None


def run(
    args: Sequence[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run([python, -m, syndicate, *args], capture_output=True, text=True)`, from a
    warm fork of the server."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(_address())
        request = json.dumps({"args": list(args), "cwd": str(cwd), "env": env}).encode()
        socket.send_fds(conn, [request], [out_w, err_w])
        os.close(out_w)
        os.close(err_w)
        out_w = err_w = -1
        reader = conn.makefile("r")
        pid = int(reader.readline())
        out, err = _drain(out_r, err_r, pid, args, timeout)
        code = int(reader.readline())
    finally:
        for fd in (out_r, err_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)
        conn.close()
    argv = [sys.executable, "-m", "syndicate", *args]
    return subprocess.CompletedProcess(argv, code, _text(out), _text(err))


def _drain(
    out_r: int, err_r: int, pid: int, args: Sequence[str], timeout: float
) -> tuple[bytes, bytes]:
    """Both streams until the child closes them (its end); SIGKILL after `timeout` seconds."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["syndicate", *args], timeout)
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _text(data: bytes) -> str:
    """As `text=True` decodes: UTF-8 here, with universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _address() -> str:
    """The server's socket, started on first use by this test process."""
    global _server
    if _server is None or _server[0].poll() is not None:
        folder = tempfile.mkdtemp(prefix="syndicate-warm-")
        path = os.path.join(folder, "socket")
        proc = subprocess.Popen(
            [sys.executable, __file__, path], cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        atexit.register(proc.kill)  # runs first (atexit is last in, first out)
        _server = (proc, path)
    return _server[1]


# -- the server --------------------------------------------------------------------------------


def serve(path: str) -> None:
    from syndicate import cli  # the work a warm child skips

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    waiting: dict[int, socket.socket] = {}  # child pid -> its caller's connection
    print("ready", flush=True)
    while True:
        listener.settimeout(0.01 if waiting else None)
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            conn = None
        if conn is not None:
            conn.settimeout(None)
            pid = _fork(conn, cli.entry)
            conn.sendall(f"{pid}\n".encode())
            waiting[pid] = conn
        _reap(waiting)


def _fork(conn: socket.socket, entry: Callable[[], None]) -> int:
    request, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
    job = json.loads(request)
    pid = os.fork()
    if pid == 0:
        _child(job, fds, entry)
    for fd in fds:
        os.close(fd)
    return pid


def _child(job: dict[str, Any], fds: list[int], entry: Callable[[], None]) -> None:
    """In the fork: the caller's streams, folder, environment and argv, then the command."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.closerange(3, 1 << 16)  # the server's socket, other callers' connections
        os.chdir(str(job["cwd"]))
        os.environ.clear()
        os.environ.update(job["env"])
        time.tzset()
        sys.argv = ["syndicate", *job["args"]]
        try:
            entry()
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:
            import traceback

            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _exit_code(value: object) -> int:
    """As the interpreter turns SystemExit into an exit status."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _reap(waiting: dict[int, socket.socket]) -> None:
    """Tell each caller whose child ended its exit status (-N: killed by signal N)."""
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            conn.close()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    serve(sys.argv[1])
