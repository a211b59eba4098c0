"""Stripe Connect per workspace (issue 13, item 4): a workspace's sessions and refunds are made on its connected
account (the Stripe-Account header), its Connect webhooks pay its own invoices, and an event for an account no
workspace has, or for another account's session, changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import payments as payments_repo
from billflow.services import api_keys, workspaces
from models.api_keys import ApiRole
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workspaces import WorkspaceUpdate
from tests.payments.conftest import signed, stripe_event
from tests.payments.test_reconcile import _sweep
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until
from tests.standins.stripe_api import StripeStandIn
from tests.workspaces.support import make_workspace

CONNECT_SECRET = "whsec_test_connect"


@pytest.fixture
def stripe_settings(stripe_settings: Settings) -> Settings:
    return stripe_settings.model_copy(update={"stripe_connect_webhook_secret": CONNECT_SECRET})


async def _connected(db: Database) -> tuple[int, str]:
    ws = await make_workspace(db)
    account = f"acct_{uuid.uuid4().hex[:16]}"
    await workspaces.update_workspace(db, ws.slug, WorkspaceUpdate(stripe_account=account))
    return ws.id, account


async def _connect_event(http: httpx.AsyncClient, event: dict[str, Any], account: str | None) -> httpx.Response:
    if account is not None:
        event = event | {"account": account}
    body, header = signed(event, secret=CONNECT_SECRET)
    return await http.post(
        "/webhooks/stripe/connect",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def _opened(http: httpx.AsyncClient, invoice: Invoice) -> str:
    visit = await http.get(f"/pay/{invoice.public_token}")
    assert visit.status_code in (302, 303), visit.text
    return visit.headers["location"].rsplit("/", 1)[1]


async def test_a_connected_workspace_is_paid_and_refunded_on_its_own_account(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    workspace_id, account = await _connected(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_id)
    assert invoice.workspace_id == workspace_id
    sid = await _opened(http, invoice)
    [create] = standin.writes("/v1/checkout/sessions")
    assert create.headers["stripe-account"] == account

    answer = await _connect_event(
        http, stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}"), account
    )
    assert answer.status_code == 200 and answer.json()["outcome"] == "paid", answer.text

    async def paid() -> bool:
        return (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid

    await wait_until(paid)
    async with db.session() as session:
        [payment] = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    key = await api_keys.create_key(
        db, api_keys.NewApiKey(name="refunds", role=ApiRole.staff, workspace_id=workspace_id)
    )
    refund = await http.post(
        f"/v1/invoices/{invoice.number}/refund",
        headers={"Authorization": f"Bearer {key.token}", "Idempotency-Key": f"r-{sid}"},
        json={"payment_id": payment.id, "amount_minor": 5_000, "reason": "goodwill"},
    )
    assert refund.status_code == 200, refund.text
    [made] = standin.writes("/v1/refunds")
    assert made.headers["stripe-account"] == account  # the platform's account does not hold this payment


async def test_an_event_of_an_account_no_workspace_has_is_ignored(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    workspace_id, _account = await _connected(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_id)
    sid = await _opened(http, invoice)
    event = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}_stranger")
    answer = await _connect_event(http, event, "acct_nobodyhasthis")
    assert answer.status_code == 200
    assert answer.json()["outcome"].startswith("ignored: account acct_nobodyhasthis")
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.open


async def test_another_accounts_event_does_not_pay_the_invoice(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    """A session of workspace A's account, reported by workspace B's account or by the platform: refused."""
    standin, _ = stripe_api
    workspace_a, _account_a = await _connected(db)
    _workspace_b, account_b = await _connected(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_a)
    sid = await _opened(http, invoice)
    completed = standin.complete(sid)
    by_b = await _connect_event(
        http, stripe_event("checkout.session.completed", completed, event_id=f"e_{sid}_b"), account_b
    )
    assert by_b.json()["outcome"].startswith("foreign account")
    by_platform = await _connect_event(
        http, stripe_event("checkout.session.completed", completed, event_id=f"e_{sid}_p"), None
    )
    assert by_platform.json()["outcome"].startswith("foreign account")
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.open


async def test_the_sweep_asks_the_connected_account_about_its_sessions(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    workspace_id, account = await _connected(db)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_id)
    sid = await _opened(http, invoice)
    standin.complete(sid)  # paid; the Connect webhook never came

    result = await _sweep(time_env, db, stripe_settings)
    assert result.paid >= 1
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid
    asked = [r for r in standin.requests if r.method == "GET" and sid in r.path]
    assert asked and all(r.headers.get("stripe-account") == account for r in asked)
