"""Client records through the staff API: search, detail and balance, timeline contents, notes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from models.inbox import InboxEvent
from tests.api.support import CONFIRMED_TOTAL, confirmed_event, post_signed
from worker import build_worker

Headers = dict[str, str]


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


@pytest.fixture
async def booked(http: httpx.AsyncClient, worker: Worker, integration: tuple[str, str]) -> dict[str, Any]:
    """A client with two invoices from two confirmed bookings (GBP); returns the client and the numbers."""
    name, secret = integration
    first = confirmed_event()
    client = first["data"]["client"]
    second = confirmed_event(client=client)
    numbers = []
    for body in (first, second):
        response = await post_signed(http, name, secret, body)
        assert response.status_code == 202, response.text
        numbers.append(response.json()["invoice_number"])
    return {"client": client, "numbers": numbers}


async def test_detail_shows_contact_balance_and_invoices(
    http: httpx.AsyncClient, booked: dict[str, Any], staff_headers: Headers
) -> None:
    paid, unpaid = booked["numbers"]
    response = await http.post(f"/v1/invoices/{paid}/mark-paid", headers=staff_headers, json={})
    assert response.status_code == 200, response.text

    response = await http.get(f"/v1/clients/{booked['client']['external_id']}", headers=staff_headers)
    assert response.status_code == 200, response.text
    detail = response.json()
    assert (detail["name"], detail["email"]) == (booked["client"]["name"], booked["client"]["email"])
    assert detail["balances"] == [
        {
            "currency": "GBP",
            "invoiced_minor": 2 * CONFIRMED_TOTAL,
            "paid_minor": CONFIRMED_TOTAL,
            "balance_minor": CONFIRMED_TOTAL,
            "overdue_minor": 0,
            "open_invoices": 1,
        }
    ]
    assert {(i["number"], i["status"]) for i in detail["invoices"]} == {(paid, "paid"), (unpaid, "open")}
    assert [(p["invoice_number"], p["amount_minor"], p["provider"]) for p in detail["payments"]] == [
        (paid, CONFIRMED_TOTAL, "manual")
    ]


async def test_balance_of_a_client_whose_invoices_are_all_void(
    http: httpx.AsyncClient, booked: dict[str, Any], staff_headers: Headers
) -> None:
    # Voided right after the booking's answer, before the outbox has relayed the run's start: the void waits
    # for the run (bounded) instead of being refused.
    for number in booked["numbers"]:
        response = await http.post(f"/v1/invoices/{number}/void", headers=staff_headers, json={"reason": "cancelled"})
        assert response.status_code == 200, response.text
    response = await http.get(f"/v1/clients/{booked['client']['external_id']}", headers=staff_headers)
    assert response.status_code == 200, response.text
    assert response.json()["balances"] == [
        {
            "currency": "GBP",
            "invoiced_minor": 0,
            "paid_minor": 0,
            "balance_minor": 0,
            "overdue_minor": 0,
            "open_invoices": 0,
        }
    ]


async def test_a_void_sent_before_the_run_starts_waits_for_it(
    http: httpx.AsyncClient,
    integration: tuple[str, str],
    staff_headers: Headers,
    temporal_env: WorkflowEnvironment,
    db: Database,
    api_settings: Settings,
    task_queue: str,
) -> None:
    # No worker (and so no outbox relay) yet: the invoice is recorded, its run not started.
    name, secret = integration
    booked = await post_signed(http, name, secret, confirmed_event())
    assert booked.status_code == 202, booked.text
    number = booked.json()["invoice_number"]
    void = asyncio.create_task(
        http.post(f"/v1/invoices/{number}/void", headers=staff_headers, json={"reason": "cancelled"})
    )
    await asyncio.sleep(0.5)
    assert not void.done()
    async with build_worker(temporal_env.client, db, api_settings, task_queue=task_queue):
        response = await asyncio.wait_for(void, timeout=15)
    assert response.status_code == 200, response.text
    assert response.json()["state"]["status"] == "void"


async def test_timeline_merges_invoices_payments_emails_and_notes(
    http: httpx.AsyncClient, booked: dict[str, Any], staff_headers: Headers
) -> None:
    external_id = booked["client"]["external_id"]
    paid, unpaid = booked["numbers"]
    # An invoice paid before its run sent the issue email gets only the receipt: let both issue emails go first.
    await _timeline_until(
        http,
        external_id,
        staff_headers,
        lambda t: sum(e["kind"] == "email.invoice_issued" and e["status"] != "claimed" for e in t) == 2,
    )
    assert (await http.post(f"/v1/invoices/{paid}/mark-paid", headers=staff_headers, json={})).status_code == 200
    assert (await http.post(f"/v1/invoices/{unpaid}/pause-reminders", headers=staff_headers)).status_code == 200
    # The receipt email follows the payment in a later activity and its time moves on when sent: let it settle
    # before the note, which must be newest.
    await _timeline_until(
        http,
        external_id,
        staff_headers,
        lambda t: any(e["kind"] == "email.receipt" and e["status"] != "claimed" for e in t),
    )
    note = await http.post(f"/v1/clients/{external_id}/notes", headers=staff_headers, json={"text": "Pays Fridays"})
    assert note.status_code == 201, note.text

    timeline = (await http.get(f"/v1/clients/{external_id}/timeline", headers=staff_headers)).json()
    kinds = [(e["kind"], e["invoice_number"]) for e in timeline]
    assert ("invoice.issued", paid) in kinds and ("invoice.issued", unpaid) in kinds
    assert ("payment.received", paid) in kinds
    assert ("email.invoice_issued", paid) in kinds and ("email.invoice_issued", unpaid) in kinds
    assert ("invoice.paused", unpaid) in kinds
    assert ("note.added", None) in kinds
    # Each issue and payment appears once, although the timeline table records them too.
    assert kinds.count(("invoice.issued", paid)) == 1 and kinds.count(("payment.received", paid)) == 1
    assert timeline[0]["kind"] == "note.added" and timeline[0]["message"] == "Pays Fridays"
    assert [e["at"] for e in timeline] == sorted((e["at"] for e in timeline), reverse=True)


async def _timeline_until(
    http: httpx.AsyncClient,
    external_id: str,
    headers: Headers,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """Poll the client's timeline until `done` holds; fail with the last timeline after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    timeline: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        response = await http.get(f"/v1/clients/{external_id}/timeline", headers=headers)
        assert response.status_code == 200, response.text
        timeline = response.json()
        if done(timeline):
            return timeline
        await asyncio.sleep(0.05)
    raise AssertionError(f"timeline not settled within {timeout}s: {timeline!r}")


async def test_timeline_shows_emails_with_their_delivery_events(
    http: httpx.AsyncClient, db: Database, booked: dict[str, Any], staff_headers: Headers
) -> None:
    first = booked["numbers"][0]
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=first)
        assert invoice is not None
        session.add(
            InboxEvent(
                source="sendgrid",
                event_key=uuid.uuid4().hex,
                type="delivered",
                invoice_id=invoice.id,
                outcome="delivered",
                processed_at=datetime.now(UTC),
            )
        )
    # The booking answers 202 once the invoice is recorded; its email is claimed then sent by a later
    # activity, so "claimed" is a true interim state. Wait (bounded) for both sends to settle.
    timeline = await _timeline_until(
        http,
        booked["client"]["external_id"],
        staff_headers,
        lambda t: (
            [e["status"] for e in t if e["kind"] == "email.invoice_issued"].count("claimed") == 0
            and len([e for e in t if e["kind"] == "email.invoice_issued"]) == 2
        ),
    )
    issued_emails = [e for e in timeline if e["kind"] == "email.invoice_issued"]
    assert len(issued_emails) == 2
    assert {e["status"] for e in issued_emails} == {"sent"}
    assert [(e["kind"], e["invoice_number"]) for e in timeline if e["kind"] == "email.delivered"] == [
        ("email.delivered", first)
    ]


async def test_note_is_stored_with_its_author(
    http: httpx.AsyncClient, db: Database, booked: dict[str, Any], staff_headers: Headers
) -> None:
    external_id = booked["client"]["external_id"]
    body = {"text": "  Call back  "}
    response = await http.post(f"/v1/clients/{external_id}/notes", headers=staff_headers, json=body)
    assert response.status_code == 201
    async with db.session() as session:
        (client,) = await clients_repo.find_clients(session, external_id=external_id)
        assert client is not None and client.id is not None
        events = await timeline_repo.list_events(session, client_id=client.id)
    notes = [e for e in events if e.kind == "note.added"]
    assert [(n.message, n.data["author"].startswith("api_key:")) for n in notes] == [("Call back", True)]


async def test_empty_note_is_422_naming_the_field(
    http: httpx.AsyncClient, booked: dict[str, Any], staff_headers: Headers
) -> None:
    response = await http.post(
        f"/v1/clients/{booked['client']['external_id']}/notes", headers=staff_headers, json={"text": "   "}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


async def test_viewer_may_read_but_not_add_notes(
    http: httpx.AsyncClient, booked: dict[str, Any], viewer_headers: Headers
) -> None:
    external_id = booked["client"]["external_id"]
    assert (await http.get(f"/v1/clients/{external_id}", headers=viewer_headers)).status_code == 200
    response = await http.post(f"/v1/clients/{external_id}/notes", headers=viewer_headers, json={"text": "hi"})
    assert response.status_code == 403


async def test_search_finds_a_client_by_part_of_the_name(
    http: httpx.AsyncClient, booked: dict[str, Any], viewer_headers: Headers
) -> None:
    fragment = booked["client"]["name"].split()[-1]  # the random suffix
    response = await http.get("/v1/clients", params={"q": fragment}, headers=viewer_headers)
    assert response.status_code == 200
    found = response.json()
    assert [c["external_id"] for c in found] == [booked["client"]["external_id"]]
    assert found[0]["balances"][0]["balance_minor"] == 2 * CONFIRMED_TOTAL


async def test_search_treats_wildcards_literally(http: httpx.AsyncClient, viewer_headers: Headers) -> None:
    response = await http.get("/v1/clients", params={"q": f"%{uuid.uuid4().hex}"}, headers=viewer_headers)
    assert response.json() == []


async def test_nul_characters_are_422_not_a_driver_error(
    http: httpx.AsyncClient, booked: dict[str, Any], staff_headers: Headers
) -> None:
    # In the URL the app's limits middleware may answer first (400); either way a 4xx, never a driver error.
    assert (await http.get("/v1/clients", params={"q": "a\x00b"}, headers=staff_headers)).status_code in (400, 422)
    assert (await http.get("/v1/clients/a%00b", headers=staff_headers)).status_code in (400, 422)
    path = f"/v1/clients/{booked['client']['external_id']}/notes"
    response = await http.post(path, headers=staff_headers, json={"text": "a\u0000b"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "text"]


async def test_unknown_client_is_404(http: httpx.AsyncClient, staff_headers: Headers) -> None:
    for path in ("", "/timeline", "/settings"):
        response = await http.get(f"/v1/clients/nobody-{uuid.uuid4().hex[:6]}{path}", headers=staff_headers)
        assert response.status_code == 404, path
    response = await http.post("/v1/clients/nobody/notes", headers=staff_headers, json={"text": "x"})
    assert response.status_code == 404


async def test_clients_without_a_key_are_401(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/clients")).status_code == 401
