"""A workspace's own Stripe keys (issue 13.4, "or its own keys"): its sessions, refunds and the sweep call Stripe
with its own secret key; its webhooks come to /webhooks/stripe/w/{id}, verified with its own webhook secret
only; the keys are stored sealed and shown masked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.stripe_reconcile import ReconcileInput, StripeReconcileActivities
from billflow.codec import KeyRing, generate_key, parse_key
from billflow.config import Settings
from billflow.db import Database
from billflow.payments.stripe import build_stripe_gateway
from billflow.repositories import checkout_sessions as sessions_repo
from billflow.repositories import payments as payments_repo
from billflow.secret_box import SecretBox, secret_box_for
from billflow.services import api_keys, workspaces
from models.api_keys import ApiRole
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workspaces import WorkspaceUpdate
from tests.payments.conftest import WEBHOOK_SECRET, signed, stripe_event
from tests.standins.fixtures import load_invoice, start_and_wait_issued, wait_until
from tests.standins.stripe_api import StripeStandIn
from tests.workspaces.support import make_workspace
from workflows.stripe_reconcile import StripeReconcileWorkflow


def _own_keys() -> tuple[str, str]:
    tag = uuid.uuid4().hex
    return f"sk_test_own{tag}", f"whsec_own{tag}"


async def _with_own_keys(db: Database, settings: Settings) -> tuple[int, str, str]:
    ws = await make_workspace(db)
    key, hook = _own_keys()
    change = WorkspaceUpdate(stripe_secret_key=key, stripe_webhook_secret=hook)  # type: ignore[arg-type]
    await workspaces.update_workspace(db, ws.slug, change, secrets=secret_box_for(settings))
    return ws.id, key, hook


async def _own_event(
    http: httpx.AsyncClient, workspace_id: int | str, event: dict[str, Any], secret: str
) -> httpx.Response:
    body, header = signed(event, secret=secret)
    return await http.post(
        f"/webhooks/stripe/w/{workspace_id}",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def _opened(http: httpx.AsyncClient, invoice: Invoice) -> str:
    visit = await http.get(f"/pay/{invoice.public_token}")
    assert visit.status_code in (302, 303), visit.text
    return visit.headers["location"].rsplit("/", 1)[1]


async def test_own_keys_workspace_is_paid_and_refunded_with_its_own_key(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    workspace_id, key, hook = await _with_own_keys(db, stripe_settings)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_id)
    sid = await _opened(http, invoice)
    [create] = standin.writes("/v1/checkout/sessions")
    assert create.headers["authorization"] == f"Bearer {key}"
    assert "stripe-account" not in create.headers
    async with db.session() as session:
        row = await sessions_repo.get_session(session, stripe_session_id=sid)
    assert row is not None and (row.stripe_keys_workspace_id, row.stripe_account) == (workspace_id, None)

    completed = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}")
    # Signed with the installation's secret, or sent to the installation's endpoint: refused / not applied.
    wrong_secret = await _own_event(http, workspace_id, completed, WEBHOOK_SECRET)
    assert wrong_secret.status_code == 400, wrong_secret.text
    body, header = signed(completed | {"id": f"evt_{sid}_platform"})
    platform = await http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )
    assert platform.status_code == 200 and platform.json()["outcome"].startswith("foreign account"), platform.text
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.open

    answer = await _own_event(http, workspace_id, completed, hook)
    assert answer.status_code == 200 and answer.json()["outcome"] == "paid", answer.text

    async def paid() -> bool:
        return (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid

    await wait_until(paid)
    async with db.session() as session:
        [payment] = await payments_repo.list_payments(session, invoice_id=invoice.id or 0)
    staff = await api_keys.create_key(db, api_keys.NewApiKey(name="r", role=ApiRole.staff, workspace_id=workspace_id))
    refund = await http.post(
        f"/v1/invoices/{invoice.number}/refund",
        headers={"Authorization": f"Bearer {staff.token}", "Idempotency-Key": f"r-{sid}"},
        json={"payment_id": payment.id, "amount_minor": 5_000, "reason": "goodwill"},
    )
    assert refund.status_code == 200, refund.text
    [made] = standin.writes("/v1/refunds")
    assert made.headers["authorization"] == f"Bearer {key}"  # the installation's key does not hold this payment


async def test_another_workspaces_own_secret_cannot_pay_its_invoice(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    """Workspace B signs, with its own secret, an event about workspace A's session: not applied."""
    standin, _ = stripe_api
    workspace_a, _key_a, _hook_a = await _with_own_keys(db, stripe_settings)
    workspace_b, _key_b, hook_b = await _with_own_keys(db, stripe_settings)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_a)
    sid = await _opened(http, invoice)
    completed = stripe_event("checkout.session.completed", standin.complete(sid), event_id=f"evt_{sid}")
    # A's endpoint with B's secret: the signature is refused.
    assert (await _own_event(http, workspace_a, completed, hook_b)).status_code == 400
    # B's own endpoint, B's secret, A's session: verified, stored, not applied.
    by_b = await _own_event(http, workspace_b, completed, hook_b)
    assert by_b.status_code == 200 and by_b.json()["outcome"].startswith("foreign account"), by_b.text
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.open


async def test_own_keys_endpoint_of_an_unknown_or_keyless_workspace_is_404(
    http: httpx.AsyncClient, db: Database
) -> None:
    keyless = await make_workspace(db)
    event = stripe_event("checkout.session.completed", {"id": "cs_x"}, event_id="evt_x")
    for workspace_id in (keyless.id, 2_000_000_000):
        answer = await _own_event(http, workspace_id, event, "whsec_anything123")
        assert answer.status_code == 404, answer.text
    assert (await _own_event(http, "not-a-number", event, "whsec_anything123")).status_code == 422


async def test_the_sweep_asks_with_the_workspaces_own_key(
    http: httpx.AsyncClient,
    time_env: WorkflowEnvironment,
    worker: Worker,
    db: Database,
    stripe_settings: Settings,
    stripe_api: tuple[StripeStandIn, str],
) -> None:
    standin, _ = stripe_api
    workspace_id, key, _hook = await _with_own_keys(db, stripe_settings)
    invoice = await start_and_wait_issued(time_env.client, worker, db, workspace_id=workspace_id)
    sid = await _opened(http, invoice)
    standin.complete(sid)  # paid; its webhook never came

    gateway = build_stripe_gateway(
        stripe_settings.stripe_api_key,
        api_base=stripe_settings.stripe_api_base,
        secrets=secret_box_for(stripe_settings),
    )
    activities = StripeReconcileActivities(db, gateway)
    queue = f"reconcile-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client,
        task_queue=queue,
        workflows=[StripeReconcileWorkflow],
        activities=[activities.reconcile_checkout_sessions],
    ):
        result = await time_env.client.execute_workflow(
            StripeReconcileWorkflow.run,
            ReconcileInput(older_than_seconds=0),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
    assert result.paid >= 1
    assert (await load_invoice(db, invoice.id)).status == InvoiceStatus.paid
    asked = [r for r in standin.requests if r.method == "GET" and sid in r.path]
    assert asked and all(r.headers["authorization"] == f"Bearer {key}" for r in asked)


async def test_own_keys_are_sealed_at_rest_and_shown_masked(
    http: httpx.AsyncClient, db: Database, stripe_settings: Settings
) -> None:
    workspace_id, key, hook = await _with_own_keys(db, stripe_settings)
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT stripe_secret_key_sealed, stripe_webhook_secret_sealed FROM workspaces WHERE id = :id"),
                {"id": workspace_id},
            )
        ).one()
    assert key not in row[0] and hook not in row[1] and key[-4:] not in row[0]
    box = secret_box_for(stripe_settings)
    assert box.open(row[0], context=f"workspace:{workspace_id}:stripe_secret_key") == key
    # Bound to its workspace and column: the same value elsewhere does not open.
    with pytest.raises(ValueError):
        box.open(row[0], context=f"workspace:{workspace_id + 1}:stripe_secret_key")
    with pytest.raises(ValueError):
        box.open(row[0], context=f"workspace:{workspace_id}:stripe_webhook_secret")

    admin = await api_keys.create_key(db, api_keys.NewApiKey(name="a", role=ApiRole.admin))
    headers = {"Authorization": f"Bearer {admin.token}"}
    shown = await http.get(f"/v1/workspaces/{workspace_id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["stripe_secret_key"] == f"sk_test_...{key[-4:]}"
    assert shown.json()["stripe_webhook_secret"] == f"whsec_...{hook[-4:]}"
    assert key not in shown.text and hook not in shown.text


async def test_api_update_sets_own_keys_and_refuses_bad_or_mixed_ones_without_echoing_them(
    http: httpx.AsyncClient, db: Database
) -> None:
    ws = await make_workspace(db)
    admin = await api_keys.create_key(db, api_keys.NewApiKey(name="a", role=ApiRole.admin))
    headers = {"Authorization": f"Bearer {admin.token}"}
    key, hook = _own_keys()

    bad = await http.patch(f"/v1/workspaces/{ws.slug}", json={"stripe_secret_key": "pk_test_public"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "stripe_secret_key"]
    assert "pk_test_public" not in bad.text
    alone = await http.patch(f"/v1/workspaces/{ws.slug}", json={"stripe_secret_key": key}, headers=headers)
    assert alone.status_code == 422 and alone.json()["detail"][0]["loc"] == ["body", "stripe_webhook_secret"]
    assert key not in alone.text
    mixed = {"stripe_secret_key": key, "stripe_webhook_secret": hook, "stripe_account": "acct_mixed123"}
    both = await http.patch(f"/v1/workspaces/{ws.slug}", json=mixed, headers=headers)
    assert both.status_code == 422 and "connected account" in both.text

    ok = await http.patch(
        f"/v1/workspaces/{ws.slug}", json={"stripe_secret_key": key, "stripe_webhook_secret": hook}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["stripe_secret_key"].endswith(key[-4:]) and key not in ok.text
    cleared = await http.patch(
        f"/v1/workspaces/{ws.slug}", json={"stripe_secret_key": None, "stripe_webhook_secret": None}, headers=headers
    )
    assert cleared.status_code == 200 and cleared.json()["stripe_secret_key"] is None


def test_secret_box_refuses_a_damaged_or_foreign_value(stripe_settings: Settings) -> None:
    box = secret_box_for(stripe_settings)
    sealed = box.seal("sk_test_abc12345", context="workspace:1:stripe_secret_key")
    version, key_id, data = sealed.split(":")
    damaged = f"{version}:{key_id}:{data[:-4]}AAAA"
    with pytest.raises(ValueError):
        box.open(damaged, context="workspace:1:stripe_secret_key")
    other = SecretBox(KeyRing({key_id: parse_key(key_id, generate_key())}, key_id))  # same id, another key
    with pytest.raises(ValueError):
        other.open(sealed, context="workspace:1:stripe_secret_key")
    assert "sk_test" not in sealed
