"""Report delivery: an e-mail (text and HTML, with every line as a CSV), sent over SMTP or dropped in an outbox.

Data flow: after each run (dry runs excepted) :func:`deliver` decides from the
connection's ``report.send`` policy whether to send, builds the message from the
stored report (:mod:`hrsync.report.render`; lists capped at :data:`MAIL_LIMIT`, all of
them in the attached :mod:`~hrsync.report.changes_csv`), and sends it with STARTTLS, implicit TLS or
plain SMTP, optional AUTH, timeouts and retries (tenacity). Without SMTP settings the
message is written as an ``.eml`` file into the host's outbox folder - and so is a
message SMTP would not take, so no report is ever lost (``hrsync report N --send``
sends it again). The outbox holds personal data: folder 0700, files 0600.
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import itertools
import logging
import os
import smtplib
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..config.load import Config, SmtpConfig
from ..errors import DeliveryError
from ..network import network_cause
from ..printable import printable
from ..results import RunReport
from .changes_csv import attachment_name, changes_csv
from .render import render_html, render_text, report_command, subject

log = logging.getLogger("hrsync.report.mail")

#: Lines per list in the e-mail's body: enough to read, and the attached CSV holds every line.
MAIL_LIMIT = 20


@dataclass
class Delivery:
    """What happened to one report: ``sent``; ``outbox`` (no SMTP configured; with its path); ``failed``
    (SMTP refused it: saved to the outbox, with its path); ``lost`` (neither sent nor saved); or
    ``skipped`` (with why)."""

    how: str
    detail: str = ""
    path: Path | None = None

    @property
    def delivered(self) -> bool:
        """Whether the report reached where it was meant to (sent, or filed because no SMTP is set)."""
        return self.how in ("sent", "outbox", "skipped")


def build_message(report: RunReport, sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(report)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="hrsync.local")
    message["X-Hrsync-Connection"] = report.connection
    if report.run_id:
        message["X-Hrsync-Run"] = str(report.run_id)
    table = changes_csv(report)
    name = attachment_name(report) if table else ""
    message.set_content(render_text(report, limit=MAIL_LIMIT, attachment=name))
    message.add_alternative(render_html(report, limit=MAIL_LIMIT, attachment=name), subtype="html")
    if table:
        message.add_attachment(table, maintype="text", subtype="csv", filename=name, params={"charset": "utf-8"})
    return message


def should_send(report: RunReport, policy: str) -> bool:
    if policy == "always":
        return True
    if policy == "attention":
        return report.needs_attention
    return report.needs_attention or report.has_changes


_TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPDataError,
              ConnectionError, TimeoutError)


def _session(smtp: SmtpConfig, action, *, timeout: float | None = None) -> None:
    """Connect (TLS as configured), log in when a user is set, then run ``action(client)``."""
    context = ssl.create_default_context(cafile=smtp.ca_file) if smtp.ca_file else ssl.create_default_context()
    timeout = timeout or smtp.timeout
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            _login(client, smtp.username, smtp.password.reveal() if smtp.password else "")
        action(client)


def _login(client: smtplib.SMTP, user: str, password: str) -> None:
    """Log in. smtplib encodes every AUTH exchange as ASCII (its UnicodeEncodeError would quote a character of
    the password and its position); AUTH PLAIN carries UTF-8 (RFC 4616), so a login beyond ASCII is sent so."""
    if user.isascii() and password.isascii():
        client.login(user, password)
        return
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise DeliveryError("host.smtp.username or host.smtp.password holds characters beyond ASCII, which only "
                            "AUTH PLAIN carries, and this server does not offer it; use an ASCII password.")
    code, answer = client.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode())
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def send_smtp(message: EmailMessage, smtp: SmtpConfig, *, attempts: int = 3, wait_seconds: float = 2.0) -> str:
    """Send ``message``; raises DeliveryError when no recipient took it. Returns the recipients the server
    refused while taking it for the others, with its reasons ("" when none)."""
    refused: dict[str, tuple[int, bytes]] = {}

    @retry(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=wait_seconds, max=60),
           retry=retry_if_exception_type(_TRANSIENT), reraise=True)
    def attempt() -> None:
        _session(smtp, lambda client: refused.update(client.send_message(message)))

    _explained(smtp, attempt)
    return "; ".join(f"{who}: {_said(*why)}" for who, why in refused.items())


def probe_smtp(smtp: SmtpConfig, recipients: Sequence[str] = ()) -> None:
    """Connect and log in as a report would, then offer the envelope (``MAIL FROM``, ``RCPT TO`` each recipient)
    and take it back (``RSET``): nothing is sent (for ``hrsync check``: in seconds)."""

    def envelope(client: smtplib.SMTP) -> None:
        if not recipients:
            client.noop()
            return
        code, answer = client.mail(smtp.sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, answer, smtp.sender)
        refused = {}
        for recipient in recipients:
            code, answer = client.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, answer)
        client.rset()
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

    _explained(smtp, lambda: _session(smtp, envelope, timeout=min(smtp.timeout, 5.0)))


def _said(code: int, answer: bytes | str) -> str:
    """The server's reply as one printable line: ``550 5.7.1 relaying denied``."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return printable(f"{code} {' '.join(text.split())}")


def _explained(smtp: SmtpConfig, call) -> None:
    server = f"smtp://{smtp.host}:{smtp.port}"
    try:
        call()
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"The SMTP server refused the login for {smtp.username} ({exc.smtp_code}); check "
                            "host.smtp.username and host.smtp.password.") from None
    except smtplib.SMTPRecipientsRefused as exc:
        # The server is reachable and talks: host, port and TLS are fine; the address or the relay rules are not.
        each = "; ".join(f"{who}: {_said(*why)}" for who, why in exc.recipients.items())
        raise DeliveryError(f"The SMTP server {server} refused the recipient(s) {each}. Check the connection's "
                            "report.recipients, and that the server relays for host.smtp.sender (a relay often "
                            "wants a login: host.smtp.username).") from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(f"The SMTP server {server} refused the sender {exc.sender} "
                            f"({_said(exc.smtp_code, exc.smtp_error)}); check host.smtp.sender.") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP through {server} failed ({network_cause(exc)}: {exc}); "
                            "check host.smtp (host, port, security, ca_file).") from None
    except UnicodeError:  # its words quote a character of what was sent and its position: never shown
        raise DeliveryError(f"SMTP through {server} failed: a value of host.smtp holds a "
                            "character the SMTP exchange cannot carry (ASCII only).") from None


def write_outbox(message: EmailMessage, outbox: Path, report: RunReport) -> Path:
    """Write the report into ``outbox`` as a new ``.eml``, whole or not at all; raises OSError.

    The outbox may be shared: the file is written under a fresh name (``mkstemp``: ``O_EXCL``, never through a
    symbolic link), then hard-linked to its final name, which never replaces anything already there (a link
    planted at that name included): a taken name gets a counter.
    """
    if outbox.is_symlink():
        raise OSError(errno.ELOOP, f"{outbox} is a symbolic link; hrsync does not write through one - name the real "
                                   "folder in host.outbox")
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    fd, temporary = tempfile.mkstemp(prefix=".writing-", suffix=".eml", dir=outbox)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(message))
        name = f"{report.connection}-{report.run_id or stamp}-{stamp}"
        for attempt in itertools.count():
            path = outbox / f"{name}{f'-{attempt}' if attempt else ''}.eml"
            try:
                os.link(temporary, path)
                return path
            except FileExistsError:
                continue
    finally:
        os.unlink(temporary)  # a file half-written on a full disk is not left behind


def deliver(config: Config, report: RunReport, recipients: Sequence[str], policy: str) -> Delivery:
    """Send (or file) the report of one run according to the connection's settings."""
    if not should_send(report, policy):
        return Delivery("skipped", f"nothing to report (report.send: {policy})")
    sender = config.smtp.sender if config.smtp else "hrsync@localhost"
    if not recipients and config.smtp:
        return Delivery("skipped", "no report.recipients configured")
    message = build_message(report, sender, recipients or ["(no recipients configured)"])
    try:
        if config.smtp is None:
            path = write_outbox(message, config.outbox, report)
            return Delivery("outbox", f"report written to {path} (no host.smtp configured)", path)
    except OSError as exc:
        return Delivery("lost", f"the report could not be written to {config.outbox}: {exc.strerror}")
    try:
        try:
            refused = send_smtp(message, config.smtp)
        except DeliveryError:
            raise
        except Exception as exc:  # the report must still reach the outbox; the error's words may quote a secret
            raise DeliveryError(f"Sending failed unexpectedly ({type(exc).__name__}).") from None
    except DeliveryError as exc:
        try:
            path = write_outbox(message, config.outbox, report)
        except OSError as write_error:
            return Delivery("lost", f"{exc} It could not be saved either ({config.outbox}: {write_error.strerror}).")
        again = f"`{report_command(report, config.path, '--send')}`" if report.run_id else "sending it by hand"
        return Delivery("failed", f"{exc} The report was saved to {path}; send it again with {again}.", path)
    if refused:
        return Delivery("sent", f"report e-mailed, but the SMTP server refused the recipient(s) {refused}; check "
                                "the connection's report.recipients")
    return Delivery("sent", f"report e-mailed to {', '.join(recipients)}")
