"""Run `opendkim-testmsg` (OpenDKIM's library, verifying) against a test zone file.

Run inside fresh mount and network namespaces (`unshare --mount --net`, see tests/dkimcheck.py):
brings the namespace's own loopback up, serves the zone's TXT records with dnspython on its
127.0.0.1:53, bind-mounts a resolv.conf naming that server over /etc/resolv.conf (visible only
in this namespace), then verifies the message on stdin. Exits with opendkim-testmsg's status
(0: the signature verified); its complaints go to stderr. Nothing leaves the namespace.

Usage: dkim_dns.py ZONE_FILE < message
"""

from __future__ import annotations

import fcntl
import socket
import struct
import subprocess
import sys
import tempfile
import threading

import dns.message
import dns.rcode
import dns.zone

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def answer(zone: dns.zone.Zone, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    rrset = zone.get_rrset(question.name, question.rdtype)
    if rrset is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    else:
        response.answer.append(rrset)
    return response.to_wire()


def serve(zone: dns.zone.Zone, sock: socket.socket) -> None:
    while True:
        wire, peer = sock.recvfrom(4096)
        sock.sendto(answer(zone, wire), peer)


def main() -> int:
    zone = dns.zone.from_file(sys.argv[1], relativize=False)
    loopback_up()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    threading.Thread(target=serve, args=(zone, sock), daemon=True).start()
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as resolv:
        resolv.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        resolv.flush()
        subprocess.run(["mount", "--bind", resolv.name, "/etc/resolv.conf"], check=True)
        done = subprocess.run(["opendkim-testmsg"], stdin=sys.stdin, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
