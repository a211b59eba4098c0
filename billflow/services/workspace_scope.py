"""Which workspace a record belongs to: the checks the API makes before a key of one workspace touches it."""

from __future__ import annotations

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo


async def document_workspace(db: Database, *, number: str) -> int | None:
    """The workspace of the invoice or credit note numbered `number`; None when there is none."""
    async with db.session() as session:
        return await invoices_repo.document_workspace(session, number=number)
