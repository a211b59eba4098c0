"""SMTP delivery (stdlib smtplib in a worker thread): any other provider, or a local catcher such as Mailpit.

The Message-ID is derived from the message's idempotency key, so a provider or catcher that de-duplicates by
Message-ID sees a retried send as the same message. Outcomes follow the same rules as SendGrid: a connection
that never opened is a transient rejection, 5xx replies are permanent, 4xx transient, and a timeout or drop
once the conversation started is DeliveryUnknown.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from billflow.email.base import DeliveryRejected, DeliveryUnknown, OutgoingEmail


def build_message(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((email.from_name, email.from_email)) if email.from_name else email.from_email
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["To"] = email.to_email
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(email)
    if email.categories:
        message["X-Billflow-Categories"] = ", ".join(email.categories)
    for key, value in email.custom_args.items():
        message[f"X-Billflow-{key.removeprefix('billflow_').replace('_', '-').title()}"] = value
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


def message_id(email: OutgoingEmail) -> str:
    digest = hashlib.sha256(email.idempotency_key.encode()).hexdigest()[:32]
    domain = email.from_email.rpartition("@")[2] or "billflow.invalid"
    return f"<{digest}@{domain}>"


class SmtpSender:
    name = "smtp"
    repeat_is_harmless = False  # no idempotency key: a repeat could reach the client twice

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "none",
        timeout_seconds: float = 20.0,
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._security = security
        self._timeout = timeout_seconds

    async def send(self, email: OutgoingEmail) -> str:
        message = build_message(email)
        try:
            await asyncio.wait_for(asyncio.to_thread(self._deliver, message), timeout=self._timeout + 5)
        except TimeoutError as err:
            raise DeliveryUnknown(f"SMTP server did not answer within {self._timeout:g}s") from err
        return str(message["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        try:
            if self._security == "tls":
                return smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            return smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        except (ConnectionRefusedError, socket.gaierror, smtplib.SMTPConnectError) as err:
            raise DeliveryRejected(f"SMTP server unreachable: {err}", permanent=False) from err

    def _deliver(self, message: EmailMessage) -> None:
        smtp = self._connect()
        try:
            with smtp:
                if self._security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryRejected(f"SMTP login refused: {err.smtp_error!r}", permanent=True) from err
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            raise DeliveryRejected(
                f"SMTP refused the recipient: {err.recipients}", permanent=min(codes) >= 500
            ) from err
        except smtplib.SMTPResponseException as err:
            raise DeliveryRejected(f"SMTP {err.smtp_code}: {err.smtp_error!r}", permanent=err.smtp_code >= 500) from err
        except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as err:
            raise DeliveryUnknown(f"SMTP connection lost mid-conversation: {err}") from err
