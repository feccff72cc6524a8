"""Ports on 127.0.0.1 that tests running at once (pytest-xdist workers, other people's test runs
on the same machine) cannot take from each other. It hands out numbers; it starts no server.

`free_port()` used to bind port 0, close the socket and return the number: between that close
and the moment a server bound the port, any other process could take it (EADDRINUSE), or start
its own server there (the test then talks to the wrong one). Now the port stays reserved by a
socket this process keeps bound, with SO_REUSEADDR and never listening, until the process ends:

- nothing answers there: a connection is refused at once, as from a server that is down;
- another process's bind(0) never gets it, and an outgoing connection never uses it as its
  local port (the kernel skips bound ports), and a plain bind to it fails;
- a server started for the test on that number binds and listens as usual, provided it sets
  SO_REUSEADDR, as asyncio (aiosmtpd), http.server, nginx and PostgreSQL all do on Linux.

Servers that can report their own port should rather bind port 0 (see `smtp_servers.py`).
"""

from __future__ import annotations

import socket

_RESERVED: list[socket.socket] = []  # kept open (bound, not listening) until the process ends


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens, reserved for this process (see above)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    _RESERVED.append(sock)
    port: int = sock.getsockname()[1]
    return port
