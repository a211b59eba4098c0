"""Which workspace a record belongs to: the checks the API makes before a key of one workspace touches it."""

from __future__ import annotations

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import subscriptions as subscriptions_repo


async def document_workspaces(db: Database, *, number: str) -> set[int]:
    """The workspaces holding an invoice or credit note numbered `number` (numbers are unique per workspace)."""
    async with db.session() as session:
        return await invoices_repo.document_workspaces(session, number=number)


async def subscription_workspace(db: Database, *, subscription_id: str) -> int | None:
    """The workspace of the subscription; None when there is none."""
    async with db.session() as session:
        return await subscriptions_repo.subscription_workspace(session, subscription_id=subscription_id)
