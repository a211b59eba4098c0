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


async def test_one_workspaces_burst_does_not_starve_another(db: Database) -> None:
    from tests.workspaces.support import make_workspace

    busy, quiet = await make_workspace(db), await make_workspace(db)
    assert busy.id is not None and quiet.id is not None
    async with db.session() as session:
        for n in range(300):  # 300 runs of the busy workspace, each owed a message, before the quiet one's
            await outbox_repo.enqueue_signal(
                session,
                workflow_id=f"invoice-busy-{busy.id}-{n}",
                name=outbox_repo.PAYMENT_RECORDED,
                payload=_payment(str(n)),
                key=f"test:busy:{busy.id}:{n}",
                workspace_id=busy.id,
            )
    quiet_run = f"invoice-quiet-{quiet.id}"
    async with db.session() as session:
        await outbox_repo.enqueue_signal(
            session,
            workflow_id=quiet_run,
            name=outbox_repo.PAYMENT_RECORDED,
            payload=_payment("q"),
            key=f"test:quiet:{quiet.id}",
            workspace_id=quiet.id,
        )
    temporal = FlakyTemporal()

    await OutboxRelay(db, temporal, batch=10).run_once()  # type: ignore[arg-type]

    assert (quiet_run, "q") in temporal.delivered  # its turn came in the first batch, not after 300
    assert len(temporal.delivered) == 10
    await _drain(OutboxRelay(db, temporal, batch=100))  # type: ignore[arg-type]


class Starts:
    """The client surface for starts: the first start of an id runs, a start of a finished run is refused."""

    def __init__(self, *, finished: frozenset[str] = frozenset()) -> None:
        self.finished = finished
        self.started: list[tuple[str, str]] = []  # (workflow id, task queue)

    async def start_workflow(self, run: Any, arg: Any, *, id: str, task_queue: str, **_: Any) -> None:
        from temporalio.exceptions import WorkflowAlreadyStartedError

        if id in self.finished:
            raise WorkflowAlreadyStartedError(id, "InvoiceWorkflow")
        self.started.append((id, task_queue))


async def _enqueue_start(db: Database, workflow_id: str) -> None:
    from models.run_outbox import InvoiceRunStart
    from models.workflow_io import InvoiceWorkflowInput
    from tests.factories import make_booking

    start = InvoiceRunStart(input=InvoiceWorkflowInput(booking=make_booking()), task_queue="q-test")
    async with db.session() as session:
        await outbox_repo.enqueue_start(
            session,
            workflow_id=workflow_id,
            name=outbox_repo.INVOICE_RUN,
            payload=start.model_dump(mode="json"),
            workspace_id=1,
        )
        await outbox_repo.enqueue_start(  # the same start again (a replay): owed once
            session,
            workflow_id=workflow_id,
            name=outbox_repo.INVOICE_RUN,
            payload=start.model_dump(mode="json"),
            workspace_id=1,
        )


async def test_a_start_is_relayed_once_and_an_already_finished_run_counts_as_delivered(db: Database) -> None:
    fresh, finished = f"invoice-s-{uuid.uuid4().hex[:8]}", f"invoice-f-{uuid.uuid4().hex[:8]}"
    await _enqueue_start(db, fresh)
    await _enqueue_start(db, finished)
    temporal = Starts(finished=frozenset({finished}))

    await _drain(OutboxRelay(db, temporal), rounds=3)  # type: ignore[arg-type]

    assert temporal.started.count((fresh, "q-test")) == 1
    async with db.session() as session:
        [done] = await outbox_repo.list_messages(session, workflow_id=finished)
        assert await outbox_repo.pending(session, workflow_id=fresh) == []
    assert done.delivered_at is not None and done.last_error == "already started"
