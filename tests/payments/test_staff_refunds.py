"""Staff refunds of Stripe payments: through Stripe's API (the official client, one idempotency key per request)
against the stand-in; recorded at once and only once, whether Stripe's `charge.refunded` webhook comes after."""

from __future__ import annotations

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import payments as payments_repo
from billflow.services import api_keys
from models.api_keys import ApiRole
from models.enums import InvoiceStatus
from models.invoices import Invoice
from tests.payments.conftest import deliver, stripe_event
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until
from tests.standins.stripe_api import StripeStandIn


async def _paid_on_stripe(
    http: httpx.AsyncClient, env: WorkflowEnvironment, worker: Worker, db: Database, standin: StripeStandIn
) -> tuple[Invoice, str, int]:
    """An invoice paid on Stripe's page: (invoice, session id, payment id)."""
    invoice = await start_and_wait_issued(env.client, worker, db)
    opened = await http.get(f"/pay/{invoice.public_token}")
    sid = opened.headers["location"].rsplit("/", 1)[1]
    await deliver(http, stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_ok"))

    async def paid() -> bool:
        return (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid

    await wait_until(paid)
    async with db.session() as session:
        [payment] = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    assert payment.id is not None
    return invoice, sid, payment.id


async def _staff(db: Database) -> dict[str, str]:
    key = await api_keys.create_key(db, api_keys.NewApiKey(name="refunds", role=ApiRole.staff))
    return {"Authorization": f"Bearer {key.token}"}


async def test_a_stripe_payment_is_refunded_through_stripe_once_and_the_webhook_records_nothing_more(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice, sid, payment_id = await _paid_on_stripe(http, time_env, worker, db, standin)
    headers = await _staff(db) | {"Idempotency-Key": "staff-refund-1"}
    body = {"payment_id": payment_id, "amount_minor": 8_500, "reason": "one session cancelled"}
    first = await http.post(f"/v1/invoices/{invoice.number}/refund", headers=headers, json=body)
    assert first.status_code == 200, first.text
    made = first.json()
    assert made["provider"] == "stripe" and made["stripe_refund_id"].startswith("re_")
    assert made["status"] == "paid" and made["credit_note_number"]  # credited: the price went down
    again = await http.post(f"/v1/invoices/{invoice.number}/refund", headers=headers, json=body)
    assert again.status_code == 200 and again.json()["recorded"] is False

    writes = standin.writes("/v1/refunds")
    assert len(writes) == 1  # the repeat was answered from billflow's own record
    assert writes[0].headers["idempotency-key"] == f"refund:{invoice.id}:staff-refund-1"
    assert writes[0].form["amount"] == "8500" and writes[0].form["payment_intent"] == f"pi_{sid[3:]}"

    # Stripe then tells billflow about the same refund: nothing new is recorded.
    charge = standin.charge_of(sid)
    late = await deliver(http, stripe_event("charge.refunded", charge, event_id=f"evt_{sid}_refunded"))
    assert late.json()["outcome"] == "refund already recorded"
    async with db.session() as session:
        rows = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    assert [(p.kind, p.amount_minor, p.refund_of_payment_id) for p in rows] == [
        ("payment", 38_500, None),
        ("refund", 8_500, payment_id),
    ]
    refreshed = await load_invoice(db, invoice.id)
    assert (refreshed.amount_paid_minor, refreshed.credited_minor, refreshed.balance_minor) == (30_000, 8_500, 0)


async def test_stripes_refusal_is_named_on_the_amount_and_records_nothing(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice, sid, payment_id = await _paid_on_stripe(http, time_env, worker, db, standin)
    standin.charges[f"pi_{sid[3:]}"]["amount_refunded"] = 38_000  # refunded meanwhile in Stripe's dashboard
    body = {"payment_id": payment_id, "amount_minor": 1_000, "reason": "goodwill"}
    refused = await http.post(f"/v1/invoices/{invoice.number}/refund", headers=await _staff(db), json=body)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "amount_minor"] and "Stripe refused the refund" in detail["msg"]
    async with db.session() as session:
        rows = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    assert [p.kind for p in rows] == ["payment"]
