"""Zero-setup email: the rendered message stays in the database (email_messages); `billflow outbox` prints it."""

from __future__ import annotations

import hashlib

from billflow.email.base import OutgoingEmail


class OutboxSender:
    name = "outbox"
    repeat_is_harmless = True  # nothing is delivered anywhere: the row in email_messages is the message

    async def send(self, email: OutgoingEmail) -> str:
        # Nothing leaves the machine: the claimed row already holds the whole rendered message.
        return "outbox-" + hashlib.sha256(email.idempotency_key.encode()).hexdigest()[:24]
