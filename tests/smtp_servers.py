"""Real aiosmtpd servers on 127.0.0.1 for the delivery tests: one that records, refuses chosen
recipients and can drop the connection, one behind STARTTLS with a self-signed certificate.
Each binds a port the kernel picks (or one reserved by `ports.free_port()`), so tests running in
parallel never fight over a number."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

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


class LocalController(Controller):
    """aiosmtpd's threaded server on 127.0.0.1: on `port`, or with port 0 on one the kernel
    picks, which no other process can be holding; `.port` is the real one once started."""

    def __init__(self, handler: Any, port: int = 0, **options: Any) -> None:
        super().__init__(
            handler, hostname="127.0.0.1", port=port, ready_timeout=READY_TIMEOUT, **options
        )

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
