"""A `subscription.created` booking event starts recurring billing once, however often it is delivered."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.db import Database
from models.inbox import InboxEvent
from models.invoices import Invoice
from models.subscriptions import Subscription
from tests.api.support import post_signed


def subscription_event(event_id: str, start_date: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "subscription.created",
        "data": {
            "client": {
                "external_id": f"sub-client-{event_id}",
                "name": "Grace Hopper",
                "email": "grace@example.com",
                "timezone": "America/New_York",
            },
            "lines": [{"description": "Monthly coaching", "unit_price_minor": 40_000}],
            "currency": "USD",
            "interval": {"kind": "monthly"},
            "start_date": start_date,
            "reminder_policy": {"steps": []},
        },
    }


async def _count(db: Database, query: object) -> int:
    async with db.session() as session:
        return int((await session.exec(query)).one())  # type: ignore[call-overload]


async def test_subscription_created_event_starts_billing_once(
    http: httpx.AsyncClient,
    worker: Worker,
    integration: tuple[str, str],
    db: Database,
    time_env: WorkflowEnvironment,
) -> None:
    name, secret = integration
    event_id = f"evt-{uuid.uuid4().hex[:8]}"
    today = (await time_env.get_current_time()).date()
    body = subscription_event(event_id, start_date=(today + timedelta(days=1)).isoformat())

    answers = [await post_signed(http, name, secret, body) for _ in range(3)]

    assert {a.status_code for a in answers} == {202}, answers[0].text
    first = answers[0].json()
    assert first["outcome"] == "subscription_started"
    subscription_id = f"{name}-{event_id}"
    assert first["workflow_id"].endswith(subscription_id)
    assert (
        await _count(db, select(func.count()).select_from(Subscription).where(Subscription.id == subscription_id)) == 1
    )
    await time_env.sleep(timedelta(days=3))  # past the first period's start
    billed = select(func.count()).select_from(Invoice).where(Invoice.subscription_id == subscription_id)
    assert await _count(db, billed) == 1


async def test_subscription_event_with_an_unbounded_backfill_is_422_and_stores_nothing(
    http: httpx.AsyncClient, integration: tuple[str, str], db: Database
) -> None:
    name, secret = integration
    event_id = f"evt-{uuid.uuid4().hex[:8]}"
    body = subscription_event(event_id, start_date="2000-01-01")
    body["data"]["interval"] = {"kind": "weekly"}  # type: ignore[index]
    response = await post_signed(http, name, secret, body)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "data", "start_date"]]
    assert await _count(db, select(func.count()).select_from(Subscription)
                        .where(Subscription.id == f"{name}-{event_id}")) == 0  # fmt: skip
    assert await _count(db, select(func.count()).select_from(InboxEvent).where(InboxEvent.event_key == event_id)) == 0
