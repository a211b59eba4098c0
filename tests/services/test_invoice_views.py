"""The invoice detail (API, CLI, staff page) reads PostgreSQL and asks the run only for its live state, bounded
by a short timeout: a run nobody answers for leaves the page answering from the database (issue 15)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billflow.db import Database
from billflow.services import invoice_views
from billflow.services.invoicing import issue_invoice
from models.invoices import Invoice
from models.workflow_io import InvoiceState
from tests.factories import make_booking


class _Temporal:
    """A Temporal client stand-in whose status query answers `state` after `delay` seconds (None: never)."""

    def __init__(self, state: InvoiceState | None = None, delay: float | None = None) -> None:
        self.state, self.delay = state, delay
        self.asked: list[dict[str, Any]] = []

    def get_workflow_handle(self, workflow_id: str) -> _Temporal:
        return self

    async def query(self, *args: Any, **kwargs: Any) -> InvoiceState | None:
        self.asked.append(kwargs)
        if self.delay is None:
            await asyncio.Event().wait()  # a query no worker picks up
        await asyncio.sleep(self.delay or 0)
        return self.state


async def _invoice(db: Database) -> Invoice:
    booking = make_booking(issued_at=datetime.now(UTC))
    async with db.session() as session:
        return await issue_invoice(session, booking=booking, workflow_id=booking.workflow_id)


async def test_detail_answers_from_the_database_when_the_query_is_never_answered(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invoice_views._Unanswered, "until", 0.0)  # each test starts with Temporal answering
    invoice = await _invoice(db)
    temporal = _Temporal(delay=None)
    found = await invoice_views.detail(
        db,
        temporal,  # type: ignore[arg-type]
        number=invoice.number,
        live_timeout=timedelta(milliseconds=200),
    )
    assert found.live is None
    assert found.number == invoice.number and [line.position for line in found.lines] == [1, 2]
    assert temporal.asked == [{"rpc_timeout": timedelta(milliseconds=200)}]  # the server gives up too


async def test_after_an_unanswered_query_the_next_pages_wait_less_until_a_run_answers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invoice_views._Unanswered, "until", 0.0)
    invoice = await _invoice(db)
    hung = _Temporal(delay=None)
    for _ in range(2):
        await invoice_views.detail(db, hung, number=invoice.number, live_timeout=timedelta(seconds=1))  # type: ignore[arg-type]
    assert [a["rpc_timeout"] for a in hung.asked] == [timedelta(seconds=1), invoice_views.UNANSWERED_TIMEOUT]
    answering = _Temporal(_state(invoice), delay=0)
    for _ in range(2):
        found = await invoice_views.detail(db, answering, number=invoice.number)  # type: ignore[arg-type]
    assert found.live is not None
    assert [a["rpc_timeout"] for a in answering.asked] == [
        invoice_views.UNANSWERED_TIMEOUT,  # still quiet: the short wait, answered
        invoice_views.LIVE_QUERY_TIMEOUT,  # an answer ended it
    ]


def _state(invoice: Invoice) -> InvoiceState:
    return InvoiceState(
        invoice_id=invoice.id or 0,
        number=invoice.number,
        status=invoice.status,  # type: ignore[arg-type]
        currency=invoice.currency,
        total_minor=invoice.total_minor,
        amount_paid_minor=0,
        issued_at=invoice.issued_at,
        due_date=invoice.due_date,
        due_at=invoice.due_at,
        timezone=invoice.timezone,
        paused=True,
    )


async def test_detail_carries_the_live_state_when_the_run_answers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invoice_views._Unanswered, "until", 0.0)
    invoice = await _invoice(db)
    found = await invoice_views.detail(db, _Temporal(_state(invoice), delay=0.01), number=invoice.number)  # type: ignore[arg-type]
    assert found.live is not None and found.live.paused is True


async def test_a_final_invoice_does_not_ask_the_run(db: Database) -> None:
    invoice = await _invoice(db)
    async with db.session() as session:
        row = await session.get(Invoice, invoice.id)
        assert row is not None
        row.status = "void"
        row.voided_at = datetime.now(UTC)
        session.add(row)
    temporal = _Temporal(delay=None)
    found = await invoice_views.detail(db, temporal, number=invoice.number)  # type: ignore[arg-type]
    assert found.live is None and temporal.asked == []


async def test_a_page_wait_that_expires_leaves_the_next_full_wait_full(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staff page waits PAGE_LIVE_WAIT and lets the browser fetch the rest: a busy worker missing that short
    wait is no sign that none polls, so the fragment's own query still gets the whole LIVE_QUERY_TIMEOUT."""
    monkeypatch.setattr(invoice_views._Unanswered, "until", 0.0)
    invoice = await _invoice(db)
    slow = _Temporal(_state(invoice), delay=0.4)
    page = await invoice_views.detail(db, slow, number=invoice.number, live_timeout=invoice_views.PAGE_LIVE_WAIT)  # type: ignore[arg-type]
    assert page.live is None
    status, live = await invoice_views.live_state(db, slow, number=invoice.number)  # type: ignore[arg-type]
    assert live is not None and live.paused is True and status == invoice.status
    assert [a["rpc_timeout"] for a in slow.asked] == [invoice_views.PAGE_LIVE_WAIT, invoice_views.LIVE_QUERY_TIMEOUT]


async def test_live_state_of_an_unknown_number_is_not_found(db: Database) -> None:
    with pytest.raises(invoice_views.InvoiceNotFound):
        await invoice_views.live_state(db, _Temporal(), number="NOPE-1")  # type: ignore[arg-type]
