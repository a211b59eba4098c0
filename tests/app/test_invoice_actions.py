"""Every staff action from the invoice page, against the time-skipping server and the real worker: each needs
its tick box, a bad field is named next to it, a refusal comes with its reason."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import timeline as timeline_repo
from billflow.services import clients as clients_service
from billflow.services import invoice_runs
from models.api_keys import ApiRole
from tests.app.support import browserless, make_user, post_form, sign_in
from tests.factories import make_booking


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Staff actions here are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


async def _issued(env: WorkflowEnvironment, db: Database, settings: Settings) -> str:
    booking = make_booking()
    async with db.session() as session:
        handle = await clients_service.start_client_invoice(
            session, env.client, booking, task_queue=settings.task_queue
        )
    for _ in range(200):
        state = await invoice_runs.query_state(env.client, handle.id)
        if state is not None:
            return state.number
        await asyncio.sleep(0.05)
    raise AssertionError("not issued")


async def _act(http: httpx.AsyncClient, number: str, name: str, data: dict[str, str]) -> httpx.Response:
    page = f"/app/invoices/{number}"
    response = await post_form(http, page, f"{page}/act/{name}", data)
    return await http.get(page) if response.status_code == 303 else response


def _due(html: str) -> date:
    match = re.search(r'data-testid="due-date">(\d{4}-\d\d-\d\d)<', html)
    assert match
    return date.fromisoformat(match.group(1))


async def test_extend_resend_void_and_write_off_from_the_page(
    app: FastAPI, worker: Worker, temporal_env: WorkflowEnvironment, db: Database, api_settings: Settings
) -> None:
    first, second = await _issued(temporal_env, db, api_settings), await _issued(temporal_env, db, api_settings)
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        shown = (await http.get(f"/app/invoices/{first}")).text
        before = _due(shown)
        public = re.search(r'href="(/i/[^"]+)"[^>]*data-testid="client-view"', shown)
        assert public and (await http.get(public.group(1))).status_code == 200  # the page the client sees
        assert 'href="/app/clients/client-' in shown

        unconfirmed = await _act(http, first, "extend", {"due_date": str(before + timedelta(days=7))})
        assert unconfirmed.status_code == 422 and 'data-error-for="extend.confirm"' in unconfirmed.text
        earlier = await _act(http, first, "extend", {"due_date": str(before - timedelta(days=1)), "confirm": "yes"})
        assert earlier.status_code == 409  # the run's validator refused it, with its reason
        assert "refused: new due date" in earlier.text and _due(earlier.text) == before
        extended = await _act(http, first, "extend", {"due_date": str(before + timedelta(days=7)), "confirm": "yes"})
        assert "Due date extended" in extended.text and _due(extended.text) == before + timedelta(days=7)

        resent = await _act(http, first, "resend", {"kind": "invoice_issued", "confirm": "yes"})
        assert "invoice issued email resent to" in resent.text
        assert resent.text.count("Invoice " + first + " from") == 2  # the original and the resend

        no_reason = await _act(http, first, "void", {"reason": " ", "confirm": "yes"})
        assert no_reason.status_code == 422 and 'data-error-for="void.reason"' in no_reason.text
        voided = await _act(http, first, "void", {"reason": "booking cancelled", "confirm": "yes"})
        assert "Invoice voided" in voided.text and 'data-testid="status">void<' in voided.text
        assert 'id="actions-h"' not in voided.text  # a final invoice offers no more actions

        written = await _act(http, second, "write-off", {"reason": "client insolvent", "confirm": "yes"})
        assert "Invoice written off" in written.text and 'data-testid="status">uncollectible<' in written.text
        late = await _act(http, second, "mark-paid", {"method": "cash", "confirm": "yes"})
        assert "refused: invoice " + second + " is uncollectible" in late.text


async def test_refund_from_the_page_is_confirmed_csrf_protected_and_staff_only(
    app: FastAPI, worker: Worker, temporal_env: WorkflowEnvironment, db: Database, api_settings: Settings
) -> None:
    number = await _issued(temporal_env, db, api_settings)
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        paid = await _act(http, number, "mark-paid", {"method": "cash", "confirm": "yes"})
        assert 'data-testid="status">paid<' in paid.text and 'id="act-refund"' in paid.text
        payment_id = re.search(r'name="payment_id"[^>]*><option value="(\d+)"', paid.text)
        assert payment_id
        form = {"payment_id": payment_id.group(1), "amount": "10", "reason": "goodwill", "outcome": "credited"}

        unconfirmed = await _act(http, number, "refund", form)
        assert unconfirmed.status_code == 422 and 'data-error-for="refund.confirm"' in unconfirmed.text
        no_token = await http.post(f"/app/invoices/{number}/act/refund", data=form | {"confirm": "yes"})
        assert no_token.status_code == 403
        bad_outcome = await _act(http, number, "refund", form | {"outcome": "maybe", "confirm": "yes"})
        assert bad_outcome.status_code == 422 and 'data-error-for="refund.outcome"' in bad_outcome.text
        done = await _act(http, number, "refund", form | {"confirm": "yes"})
        assert "Refund recorded: " in done.text and "credit note CN-" in done.text
        assert 'data-testid="status">paid<' in done.text  # credited: the price went down, nothing is owed

    async with browserless(app) as viewer:
        await sign_in(viewer, (await make_user(db, ApiRole.viewer)).email)
        shown = await viewer.get(f"/app/invoices/{number}")
        assert shown.status_code == 200 and 'id="act-refund"' not in shown.text
        refused = await post_form(viewer, f"/app/invoices/{number}", f"/app/invoices/{number}/act/refund", form)
        assert refused.status_code == 403


async def test_a_pending_refund_decision_is_shown_and_can_be_decided_without_a_refund(
    app: FastAPI, worker: Worker, temporal_env: WorkflowEnvironment, db: Database, api_settings: Settings
) -> None:
    number = await _issued(temporal_env, db, api_settings)
    async with browserless(app) as http:
        await sign_in(http, (await make_user(db, ApiRole.staff)).email)
        paid = await _act(http, number, "mark-paid", {"method": "cash", "confirm": "yes"})
        assert 'data-testid="refund-pending"' not in paid.text and 'id="act-keep"' not in paid.text
        async with db.session() as session:  # what a cancelled paid booking leaves on the timeline
            invoice = await invoices_repo.get_invoice(session, number=number)
            assert invoice is not None
            await timeline_repo.add_event(
                session,
                client_id=invoice.client_id,
                invoice_id=invoice.id,
                kind="booking.cancelled",
                message="Booking cancelled: refund decision needed",
                data={"flag": "refund_decision"},
            )
        shown = await http.get(f"/app/invoices/{number}")
        assert 'data-testid="refund-pending"' in shown.text and 'id="act-keep"' in shown.text
        no_reason = await _act(http, number, "keep", {"reason": "", "confirm": "yes"})
        assert no_reason.status_code == 422 and 'data-error-for="keep.reason"' in no_reason.text
        kept = await _act(http, number, "keep", {"reason": "cancellation fee", "confirm": "yes"})
        assert "No refund: decision recorded" in kept.text and 'data-testid="refund-pending"' not in kept.text
        assert "No refund, decided by" in kept.text  # on the timeline
