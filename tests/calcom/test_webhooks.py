"""Cal.com deliveries, signed like Cal.com signs them, to the running API with the real worker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import httpx
from sqlmodel import func, select
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from models.clients import Client
from models.enums import InvoiceStatus
from models.inbox import InboxEvent
from models.invoices import InvoiceLine
from models.payments import Payment
from tests.calcom.checks import (
    CATALOG_PRICE,
    CATALOG_TAX_BP,
    CATALOG_TOTAL,
    catalog_slug,
    count,
    invoice_status_becomes,
    invoices_of,
    one_invoice,
    timeline_kinds,
)
from tests.calcom.payloads import delivery, documented_example, new_uid, post, raw


async def test_booking_becomes_one_invoice_with_catalog_price_in_attendee_time_zone(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=await catalog_slug(db), time_zone="Pacific/Auckland")
    # 20:30 UTC on 25 May is 08:30 on 26 May in Auckland: the service date is the attendee's.
    body["payload"]["startTime"] = "2026-05-25T20:30:00Z"
    response = await post(http, name, secret, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    uid = body["payload"]["uid"]
    assert answer["outcome"] == "invoice_started"
    assert answer["workflow_id"] == f"invoice-w1-{name}-{uid}"
    assert answer["invoice_number"].startswith("INV-")

    invoice = await one_invoice(db, name)
    assert (invoice.total_minor, invoice.currency) == (CATALOG_TOTAL, "GBP")
    assert invoice.service_date == date(2026, 5, 26)
    assert invoice.timezone == "Pacific/Auckland"
    assert invoice.due_date == invoice.issue_date + timedelta(days=14)
    async with db.session() as session:
        lines = await invoices_repo.get_lines(session, invoice_id=invoice.id or 0)
        client = (await session.exec(select(Client).where(Client.id == invoice.client_id))).one()
    assert [(line.description, line.unit_price_minor, line.tax_rate_bp) for line in lines] == [
        ("Deep-tissue massage, 60 min", CATALOG_PRICE, CATALOG_TAX_BP)
    ]
    attendee = body["payload"]["attendees"][0]
    assert (client.name, client.email, client.timezone) == (attendee["name"], attendee["email"], "Pacific/Auckland")


async def test_same_delivery_five_times_changes_nothing(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=await catalog_slug(db))
    first = await post(http, name, secret, body)
    assert first.status_code == 200, first.text
    invoice = await one_invoice(db, name)
    timeline_before = await timeline_kinds(db, invoice)

    repeats = await asyncio.gather(*(post(http, name, secret, body) for _ in range(4)))
    assert {r.status_code for r in repeats} == {200}
    assert {r.text for r in repeats} == {first.text}  # every repeat got the first answer
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in repeats)

    assert [i.id for i in await invoices_of(db, name)] == [invoice.id]
    assert await timeline_kinds(db, invoice) == timeline_before
    stored = (
        select(func.count()).select_from(InboxEvent).where(InboxEvent.source == "calcom", InboxEvent.channel == name)
    )
    assert await count(db, stored) == 1
    history = await worker.client.get_workflow_handle(invoice.workflow_id).fetch_history()
    starts = [e for e in history.events if e.HasField("workflow_execution_started_event_attributes")]
    assert len(starts) == 1


async def test_reschedule_keeps_one_invoice_and_moves_its_service_date(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db), time_zone="America/New_York")
    created["payload"]["startTime"] = "2026-06-10T15:00:00Z"
    assert (await post(http, name, secret, created)).status_code == 200
    original = await one_invoice(db, name)
    assert original.service_date == date(2026, 6, 10)

    old_uid, moved_uid = created["payload"]["uid"], new_uid()
    moved = delivery(
        created,
        "BOOKING_RESCHEDULED",
        uid=moved_uid,
        rescheduleUid=old_uid,
        startTime="2026-06-13T02:00:00Z",  # 22:00 on 12 June in New York
        endTime="2026-06-13T03:00:00Z",
    )
    response = await post(http, name, secret, moved)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "rescheduled"
    assert response.json()["invoice_number"] == original.number

    invoice = await one_invoice(db, name)
    assert (invoice.id, invoice.number, invoice.total_minor) == (original.id, original.number, original.total_minor)
    assert invoice.service_date == date(2026, 6, 12)
    assert "booking.rescheduled" in await timeline_kinds(db, invoice)

    # Moved again, then a late BOOKING_CREATED for the new uid: still the one invoice.
    again = delivery(moved, "BOOKING_RESCHEDULED", uid=new_uid(), rescheduleUid=moved_uid)
    assert (await post(http, name, secret, again)).json()["invoice_number"] == original.number
    late_created = delivery(moved, "BOOKING_CREATED")
    assert (await post(http, name, secret, late_created)).json()["invoice_number"] == original.number
    assert len(await invoices_of(db, name)) == 1


async def test_cancel_voids_the_unpaid_invoice_with_the_reason(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).status_code == 200
    cancelled = delivery(created, "BOOKING_CANCELLED", cancellationReason="Client is unwell", status="CANCELLED")
    response = await post(http, name, secret, cancelled)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "voided"

    invoice = await invoice_status_becomes(db, name, InvoiceStatus.void)
    assert invoice.status == InvoiceStatus.void
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    assert any(e.kind == "invoice.void" and "Client is unwell" in e.message for e in events)


async def test_cancelling_a_rescheduled_booking_voids_the_original_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).status_code == 200
    moved = delivery(created, "BOOKING_RESCHEDULED", uid=new_uid(), rescheduleUid=created["payload"]["uid"])
    assert (await post(http, name, secret, moved)).status_code == 200
    # The old slot's uid was superseded: cancelling it does not touch the invoice.
    stale = delivery(created, "BOOKING_CANCELLED", cancellationReason="moved")
    assert (await post(http, name, secret, stale)).json()["outcome"] == "superseded"
    assert (await one_invoice(db, name)).status == InvoiceStatus.open
    cancelled = delivery(moved, "BOOKING_CANCELLED", cancellationReason="no longer needed")
    assert (await post(http, name, secret, cancelled)).json()["outcome"] == "voided"
    assert (await invoice_status_becomes(db, name, InvoiceStatus.void)).status == InvoiceStatus.void


async def test_rejected_booking_voids_its_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).status_code == 200
    rejected = delivery(created, "BOOKING_REJECTED", rejectionReason="Fully booked", status="REJECTED")
    assert (await post(http, name, secret, rejected)).json()["outcome"] == "voided"
    assert (await invoice_status_becomes(db, name, InvoiceStatus.void)).status == InvoiceStatus.void


async def test_paid_after_created_settles_the_existing_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    assert (await post(http, name, secret, created)).status_code == 200
    paid = await post(http, name, secret, delivery(created, "BOOKING_PAID"))
    assert paid.json()["outcome"] == "paid"
    invoice = await one_invoice(db, name)
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.paid, CATALOG_TOTAL)
    assert (await post(http, name, secret, delivery(created, "BOOKING_PAID"))).headers["Idempotent-Replayed"] == "true"
    paid_count = select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice.id)
    assert await count(db, paid_count) == 1


async def test_cancelling_a_paid_booking_flags_a_refund_decision(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    paid = delivery(documented_example(event_type=await catalog_slug(db)), "BOOKING_PAID")
    assert (await post(http, name, secret, paid)).json()["outcome"] == "paid"
    cancelled = delivery(paid, "BOOKING_CANCELLED", cancellationReason="changed my mind")
    assert (await post(http, name, secret, cancelled)).json()["outcome"] == "refund_decision_flagged"
    invoice = await one_invoice(db, name)
    assert invoice.status == InvoiceStatus.paid
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    flagged = [e for e in events if e.kind == "booking.cancelled"]
    assert len(flagged) == 1 and flagged[0].data["flag"] == "refund_decision"


async def test_tampered_or_unsigned_delivery_is_refused_and_nothing_recorded(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=await catalog_slug(db))
    tampered = raw(body).replace(b'"price": 0', b'"price": 1')
    assert (await post(http, name, secret, tampered, signed=raw(body))).status_code == 401
    assert (await post(http, name, None, body)).status_code == 401
    assert (await post(http, name, "not-the-secret", body)).status_code == 401
    assert (await post(http, "calcom-unknown", secret, body)).status_code == 401
    stored = (
        select(func.count()).select_from(InboxEvent).where(InboxEvent.source == "calcom", InboxEvent.channel == name)
    )
    assert await count(db, stored) == 0
    assert await invoices_of(db, name) == []


async def test_unknown_triggers_are_accepted_and_ignored(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    for trigger in ("MEETING_ENDED", "PING", "BOOKING_NO_SHOW_UPDATED"):
        response = await post(http, name, secret, delivery(documented_example(), trigger))
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "ignored"
    assert await invoices_of(db, name) == []


async def test_booking_without_any_price_creates_no_invoice_and_notes_the_timeline(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=f"free-{uuid.uuid4().hex[:8]}")  # price 0, not in the catalog
    response = await post(http, name, secret, body)
    assert response.json()["outcome"] == "no_price"
    assert await invoices_of(db, name) == []
    email = body["payload"]["attendees"][0]["email"]
    async with db.session() as session:
        client = (await session.exec(select(Client).where(Client.email == email))).one()
        events = await timeline_repo.list_events(session, client_id=client.id)
    assert [e.kind for e in events] == ["booking.unpriced"]


async def test_calcom_price_is_the_fallback(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=f"consult-{uuid.uuid4().hex[:8]}")
    body["payload"].update(price=5000, currency="usd")
    assert (await post(http, name, secret, body)).json()["outcome"] == "invoice_started"
    invoice = await one_invoice(db, name)
    assert (invoice.total_minor, invoice.currency) == (5000, "USD")


async def test_guests_are_noted_not_billed(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=await catalog_slug(db))
    body["payload"]["attendees"].append({"email": "guest@example.com", "name": "Ada Guest", "timeZone": "UTC"})
    assert (await post(http, name, secret, body)).status_code == 200
    invoice = await one_invoice(db, name)
    assert invoice.total_minor == CATALOG_TOTAL
    line_count = select(func.count()).select_from(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
    assert await count(db, line_count) == 1
    assert invoice.memo is not None and "Ada Guest <guest@example.com>" in invoice.memo
    assert "booking.guests" in await timeline_kinds(db, invoice)
    guests = select(func.count()).select_from(Client).where(Client.email == "guest@example.com")
    assert await count(db, guests) == 0


async def test_requested_booking_waits_for_confirmation(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    base = documented_example(event_type=await catalog_slug(db))
    requested = delivery(base, "BOOKING_REQUESTED", status="PENDING")
    assert (await post(http, name, secret, requested)).json()["outcome"] == "awaiting_confirmation"
    assert await invoices_of(db, name) == []
    confirmed = delivery(base, "BOOKING_CREATED", status="ACCEPTED")
    assert (await post(http, name, secret, confirmed)).json()["outcome"] == "invoice_started"
    assert len(await invoices_of(db, name)) == 1


async def test_unusable_booking_is_422_naming_the_field(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example()
    body["payload"]["attendees"] = []
    response = await post(http, name, secret, body)
    assert response.status_code == 422
    assert "attendees" in response.json()["detail"]
    response = await post(http, name, secret, b"not json")
    assert response.status_code == 422


async def test_five_concurrent_copies_of_a_new_delivery_make_one_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    body = documented_example(event_type=await catalog_slug(db))
    responses = await asyncio.gather(*(post(http, name, secret, body) for _ in range(5)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4
    assert len(await invoices_of(db, name)) == 1


async def test_created_and_paid_arriving_together_make_one_paid_invoice(
    http: httpx.AsyncClient, worker: Worker, calcom: tuple[str, str], db: Database
) -> None:
    name, secret = calcom
    created = documented_example(event_type=await catalog_slug(db))
    paid = delivery(created, "BOOKING_PAID")
    responses = await asyncio.gather(post(http, name, secret, created), post(http, name, secret, paid))
    assert {r.status_code for r in responses} == {200}
    invoice = await one_invoice(db, name)
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.paid, CATALOG_TOTAL)
