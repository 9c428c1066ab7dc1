"""An SMTP server on loopback that keeps what it receives: for tests, ``hrsync sandbox`` and the demo.

Built on aiosmtpd (in the ``sandbox``/``test`` extras). Plain SMTP by default; pass an
``ssl.SSLContext`` as ``starttls`` to offer STARTTLS, or as ``implicit_tls`` to speak
TLS from the first byte; pass ``users`` to require AUTH (PLAIN/LOGIN, after TLS when
TLS is offered); pass ``save_to`` to also write each message there as ``.eml`` and its
HTML part as ``.html``; pass ``refuse`` to answer ``RCPT TO`` those addresses with
``550 5.7.1 relaying denied``, as a relay refuses a recipient outside its domains.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from ..errors import PluginError
from .contract import LoopbackServer


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    authenticated_as: str | None = None
    message: EmailMessage = field(init=False)
    saved: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.message = message_from_bytes(self.data, policy=policy.default)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpCapture(LoopbackServer):
    """An SMTP server on loopback that keeps every message (aiosmtpd runs its own event-loop thread)."""

    scheme = "smtp"

    def __init__(self, *, starttls: ssl.SSLContext | None = None, implicit_tls: ssl.SSLContext | None = None,
                 users: dict[str, str] | None = None, save_to: Path | None = None,
                 refuse: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.save_to, self.refuse = save_to, {address.lower() for address in refuse}
        self.messages: list[Received] = []
        self.users = users or {}
        self.starttls, self.implicit_tls = starttls, implicit_tls
        self._controller = None
        self.received = threading.Condition()

    def serve(self, port: int) -> int:
        try:
            from aiosmtpd.controller import Controller
            from aiosmtpd.smtp import AuthResult, LoginPassword
        except ImportError:
            raise PluginError("The local SMTP server of the sandboxes needs aiosmtpd: "
                              "pip install 'hrsync[sandbox]'.") from None

        capture = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.lower() in capture.refuse:
                    return "550 5.7.1 relaying denied"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
                received = Received(envelope.mail_from, list(envelope.rcpt_tos),
                                    envelope.original_content or envelope.content, login)
                capture._save(received)
                with capture.received:
                    capture.messages.append(received)
                    capture.received.notify_all()
                return "250 Message accepted"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
            # handled=False: aiosmtpd answers 535 itself when the login is refused.
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs = {}
        if self.users:
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=bool(self.starttls or self.implicit_tls))
        if self.starttls:
            kwargs.update(tls_context=self.starttls, require_starttls=True)
        # aiosmtpd's Controller cannot bind port 0 and report the port, so a free one is picked first.
        port = port or _free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=self.implicit_tls,
                                      **kwargs)
        self._controller.start()
        return port

    def _save(self, received: Received) -> None:
        if self.save_to is None:
            return
        self.save_to.mkdir(parents=True, exist_ok=True)
        stem = self.save_to / f"message-{len(self.messages) + 1:03d}"
        received.saved.append(stem.with_suffix(".eml"))
        received.saved[0].write_bytes(received.data)
        html = received.message.get_body(("html",))
        if html is not None:
            received.saved.append(stem.with_suffix(".html"))
            received.saved[1].write_text(html.get_content(), encoding="utf-8")

    def shutdown(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` messages arrived (a condition, not a sleep)."""
        with self.received:
            if not self.received.wait_for(lambda: len(self.messages) >= count, timeout=timeout):
                raise TimeoutError(f"expected {count} message(s), got {len(self.messages)}")
            return list(self.messages)
