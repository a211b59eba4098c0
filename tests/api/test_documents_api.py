"""Documents through the API with the real worker: void -> cancellation credit note, partial credit notes (201,
422 naming the field), deposits then the final invoice with the deposit deducted, refusal of invalid bookings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.services.invoice_runs import query_state, start_invoice
from billflow.web.app import create_app
from models.enums import EmailKind, InvoiceKind, InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import BookingIn, DepositIn, InvoiceState, LineIn
from tests.api.support import confirmed_event, event, post_signed
from tests.factories import make_booking
from tests.standins.fixtures import wait_until


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


async def _issued(temporal_env: WorkflowEnvironment, db: Database, booking: BookingIn, worker: Worker) -> Invoice:
    await start_invoice(temporal_env.client, booking, task_queue=worker.task_queue)
    return await _wait_invoice(db, booking.workflow_id)


async def _wait_invoice(db: Database, workflow_id: str) -> Invoice:
    for _ in range(400):
        async with db.session() as session:
            invoice = await invoices_repo.get_invoice(session, workflow_id=workflow_id)
        if invoice is not None:
            return invoice
        await asyncio.sleep(0.025)
    raise AssertionError(f"{workflow_id} issued no invoice in time")


async def _email_kinds(db: Database, invoice: Invoice) -> list[str]:
    async with db.session() as session:
        return [m.kind for m in await messages_repo.list_messages(session, invoice_id=invoice.id)]


async def test_void_issues_a_cancellation_credit_note_listed_and_emailed(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    invoice = await _issued(temporal_env, db, make_booking(), worker)

    async def emailed() -> bool:
        return EmailKind.invoice_issued.value in await _email_kinds(db, invoice)

    await wait_until(emailed)
    voided = await http.post(f"/v1/invoices/{invoice.number}/void", json={"reason": "cancelled"}, headers=staff_headers)
    assert voided.status_code == 200, voided.text
    listed = await http.get("/v1/credit-notes", params={"invoice": invoice.number}, headers=staff_headers)
    notes = listed.json()
    assert [(n["kind"], n["total_minor"], n["invoice_number"]) for n in notes] == [
        ("cancellation", invoice.total_minor, invoice.number)
    ]
    assert notes[0]["number"].startswith("CN-")
    shown = (await http.get(f"/v1/documents/{notes[0]['number']}", headers=staff_headers)).json()
    assert shown["references"][0]["number"] == invoice.number
    assert shown["notes"][0].startswith(f"Cancels invoice {invoice.number}")

    async def credit_note_emailed() -> bool:
        return EmailKind.credit_note.value in await _email_kinds(db, invoice)

    await wait_until(credit_note_emailed)
    pdf = await http.get(f"/v1/documents/{notes[0]['number']}/pdf", headers=staff_headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


async def test_partial_credit_note_lowers_the_balance_of_the_running_invoice(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    invoice = await _issued(temporal_env, db, make_booking(), worker)
    body = {"amount_minor": 5_000, "reason": "one session shorter"}
    headers = staff_headers | {"Idempotency-Key": f"credit-{invoice.id}"}
    created = await http.post(f"/v1/invoices/{invoice.number}/credit-notes", json=body, headers=headers)
    assert created.status_code == 201, created.text
    again = await http.post(f"/v1/invoices/{invoice.number}/credit-notes", json=body, headers=headers)
    assert again.json()["number"] == created.json()["number"]  # the same key credits once

    async def live_balance_caught_up() -> bool:
        state: InvoiceState | None = await query_state(temporal_env.client, invoice.workflow_id)
        return state is not None and state.credited_minor == 5_000

    await wait_until(live_balance_caught_up)
    state = await query_state(temporal_env.client, invoice.workflow_id)
    assert state is not None and state.balance_minor == invoice.total_minor - 5_000
    assert EmailKind.credit_note.value in await _email_kinds(db, invoice)


async def test_partial_credit_note_above_the_invoice_is_refused_naming_the_field(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    invoice = await _issued(temporal_env, db, make_booking(), worker)
    too_much = {"amount_minor": invoice.total_minor + 1, "reason": "oops"}
    refused = await http.post(f"/v1/invoices/{invoice.number}/credit-notes", json=too_much, headers=staff_headers)
    assert refused.status_code == 422 and "amount_minor" in refused.json()["detail"]
    whole = {"amount_minor": invoice.total_minor, "reason": "all of it"}
    refused = await http.post(f"/v1/invoices/{invoice.number}/credit-notes", json=whole, headers=staff_headers)
    assert refused.status_code == 422 and "void" in refused.json()["detail"]
    missing = await http.post("/v1/invoices/INV-1999-000001/credit-notes", json=whole, headers=staff_headers)
    assert missing.status_code == 404


async def test_deposit_invoice_now_then_final_invoice_with_the_deposit_deducted(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    lines = [
        LineIn(description="Workshop", quantity=2, unit_price_minor=15_000, tax_rate_bp=2000),
        LineIn(description="Materials", unit_price_minor=2_500),
    ]  # 360.00 + 25.00 = 385.00 gross
    booking = make_booking(lines=lines, currency="EUR", deposit=DepositIn(percent_bp=3000))
    assert booking.workflow_id.endswith("-deposit")
    deposit = await _issued(temporal_env, db, booking, worker)
    assert deposit.kind == InvoiceKind.deposit and deposit.total_minor == 11_550  # 30 %
    assert deposit.subtotal_minor == 9_750 and deposit.tax_minor == 1_800
    deposit_doc = (await http.get(f"/v1/documents/{deposit.number}", headers=staff_headers)).json()
    assert deposit_doc["invoice_kind"] == "deposit" and deposit_doc["notes"][0].startswith("Advance payment invoice")

    started = await http.post(f"/v1/invoices/{deposit.number}/final-invoice", headers=staff_headers)
    assert started.status_code == 202, started.text
    final_id = started.json()["workflow_id"]
    assert final_id == f"invoice-w1-{booking.source}-{booking.booking_id}"
    again = await http.post(f"/v1/invoices/{deposit.number}/final-invoice", headers=staff_headers)
    assert again.json()["workflow_id"] == final_id  # once per booking

    final = await _wait_invoice(db, final_id)
    assert final.kind == InvoiceKind.final and final.deposit_invoice_id == deposit.id
    assert final.total_minor == 38_500 - 11_550
    doc = (await http.get(f"/v1/documents/{final.number}", headers=staff_headers)).json()
    assert [(r["kind"], r["number"], r["amount_minor"]) for r in doc["references"]] == [
        ("deposit", deposit.number, 9_750)
    ]
    deductions = [line for line in doc["lines"] if float(line["quantity"]) < 0]
    assert sum(line["net_minor"] for line in deductions) == -9_750
    assert {(r["rate_bp"], r["taxable_minor"], r["tax_minor"]) for r in doc["tax_breakdown"]} == {
        (2000, 30_000 - 9_000, 6_000 - 1_800),
        (0, 2_500 - 750, 0),
    }

    # Each runs its own workflow with reminders.
    for invoice in (deposit, final):
        state = await query_state(temporal_env.client, invoice.workflow_id)
        assert state is not None and state.status is InvoiceStatus.open and state.reminders


async def test_final_invoice_of_an_ordinary_invoice_is_refused(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    invoice = await _issued(temporal_env, db, make_booking(), worker)
    refused = await http.post(f"/v1/invoices/{invoice.number}/final-invoice", headers=staff_headers)
    assert refused.status_code == 422 and "not a deposit invoice" in refused.json()["detail"]


async def test_booking_event_with_reverse_charge_but_no_vat_id_is_refused_naming_the_field(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str]
) -> None:
    name, secret = integration
    body = confirmed_event(
        services=[{"description": "Consulting", "unit_price_minor": 50_000, "tax_category": "reverse_charge"}],
        tax_rate_bp=0,
    )
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 422
    assert "client.vat_id" in response.text


def _reverse_charge_event() -> dict[str, object]:
    body = confirmed_event(
        services=[{"description": "Consulting", "unit_price_minor": 50_000, "tax_category": "reverse_charge"}],
        tax_rate_bp=0,
    )
    body["data"]["client"] |= {"kind": "business", "vat_id": "NL004495445B01"}  # type: ignore[index]
    return body


async def test_reverse_charge_is_refused_while_the_seller_has_no_vat_id(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str]
) -> None:
    name, secret = integration
    response = await post_signed(http, name, secret, _reverse_charge_event())
    assert response.status_code == 422 and "BILLFLOW_BUSINESS_VAT_ID" in response.text


@pytest.fixture
async def seller_http(
    api_settings: Settings, db: Database, temporal_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a seller VAT id in its business profile (workspace 1's, put back after)."""
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    app = create_app(api_settings, db, temporal_env.client)
    async with workspace_profile_kept(db):
        await workspaces.update_workspace(db, 1, WorkspaceUpdate(vat_id="DE136695976"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as c:
            yield c


async def test_booking_event_carries_buyer_details_onto_the_document(
    seller_http: httpx.AsyncClient,
    worker: Worker,
    integration: tuple[str, str],
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    http = seller_http
    name, secret = integration
    body = confirmed_event(
        services=[{"description": "Consulting", "unit_price_minor": 50_000, "tax_category": "reverse_charge"}],
        tax_rate_bp=0,
        starts_at="2026-12-03T10:00:00+00:00",
    )
    body["data"]["client"] |= {
        "kind": "business",
        "address_line1": "Keizersgracht 1",
        "postcode": "1015 CJ",
        "city": "Amsterdam",
        "country": "NL",
        "vat_id": "NL004495445B01",
    }
    response = await post_signed(http, name, secret, body)
    assert response.status_code in (200, 201, 202), response.text
    workflow_id = f"invoice-w1-{name}-{body['data']['booking_id']}"
    invoice = await _wait_invoice(db, workflow_id)
    doc = (await http.get(f"/v1/documents/{invoice.number}", headers=staff_headers)).json()
    assert doc["buyer"]["vat_id"] == "NL004495445B01" and doc["buyer"]["address"]["city"] == "Amsterdam"
    assert doc["service_date"] == "2026-12-03"
    assert doc["tax_breakdown"] == [
        {"category": "reverse_charge", "rate_bp": 0, "taxable_minor": 50_000, "tax_minor": 0, "exemption_reason": None}
    ]
    assert any("Reverse charge" in n for n in doc["notes"])


async def test_booking_event_with_a_deposit_then_cancelled_voids_the_deposit_with_its_credit_note(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database, staff_headers: dict[str, str]
) -> None:
    name, secret = integration
    body = confirmed_event(deposit={"amount_minor": 5_000})
    booking_id = body["data"]["booking_id"]
    response = await post_signed(http, name, secret, body)
    assert response.status_code in (200, 201, 202), response.text
    assert response.json()["workflow_id"] == f"invoice-w1-{name}-{booking_id}-deposit"
    deposit = await _wait_invoice(db, f"invoice-w1-{name}-{booking_id}-deposit")
    assert deposit.kind == InvoiceKind.deposit and deposit.total_minor == 5_000

    cancelled = await post_signed(http, name, secret, event("booking.cancelled", booking_id))
    assert cancelled.status_code in (200, 202), cancelled.text
    assert cancelled.json()["invoice_number"] == deposit.number

    async def voided_with_credit_note() -> bool:
        notes = (await http.get("/v1/credit-notes", params={"invoice": deposit.number}, headers=staff_headers)).json()
        return [n["kind"] for n in notes] == ["cancellation"]

    await wait_until(voided_with_credit_note)


async def test_invoice_page_shows_parties_breakdown_and_payment_terms(
    http: httpx.AsyncClient, worker: Worker, temporal_env: WorkflowEnvironment, db: Database
) -> None:
    from tests.documents.conftest import business_booking

    invoice = await _issued(temporal_env, db, business_booking(), worker)
    page = await http.get(f"/i/{invoice.public_token}")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="parties"' in html and "VAT id FR40303265045" in html and "75002" in html
    assert 'data-testid="tax-breakdown"' in html and "Zero" in html
    assert "Payable within 14 days" in html


async def test_invoice_detail_lists_its_credit_notes(
    http: httpx.AsyncClient,
    worker: Worker,
    temporal_env: WorkflowEnvironment,
    db: Database,
    staff_headers: dict[str, str],
) -> None:
    invoice = await _issued(temporal_env, db, make_booking(), worker)
    body = {"amount_minor": 1_000, "reason": "goodwill"}
    created = await http.post(f"/v1/invoices/{invoice.number}/credit-notes", json=body, headers=staff_headers)
    detail = (await http.get(f"/v1/invoices/{invoice.number}", headers=staff_headers)).json()
    assert detail["credited_minor"] == 1_000 and detail["balance_minor"] == invoice.total_minor - 1_000
    assert [n["number"] for n in detail["credit_notes"]] == [created.json()["number"]]
    assert "credit_note.issued" in [e["kind"] for e in detail["timeline"]]
