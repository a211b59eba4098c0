"""Staff refunds of payments recorded by hand (bank transfer): credited or owed again, once per request, each
refusal naming its field; the overview's "refunds to decide" clears when a refund is decided; the CLI's
`invoice refund` calls the same service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.services import overview
from starter.cli import app as cli
from tests.api.support import CONFIRMED_TOTAL, confirmed_event, event, post_signed

Headers = dict[str, str]


@pytest.fixture
async def paid(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], staff_headers: Headers
) -> tuple[str, int, str]:
    """An invoice paid in full by bank transfer: (number, payment id, booking id)."""
    name, secret = integration
    body = confirmed_event()
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 202, response.text
    number = str(response.json()["invoice_number"])
    marked = await http.post(
        f"/v1/invoices/{number}/mark-paid", headers=staff_headers, json={"method": "bank_transfer"}
    )
    assert marked.status_code == 200, marked.text
    shown = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()
    assert shown["status"] == "paid"
    return number, int(shown["payments"][0]["id"]), str(body["data"]["booking_id"])


async def refund(
    http: httpx.AsyncClient, headers: Headers, number: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await http.post(f"/v1/invoices/{number}/refund", headers=headers | extra, json=body)


async def _refunds(db: Database, number: str) -> list[tuple[int, int | None]]:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None and invoice.id is not None
        rows = await payments_repo.list_payments(session, invoice_id=invoice.id)
    return [(p.amount_minor, p.refund_of_payment_id) for p in rows if p.kind == "refund"]


async def _refund_emails(db: Database, number: str) -> int:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None and invoice.id is not None
        rows = await messages_repo.list_messages(session, invoice_id=invoice.id, limit=100)
    return sum(1 for m in rows if m.kind == "refund")


async def test_a_credited_partial_refund_keeps_the_invoice_paid_with_a_credit_note_once(
    http: httpx.AsyncClient, db: Database, paid: tuple[str, int, str], staff_headers: Headers
) -> None:
    number, payment_id, _ = paid
    body = {"payment_id": payment_id, "amount_minor": 3_000, "reason": "session ended early"}
    first = await refund(http, staff_headers, number, body, key="rf-1")
    assert first.status_code == 200, first.text
    made = first.json()
    assert made["recorded"] is True and made["status"] == "paid" and made["balance_minor"] == 0
    assert made["provider"] == "manual" and made["credit_note_number"]
    again = await refund(http, staff_headers, number, body, key="rf-1")
    assert again.status_code == 200 and again.json()["recorded"] is False
    assert await _refunds(db, number) == [(3_000, payment_id)]
    assert await _refund_emails(db, number) == 1  # the client is told once, the credit note attached
    shown = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()
    assert [p["kind"] for p in shown["payments"]] == ["payment", "refund"]
    kinds = [e["kind"] for e in shown["timeline"]]
    assert "payment.refunded" in kinds and "refund.decided" in kinds and "credit_note.issued" in kinds


async def test_a_refund_owed_again_reopens_the_invoice(
    http: httpx.AsyncClient, db: Database, paid: tuple[str, int, str], staff_headers: Headers
) -> None:
    number, payment_id, _ = paid
    body = {"payment_id": payment_id, "reason": "paid from the wrong account", "outcome": "owed_again"}
    response = await refund(http, staff_headers, number, body)
    assert response.status_code == 200, response.text
    made = response.json()
    assert made["amount_minor"] == CONFIRMED_TOTAL and made["credit_note_number"] is None
    assert made["status"] == "open" and made["balance_minor"] == CONFIRMED_TOTAL
    # Nothing is left of the payment to refund.
    more = await refund(http, staff_headers, number, {"payment_id": payment_id, "reason": "again"})
    assert more.status_code == 422 and more.json()["detail"][0]["loc"] == ["body", "payment_id"]


async def test_refusals_name_their_field_and_a_viewer_cannot_refund(
    http: httpx.AsyncClient,
    db: Database,
    paid: tuple[str, int, str],
    staff_headers: Headers,
    viewer_headers: Headers,
) -> None:
    number, payment_id, _ = paid
    too_much = await refund(
        http, staff_headers, number, {"payment_id": payment_id, "amount_minor": 10**6, "reason": "x"}
    )
    assert too_much.status_code == 422
    assert too_much.json()["detail"][0]["loc"] == ["body", "amount_minor"]
    assert "left to refund" in too_much.json()["detail"][0]["msg"]
    foreign = await refund(http, staff_headers, number, {"payment_id": 10**9, "reason": "x"})
    assert foreign.status_code == 422 and foreign.json()["detail"][0]["loc"] == ["body", "payment_id"]
    no_reason = await refund(http, staff_headers, number, {"payment_id": payment_id, "reason": ""})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    viewer = await refund(http, viewer_headers, number, {"payment_id": payment_id, "reason": "x"})
    assert viewer.status_code == 403
    missing = await refund(http, staff_headers, "INV-0000-000000", {"payment_id": payment_id, "reason": "x"})
    assert missing.status_code == 404
    assert await _refunds(db, number) == []


async def test_the_refund_endpoint_is_documented(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/invoices/{number}/refund"]["post"]
    assert {"200", "404", "409", "422"} <= set(operation["responses"])
    assert "outcome" in spec["components"]["schemas"]["RefundIn"]["properties"]


async def test_a_cancelled_paid_booking_waits_on_the_overview_until_a_refund_is_decided(
    http: httpx.AsyncClient,
    db: Database,
    paid: tuple[str, int, str],
    staff_headers: Headers,
    integration: tuple[str, str],
) -> None:
    number, payment_id, booking_id = paid
    name, secret = integration
    cancelled = await post_signed(http, name, secret, event("booking.cancelled", booking_id, reason="client ill"))
    assert cancelled.status_code in (200, 202), cancelled.text
    flagged = await overview.overview(db)
    assert number in [r.invoice_number for r in flagged.refunds_to_decide]
    body = {"payment_id": payment_id, "reason": "cancelled: full refund"}
    assert (await refund(http, staff_headers, number, body)).status_code == 200
    decided = await overview.overview(db)
    assert number not in [r.invoice_number for r in decided.refunds_to_decide]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, api_settings: Settings, time_env: WorkflowEnvironment) -> Iterator[None]:
    assert api_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    monkeypatch.setenv("BILLFLOW_TASK_QUEUE", api_settings.task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_the_cli_refunds_through_the_same_service(
    paid: tuple[str, int, str], cli_env: None, db: Database
) -> None:
    number, payment_id, _ = paid
    args = ["invoice", "refund", number, "--payment", str(payment_id), "--reason", "goodwill"]
    code, out = await invoke(*args, "--amount", "999999")
    assert code == 2 and "amount_minor: at most" in out
    code, out = await invoke(*args, "--amount", "1000", "--request-id", "cli-1", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "paid" and json.loads(out)["recorded"] is True
    code, out = await invoke(*args, "--amount", "1000", "--request-id", "cli-1")
    assert code == 0 and "already done by this request id" in out
    assert await _refunds(db, number) == [(1_000, payment_id)]
    assert await _refund_emails(db, number) == 1


async def invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def test_keeping_the_money_is_a_decision_too(
    http: httpx.AsyncClient,
    db: Database,
    paid: tuple[str, int, str],
    staff_headers: Headers,
    integration: tuple[str, str],
) -> None:
    number, _, booking_id = paid
    keep = f"/v1/invoices/{number}/keep-payment"
    nothing_waiting = await http.post(keep, headers=staff_headers, json={"reason": "late cancellation fee"})
    assert nothing_waiting.status_code == 422 and nothing_waiting.json()["detail"][0]["loc"] == ["body", "decision"]
    name, secret = integration
    await post_signed(http, name, secret, event("booking.cancelled", booking_id, reason="cancelled the same day"))
    headers = staff_headers | {"Idempotency-Key": "keep-1"}
    kept = await http.post(keep, headers=headers, json={"reason": "late cancellation fee"})
    assert kept.status_code == 200 and kept.json()["decided"] is True
    again = await http.post(keep, headers=headers, json={"reason": "late cancellation fee"})
    assert again.status_code == 200 and again.json()["decided"] is False
    assert number not in [r.invoice_number for r in (await overview.overview(db)).refunds_to_decide]
    assert await _refunds(db, number) == []  # nothing was given back


async def test_a_refund_on_a_running_invoice_is_adopted_by_its_workflow(
    http: httpx.AsyncClient, worker: Worker, db: Database, integration: tuple[str, str], staff_headers: Headers
) -> None:
    name, secret = integration
    number = str((await post_signed(http, name, secret, confirmed_event())).json()["invoice_number"])
    part = await http.post(
        f"/v1/invoices/{number}/mark-paid", headers=staff_headers, json={"amount_minor": 5_000, "method": "cash"}
    )
    assert part.status_code == 200 and part.json()["state"]["status"] == "partially_paid"
    payment_id = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()["payments"][0]["id"]
    body = {"payment_id": payment_id, "amount_minor": 2_000, "reason": "overcharged", "outcome": "owed_again"}
    made = (await refund(http, staff_headers, number, body)).json()
    assert made["status"] == "partially_paid" and made["balance_minor"] == CONFIRMED_TOTAL - 3_000

    async def adopted() -> bool:
        live = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()["live"]
        return live is not None and live["amount_paid_minor"] == 3_000

    for _ in range(100):
        if await adopted():
            break
        await asyncio.sleep(0.05)
    assert await adopted()
    assert await _refunds(db, number) == [(2_000, payment_id)]  # recorded once, not again by the workflow
