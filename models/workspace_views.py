"""What the API and the CLI show of a workspace (issue 13): WorkspaceOut, and WorkspaceDetail with its numbering.

Pure pydantic (no SQLAlchemy; the table is models.workspaces.Workspace, which re-exports WorkspaceOut), so
`billflow workspace show` and `workspace list --json` build them from psycopg rows without the ORM (issue 11,
item 15). Secrets never reach these models: the logo is shown by its size, a workspace's own Stripe keys by the
masked hints stored beside their sealed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from models.numbering_rules import NumberingSeriesOut
from models.reminder_policy import ReminderPolicy

if TYPE_CHECKING:
    from models.workspaces import Workspace

# The workspaces columns a WorkspaceOut shows under another name (the rest keep theirs; `logo` and the sealed
# secrets are never read for it).
SHOWN_AS = {
    "stripe_account_id": "stripe_account",
    "stripe_secret_key_hint": "stripe_secret_key",
    "stripe_webhook_secret_hint": "stripe_webhook_secret",
}
HIDDEN_COLUMNS = frozenset({"logo", "stripe_secret_key_sealed", "stripe_webhook_secret_sealed"})


class WorkspaceOut(BaseModel):
    """A workspace as the API and CLI show it (the logo by its size and type, not its bytes)."""

    id: int
    slug: str
    name: str
    legal_name: str | None = None
    address_line1: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    vat_id: str | None = None
    registration: str | None = None
    iban: str | None = None
    bic: str | None = None
    logo_type: str | None = None
    logo_bytes: int | None = None
    sender_name: str | None = None
    sender_email: str | None = None
    reply_to: str | None = None
    stripe_account: str | None = None
    stripe_secret_key: str | None = Field(default=None, description="masked: its kind and last four characters")
    stripe_webhook_secret: str | None = Field(default=None, description="masked")
    default_currency: str
    locale: str
    reporting_timezone: str
    payment_terms_days: int
    reminder_policy: ReminderPolicy | None = None
    invoice_footer: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceOut:
        values = workspace.model_dump(exclude=set(HIDDEN_COLUMNS))
        values["logo_bytes"] = len(workspace.logo) if workspace.logo is not None else None
        return cls.of_columns(values)

    @classmethod
    def of_columns(cls, columns: Mapping[str, Any]) -> WorkspaceOut:
        """From a workspaces row's columns without HIDDEN_COLUMNS, plus `logo_bytes` (the logo's length or None)."""
        values = {SHOWN_AS.get(name, name): value for name, value in columns.items() if name not in HIDDEN_COLUMNS}
        return cls.model_validate(values)


class WorkspaceDetail(WorkspaceOut):
    numbering: list[NumberingSeriesOut] = []
