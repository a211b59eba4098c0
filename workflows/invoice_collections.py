"""Collections in the invoice workflow (issue 16): payments in flight, and the client's own answers.

A mixin of InvoiceWorkflow, kept apart from the main loop: its signals queue items in the same inbox, the main
loop applies them in order through `_apply_collection`, and while a hold is set no reminder or escalation goes
out (the loop asks `_hold_blocks_reminders` and wakes at `hold.until`).

Holds: `processing` (a Stripe async payment, or a bank transfer the client says they made: status processing),
`dispute` (status disputed, until staff resolve it) and `promise` (status unchanged; reminders wait until the
promised day plus a grace period, then the client gets a broken-promise reminder). Everything is keyed: a
payment reference or answer id seen before changes nothing, so deliveries twice or out of order are harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.interest import InterestActivities
    from models.enums import EmailKind, InvoiceStatus
    from models.workflow_io import (
        BookingIn,
        CollectionHold,
        DisputeRaised,
        HoldKind,
        InvoiceState,
        InvoiceWorkflowInput,
        PaymentFailed,
        PaymentProcessing,
        PaymentPromised,
        PrepareInterestInput,
        ReminderPolicy,
        ResolveDispute,
        ScheduledReminder,
        SentEmail,
        TransferClaimed,
    )
    from workflows.search_attributes import start_attributes

if TYPE_CHECKING:
    pass

# Marks the first command written for a collections signal, so `workflow.patched` documents the change for
# replays (runs recorded before it never carry these signals).
COLLECTIONS_PATCH = "collections-v1"
# Marks the first interest invoice a policy step issues (policies without `issue_interest` never reach it).
INTEREST_STEP_PATCH = "collections-interest-step-v1"
# Issue 13: runs carry their WorkspaceId search attribute (InvoiceWorkflow._publish) and the child runs they start
# have workspace ids (models/workflow_ids.py); runs recorded before keep their attributes and their children's ids.
WORKSPACE_PATCH = "workspace-search-attribute-and-ids"
INTEREST_TIMEOUT = timedelta(seconds=15)
INTEREST_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["InvoiceNotFound"])
# References and answer ids remembered for de-duplication (a continued run carries them over).
COLLECTION_MEMORY = 100

CollectionSignal = PaymentProcessing | PaymentFailed | TransferClaimed | PaymentPromised | DisputeRaised


class InvoiceCollections:
    """Signals and handling of payments in flight and of client answers; mixed into InvoiceWorkflow."""

    _inbox: list[Any]  # InvoiceWorkflow's Inbound: payments, staff actions, these signals and more
    _policy: ReminderPolicy
    _booking: BookingIn
    _workspace_ids: bool  # whether child runs get workspace ids (InvoiceWorkflow.run decides)

    if TYPE_CHECKING:  # provided by InvoiceWorkflow

        def _require_state(self) -> InvoiceState: ...

        async def _email(
            self,
            kind: EmailKind,
            key: str,
            *,
            step: int | None = None,
            template: str | None = None,
            to_staff: bool = False,
            details: dict[str, str] | None = None,
        ) -> SentEmail | None: ...

        async def _transition(
            self, kind: str, message: str, *, key: str, data: dict[str, str] | None = None, **fields: object
        ) -> Any: ...

    # --- hooks the main loop calls ------------------------------------------------------------------

    def _hold_blocks_reminders(self) -> bool:
        return self._require_state().hold is not None

    def _hold_wake(self) -> datetime | None:
        hold = self._require_state().hold
        return hold.until if hold is not None else None

    async def _expire_hold(self, now: datetime) -> bool:
        """End a hold whose time is up; True if one ended (the loop then looks again)."""
        state = self._require_state()
        hold = state.hold
        if hold is None or hold.until is None or now < hold.until:
            return False
        if hold.kind is HoldKind.promise:
            if state.balance_minor > 0:
                await self._email(EmailKind.promise_broken, f"promise-broken-{hold.reference}")
            await self._transition(
                "promise_broken",
                f"The promised payment ({hold.label}) has not arrived: reminders resume",
                key=f"promise-broken-{hold.reference}",
            )
        else:
            await self._transition(
                "hold_ended",
                f"No payment arrived for {hold.label}: reminders resume",
                key=f"hold-ended-{hold.reference}",
            )
        self._release(hold)
        return True

    async def _apply_collection(self, item: CollectionSignal) -> None:
        state = self._require_state()
        if state.status.is_final:
            return  # paid, void or written off meanwhile: nothing to hold or release
        workflow.patched(COLLECTIONS_PATCH)
        match item:
            case PaymentProcessing():
                await self._payment_processing(item)
            case PaymentFailed():
                await self._payment_failed(item)
            case TransferClaimed() | PaymentPromised() | DisputeRaised():
                if item.answer_id in state.handled_answer_ids:
                    return  # the same answer delivered twice
                state.handled_answer_ids = [*state.handled_answer_ids, item.answer_id][-COLLECTION_MEMORY:]
                await self._client_answer(item)

    async def _interest_at_step(self, step: ScheduledReminder) -> None:
        """A step marked `issue_interest` also issues the interest invoice for the interest accrued so far: its
        own invoice run (a child that outlives this one), once per step."""
        steps = self._policy.steps
        policy_step = steps[step.step - 1] if 0 < step.step <= len(steps) else None
        if policy_step is None or not policy_step.issue_interest or self._booking.late_interest is None:
            return
        workflow.patched(INTEREST_STEP_PATCH)
        state = self._require_state()
        prepared = await workflow.execute_local_activity_method(
            InterestActivities.prepare_interest_invoice,
            PrepareInterestInput(invoice_id=state.invoice_id, as_of=workflow.now()),
            summary="prepare interest invoice",
            start_to_close_timeout=INTEREST_TIMEOUT,
            retry_policy=INTEREST_RETRY,
        )
        key = f"interest-step-{step.step}"
        if prepared.booking is None:
            await self._transition(
                "interest_skipped", f"No interest invoice at step {step.step}: {prepared.reason}", key=key
            )
            return
        booking = prepared.booking
        # Issue 13: the child's id carries the workspace when this run started with its WorkspaceId (a run started
        # by earlier code keeps the old ids, so an interest invoice issued by hand before still meets it), and it
        # starts with its WorkspaceId (patched: runs recorded before started it without).
        child_id = booking.workflow_id if self._workspace_ids else booking.legacy_workflow_id
        extra: dict[str, Any] = {}
        if workflow.patched(WORKSPACE_PATCH):
            extra["search_attributes"] = start_attributes(workspace_id=booking.workspace_id)
        try:
            await workflow.start_child_workflow(
                "InvoiceWorkflow",
                InvoiceWorkflowInput(booking=booking),
                id=child_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Interest invoice for {state.number}",
                **extra,
            )
        except WorkflowAlreadyStartedError:
            pass  # issued already (by hand, for the same day): one interest invoice, never two
        await self._transition(
            "interest_invoiced",
            f"Interest invoice issued at step {step.step} ({booking.booking_id})",
            key=key,
            data={"workflow_id": child_id},
        )

    async def _resolve_dispute(self, action: ResolveDispute, *, key: str, data: dict[str, str]) -> None:
        state = self._require_state()
        hold = state.hold
        assert hold is not None  # checked by invoice_rules.rejection_reason
        await self._transition("dispute_resolved", f"Dispute resolved: {action.resolution}", key=key, data=data)
        self._release(hold)

    # --- payments in flight -------------------------------------------------------------------------

    async def _payment_processing(self, item: PaymentProcessing) -> None:
        state = self._require_state()
        reference = f"{item.provider}:{item.provider_reference}"
        if reference in state.closed_references or (state.hold and state.hold.reference == reference):
            return  # already failed (a late 'completed' after '_failed'), or already processing
        label = f"{item.method} payment {item.provider_reference}"
        hold = CollectionHold(
            kind=HoldKind.processing, reference=reference, since=item.started_at, until=item.until, label=label
        )
        await self._hold(
            hold, "processing", f"Payment in progress ({label}): reminders wait", data={"reference": reference}
        )

    async def _payment_failed(self, item: PaymentFailed) -> None:
        state = self._require_state()
        reference = f"{item.provider}:{item.provider_reference}"
        if reference in state.closed_references:
            return
        state.closed_references = [*state.closed_references, reference][-COLLECTION_MEMORY:]
        hold = state.hold
        releases = hold is not None and hold.reference == reference
        reason = f": {item.reason}" if item.reason else ""
        await self._transition(
            "payment_failed" if releases else "payment_failed_noted",
            f"Payment {item.provider_reference} failed{reason}" + (": reminders resume" if releases else ""),
            key=f"payment-failed-{reference}",
            data={"reference": reference},
        )
        await self._email(EmailKind.payment_failed, f"payment-failed-{reference}")
        if hold is not None and releases:
            self._release(hold)

    # --- the client's answers -----------------------------------------------------------------------

    async def _client_answer(self, item: TransferClaimed | PaymentPromised | DisputeRaised) -> None:
        reference = f"answer:{item.answer_id}"
        match item:
            case TransferClaimed():
                label = f"bank transfer ref {item.reference} on {item.paid_on.isoformat()}"
                details = {"answer": "transfer", "reference": item.reference, "paid_on": item.paid_on.isoformat()}
                hold = CollectionHold(
                    kind=HoldKind.processing, reference=reference, since=item.received_at, until=item.until, label=label
                )
                message = f"The client says they paid by {label}: waiting for it"
                applied = await self._hold(hold, "processing", message, data=details, answer=True)
                if applied:
                    await self._email(EmailKind.client_answer, f"staff-{reference}", to_staff=True, details=details)
            case PaymentPromised():
                label = f"promised for {item.pay_on.isoformat()}"
                details = {"answer": "promise", "pay_on": item.pay_on.isoformat()}
                hold = CollectionHold(
                    kind=HoldKind.promise, reference=reference, since=item.received_at, until=item.until, label=label
                )
                await self._hold(
                    hold,
                    "promised",
                    f"The client promises to pay on {item.pay_on.isoformat()}",
                    data=details,
                    answer=True,
                )
            case DisputeRaised():
                details = {"answer": "dispute", "reason": item.reason}
                hold = CollectionHold(
                    kind=HoldKind.dispute, reference=reference, since=item.received_at, label="disputed by the client"
                )
                applied = await self._hold(
                    hold, "disputed", f"The client disputes the invoice: {item.reason}", data=details, answer=True
                )
                if applied:
                    await self._email(EmailKind.client_answer, f"staff-{reference}", to_staff=True, details=details)

    # --- holding and releasing ----------------------------------------------------------------------

    async def _hold(
        self, hold: CollectionHold, kind: str, message: str, *, data: dict[str, str], answer: bool = False
    ) -> bool:
        """Set `hold` unless a stronger one is in place (then the answer is only recorded); True if set."""
        state = self._require_state()
        current = state.hold
        key = f"{kind}-{hold.reference}"
        if current is not None and current.rank > hold.rank:
            await self._transition(
                "answer_recorded" if answer else "processing_noted",
                f"{message} (reminders already wait: {current.label})",
                key=key,
                data=data,
            )
            return False
        await self._transition(kind, message, key=key, data=data)
        state.hold = hold
        return True

    def _release(self, hold: CollectionHold) -> None:
        state = self._require_state()
        if hold.kind is HoldKind.processing and hold.reference not in state.closed_references:
            state.closed_references = [*state.closed_references, hold.reference][-COLLECTION_MEMORY:]
        if state.hold is hold or (state.hold is not None and state.hold.reference == hold.reference):
            state.hold = None

    # --- signals ------------------------------------------------------------------------------------

    @workflow.signal
    def payment_processing(self, item: PaymentProcessing) -> None:
        self._inbox.append(item)

    @workflow.signal
    def payment_failed(self, item: PaymentFailed) -> None:
        self._inbox.append(item)

    @workflow.signal
    def transfer_claimed(self, item: TransferClaimed) -> None:
        self._inbox.append(item)

    @workflow.signal
    def payment_promised(self, item: PaymentPromised) -> None:
        self._inbox.append(item)

    @workflow.signal
    def dispute_raised(self, item: DisputeRaised) -> None:
        self._inbox.append(item)

    @workflow.signal
    def resolve_dispute(self, action: ResolveDispute) -> None:
        self._inbox.append(action)


__all__ = ["COLLECTIONS_PATCH", "CollectionSignal", "InvoiceCollections", "InvoiceStatus"]
