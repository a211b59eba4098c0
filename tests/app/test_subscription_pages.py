"""Subscription pages against the dev server and the real worker: list, detail, pause (and its refusal when
repeated), resume, change plan from the catalog (from the next period; a viewer cannot)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.runs import subscriptions as subscription_runs
from billflow.services import catalog as catalog_service
from billflow.services import subscription_actions as actions
from billflow.web.app import create_app
from models.api_keys import ApiRole
from models.service_catalog import CatalogEntryIn
from models.subscription_io import BillingInterval, TriggerBilling
from tests.app.support import browserless, make_user, post_form, sign_in
from tests.subscriptions.support import PLAN_TOTAL, invoices_of, make_subscription, terminate_all

pytestmark = pytest.mark.devserver


@pytest.fixture
def temporal_env(dev_env: WorkflowEnvironment) -> WorkflowEnvironment:
    """Subscription actions are Workflow Updates, which only the dev server runs (not the time-skipping one)."""
    return dev_env


async def test_staff_pause_and_resume_a_subscription(
    temporal_env: WorkflowEnvironment, worker: Worker, db: Database, api_settings: Settings
) -> None:
    start = (await temporal_env.get_current_time()).date()
    view = await subscription_runs.create_and_start(
        db, temporal_env.client, make_subscription(start_date=start), task_queue=api_settings.task_queue
    )
    app = create_app(api_settings, db, temporal_env.client)
    page = f"/app/subscriptions/{view.subscription_id}"
    try:
        async with browserless(app) as http:
            await sign_in(http, (await make_user(db, ApiRole.staff)).email)
            listed = await http.get("/app/subscriptions")
            assert f'data-subscription="{view.subscription_id}"' in listed.text
            paused = await post_form(http, page, f"{page}/pause", {"confirm": "yes"})
            assert paused.status_code == 303
            shown = await http.get(page)
            assert "Subscription paused." in shown.text and 'data-testid="sub-status">paused<' in shown.text
            again = await post_form(http, page, f"{page}/pause", {"confirm": "yes"})
            assert again.status_code == 303 and "Refused:" in (await http.get(page)).text
            unconfirmed = await post_form(http, page, f"{page}/resume", {})
            assert unconfirmed.status_code == 303 and "Tick the box" in (await http.get(page)).text
            await post_form(http, page, f"{page}/resume", {"confirm": "yes"})
            assert 'data-testid="sub-status">active<' in (await http.get(page)).text
    finally:
        await terminate_all(temporal_env.client, [view.workflow_id])


async def test_staff_change_the_plan_from_the_catalog_from_the_next_period(
    temporal_env: WorkflowEnvironment, worker: Worker, db: Database, api_settings: Settings
) -> None:
    start = (await temporal_env.get_current_time()).date()
    view = await subscription_runs.create_and_start(
        db,
        temporal_env.client,
        make_subscription(start_date=start, interval=BillingInterval(kind="weekly")),
        task_queue=api_settings.task_queue,
    )
    sub_id = view.subscription_id
    entry = await catalog_service.add_entry(
        db,
        CatalogEntryIn(
            event_type=f"coaching-{uuid.uuid4().hex[:6]}",
            service_name="Coaching",
            unit_price_minor=7_500,
            currency="USD",
        ),
    )
    app = create_app(api_settings, db, temporal_env.client)
    page = f"/app/subscriptions/{sub_id}"
    try:
        billed = await actions.act(db, temporal_env.client, subscription_id=sub_id, action=TriggerBilling(actor="test"))
        assert [p.total_minor for p in billed.periods] == [PLAN_TOTAL]
        next_start = billed.next_period_start
        assert next_start is not None
        async with browserless(app) as http:
            await sign_in(http, (await make_user(db, ApiRole.staff)).email)
            shown = await http.get(page)
            assert 'id="sub-change"' in shown.text and entry.event_type in shown.text
            nothing = await post_form(http, page, f"{page}/change", {"confirm": "yes"})
            assert nothing.status_code == 422 and 'data-error-for="change.line1_catalog"' in nothing.text
            bad_qty = {"line1_catalog": entry.event_type, "line1_quantity": "two", "confirm": "yes"}
            typo = await post_form(http, page, f"{page}/change", bad_qty)
            assert typo.status_code == 422 and 'data-error-for="change.line1_quantity"' in typo.text
            good = {"line1_catalog": entry.event_type, "line1_quantity": "2", "confirm": "yes"}
            changed = await post_form(http, page, f"{page}/change", good)
            assert changed.status_code == 303
            assert f"Plan changed from the period starting {next_start}" in (await http.get(page)).text

        after = await actions.show(db, subscription_id=sub_id)
        assert [(p.effective_from, [x.unit_price_minor for x in p.lines]) for p in after.plans][-1] == (
            next_start,
            [7_500],
        )
        assert [p.total_minor for p in after.periods] == [PLAN_TOTAL]  # the billed period is unchanged
        again = await actions.act(db, temporal_env.client, subscription_id=sub_id, action=TriggerBilling(actor="test"))
        assert len(again.periods) == 1 and len(await invoices_of(db, sub_id)) == 1  # never two per period
        ahead = TriggerBilling(actor="test", period_start=next_start)
        billed_next = await actions.act(db, temporal_env.client, subscription_id=sub_id, action=ahead)
        assert [p.total_minor for p in billed_next.periods] == [PLAN_TOTAL, 15_000]  # the new plan, 2 x 75.00
    finally:
        await terminate_all(
            temporal_env.client, [view.workflow_id, *[i.workflow_id for i in await invoices_of(db, sub_id)]]
        )


async def test_a_viewer_cannot_change_a_plan(
    temporal_env: WorkflowEnvironment, worker: Worker, db: Database, api_settings: Settings
) -> None:
    start = (await temporal_env.get_current_time()).date()
    view = await subscription_runs.create_and_start(
        db, temporal_env.client, make_subscription(start_date=start), task_queue=api_settings.task_queue
    )
    app = create_app(api_settings, db, temporal_env.client)
    page = f"/app/subscriptions/{view.subscription_id}"
    try:
        async with browserless(app) as http:
            await sign_in(http, (await make_user(db, ApiRole.viewer)).email)
            shown = await http.get(page)
            assert shown.status_code == 200 and 'id="sub-change"' not in shown.text
            refused = await post_form(http, page, f"{page}/change", {"confirm": "yes"})
            assert refused.status_code == 403
        assert len((await actions.show(db, subscription_id=view.subscription_id)).plans) == 1
    finally:
        await terminate_all(temporal_env.client, [view.workflow_id])
