"""Per-client reminder settings: pause every reminder, a reminder policy of their own, or auto-pay (none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.columns import instant, owned_workspace_fk


class ClientSettings(SQLModel, table=True):
    """One row per client that differs from the defaults; a client without a row gets the defaults."""

    __tablename__ = "client_settings"

    client_id: int = Field(foreign_key="clients.id", primary_key=True)
    workspace_id: int = owned_workspace_fk()
    reminders_paused: bool = False
    # Auto-pay clients are charged automatically: reminding them would only confuse them.
    auto_pay: bool = False
    # A ReminderPolicy as JSON (models.workflow_io.ReminderPolicy); None: the business default.
    reminder_policy: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    updated_at: datetime = instant(nullable=False, default_now=True)
