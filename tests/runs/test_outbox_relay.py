"""The outbox relay: in order per workflow, retried while Temporal is unreachable, delivered once it is back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from billflow.db import Database
from billflow.repositories import run_outbox as outbox_repo
from billflow.runs.outbox_relay import OutboxRelay
from models.workflow_io import PaymentReceived


class FlakyTemporal:
    """Just the client surface the relay uses; unreachable for the first `down_for` signal attempts."""

    def __init__(self, *, down_for: int = 0, closed: frozenset[str] = frozenset()) -> None:
        self.down_for = down_for
        self.closed = closed
        self.delivered: list[tuple[str, str]] = []  # (workflow id, provider reference)

    def get_workflow_handle(self, workflow_id: str) -> Any:
        temporal = self

        class Handle:
            async def signal(self, signal: Any, arg: PaymentReceived, **_: Any) -> None:
                if temporal.down_for > 0:
                    temporal.down_for -= 1
                    raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
                if workflow_id in temporal.closed:
                    raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
                temporal.delivered.append((workflow_id, arg.provider_reference))

        return Handle()


def _payment(reference: str) -> PaymentReceived:
    return PaymentReceived(
        provider="local", provider_reference=reference, amount_minor=100, currency="EUR", received_at=datetime.now(UTC)
    )


async def _enqueue(db: Database, workflow_id: str, reference: str) -> None:
    async with db.session() as session:
        await outbox_repo.enqueue_signal(
            session,
            workflow_id=workflow_id,
            name=outbox_repo.PAYMENT_RECORDED,
            payload=_payment(reference),
            key=f"test:{workflow_id}:{reference}",
        )


async def _drain(relay: OutboxRelay, rounds: int = 20) -> None:
    for _ in range(rounds):
        await relay.run_once()


async def test_relay_delivers_each_workflows_messages_in_order_after_temporal_comes_back(db: Database) -> None:
    a, b = f"invoice-a-{uuid.uuid4().hex[:8]}", f"invoice-b-{uuid.uuid4().hex[:8]}"
    for workflow_id, reference in [(a, "1"), (b, "1"), (a, "2"), (a, "3"), (b, "2")]:
        await _enqueue(db, workflow_id, reference)
    temporal = FlakyTemporal(down_for=3)  # the first attempts find Temporal down
    relay = OutboxRelay(db, temporal, retry_after=lambda _: timedelta(0))  # type: ignore[arg-type]

    await _drain(relay)

    mine = [d for d in temporal.delivered if d[0] in (a, b)]
    assert [ref for wf, ref in mine if wf == a] == ["1", "2", "3"]
    assert [ref for wf, ref in mine if wf == b] == ["1", "2"]
    async with db.session() as session:
        assert await outbox_repo.pending(session, workflow_id=a) == []
        retried = await outbox_repo.list_messages(session, workflow_id=a)
    assert retried[0].attempts > 1 and retried[0].last_error is None


async def test_a_failing_message_holds_back_the_later_ones_of_its_workflow_only(db: Database) -> None:
    a, b = f"invoice-a-{uuid.uuid4().hex[:8]}", f"invoice-b-{uuid.uuid4().hex[:8]}"
    await _enqueue(db, a, "1")
    await _enqueue(db, a, "2")
    await _enqueue(db, b, "1")
    async with db.session() as session:  # a's first message is waiting for its retry (Temporal was down)
        [first, _] = await outbox_repo.pending(session, workflow_id=a)
        outbox_repo.mark_failed(first, error="unavailable", retry_at=datetime.now(UTC) + timedelta(hours=1))
        session.add(first)
    temporal = FlakyTemporal()

    await _drain(OutboxRelay(db, temporal), rounds=3)  # type: ignore[arg-type]

    assert (b, "1") in temporal.delivered
    assert [d for d in temporal.delivered if d[0] == a] == []  # "2" never overtakes "1"


async def test_the_same_fact_is_queued_once(db: Database) -> None:
    a = f"invoice-a-{uuid.uuid4().hex[:8]}"
    await _enqueue(db, a, "1")
    await _enqueue(db, a, "1")  # a replayed webhook
    async with db.session() as session:
        assert len(await outbox_repo.list_messages(session, workflow_id=a)) == 1


async def test_a_closed_run_is_not_retried_forever(db: Database) -> None:
    a = f"invoice-a-{uuid.uuid4().hex[:8]}"  # no invoice row: the on-closed handler has nothing to reopen
    await _enqueue(db, a, "1")
    temporal = FlakyTemporal(closed=frozenset({a}))

    await _drain(OutboxRelay(db, temporal), rounds=2)  # type: ignore[arg-type]

    async with db.session() as session:
        [message] = await outbox_repo.list_messages(session, workflow_id=a)
    assert message.delivered_at is not None and message.last_error == "run closed; no invoice"
