"""Stripe webhooks: signed with Stripe's algorithm; valid, tampered, stale, duplicate and out-of-order."""

from __future__ import annotations

import time

import httpx
import stripe
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import credit_notes as credit_notes_repo
from billflow.repositories import inbox as inbox_repo
from billflow.repositories import messages as messages_repo
from billflow.repositories import payments as payments_repo
from billflow.services.invoice_runs import send_action, wait_for_action
from models.enums import EmailKind, InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import MarkPaid, ResolveDispute
from tests.payments.conftest import WEBHOOK_SECRET, deliver, signed, stripe_event
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until
from tests.standins.stripe_api import StripeStandIn


async def _open_session(http: httpx.AsyncClient, standin: StripeStandIn, invoice: Invoice) -> str:
    response = await http.get(f"/pay/{invoice.public_token}")
    assert response.status_code == 303
    return response.headers["location"].rsplit("/", 1)[1]


async def _payments(db: Database, invoice: Invoice) -> list[tuple[str, str, int]]:
    async with db.session() as session:
        rows = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    return [(p.kind, p.provider_reference, p.amount_minor) for p in rows]


async def _status(db: Database, invoice: Invoice) -> str:
    return (await load_invoice(db, invoice.id)).status


async def test_completed_session_pays_the_invoice_once_even_when_delivered_twice(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    event = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_done")
    first = await deliver(http, event)
    second = await deliver(http, event)
    assert first.status_code == second.status_code == 200
    assert second.json()["outcome"].startswith("duplicate")

    async def paid() -> bool:
        return await _status(db, invoice) == InvoiceStatus.paid

    await wait_until(paid)
    assert await _payments(db, invoice) == [("payment", sid, 38_500)]
    async with db.session() as session:
        assert await inbox_repo.count(session, source="stripe", event_key=event["id"]) == 1


async def test_bad_signatures_are_rejected_and_record_nothing(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    event = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_bad")
    body, header = signed(event)
    tampered = body.replace(b"38500", b"38501")
    foreign_header = signed(event, secret="whsec_someone_else")[1]
    stale_header = signed(event, at=int(time.time()) - 3600)[1]
    cases = {
        "unsigned": (body, {}),
        "tampered": (tampered, {"Stripe-Signature": header}),
        "wrong secret": (body, {"Stripe-Signature": foreign_header}),
        "stale": (body, {"Stripe-Signature": stale_header}),
        "garbage header": (body, {"Stripe-Signature": "t=1,v1=deadbeef"}),
    }
    for name, (content, headers) in cases.items():
        response = await http.post("/webhooks/stripe", content=content, headers=headers)
        assert response.status_code == 400, name
    async with db.session() as session:
        assert await inbox_repo.count(session, source="stripe", event_key=event["id"]) == 0
    assert await _payments(db, invoice) == []
    assert await _status(db, invoice) == InvoiceStatus.open


async def test_async_payment_pending_then_succeeded_in_any_order(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    pending = stripe_event(
        "checkout.session.completed", standin.complete(sid, payment_status="unpaid"), event_id=f"evt_{sid}_1"
    )
    succeeded = stripe_event("checkout.session.async_payment_succeeded", standin.complete(sid), event_id=f"evt_{sid}_2")
    expired_late = stripe_event(
        "checkout.session.expired", {**standin.sessions[sid], "status": "expired"}, event_id=f"evt_{sid}_3"
    )
    # out of order: success first, then the older "completed but unpaid", then a stray expiry
    assert (await deliver(http, succeeded)).json()["outcome"] == "paid"
    assert (await deliver(http, pending)).json()["outcome"] == "pending"
    assert (await deliver(http, expired_late)).status_code == 200

    async def paid() -> bool:
        return await _status(db, invoice) == InvoiceStatus.paid

    await wait_until(paid)
    assert await _payments(db, invoice) == [("payment", sid, 38_500)]


async def test_pending_payment_does_not_mark_paid_and_blocks_a_second_session(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    pending = stripe_event(
        "checkout.session.completed", standin.complete(sid, payment_status="unpaid"), event_id=f"evt_{sid}_p"
    )
    assert (await deliver(http, pending)).json()["outcome"] == "pending"

    async def status_is(status: InvoiceStatus) -> bool:
        return await _status(db, invoice) == status

    await wait_until(lambda: status_is(InvoiceStatus.processing))  # in progress: reminders wait
    again = await http.get(f"/pay/{invoice.public_token}")
    assert again.headers["location"] == f"/i/{invoice.public_token}"  # no second session while it settles
    failed = stripe_event("checkout.session.async_payment_failed", standin.sessions[sid], event_id=f"evt_{sid}_f")
    assert (await deliver(http, failed)).json()["outcome"] == "failed"
    await wait_until(lambda: status_is(InvoiceStatus.open))  # failed: reminders resume
    retry = await http.get(f"/pay/{invoice.public_token}")
    assert retry.headers["location"].endswith(standin.session_id(2))  # after a failure the client may retry
    assert await _payments(db, invoice) == []
    async with db.session() as session:
        emails = await messages_repo.list_messages(session, invoice_id=invoice.id or 0, limit=50)
    assert [m.kind for m in emails].count(EmailKind.payment_failed) == 1  # the client is told, once


async def test_failed_before_completed_never_holds_the_invoice(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    unpaid = standin.complete(sid, payment_status="unpaid")
    failed = stripe_event("checkout.session.async_payment_failed", unpaid, event_id=f"evt_{sid}_f1")
    pending = stripe_event("checkout.session.completed", unpaid, event_id=f"evt_{sid}_p1")
    assert (await deliver(http, failed)).json()["outcome"] == "failed"
    assert (await deliver(http, pending)).json()["outcome"] == "pending"  # late: the failure already came
    await deliver(http, stripe_event("checkout.session.completed", unpaid, event_id=f"evt_{sid}_p2"))
    # The inbox is applied in order: once this (rejected) staff action is done, every event above was applied.
    probe = ResolveDispute(action_id=f"probe-{sid}"[:64], resolution="probe")
    await send_action(time_env.client, invoice.workflow_id, probe)
    state = await wait_for_action(time_env.client, invoice.workflow_id, probe.action_id)
    assert state is not None and probe.action_id in state.processed_action_ids
    assert (state.status, state.hold) == (InvoiceStatus.open, None)
    assert await _status(db, invoice) == InvoiceStatus.open


async def test_payment_for_a_closed_workflow_is_still_recorded(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    await time_env.client.get_workflow_handle(invoice.workflow_id).terminate("test: workflow gone")
    event = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_closed")
    assert (await deliver(http, event)).status_code == 200
    assert await _payments(db, invoice) == [("payment", sid, 38_500)]
    assert await _status(db, invoice) == InvoiceStatus.paid


async def test_refund_records_its_credit_note_once_per_amount_even_out_of_order(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    session = standin.complete(sid)
    await deliver(http, stripe_event("checkout.session.completed", session, event_id=f"evt_{sid}_ok"))

    async def paid() -> bool:
        return await _status(db, invoice) == InvoiceStatus.paid

    await wait_until(paid)
    charge = {"id": f"ch_{sid}", "object": "charge", "currency": "gbp", "payment_intent": session["payment_intent"]}
    partial = stripe_event("charge.refunded", {**charge, "amount_refunded": 10_000}, event_id=f"evt_{sid}_r1")
    more = stripe_event("charge.refunded", {**charge, "amount_refunded": 15_000}, event_id=f"evt_{sid}_r2")
    assert (await deliver(http, more)).status_code == 200  # the later refund arrives first
    assert (await deliver(http, partial)).json()["outcome"] == "refund already recorded"
    assert (await deliver(http, more)).json()["outcome"].startswith("duplicate")
    refunds = [p for p in await _payments(db, invoice) if p[0] == "refund"]
    assert refunds == [("refund", f"ch_{sid}:refunded:15000", 15_000)]
    refreshed = await load_invoice(db, invoice.id)
    assert refreshed.amount_paid_minor == 23_500
    # Issue 14: the money returned lowered the price by a credit note, so nothing is owed again.
    assert refreshed.credited_minor == 15_000
    assert refreshed.balance_minor == 0
    assert refreshed.status == InvoiceStatus.paid
    async with db.session() as session:
        notes = await credit_notes_repo.list_credit_notes(session, invoice_id=invoice.id)
    assert [(n.kind, n.total_minor, n.refund_reference) for n, _ in notes] == [
        ("refund", 15_000, f"ch_{sid}:refunded:15000")
    ]
    assert notes[0][0].number.startswith("CN-")


async def test_events_for_other_stripe_products_are_acknowledged_and_ignored(
    http: httpx.AsyncClient, stripe_api: tuple[StripeStandIn, str], db: Database
) -> None:
    foreign = stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_elsewhere",
            "object": "checkout.session",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": 100,
            "currency": "usd",
            "metadata": {},
        },
        event_id="evt_foreign_1",
    )
    response = await deliver(http, foreign)
    assert response.status_code == 200 and response.json()["outcome"] == "foreign"
    other = await deliver(http, stripe_event("customer.created", {"id": "cus_1"}, event_id="evt_other_1"))
    assert other.json()["outcome"] == "ignored"


async def test_staff_payment_then_stripe_payment_is_recorded_not_lost(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    """The client pays on Stripe just after staff marked the invoice paid: the money is still recorded."""
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    sid = await _open_session(http, standin, invoice)
    action = MarkPaid(method="bank_transfer")
    await send_action(time_env.client, invoice.workflow_id, action)
    await wait_for_action(time_env.client, invoice.workflow_id, action.action_id)
    event = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_late")
    assert (await deliver(http, event)).status_code == 200

    async def recorded() -> bool:
        return any(p[1] == sid for p in await _payments(db, invoice))

    await wait_until(recorded)


async def test_refund_on_a_running_workflow_updates_its_live_state(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    from billflow.services.invoice_runs import query_state

    invoice = await start_and_wait_issued(time_env.client, worker, db)
    action = MarkPaid(amount_minor=10_000, method="card")
    await send_action(time_env.client, invoice.workflow_id, action)
    await wait_for_action(time_env.client, invoice.workflow_id, action.action_id)
    charge = {
        "id": f"ch_running_{invoice.id}",
        "object": "charge",
        "currency": "gbp",
        "amount_refunded": 4_000,
        "metadata": {"billflow_invoice_id": str(invoice.id)},
    }
    response = await deliver(http, stripe_event("charge.refunded", charge, event_id=f"evt_refund_{invoice.id}"))
    assert response.json()["outcome"].startswith("refunded 4000")

    async def live_state_caught_up() -> bool:
        state = await query_state(time_env.client, invoice.workflow_id)
        return state is not None and state.amount_paid_minor == 6_000

    await wait_until(live_state_caught_up)
    assert sorted(p[0] for p in await _payments(db, invoice)) == ["payment", "refund"]  # nothing extra written


async def test_a_recorded_refund_emails_the_client_once(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    from billflow.repositories import messages as messages_repo

    invoice = await start_and_wait_issued(time_env.client, worker, db)
    await time_env.client.get_workflow_handle(invoice.workflow_id).terminate("test: paid long ago")
    charge = {
        "id": f"ch_email_{invoice.id}",
        "object": "charge",
        "currency": "gbp",
        "amount_refunded": 2_500,
        "metadata": {"billflow_invoice_id": str(invoice.id)},
    }
    event = stripe_event("charge.refunded", charge, event_id=f"evt_refund_mail_{invoice.id}")
    for _ in range(2):
        assert (await deliver(http, event)).status_code == 200

    async def refund_emails() -> list[str]:
        async with db.session() as session:
            messages = await messages_repo.list_messages(session, invoice_id=invoice.id)
        return [m.subject for m in messages if m.kind == "refund"]

    async def one_refund_email() -> bool:
        return len(await refund_emails()) == 1

    await wait_until(one_refund_email)
    assert (await refund_emails())[0].startswith(f"Refund on invoice {invoice.number}")


async def test_oversized_body_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/webhooks/stripe", content=b"x" * (1024 * 1024 + 1), headers={"Stripe-Signature": "t=1,v1=0"}
    )
    assert response.status_code == 413


async def test_signed_but_malformed_events_are_400_and_store_nothing(http: httpx.AsyncClient, db: Database) -> None:
    session = {"id": "cs_malformed", "object": "checkout.session", "status": "complete", "payment_status": "paid"}
    cases = {
        "created not a number": {
            **stripe_event("charge.refunded", {"id": "ch_x"}, event_id="evt_m1"),
            "created": "abc",
        },
        "amount_total not a number": stripe_event(
            "checkout.session.completed", {**session, "amount_total": "lots"}, event_id="evt_m2"
        ),
        "created beyond datetime": {**stripe_event("ping", {}, event_id="evt_m3"), "created": 10**20},
        "data not an object": {**stripe_event("ping", {}, event_id="evt_m4"), "data": [1, 2]},
        "metadata a list": stripe_event(
            "checkout.session.completed", {**session, "metadata": ["x"]}, event_id="evt_m5"
        ),
        "refund amount negative": stripe_event(
            "charge.refunded", {"id": "ch_y", "amount_refunded": -5}, event_id="evt_m6"
        ),
    }
    for name, event in cases.items():
        response = await deliver(http, event)
        assert response.status_code == 400, (name, response.text)
        async with db.session() as s:
            assert await inbox_repo.count(s, source="stripe", event_key=event["id"]) == 0, name
    for name, raw in {"array body": b"[1, 2]", "string body": b'"evt"', "no id": b'{"type": "x"}'}.items():
        header = stripe.WebhookSignature.generate_signature_header(raw.decode(), WEBHOOK_SECRET)
        response = await http.post("/webhooks/stripe", content=raw, headers={"Stripe-Signature": header})
        assert response.status_code == 400, (name, response.text)


async def test_malformed_detail_names_the_field(http: httpx.AsyncClient) -> None:
    event = {**stripe_event("ping", {}, event_id="evt_named"), "created": "abc"}
    response = await deliver(http, event)
    assert response.status_code == 400 and "created" in response.json()["detail"]
