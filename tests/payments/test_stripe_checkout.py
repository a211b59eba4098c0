"""The stable pay URL with the Stripe backend: one open Checkout Session per balance, exact requests."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from billflow.repositories import timeline as timeline_repo
from tests.standins.fixtures import start_and_wait_issued
from tests.standins.server import Fault
from tests.standins.stripe_api import StripeStandIn


async def test_visit_creates_a_session_with_exact_params_and_redirects(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    assert invoice.payment_url == f"http://billflow.test/pay/{invoice.public_token}"  # billflow's, not Stripe's
    response = await http.get(f"/pay/{invoice.public_token}")
    assert response.status_code == 303
    (create,) = standin.writes("/v1/checkout/sessions")
    assert response.headers["location"] == f"https://checkout.stripe.test/c/pay/{standin.session_id(1)}"
    assert create.headers["authorization"] == "Bearer sk_test_billflow"
    assert create.headers["idempotency-key"] == f"billflow:checkout:{invoice.id}:1:38500GBP"
    token = invoice.public_token
    assert create.form == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "gbp",
        "line_items[0][price_data][unit_amount]": "36000",
        "line_items[0][price_data][product_data][name]": "Strategy session x 2",
        "line_items[1][quantity]": "1",
        "line_items[1][price_data][currency]": "gbp",
        "line_items[1][price_data][unit_amount]": "2500",
        "line_items[1][price_data][product_data][name]": "Travel x 1",
        "customer_email": create.form["customer_email"],
        "client_reference_id": str(invoice.id),
        "metadata[billflow_invoice_id]": str(invoice.id),
        "metadata[billflow_invoice_number]": invoice.number,
        "metadata[billflow_workflow_id]": invoice.workflow_id,
        "metadata[billflow_attempt]": "1",
        "payment_intent_data[metadata][billflow_invoice_id]": str(invoice.id),
        "payment_intent_data[metadata][billflow_invoice_number]": invoice.number,
        "payment_intent_data[metadata][billflow_workflow_id]": invoice.workflow_id,
        "payment_intent_data[metadata][billflow_attempt]": "1",
        "payment_intent_data[description]": f"Invoice {invoice.number}",
        "success_url": f"http://billflow.test/i/{token}?paid=1",
        "cancel_url": f"http://billflow.test/i/{token}",
    }
    assert create.form["customer_email"].startswith("ada-")


async def test_second_visit_reuses_the_open_session(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    first = await http.get(f"/pay/{invoice.public_token}")
    second, third = await asyncio.gather(
        http.get(f"/pay/{invoice.public_token}"), http.get(f"/pay/{invoice.public_token}")
    )
    assert first.headers["location"] == second.headers["location"] == third.headers["location"]
    assert len(standin.writes("/v1/checkout/sessions")) == 1
    assert len(standin.sessions) == 1


async def test_expired_session_is_replaced_by_the_next_attempt(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    await http.get(f"/pay/{invoice.public_token}")
    standin.sessions[standin.session_id(1)]["status"] = "expired"  # 24 hours later
    again = await http.get(f"/pay/{invoice.public_token}")
    assert again.headers["location"].endswith(standin.session_id(2))
    keys = [r.headers["idempotency-key"] for r in standin.writes("/v1/checkout/sessions")]
    assert keys == [f"billflow:checkout:{invoice.id}:1:38500GBP", f"billflow:checkout:{invoice.id}:2:38500GBP"]


async def test_session_for_an_old_balance_is_superseded_and_expired(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    from billflow.services.invoice_runs import send_action, wait_for_action
    from models.workflow_io import MarkPaid

    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    await http.get(f"/pay/{invoice.public_token}")
    action = MarkPaid(amount_minor=10_000, method="cash")
    await send_action(time_env.client, invoice.workflow_id, action)
    await wait_for_action(time_env.client, invoice.workflow_id, action.action_id)
    again = await http.get(f"/pay/{invoice.public_token}")
    assert again.headers["location"].endswith(standin.session_id(2))
    assert standin.sessions[standin.session_id(1)]["status"] == "expired"
    assert standin.sessions[standin.session_id(2)]["amount_total"] == 28_500
    (expire,) = standin.writes("/expire")
    assert expire.headers["idempotency-key"] == f"billflow:expire:{standin.session_id(1)}"
    create = standin.writes("/v1/checkout/sessions")[1]
    assert create.form["line_items[0][price_data][product_data][name]"] == f"Balance of invoice {invoice.number}"


async def test_a_503_before_stripe_executed_is_retried_with_the_same_key(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(Fault(status=503, path_contains="/v1/checkout/sessions"))
    ok = await http.get(f"/pay/{invoice.public_token}")
    assert ok.status_code == 303
    keys = [r.headers["idempotency-key"] for r in standin.writes("/v1/checkout/sessions")]
    assert keys == [f"billflow:checkout:{invoice.id}:1:38500GBP"] * 2
    assert len(standin.sessions) == 1


async def test_a_saved_500_uses_up_the_attempt_so_the_next_visit_gets_a_new_key(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    """Stripe replays a 500 for the same idempotency key; retrying that key forever would never succeed."""
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(Fault(status=500, saved=True, path_contains="/v1/checkout/sessions"))
    failed = await http.get(f"/pay/{invoice.public_token}")
    assert failed.status_code == 503 and "try again" in failed.text
    ok = await http.get(f"/pay/{invoice.public_token}")
    assert ok.status_code == 303
    keys = [r.headers["idempotency-key"] for r in standin.writes("/v1/checkout/sessions")]
    first, second = f"billflow:checkout:{invoice.id}:1:38500GBP", f"billflow:checkout:{invoice.id}:2:38500GBP"
    assert keys == [first, first, first, second]  # the library's two in-request retries got the saved 500
    assert len(standin.sessions) == 1


async def test_a_500_after_stripe_created_the_session_keeps_the_key_so_no_second_session_exists(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    """The session was made but every answer the client heard was a fresh (not replayed) 500: the next visit
    must ask with the same key and get that session back, not open a second one."""
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(
        Fault(status=500, answer_lost=True, path_contains="/v1/checkout/sessions"),
        *(Fault(status=500, path_contains="/v1/checkout/sessions") for _ in range(2)),
    )
    failed = await http.get(f"/pay/{invoice.public_token}")
    assert failed.status_code == 503 and "try again" in failed.text
    ok = await http.get(f"/pay/{invoice.public_token}")
    assert ok.status_code == 303
    assert ok.headers["location"] == standin.sessions[standin.session_id(1)]["url"]
    keys = {r.headers["idempotency-key"] for r in standin.writes("/v1/checkout/sessions")}
    assert keys == {f"billflow:checkout:{invoice.id}:1:38500GBP"}
    assert len(standin.sessions) == 1


async def test_a_429_shows_an_apology_and_the_next_visit_reuses_the_key(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    standin.inject(Fault(status=429, message="Too many requests", path_contains="/v1/checkout/sessions"))
    limited = await http.get(f"/pay/{invoice.public_token}")
    assert limited.status_code == 503 and "try again" in limited.text
    ok = await http.get(f"/pay/{invoice.public_token}")
    assert ok.status_code == 303
    assert len({r.headers["idempotency-key"] for r in standin.writes("/v1/checkout/sessions")}) == 1
    assert len(standin.sessions) == 1


async def test_a_4xx_surfaces_stripes_message_to_staff(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    message = "The Checkout Session's total amount due must add up to at least £0.30 gbp"
    standin.inject(Fault(status=400, message=message, path_contains="/v1/checkout/sessions"))
    response = await http.get(f"/pay/{invoice.public_token}")
    assert response.status_code == 503
    assert message not in response.text  # the client sees an apology, staff see Stripe's words
    async with db.session() as session:
        events = await timeline_repo.list_events(session, invoice_id=invoice.id)
    (notice,) = [e for e in events if e.kind == "payment.checkout_failed"]
    assert message in notice.message


async def test_paid_invoice_shows_paid_instead_of_a_session(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    from billflow.services.invoice_runs import send_action, wait_for_action
    from models.workflow_io import MarkPaid

    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    action = MarkPaid(method="cash")
    await send_action(time_env.client, invoice.workflow_id, action)
    await wait_for_action(time_env.client, invoice.workflow_id, action.action_id)
    response = await http.get(f"/pay/{invoice.public_token}")
    assert response.status_code == 200 and "Already paid" in response.text
    assert standin.requests == []


async def test_stripe_down_while_expiring_the_old_session_still_redirects_to_the_new_one(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    from billflow.services.invoice_runs import send_action, wait_for_action
    from models.workflow_io import MarkPaid

    standin, _ = stripe_api
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    await http.get(f"/pay/{invoice.public_token}")
    action = MarkPaid(amount_minor=5_000, method="cash")
    await send_action(time_env.client, invoice.workflow_id, action)
    await wait_for_action(time_env.client, invoice.workflow_id, action.action_id)
    standin.inject(*(Fault(status=500, saved=True, path_contains="/expire") for _ in range(3)))
    again = await http.get(f"/pay/{invoice.public_token}")
    assert again.status_code == 303 and again.headers["location"].endswith(standin.session_id(2))
    assert standin.sessions[standin.session_id(2)]["amount_total"] == 33_500
