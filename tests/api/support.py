"""Helpers for the API tests: signed event deliveries and event bodies built from the factories."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from billflow.services.integrations import signed_headers


def confirmed_event(booking_id: str | None = None, **data: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "booking_id": booking_id or f"bk-{suffix}",
        "client": {
            "external_id": f"cus-{suffix}",
            "name": f"Grace Hopper {suffix}",
            "email": f"grace-{suffix}@example.com",
            "timezone": "Europe/London",
        },
        "services": [
            {"description": "Massage, 60 min", "quantity": 1, "unit_price_minor": 9000},
            {"description": "Oil", "quantity": 2, "unit_price_minor": 1200, "tax_rate_bp": 0},
        ],
        "currency": "GBP",
        "tax_rate_bp": 2000,
        "payment_terms_days": 14,
    }
    return {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": "booking.confirmed", "version": 1, "data": body | data}


# 90.00 + 20 % tax, plus 2 x 12.00 untaxed.
CONFIRMED_TOTAL = 10_800 + 2_400


def event(kind: str, booking_id: str, **data: Any) -> dict[str, Any]:
    return {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": kind, "version": 1, "data": {"booking_id": booking_id} | data}


async def post_signed(
    http: httpx.AsyncClient,
    name: str,
    secret: str,
    body: dict[str, Any] | bytes,
    *,
    timestamp: int | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = signed_headers(name, secret, raw, timestamp=timestamp) | {"Content-Type": "application/json"}
    return await http.post("/v1/events", content=raw, headers=headers)


async def started_run(client: Any, workflow_id: str, *, within: float = 20.0) -> Any:
    """The run's description once the outbox relay has started it (intake answers before the start)."""
    import asyncio

    from temporalio.service import RPCError, RPCStatusCode

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND or loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


async def invoice_status_becomes(db: Any, number: str, status: str, *, within: float = 20.0) -> str:
    """The invoice's recorded status, polled until it is `status` or `within` seconds passed."""
    import asyncio

    from billflow.repositories import invoices as invoices_repo

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with db.session() as session:
            invoice = await invoices_repo.get_invoice(session, number=number)
        current = invoice.status if invoice is not None else ""
        if current == status or loop.time() > deadline:
            return current
        await asyncio.sleep(0.1)


async def issue_email_sent(db: Any, number: str, *, within: float = 30.0) -> None:
    """Wait until the invoice's run has sent its "invoice issued" email (intake answers before the run starts)."""
    import asyncio

    from billflow.repositories import invoices as invoices_repo
    from billflow.repositories import messages as messages_repo

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with db.session() as session:
            invoice = await invoices_repo.get_invoice(session, number=number)
            messages = await messages_repo.list_messages(session, invoice_id=invoice.id) if invoice else []
        if any(m.kind == "invoice_issued" and m.status == "sent" for m in messages):
            return
        assert loop.time() < deadline, f"{number}: no invoice_issued email sent within {within} s"
        await asyncio.sleep(0.1)
