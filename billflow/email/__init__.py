"""Email delivery behind one small interface; the backend is chosen by configuration, never silently."""

from __future__ import annotations

import logging

from billflow.config import EmailBackend, Settings
from billflow.email.base import EmailSender

log = logging.getLogger(__name__)


def build_email_sender(settings: Settings) -> EmailSender:
    backend = settings.email_backend
    log.info("email backend: %s", backend.value)
    if backend is EmailBackend.outbox:
        from billflow.email.outbox import OutboxSender

        return OutboxSender()
    raise NotImplementedError(f"email backend {backend.value!r} is not available yet")
