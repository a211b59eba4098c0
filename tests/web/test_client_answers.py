"""The client answers from the invoice page: transfer, promise, dispute; signed forms, once per answer, rate-limited,
bad input named by field, and never a 5xx."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import messages as messages_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import client_answers
from billflow.services.invoice_runs import query_state
from models.enums import EmailKind, InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import HoldKind, InvoiceState
from tests.standins.fixtures import wait_until
from tests.web.conftest import load_invoice, start_and_wait_issued

FORM_TOKEN = re.compile(r'name="form_token" value="([0-9]+\.[0-9a-f]+)"')


async def _form_token(http: httpx.AsyncClient, token: str) -> str:
    page = await http.get(f"/i/{token}")
    assert page.status_code == 200
    match = FORM_TOKEN.search(page.text)
    assert match, "the invoice page carries the answer forms"
    return match.group(1)


async def _answer(http: httpx.AsyncClient, invoice: Invoice, **fields: str) -> httpx.Response:
    data = {"form_token": await _form_token(http, invoice.public_token), **fields}
    return await http.post(f"/i/{invoice.public_token}/answer", data=data)


async def _state(time_env: WorkflowEnvironment, invoice: Invoice, predicate) -> InvoiceState:  # type: ignore[no-untyped-def]
    found: list[InvoiceState] = []

    async def check() -> bool:
        state = await query_state(time_env.client, invoice.workflow_id)
        found[:] = [state] if state else []
        return state is not None and predicate(state)

    await wait_until(check)
    return found[0]


async def _events(db: Database, invoice: Invoice) -> list[str]:
    async with db.session() as session:
        return [e.kind for e in await timeline_repo.list_events(session, invoice_id=invoice.id, limit=100)]


async def test_transfer_answer_holds_the_invoice_in_processing_and_tells_staff_once(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    today = datetime.now(UTC).date().isoformat()
    fields = {"kind": "transfer", "paid_on": today, "reference": "  INV 4711 "}
    first, second = await asyncio.gather(_answer(http, invoice, **fields), _answer(http, invoice, **fields))
    for response in (first, second):
        assert response.status_code == 303
        assert response.headers["location"] == f"/i/{invoice.public_token}?answered=transfer#answer"

    state = await _state(time_env, invoice, lambda s: s.status is InvoiceStatus.processing)
    assert state.hold is not None and state.hold.kind is HoldKind.processing and "INV 4711" in state.hold.label
    assert len(state.handled_answer_ids) == 1
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.processing
    page = await http.get(f"/i/{invoice.public_token}?answered=transfer")
    assert 'data-testid="answered"' in page.text and 'data-testid="processing"' in page.text

    async def staff_told() -> bool:
        async with db.session() as session:
            emails = await messages_repo.list_messages(session, invoice_id=invoice.id or 0, limit=50)
        return [m.kind for m in emails].count(EmailKind.client_answer) == 1

    await wait_until(staff_told)
    assert (await _events(db, invoice)).count("invoice.processing") == 1


async def test_dispute_answer_sets_disputed(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    response = await _answer(http, invoice, kind="dispute", reason="We cancelled the second session")
    assert response.status_code == 303
    state = await _state(time_env, invoice, lambda s: s.status is InvoiceStatus.disputed)
    assert state.hold is not None and state.hold.kind is HoldKind.dispute
    assert "invoice.disputed" in await _events(db, invoice)


async def test_promise_answer_waits_until_the_end_of_the_day_plus_grace(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)  # client in Europe/London (factories)
    pay_on = (datetime.now(UTC) + timedelta(days=10)).date()
    response = await _answer(http, invoice, kind="promise", pay_on=pay_on.isoformat())
    assert response.status_code == 303
    state = await _state(time_env, invoice, lambda s: s.hold is not None)
    assert state.hold is not None and state.hold.kind is HoldKind.promise
    assert state.status is InvoiceStatus.open  # a promise is no payment: the status stays
    assert state.hold.until is not None
    assert state.hold.until.date() in (pay_on + timedelta(days=2), pay_on + timedelta(days=3))  # + 2 days grace


async def test_bad_answers_are_400_naming_the_field_and_record_nothing(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    past = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    far = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    cases = [
        ({"kind": "transfer", "paid_on": future, "reference": "x"}, "paid_on"),
        ({"kind": "transfer", "paid_on": "yesterday", "reference": "x"}, "paid_on"),
        ({"kind": "transfer", "paid_on": past, "reference": "  "}, "reference"),
        ({"kind": "promise", "pay_on": past}, "pay_on"),
        ({"kind": "promise", "pay_on": far}, "pay_on"),
        ({"kind": "dispute", "reason": "no"}, "reason"),
        ({"kind": "refund-me"}, "kind"),
    ]
    for fields, field in cases:
        response = await _answer(http, invoice, **fields)
        assert response.status_code == 400, fields
        assert f"{field}:" in response.text, fields
    forged = await http.post(
        f"/i/{invoice.public_token}/answer", data={"kind": "dispute", "reason": "forged", "form_token": "1.abc"}
    )
    assert forged.status_code == 400 and "reload" in forged.text
    unknown = await http.post("/i/not-a-token/answer", data={"kind": "dispute", "reason": "who", "form_token": "1.a"})
    assert unknown.status_code == 404
    state = await query_state(time_env.client, invoice.workflow_id)
    assert state is not None and state.hold is None and state.handled_answer_ids == []


async def test_form_token_of_another_invoice_or_too_old_is_refused(
    time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    one = await start_and_wait_issued(time_env.client, worker, db)
    other = await start_and_wait_issued(time_env.client, worker, db)
    token = client_answers.form_token(one)
    assert client_answers.form_token_valid(one, token)
    assert not client_answers.form_token_valid(other, token)
    old = client_answers.form_token(one, now=datetime.now(UTC) - timedelta(hours=13))
    assert not client_answers.form_token_valid(one, old)


async def test_answers_are_rate_limited_per_invoice(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    statuses = []
    for n in range(7):  # the default allows 5 new answers an hour
        response = await _answer(http, invoice, kind="dispute", reason=f"reason number {n}")
        statuses.append(response.status_code)
    assert statuses == [303] * 5 + [429, 429]
    repeat = await _answer(http, invoice, kind="dispute", reason="reason number 0")  # a repeat is not a new answer
    assert repeat.status_code == 303
    state = await _state(time_env, invoice, lambda s: len(s.handled_answer_ids) == 5)
    assert state.status is InvoiceStatus.disputed


async def test_paid_invoice_shows_no_answer_forms_and_ignores_posts(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    token = await _form_token(http, invoice.public_token)
    from tests.workflows.support import payment
    from workflows.invoice import InvoiceWorkflow

    handle = time_env.client.get_workflow_handle(invoice.workflow_id)
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    await handle.result()
    page = await http.get(f"/i/{invoice.public_token}")
    assert 'data-testid="answers"' not in page.text
    response = await http.post(
        f"/i/{invoice.public_token}/answer", data={"kind": "dispute", "reason": "too late now", "form_token": token}
    )
    assert response.status_code == 303 and response.headers["location"] == f"/i/{invoice.public_token}"


async def test_invoice_page_shows_due_date_and_next_reminder_then_the_promise(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    page = await http.get(f"/i/{invoice.public_token}")
    assert 'data-testid="plan"' in page.text
    assert "Next reminder:" in page.text and "09:00 Europe/London" in page.text
    pay_on = (datetime.now(UTC) + timedelta(days=20)).date()
    await _answer(http, invoice, kind="promise", pay_on=pay_on.isoformat())
    await _state(time_env, invoice, lambda s: s.hold is not None)
    page = await http.get(f"/i/{invoice.public_token}")
    assert "We will not send a reminder before" in page.text


async def test_stored_answers_say_whether_they_reached_the_workflow(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    from sqlmodel import select

    from models.collections import ClientAnswer

    invoice = await start_and_wait_issued(time_env.client, worker, db)
    assert (await _answer(http, invoice, kind="dispute", reason="not what we agreed")).status_code == 303
    async with db.session() as session:
        rows = (await session.exec(select(ClientAnswer).where(ClientAnswer.invoice_id == invoice.id))).all()
    assert [(r.kind, r.outcome) for r in rows] == [("dispute", "signalled")]
    assert rows[0].payload["reason"] == "not what we agreed"
