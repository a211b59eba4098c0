"""The transactional outbox to Temporal: starts and signals written in the same transaction as the fact they
announce, then relayed to Temporal in order per workflow (billflow/runs/outbox_relay.py).

A row whose delivered_at is empty is still owed to Temporal; the relay retries it (Temporal down, a timeout)
until it is delivered or found moot (the run has closed and its on-closed handler ran).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from models.columns import instant, jsonb, workspace_fk
from models.workflow_io import InvoiceWorkflowInput, PaymentReceived


class RunOutboxMessage(SQLModel, table=True):
    __tablename__ = "run_outbox"
    __table_args__ = (
        # The relay's one query: the oldest undelivered rows, per workflow.
        Index("ix_run_outbox_pending", "workflow_id", "id", postgresql_where=text("delivered_at IS NULL")),
        # The fair-share claim: each workspace's oldest owed messages (billflow/repositories/run_outbox.py).
        Index(
            "ix_run_outbox_pending_by_workspace", "workspace_id", "id", postgresql_where=text("delivered_at IS NULL")
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The dedupe key: one fact announces once (e.g. "payment:stripe:cs_123"), however often it is retried.
    key: str = Field(max_length=255, unique=True)
    workflow_id: str = Field(max_length=255)
    workspace_id: int = workspace_fk()  # whose message: the relay takes turns over workspaces
    kind: str = Field(max_length=16)  # signal | start
    name: str = Field(max_length=64)  # the signal's name, or the workflow's for a start
    payload: dict[str, Any] = jsonb()
    created_at: datetime = instant(nullable=False, default_now=True)
    available_at: datetime = instant(nullable=False, default_now=True)  # not tried again before (backoff)
    delivered_at: datetime | None = instant()
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)


class InvoiceRunStart(BaseModel):
    """The payload of an invoice run's start (kind `start`, name `invoice`): what `start_workflow` needs, and a
    payment already recorded with the invoice, delivered with the start so it is in the run's inbox before its
    first step (no "invoice issued" email for a booking paid as it was made)."""

    input: InvoiceWorkflowInput
    task_queue: str
    summary: str | None = None
    recorded_payment: PaymentReceived | None = None
