"""Issued means frozen, in the database too: triggers refuse edits of an issued invoice's content and lines."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billflow.config import Settings
from billflow.db import Database
from billflow.services import credit_notes
from models.enums import CreditNoteKind
from tests.documents.conftest import issue_directly


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("total_minor", "1"),
        ("memo", "'changed'"),
        ("issue_date", "DATE '2020-01-01'"),
        ("buyer", "'{}'::jsonb"),
        ("tax_breakdown", "'[]'::jsonb"),
    ],
)
async def test_trigger_refuses_an_update_of_issued_content(
    db: Database, doc_settings: Settings, column: str, value: str
) -> None:
    invoice = await issue_directly(db, doc_settings)
    with pytest.raises(DBAPIError, match="is issued: its content cannot change"):
        async with db.session() as session:
            await session.execute(text(f"UPDATE invoices SET {column} = {value} WHERE id = :id"), {"id": invoice.id})


async def test_status_and_payment_columns_stay_updatable(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    async with db.session() as session:
        await session.execute(
            text(
                "UPDATE invoices SET status = 'overdue', amount_paid_minor = 100, payment_url = 'https://pay', "
                "due_date = due_date + 7 WHERE id = :id"
            ),
            {"id": invoice.id},
        )
        status = (
            await session.execute(text("SELECT status FROM invoices WHERE id = :id"), {"id": invoice.id})
        ).scalar()
    assert status == "overdue"


@pytest.mark.parametrize("statement", ["UPDATE invoice_lines SET unit_price_minor = 1", "DELETE FROM invoice_lines"])
async def test_trigger_refuses_changing_or_deleting_issued_lines(
    db: Database, doc_settings: Settings, statement: str
) -> None:
    invoice = await issue_directly(db, doc_settings)
    with pytest.raises(DBAPIError, match="issued documents cannot change"):
        async with db.session() as session:
            await session.execute(text(f"{statement} WHERE invoice_id = :id"), {"id": invoice.id})


async def test_trigger_refuses_editing_a_credit_note(db: Database, doc_settings: Settings) -> None:
    invoice = await issue_directly(db, doc_settings)
    assert invoice.id is not None
    async with db.session() as session:
        note = await credit_notes.issue_credit_note(
            session, invoice_id=invoice.id, kind=CreditNoteKind.partial, reason="discount", key=f"t:{invoice.id}",
            amount_minor=1_000,
        )  # fmt: skip
    assert note is not None
    with pytest.raises(DBAPIError, match="issued documents cannot change"):
        async with db.session() as session:
            await session.execute(text("UPDATE credit_notes SET total_minor = 1 WHERE id = :id"), {"id": note.id})
