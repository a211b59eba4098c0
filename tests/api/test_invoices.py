"""Staff invoice endpoints with the real worker: filters, detail, every action and every 409."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import messages as messages_repo
from tests.api.support import CONFIRMED_TOTAL, confirmed_event, issue_email_sent, post_signed


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


Headers = dict[str, str]


@pytest.fixture
async def number(http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], db: Database) -> str:
    """A freshly issued, unpaid invoice (its issue email sent: its run has started and taken over)."""
    name, secret = integration
    response = await post_signed(http, name, secret, confirmed_event())
    assert response.status_code == 202, response.text
    number = str(response.json()["invoice_number"])
    await issue_email_sent(db, number)
    return number


async def act(http: httpx.AsyncClient, headers: Headers, number: str, action: str, body: Any = None) -> httpx.Response:
    return await http.post(f"/v1/invoices/{number}/{action}", headers=headers, json=body)


# --- reading ----------------------------------------------------------------------------------------


async def test_list_filters_by_text_status_and_amount(
    http: httpx.AsyncClient, number: str, viewer_headers: Headers
) -> None:
    found = await http.get("/v1/invoices", params={"q": number}, headers=viewer_headers)
    assert found.status_code == 200
    assert [i["number"] for i in found.json()["items"]] == [number]
    assert found.json()["total"] == 1
    by_status = await http.get("/v1/invoices", params={"q": number, "status": "paid"}, headers=viewer_headers)
    assert by_status.json()["items"] == []
    too_small = {"q": number, "amount_max": CONFIRMED_TOTAL - 1}
    assert (await http.get("/v1/invoices", params=too_small, headers=viewer_headers)).json()["total"] == 0
    exact = {"q": number, "amount_min": CONFIRMED_TOTAL, "amount_max": CONFIRMED_TOTAL}
    assert (await http.get("/v1/invoices", params=exact, headers=viewer_headers)).json()["total"] == 1


async def test_list_searches_client_name_and_paginates(
    http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str], viewer_headers: Headers
) -> None:
    name, secret = integration
    body = confirmed_event()
    client_name = body["data"]["client"]["name"]
    await post_signed(http, name, secret, body)
    second = confirmed_event(client=body["data"]["client"])
    await post_signed(http, name, secret, second)
    page = await http.get("/v1/invoices", params={"q": client_name.upper(), "limit": 1}, headers=viewer_headers)
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    rest = await http.get("/v1/invoices", params={"q": client_name, "limit": 1, "offset": 1}, headers=viewer_headers)
    assert rest.json()["items"][0]["number"] != page.json()["items"][0]["number"]


async def test_overdue_days_filter(http: httpx.AsyncClient, number: str, viewer_headers: Headers, db: Database) -> None:
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None
        invoice.due_date = datetime.now(UTC).date() - timedelta(days=10)
        # the due instant decides (reporting-zone days, UTC here): the end of the due day, as issue_invoice sets it
        invoice.due_at = datetime.combine(invoice.due_date + timedelta(days=1), time(0), tzinfo=UTC)
        session.add(invoice)
    ten = await http.get("/v1/invoices", params={"q": number, "overdue_days": 10}, headers=viewer_headers)
    eleven = await http.get("/v1/invoices", params={"q": number, "overdue_days": 11}, headers=viewer_headers)
    assert ten.json()["total"] == 1
    assert eleven.json()["total"] == 0


async def test_detail_has_lines_messages_timeline_and_live_state(
    http: httpx.AsyncClient, number: str, viewer_headers: Headers
) -> None:
    for _ in range(100):  # the issue email is sent by the worker after the number is known
        response = await http.get(f"/v1/invoices/{number}", headers=viewer_headers)
        assert response.status_code == 200
        detail = response.json()
        if detail["messages"] and detail["messages"][0]["status"] != "claimed":
            break
        await asyncio.sleep(0.05)
    assert [line["description"] for line in detail["lines"]] == ["Massage, 60 min", "Oil"]
    assert detail["total_minor"] == CONFIRMED_TOTAL
    assert detail["live"]["number"] == number
    assert "invoice.issued" in [e["kind"] for e in detail["timeline"]]
    assert detail["messages"][0]["kind"] == "invoice_issued"
    assert detail["messages"][0]["status"] == "sent"


async def test_unknown_invoice_is_404(http: httpx.AsyncClient, viewer_headers: Headers, staff_headers: Headers) -> None:
    assert (await http.get("/v1/invoices/INV-1999-999999", headers=viewer_headers)).status_code == 404
    assert (await act(http, staff_headers, "INV-1999-999999", "resume-reminders")).status_code == 404


async def test_viewer_may_read_but_not_act(http: httpx.AsyncClient, number: str, viewer_headers: Headers) -> None:
    assert (await http.get(f"/v1/invoices/{number}", headers=viewer_headers)).status_code == 200
    assert (await act(http, viewer_headers, number, "pause-reminders")).status_code == 403


async def test_list_without_key_is_401(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/invoices")).status_code == 401


# --- actions ----------------------------------------------------------------------------------------


async def test_mark_paid_settles_the_invoice(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "mark-paid", {"method": "cash"})
    assert response.status_code == 200, response.text
    assert response.json()["state"]["status"] == "paid"
    assert response.json()["state"]["balance_minor"] == 0


async def test_mark_paid_above_the_balance_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "mark-paid", {"amount_minor": CONFIRMED_TOTAL + 1})
    assert response.status_code == 409
    assert "exceeds the balance" in response.json()["detail"]


async def test_pause_then_resume(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    paused = await act(http, staff_headers, number, "pause-reminders", {"until": until})
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"]["paused"] is True
    resumed = await act(http, staff_headers, number, "resume-reminders")
    assert resumed.status_code == 200
    assert resumed.json()["state"]["paused"] is False


async def test_resume_when_not_paused_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "resume-reminders")
    assert response.status_code == 409
    assert response.json()["detail"] == "reminders are not paused"


async def test_pause_twice_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    assert (await act(http, staff_headers, number, "pause-reminders")).status_code == 200
    second = await act(http, staff_headers, number, "pause-reminders")
    assert second.status_code == 409
    assert second.json()["detail"] == "reminders are already paused"


async def test_pause_until_the_past_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    until = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await act(http, staff_headers, number, "pause-reminders", {"until": until})
    assert response.status_code == 409
    assert "past" in response.json()["detail"]


async def test_extend_due_date_by_days(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    before = (await http.get(f"/v1/invoices/{number}", headers=staff_headers)).json()["due_date"]
    response = await act(http, staff_headers, number, "extend-due-date", {"extend_days": 7})
    assert response.status_code == 200, response.text
    moved = datetime.fromisoformat(response.json()["state"]["due_date"]).date()
    assert moved - datetime.fromisoformat(before).date() == timedelta(days=7)


async def test_extend_to_an_earlier_date_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "extend-due-date", {"due_date": "2000-01-01"})
    assert response.status_code == 409
    assert "is not after" in response.json()["detail"]


async def test_void_then_any_action_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    voided = await act(http, staff_headers, number, "void", {"reason": "duplicate booking"})
    assert voided.status_code == 200, voided.text
    assert voided.json()["state"]["status"] == "void"
    again = await act(http, staff_headers, number, "write-off", {"reason": "x"})
    assert again.status_code == 409
    assert again.json()["detail"] == f"invoice {number} is void"


async def test_void_with_payments_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    assert (await act(http, staff_headers, number, "mark-paid", {"amount_minor": 100})).status_code == 200
    response = await act(http, staff_headers, number, "void", {"reason": "oops"})
    assert response.status_code == 409
    assert "has payments" in response.json()["detail"]


async def test_write_off(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "write-off", {"reason": "client vanished"})
    assert response.status_code == 200, response.text
    assert response.json()["state"]["status"] == "uncollectible"


async def test_same_idempotency_key_applies_once(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    headers = staff_headers | {"Idempotency-Key": "pay-once-1"}
    first = await act(http, headers, number, "mark-paid", {"amount_minor": 100})
    second = await act(http, headers, number, "mark-paid", {"amount_minor": 100})
    assert first.status_code == second.status_code == 200
    assert second.json()["state"]["amount_paid_minor"] == 100


async def test_resend_sends_a_new_email_per_request(
    http: httpx.AsyncClient, number: str, staff_headers: Headers, db: Database
) -> None:
    first = await act(http, staff_headers, number, "resend", {"kind": "invoice_issued"})
    second = await act(http, staff_headers, number, "resend", {"kind": "invoice_issued"})
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["message_id"] != second.json()["message_id"]
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        assert invoice is not None and invoice.id is not None
        kinds = [m.kind for m in await messages_repo.list_messages(session, invoice_id=invoice.id)]
    assert kinds.count("invoice_issued") == 3


async def test_resend_with_the_same_key_sends_once(
    http: httpx.AsyncClient, number: str, staff_headers: Headers
) -> None:
    headers = staff_headers | {"Idempotency-Key": "resend-1"}
    first = await act(http, headers, number, "resend", {"kind": "invoice_issued"})
    second = await act(http, headers, number, "resend", {"kind": "invoice_issued"})
    assert first.json()["message_id"] == second.json()["message_id"]
    assert second.json()["already_sent"] is True


async def test_resend_of_a_kind_never_sent_is_409(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "resend", {"kind": "receipt"})
    assert response.status_code == 409


# --- bad input --------------------------------------------------------------------------------------


async def test_void_without_reason_is_422_naming_it(
    http: httpx.AsyncClient, number: str, staff_headers: Headers
) -> None:
    response = await act(http, staff_headers, number, "void", {})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_negative_amount_is_422_naming_it(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "mark-paid", {"amount_minor": -5})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "amount_minor"]


async def test_extend_with_both_fields_is_422(http: httpx.AsyncClient, number: str, staff_headers: Headers) -> None:
    response = await act(http, staff_headers, number, "extend-due-date", {"due_date": "2030-01-01", "extend_days": 3})
    assert response.status_code == 422
    assert "extend_days" in response.text


async def test_bad_filter_is_422_naming_it(http: httpx.AsyncClient, viewer_headers: Headers) -> None:
    response = await http.get("/v1/invoices", params={"status": "lost"}, headers=viewer_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "status", 0]
