"""Fair share in the sweeps (issue 13): a workspace with more than a batch owed cannot keep another's one row out
of the first batch of the unsettled-email sweep or of the Stripe reconciliation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from billflow.db import Database
from billflow.repositories import checkout_sessions as sessions_repo
from billflow.repositories import messages as messages_repo
from models.columns import DEFAULT_WORKSPACE_ID
from tests.workspaces.support import make_invoice, make_workspace

BATCH = 3
BIG = 10  # the big workspace's rows owed: more than three batches
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)  # older than anything other tests of the session leave


async def _unsettled_email(db: Database, *, invoice_id: int, backend: str, handed_over: datetime) -> int:
    async with db.session() as session:
        row = await session.execute(
            text(
                "INSERT INTO email_messages (idempotency_key, invoice_id, kind, to_email, subject, body_text, "
                "backend, status, attempts, created_at, updated_at) VALUES (:key, :invoice, 'reminder', "
                "'a@example.com', 's', 'b', :backend, 'unknown', 1, :at, :at) RETURNING id"
            ),
            {"key": uuid.uuid4().hex, "invoice": invoice_id, "backend": backend, "at": handed_over},
        )
        return int(row.scalar_one())


async def _open_session(db: Database, *, invoice_id: int, created_at: datetime) -> int:
    async with db.session() as session:
        row = await session.execute(
            text(
                "INSERT INTO checkout_sessions (invoice_id, attempt, stripe_session_id, amount_minor, currency, "
                "status, payment_status, created_at, updated_at) VALUES (:invoice, "
                "(SELECT count(*) + 1 FROM checkout_sessions WHERE invoice_id = :invoice), :sid, 100, 'EUR', 'open', "
                "'unpaid', :at, :at) RETURNING id"
            ),
            {"invoice": invoice_id, "sid": f"cs_fair_{uuid.uuid4().hex}", "at": created_at},
        )
        return int(row.scalar_one())


async def _open_invoice(db: Database, workspace_id: int) -> int:
    invoice, _ = await make_invoice(db, workspace_id=workspace_id)
    async with db.session() as session:  # the sweep leaves settled invoices' sessions alone
        await session.execute(text("UPDATE invoices SET status = 'open' WHERE id = :id"), {"id": invoice.id})
    assert invoice.id is not None
    return invoice.id


async def test_a_small_workspaces_unsettled_email_is_in_the_first_batch(db: Database) -> None:
    small = await make_workspace(db)
    assert small.id is not None
    backend = f"fair-{uuid.uuid4().hex[:8]}"  # this test's messages only
    big_invoice, small_invoice = await _open_invoice(db, DEFAULT_WORKSPACE_ID), await _open_invoice(db, small.id)
    now = datetime.now(UTC)
    big = [
        await _unsettled_email(
            db, invoice_id=big_invoice, backend=backend, handed_over=now - timedelta(hours=2, minutes=n)
        )
        for n in range(BIG)
    ]
    # The small workspace's one message is the youngest: oldest-first alone would leave it for the fourth batch.
    lone = await _unsettled_email(db, invoice_id=small_invoice, backend=backend, handed_over=now - timedelta(hours=1))
    async with db.session() as session:
        batch = await messages_repo.unsettled_in_turns(session, backend=backend, handed_over_before=now, limit=BATCH)
    assert lone in batch
    assert batch == [big[-1], lone, big[-2]]  # in turns: each workspace's oldest, then the big one's next


async def test_a_small_workspaces_checkout_session_is_in_the_first_reconcile_batch(db: Database) -> None:
    small = await make_workspace(db)
    assert small.id is not None
    big_invoice, small_invoice = await _open_invoice(db, DEFAULT_WORKSPACE_ID), await _open_invoice(db, small.id)
    big = [
        await _open_session(db, invoice_id=big_invoice, created_at=LONG_AGO + timedelta(minutes=n)) for n in range(BIG)
    ]
    lone = await _open_session(db, invoice_id=small_invoice, created_at=LONG_AGO + timedelta(hours=1))
    async with db.session() as session:
        batch = await sessions_repo.sessions_to_reconcile(
            session, created_before=LONG_AGO + timedelta(days=1), limit=BATCH
        )
    ids = [row.id for row in batch]
    assert lone in ids
    assert ids == [big[0], lone, big[1]]  # in turns: each workspace's oldest, then the big one's next
