"""Email delivery behind one small interface; the backend is chosen by configuration, never silently."""

from __future__ import annotations

import logging

from billflow.config import EmailBackend, Settings
from billflow.email.base import EmailSender

log = logging.getLogger(__name__)


def build_email_sender(settings: Settings) -> EmailSender:
    backend = settings.email_backend
    log.info("email backend: %s", backend.value)
    if backend is EmailBackend.outbox and settings.sendgrid_api_key:
        log.warning("SENDGRID_API_KEY is set but BILLFLOW_EMAIL_BACKEND=outbox: set it to sendgrid to send real email")
    if backend is EmailBackend.outbox:
        from billflow.email.outbox import OutboxSender

        return OutboxSender()
    if backend is EmailBackend.sendgrid:
        from billflow.email.sendgrid import SendGridSender

        if not settings.sendgrid_api_key:
            raise ValueError("BILLFLOW_EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        log.info(
            "sendgrid: host %s, sandbox mode %s, dynamic templates for %s",
            settings.sendgrid_api_host or "api.sendgrid.com",
            "on" if settings.sendgrid_sandbox_mode else "off",
            ", ".join(sorted(settings.sendgrid_template_ids)) or "no kind",
        )
        return SendGridSender(
            settings.sendgrid_api_key,
            host=settings.sendgrid_api_host,
            timeout_seconds=settings.email_timeout_seconds,
            sandbox=settings.sendgrid_sandbox_mode,
            template_ids=settings.sendgrid_template_ids,
        )
    if backend is EmailBackend.smtp:
        from billflow.email.smtp import SmtpSender

        log.info("smtp: %s:%d (%s)", settings.smtp_host, settings.smtp_port, settings.smtp_security)
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            timeout_seconds=settings.email_timeout_seconds,
        )
    raise NotImplementedError(f"email backend {backend.value!r} is not available yet")
