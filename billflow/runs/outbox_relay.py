"""The relay of the outbox to Temporal: delivers what requests committed (signals, starts) in order per
workflow, retrying while Temporal is unreachable, so an outage fails no caller and loses nothing.

Delivery is at least once; every message is harmless to repeat: a start uses the existing run of its workflow id
(and a run that already finished counts as delivered), `payment_recorded` only makes the run read the invoice's
amounts from PostgreSQL again, `payment_received` records once per provider reference, staff actions apply once
per action id. A message for a run that has closed goes to its kind's on-closed handler (a refund reopens the
invoice's collection). Batches are taken in turns over workspaces (repositories/run_outbox.claim_heads).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from billflow.db import Database
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import run_outbox as outbox_repo
from billflow.services.invoice_reopen import reopen_if_unsettled
from models.columns import utcnow
from models.run_outbox import InvoiceRunStart, RunOutboxMessage
from models.workflow_io import PauseReminders, PaymentReceived, VoidInvoice
from workflows.invoice import InvoiceWorkflow
from workflows.search_attributes import start_attributes

log = logging.getLogger(__name__)

OnClosed = Callable[[Database, Client, RunOutboxMessage], Awaitable[str]]


async def _reopen_closed_invoice(db: Database, temporal: Client, message: RunOutboxMessage) -> str:
    """A payment or refund recorded after the run closed: a refund leaves the invoice owed, so its collection
    starts again (a new run); a payment on a closed run is recorded already and needs nothing more."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, workflow_id=message.workflow_id)
    if invoice is None or invoice.id is None:
        return "run closed; no invoice"
    started = await reopen_if_unsettled(db, temporal, invoice_id=invoice.id)
    return "run closed; invoice reopened" if started is not None else "run closed; nothing owed"


@dataclass(frozen=True)
class SignalSpec:
    signal: Any  # the workflow's signal method
    payload: type[BaseModel]
    on_closed: OnClosed


async def _moot(db: Database, temporal: Client, message: RunOutboxMessage) -> str:
    """A staff action for a run that has closed: there is nothing left for it to change."""
    return "run closed; action moot"


SIGNALS: dict[str, SignalSpec] = {
    outbox_repo.PAYMENT_RECORDED: SignalSpec(InvoiceWorkflow.payment_recorded, PaymentReceived, _reopen_closed_invoice),
    outbox_repo.PAYMENT_RECEIVED: SignalSpec(InvoiceWorkflow.payment_received, PaymentReceived, _reopen_closed_invoice),
    outbox_repo.PAUSE_REMINDERS: SignalSpec(InvoiceWorkflow.pause_reminders, PauseReminders, _moot),
    outbox_repo.VOID: SignalSpec(InvoiceWorkflow.void, VoidInvoice, _moot),
}


def backoff(attempts: int) -> timedelta:
    """0.5 s, 1 s, 2 s ... at most 10 s apart: a Temporal outage is caught up within seconds of its end."""
    return timedelta(seconds=min(10.0, 0.5 * 2 ** max(attempts - 1, 0)))


class OutboxRelay:
    """One loop per process; several processes may run it (rows are locked, heads are taken per workflow)."""

    def __init__(
        self,
        db: Database,
        temporal: Client,
        *,
        batch: int = 100,
        idle: float = 0.05,
        rpc_timeout: timedelta = timedelta(seconds=5),
        retry_after: Callable[[int], timedelta] = backoff,
    ) -> None:
        self._db = db
        self._temporal = temporal
        self._batch = batch
        self._idle = idle
        self._rpc_timeout = rpc_timeout
        self._retry_after = retry_after

    async def run_once(self) -> int:
        """Deliver the next message of up to `batch` workflows; returns how many were taken."""
        async with self._db.session() as session:
            messages = await outbox_repo.claim_heads(session, limit=self._batch)
            if not messages:
                return 0
            outcomes = await asyncio.gather(*(self._deliver(m) for m in messages), return_exceptions=True)
            for message, outcome in zip(messages, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    retry_at = utcnow() + self._retry_after(message.attempts + 1)
                    outbox_repo.mark_failed(message, error=f"{type(outcome).__name__}: {outcome}", retry_at=retry_at)
                    if message.attempts == 1 or message.attempts % 10 == 0:
                        log.warning(
                            "outbox %s to %s not delivered (attempt %s): %s",
                            message.key,
                            message.workflow_id,
                            message.attempts,
                            outcome,
                        )
                else:
                    outbox_repo.mark_delivered(message, note=outcome)
                session.add(message)
        return len(messages)

    async def _deliver(self, message: RunOutboxMessage) -> str | None:
        if message.kind == outbox_repo.START:
            return await self._start(message)
        if message.kind != outbox_repo.SIGNAL:
            raise ValueError(f"outbox kind {message.kind!r} is not relayed")
        spec = SIGNALS[message.name]
        arg = spec.payload.model_validate(message.payload)
        handle = self._temporal.get_workflow_handle(message.workflow_id)
        try:
            await handle.signal(spec.signal, arg, rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            return await spec.on_closed(self._db, self._temporal, message)
        return None

    async def _start(self, message: RunOutboxMessage) -> str | None:
        if message.name != outbox_repo.INVOICE_RUN:
            raise ValueError(f"outbox start {message.name!r} is not relayed")
        start = InvoiceRunStart.model_validate(message.payload)
        with_payment: dict[str, Any] = {}
        if start.recorded_payment is not None:
            with_payment = {
                "start_signal": InvoiceWorkflow.payment_recorded.__name__,
                "start_signal_args": [start.recorded_payment],
            }
        try:
            await self._temporal.start_workflow(
                InvoiceWorkflow.run,
                start.input,
                id=message.workflow_id,
                task_queue=start.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=start.summary,
                # WorkspaceId from the first event (as invoice_runs starts do), not only once the run upserts it.
                search_attributes=start_attributes(
                    workspace_id=start.input.booking.workspace_id, subscription_id=start.input.booking.subscription_id
                ),
                rpc_timeout=self._rpc_timeout,
                **with_payment,
            )
        except WorkflowAlreadyStartedError:  # the run has already finished: the start was delivered before
            return "already started"
        return None

    async def run(self, stopping: asyncio.Event) -> None:
        """Until `stopping` is set: deliver, and wait `idle` seconds whenever nothing is owed."""
        while not stopping.is_set():
            try:
                taken = await self.run_once()
            except Exception:  # the database away for a moment: the rows wait, the loop goes on
                log.exception("outbox relay: batch failed")
                taken = 0
                await _wait(stopping, 1.0)
            if taken == 0:
                await _wait(stopping, self._idle)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
