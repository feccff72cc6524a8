"""Real aiosmtpd servers on 127.0.0.1 for the delivery tests: one that records, refuses chosen
recipients and can drop the connection, one behind STARTTLS with a self-signed certificate.
Each binds a port the kernel picks (or one reserved by `ports.free_port()`), so tests running in
parallel never fight over a number."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from .conftest import RecordingHandler

READY_TIMEOUT = 60.0  # seconds for the server thread to listen and greet; aiosmtpd's default is
# 1 s, which a machine busy with other test workers can miss ("SMTP server failed to start")


class Sink(RecordingHandler):
    """Records messages with the connection (peer) that carried them; drops chosen senders'
    connections at MAIL FROM (before anything is accepted) a given number of times."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []
        self.drop_at: set[int] = set()  # drop the connection at these MAIL commands (1-based)
        self.mails = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        self.mails += 1
        if self.mails in self.drop_at:
            server.transport.close()
            return "421 4.4.2 dropping the connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)

    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.messages for rcpt in rcpts]


class PipeliningSink(Sink):
    """A `Sink` that offers PIPELINING (RFC 2920) in its EHLO answer, as Postfix does (aiosmtpd
    reads pipelined commands in order but does not say so), and keeps every chunk of bytes it
    reads off the wire (with `Wiretap`), so a test can see which commands came in one write."""

    def __init__(self, *, offer: bool = True) -> None:
        super().__init__()
        self.offer = offer
        self.chunks: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname  # this hook's duty in aiosmtpd's EHLO
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.offer else responses

    def grouped(self) -> int:
        """Chunks that carried a whole envelope, MAIL FROM to DATA, in one write."""
        return sum(
            1 for c in self.chunks if re.match(rb"MAIL FROM:.*\r\nRCPT TO:.*\r\nDATA\r\n$", c)
        )


class Wiretap(SMTP):
    """aiosmtpd's protocol, handing each chunk it receives to its handler's `chunks` first."""

    def data_received(self, data: bytes) -> None:
        self.event_handler.chunks.append(bytes(data))
        super().data_received(data)


class LocalController(Controller):
    """aiosmtpd's threaded server on 127.0.0.1: on `port`, or with port 0 on one the kernel
    picks, which no other process can be holding; `.port` is the real one once started."""

    def __init__(self, handler: Any, port: int = 0, **options: Any) -> None:
        super().__init__(
            handler, hostname="127.0.0.1", port=port, ready_timeout=READY_TIMEOUT, **options
        )

    def factory(self) -> SMTP:
        if isinstance(self.handler, PipeliningSink):
            return Wiretap(self.handler, **self.SMTP_kwargs)
        return super().factory()  # type: ignore[no-any-return]

    def _trigger_server(self) -> None:
        """Learn the bound port before aiosmtpd's first connection to its own server."""
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def serving(handler: Sink, port: int = 0, **options: Any) -> Iterator[int]:
    """Serve `handler` on `port` (0: a port the kernel picks) and yield the port."""
    controller = LocalController(handler, port=port, **options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syndicate test CA")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
