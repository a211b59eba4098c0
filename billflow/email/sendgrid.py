"""SendGrid v3 mail send through the official client.

The client is synchronous (urllib) with no default timeout: it runs in a worker thread with the configured
timeout on the socket and on the wait. A timeout or a dropped connection is DeliveryUnknown (SendGrid may have
accepted the message), which activities/email.py records as `unknown` and never re-sends blindly; a refused
connection, 429 and 5xx are DeliveryRejected(permanent=False) (retried by the activity's policy); any other 4xx
is permanent, with SendGrid's own error message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import urllib.error
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    Category,
    ContentId,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Mail,
    MailSettings,
    ReplyTo,
    To,
)
from sendgrid.helpers.mail.sandbox_mode import SandBoxMode

from billflow.email.base import DeliveryRejected, DeliveryUnknown, OutgoingEmail

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://api.sendgrid.com"


def build_mail(email: OutgoingEmail, *, sandbox: bool, template_id: str | None) -> Mail:
    """The v3 request body: text and HTML, PDF attachments, categories, custom_args, optional dynamic template."""
    sender = From(email.from_email, email.from_name) if email.from_name else From(email.from_email)
    mail = Mail(from_email=sender, to_emails=To(email.to_email), subject=email.subject)
    if email.reply_to:
        mail.reply_to = ReplyTo(email.reply_to)
    if template_id:
        # The dynamic template wraps billflow's own rendering in the business's SendGrid design.
        mail.template_id = template_id
        mail.dynamic_template_data = {
            "subject": email.subject,
            "text": email.text,
            "html": email.html or "",
            **email.custom_args,
        }
    else:
        mail.add_content(email.text, "text/plain")
        if email.html:
            mail.add_content(email.html, "text/html")
    for attachment in email.attachments:
        mail.add_attachment(
            Attachment(
                FileContent(base64.b64encode(attachment.content).decode()),
                FileName(attachment.filename),
                FileType(attachment.content_type),
                Disposition("attachment"),
                ContentId(attachment.filename),
            )
        )
    for category in reversed(email.categories[:10]):  # at most 10; add_category prepends, so reverse
        mail.add_category(Category(category))
    for key, value in email.custom_args.items():
        mail.add_custom_arg(CustomArg(key, value))
    if sandbox:
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    return mail


def _error_message(err: HTTPError) -> str:
    body: Any = err.body
    try:
        parsed = json.loads(body)
        return "; ".join(str(e.get("message")) for e in parsed.get("errors", [])) or str(body)
    except (TypeError, ValueError, AttributeError):
        return str(body)


class SendGridSender:
    name = "sendgrid"
    repeat_is_harmless = False  # no idempotency key: a repeat could reach the client twice

    def __init__(
        self,
        api_key: str,
        *,
        host: str | None = None,
        timeout_seconds: float = 20.0,
        sandbox: bool = False,
        template_ids: dict[str, str] | None = None,
    ) -> None:
        self._client = SendGridAPIClient(api_key, host=host or DEFAULT_HOST)
        self._client.client.timeout = timeout_seconds  # the library sets none
        self._timeout = timeout_seconds
        self._sandbox = sandbox
        self._template_ids = template_ids or {}

    async def send(self, email: OutgoingEmail) -> str:
        kind = email.custom_args.get("billflow_kind", "")
        mail = build_mail(email, sandbox=self._sandbox, template_id=self._template_ids.get(kind))
        try:
            response = await asyncio.wait_for(asyncio.to_thread(self._client.send, mail), timeout=self._timeout + 5)
        except TimeoutError as err:
            raise DeliveryUnknown(f"SendGrid did not answer within {self._timeout:g}s") from err
        except HTTPError as err:
            status = int(err.status_code)
            message = f"SendGrid {status}: {_error_message(err)}"
            raise DeliveryRejected(message, permanent=not (status == 429 or status >= 500)) from err
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                raise DeliveryRejected(f"SendGrid unreachable: {reason}", permanent=False) from err
            raise DeliveryUnknown(f"SendGrid connection failed mid-request: {reason}") from err
        except (OSError, ConnectionError) as err:  # socket timeouts, resets: the request may have arrived
            raise DeliveryUnknown(f"SendGrid connection failed mid-request: {err}") from err
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        if not message_id:
            raise DeliveryUnknown(f"SendGrid answered {response.status_code} without an X-Message-Id")
        return str(message_id)
