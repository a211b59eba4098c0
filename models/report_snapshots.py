"""Report figures of closed days, stored once computed (the overview's DSO trend: billflow/services/report_snapshots).

A snapshot records the newest payment, credit note and invoice ids it saw; it is reused only while no row added
since is dated before its cutoff (nothing can change a closed day's figures otherwise) and for at most a day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, workspace_fk


class ReportSnapshot(SQLModel, table=True):
    __tablename__ = "report_snapshots"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "as_of", "zone", "params", name="uq_report_snapshots_workspace_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()  # each workspace's figures are its own
    kind: str = Field(max_length=32)  # "dso"
    as_of: date
    zone: str = Field(max_length=64)
    params: str = Field(default="", max_length=100)  # e.g. "days=90"
    payload: dict[str, Any] = jsonb()
    payments_max_id: int = 0
    credit_notes_max_id: int = 0
    invoices_max_id: int = 0
    email_messages_max_id: int = 0
    computed_at: datetime = instant(nullable=False, default_now=True)
