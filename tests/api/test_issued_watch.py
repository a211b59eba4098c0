"""The shared wait for invoices being recorded: every waiter released by one poll, a timeout answers False."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from billflow.db import Database
from billflow.services.invoicing import issue_invoice
from billflow.services.issued_watch import issued_watch
from tests.factories import make_booking


async def test_waiters_are_released_when_the_invoice_is_recorded_and_others_time_out(db: Database) -> None:
    booking = make_booking(booking_id=f"watch-{uuid.uuid4().hex[:8]}", issued_at=datetime.now(UTC))
    watch = issued_watch(db)
    assert issued_watch(db) is watch  # one per database

    async def record_later() -> None:
        await asyncio.sleep(0.3)
        async with db.session() as session:
            await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)

    began = time.monotonic()
    waiting = [watch.wait(booking.workflow_id, timeout=5) for _ in range(50)]
    results = await asyncio.gather(*waiting, watch.wait("invoice-never-started", timeout=0.5), record_later())
    assert results[:50] == [True] * 50
    assert results[50] is False
    assert time.monotonic() - began < 2  # released by the poll, not by the 5 s timeout
