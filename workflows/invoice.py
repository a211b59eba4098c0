"""InvoiceWorkflow: one durable run per invoice, from issue to paid, void or written off."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import schedule as schedule_activities
    from activities.email import EmailActivities
    from activities.invoices import InvoiceActivities
    from activities.payments import PaymentActivities
    from models.enums import EmailKind, InvoiceStatus
    from models.workflow_io import (
        ACTION_REJECTED,
        CreditNoteIssued,
        DueDateInput,
        ExtendDueDate,
        InvoiceOutcome,
        InvoicePlan,
        InvoiceState,
        InvoiceTransition,
        InvoiceWorkflowInput,
        MarkPaid,
        PauseReminders,
        PaymentLinkInput,
        PaymentReceived,
        PlanRemindersInput,
        RecordInvoiceInput,
        RecordPaymentInput,
        ReminderPolicy,
        ResendEmail,
        ResolveDispute,
        ResumeReminders,
        ScheduledReminder,
        SendEmailInput,
        SentEmail,
        SettlementInput,
        StaffAction,
        TransitionResult,
        VoidInvoice,
        WriteOff,
    )
    from workflows.invoice_collections import WORKSPACE_PATCH, CollectionSignal, InvoiceCollections
    from workflows.invoice_plan import plan_ahead
    from workflows.invoice_rules import STILL_ISSUING, rejection_reason
    from workflows.run_details import current_details, next_event
    from workflows.search_attributes import WORKSPACE_ID, invoice_updates

# Database writes and calendar maths are short: local activities, no extra server round trip each.
DB_TIMEOUT = timedelta(seconds=15)
DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# Providers are remote and rate-limited: longer timeout, retried with backoff up to 10 minutes apart.
PROVIDER_TIMEOUT = timedelta(seconds=30)
PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["InvoiceNotFound"],
)
# A staff resend is tried once: its caller waits for the answer, and a refusal is shown, not retried for minutes.
RESEND_RETRY = RetryPolicy(maximum_attempts=1)
RESENDABLE = (EmailKind.invoice_issued, EmailKind.reminder, EmailKind.overdue, EmailKind.receipt)
# Processed staff-action ids kept for de-duplication and for callers waiting on their action.
ACTION_MEMORY = 100
# Patch id of the reopened-run catch-up (issue 11, item 13); runs recorded before it never take the branch.
REOPENED_PATCH = "reopened-run-catches-up-reminders"
# Patch id of payments recorded before the run hears of them (issue 12, item 1): the run reads, never writes.
PAYMENT_RECORDED_PATCH = "payment-recorded-signal"
# Patch id of a reminder the email activity skipped because the invoice was settled meanwhile (issue 12).
REMINDER_RECHECK_PATCH = "reminder-rechecks-settlement"


@dataclass(frozen=True)
class RecordedPayment:
    """Inbox item of the `payment_recorded` signal: the payment and its status are in PostgreSQL already."""

    payment: PaymentReceived


Inbound = PaymentReceived | RecordedPayment | StaffAction | CreditNoteIssued | CollectionSignal


@workflow.defn
class InvoiceWorkflow(InvoiceCollections):
    """Issue, send, wait, remind, settle. Signals are queued and applied in order by the main loop, so every
    database write happens from one place and in a deterministic order."""

    @workflow.init
    def __init__(self, data: InvoiceWorkflowInput) -> None:
        # A continued run knows its state before its first task: an update racing the continue-as-new is
        # validated against it rather than refused as "still being issued".
        self._state: InvoiceState | None = data.carried_state
        self._inbox: list[Inbound] = []
        self._client_id: int | None = None  # known once issued; a continued run keeps the attribute already set
        self._published: dict[str, object] = {}  # search-attribute values last upserted
        # Staff actions sent as Updates, once the main loop has applied them: action id -> rejection (None if
        # applied). Not workflow state: it only tells a waiting update handler how its action went.
        self._answers: dict[str, str | None] = {}
        self._resent: dict[str, SentEmail] = {}  # resend action id -> the message sent, for its update handler

    # --- the process -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: InvoiceWorkflowInput) -> InvoiceOutcome:
        self._booking = data.booking
        self._policy = data.booking.reminder_policy
        # Read before any upsert: runs started by code before workspaces (no WorkspaceId) keep old child ids, and
        # so do the runs they continue as (carried: by then the attribute is set).
        self._workspace_ids = (
            data.workspace_ids
            if data.workspace_ids is not None
            else workflow.info().typed_search_attributes.get(WORKSPACE_ID) is not None
        )
        self._max_history_events = data.max_history_events
        state = self._state = data.carried_state or await self._issue(data)
        if data.reopened and workflow.patched(REOPENED_PATCH):
            self._client_id = data.client_id
            self._catch_up_reopened(state)
        self._publish()
        # A payment that arrived with the start (a booking paid elsewhere) settles first: a paid invoice gets a
        # receipt, not an "invoice issued" email.
        while (
            self._inbox
            and isinstance(self._inbox[0], PaymentReceived | RecordedPayment)
            and not state.issued_email_sent
        ):
            await self._apply(self._inbox.pop(0))
        if not state.issued_email_sent and not state.status.is_final:
            await self._email(EmailKind.invoice_issued, "issued")
            state.issued_email_sent = True

        while not state.status.is_final:
            if self._inbox:
                await self._apply(self._inbox.pop(0))
                continue
            now = workflow.now()
            if await self._advance(now):
                continue
            if self._history_too_long():
                # An update handler waits for its action to be applied by this loop: wake for the inbox too.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._inbox))
                if self._inbox:  # a signal arrived meanwhile: apply it first, it must not be lost
                    continue
                workflow.continue_as_new(
                    InvoiceWorkflowInput(
                        booking=self._booking,
                        carried_state=state,
                        max_history_events=self._max_history_events,
                        workspace_ids=self._workspace_ids,
                    )
                )
            wake = self._next_wake()
            timeout = max(wake - now, timedelta(0)) if wake else None
            self._publish()
            with contextlib.suppress(TimeoutError):  # a timeout just means: time to look again
                await workflow.wait_condition(
                    lambda: bool(self._inbox), timeout=timeout, timeout_summary=next_event(state)
                )

        if state.status is InvoiceStatus.paid and not state.receipt_sent:
            await self._email(EmailKind.receipt, state.receipt_key)
            state.receipt_sent = True
        # Signals queued behind the settling one: a payment is still recorded, a staff action is rejected.
        while True:
            while self._inbox:
                await self._apply(self._inbox.pop(0))
            if state.status is InvoiceStatus.paid and not state.receipt_sent:  # written off, then paid in full
                await self._email(EmailKind.receipt, state.receipt_key)
                state.receipt_sent = True
                continue
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._inbox))
            if not self._inbox:
                break
        return InvoiceOutcome(
            number=state.number,
            status=state.status,
            amount_paid_minor=state.amount_paid_minor,
            reminders_sent=state.steps_sent,
            escalated=state.escalated,
        )

    async def _issue(self, data: InvoiceWorkflowInput) -> InvoiceState:
        booking = data.booking
        if booking.issued_at is None:  # fixed here so every retry of the activity agrees
            booking = booking.model_copy(update={"issued_at": workflow.now()})
            self._booking = booking
        wf_id = workflow.info().workflow_id
        issued = await workflow.execute_local_activity_method(
            InvoiceActivities.record_invoice,
            RecordInvoiceInput(booking=booking, workflow_id=wf_id),
            summary="record invoice",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._client_id = issued.client_id
        link = await workflow.execute_local_activity_method(
            PaymentActivities.create_payment_link,
            PaymentLinkInput(invoice_id=issued.invoice_id, public_token=issued.public_token, workflow_id=wf_id),
            summary="create payment link",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        state = InvoiceState(**issued.model_dump(exclude={"client_id", "public_token"}), payment_url=link.url)
        state.reminders = await self._plan(state)
        return state

    async def _advance(self, now: datetime) -> bool:
        """Do whatever is due at `now`; True if something was done (the loop then looks again)."""
        state = self._require_state()
        if state.status in (InvoiceStatus.open, InvoiceStatus.partially_paid) and now >= state.due_at:
            # keyed by the due instant: after an extension the new due date can pass too
            await self._transition("overdue", "The due date passed unpaid", key=f"overdue-{state.due_at.isoformat()}")
            return True
        if await self._expire_hold(now):  # collections: a promise or a claimed transfer ran out
            return True
        if state.paused and state.paused_until is not None and now >= state.paused_until:
            await self._transition("resumed", "Pause ended", key=f"resume-at-{state.paused_until.isoformat()}")
            state.paused, state.paused_until = False, None
            return True
        step = state.next_reminder
        if step is not None and now >= step.at:
            await self._remind(step)
            return True
        if (
            step is None
            and state.status is InvoiceStatus.overdue
            and not state.escalated
            and not state.paused
            and not self._hold_blocks_reminders()
        ):
            await self._email(EmailKind.escalation, "escalation", to_staff=True)
            await self._transition("escalated", "Unpaid after every reminder: staff notified", key="escalated")
            state.escalated = True
            return True
        return False

    async def _remind(self, step: ScheduledReminder) -> None:
        state = self._require_state()
        # A step that falls due while paused, or while a payment is in flight, promised or disputed, is skipped,
        # not sent on resume.
        if state.paused or self._hold_blocks_reminders():
            step.skipped = True
            return
        kind = EmailKind.overdue if step.at > state.due_at else EmailKind.reminder
        sent = await self._email(kind, f"reminder-{step.step}", step=step.step, template=step.template)
        if sent is not None and sent.skipped_settled and workflow.patched(REMINDER_RECHECK_PATCH):
            # Paid a moment ago (its signal still on the way): no reminder; the run takes the settled status.
            step.skipped = True
            await self._adopt_settlement("read settled status")
            return
        step.sent = True
        await self._interest_at_step(step)  # collections: a step may also issue the interest invoice

    def _catch_up_reopened(self, state: InvoiceState) -> None:
        """Steps that fell due while the invoice was settled are not sent in a burst: the latest of them goes out
        now, once; the earlier ones are skipped, as during a pause. Later steps follow the policy."""
        missed = [r for r in state.reminders if not r.done and r.at <= workflow.now()]
        for step in missed[:-1]:
            step.skipped = True

    def _history_too_long(self) -> bool:
        info = workflow.info()
        limit = self._max_history_events
        return info.is_continue_as_new_suggested() or (limit is not None and info.get_current_history_length() >= limit)

    def _next_wake(self) -> datetime | None:
        state = self._require_state()
        candidates = []
        if state.status in (InvoiceStatus.open, InvoiceStatus.partially_paid):
            candidates.append(state.due_at)
        if state.paused_until is not None:
            candidates.append(state.paused_until)
        step = state.next_reminder
        if step is not None:
            candidates.append(step.at)
        if (hold_until := self._hold_wake()) is not None:
            candidates.append(hold_until)
        return min(candidates, default=None)

    # --- inbound signals, applied by the main loop --------------------------------------------------

    async def _apply(self, item: Inbound) -> None:
        state = self._require_state()
        if isinstance(item, PaymentReceived):
            await self._record_payment(item, note=None)
            return
        if isinstance(item, RecordedPayment):
            if workflow.patched(PAYMENT_RECORDED_PATCH):
                await self._adopt_settlement(f"read {item.payment.provider} payment")
            else:  # unreachable in recorded histories (the signal is new); kept for symmetry with the patch
                await self._record_payment(item.payment, note=None)
            return
        if isinstance(item, CreditNoteIssued):  # written by the credit-note service; the run adopts the amounts
            state.credited_minor = max(state.credited_minor, item.credited_minor)
            if not state.status.is_final:
                self._set_status(item.status)
            return
        if isinstance(item, ResendEmail):
            await self._resend(item)
            return
        if not isinstance(item, StaffAction):
            await self._apply_collection(item)
            return
        if item.action_id in state.processed_action_ids:
            self._answers.setdefault(item.action_id, None)
            return  # the same staff action delivered twice
        reason = rejection_reason(state, item, now=workflow.now())
        if reason is not None:
            state.last_rejection = reason
            await self._transition(
                "rejected",
                f"{type(item).__name__} rejected: {reason}",
                key=f"action-{item.action_id}",
                data={"actor": item.actor},
            )
        else:
            state.last_rejection = None
            await self._staff_action(item)
        state.processed_action_ids = [*state.processed_action_ids, item.action_id][-ACTION_MEMORY:]
        self._answers[item.action_id] = reason

    async def _staff_action(self, action: StaffAction) -> None:
        state = self._require_state()
        key = f"action-{action.action_id}"
        data = {"actor": action.actor, "note": action.note or ""}
        match action:
            case MarkPaid():
                payment = PaymentReceived(
                    provider="manual",
                    provider_reference=action.action_id,
                    amount_minor=action.amount_minor or state.balance_minor,
                    currency=state.currency,
                    received_at=workflow.now(),
                    method=action.method,
                )
                await self._record_payment(payment, note=action.note)
            case PauseReminders(until=until):
                message = f"Reminders paused until {until.isoformat()}" if until else "Reminders paused"
                await self._transition("paused", message, key=key, paused_until=until, data=data)
                state.paused, state.paused_until = True, until
            case ResumeReminders():
                await self._transition("resumed", "Reminders resumed", key=key, data=data)
                state.paused, state.paused_until = False, None
            case ExtendDueDate():
                await self._extend_due(action, key=key, data=data)
            case VoidInvoice(reason=reason):
                result = await self._transition("void", f"Voided: {reason}", key=key, data=data)
                # The void issued a cancellation credit note (issue 14): the client gets it with its document.
                if result.credit_note_id is not None and workflow.patched("void-credit-note-email"):
                    state.credited_minor += result.credited_minor
                    await self._email(EmailKind.credit_note, "credit-note-void", credit_note_id=result.credit_note_id)
            case WriteOff(reason=reason):
                await self._transition("write_off", f"Written off: {reason}", key=key, data=data)
            case ResolveDispute():
                await self._resolve_dispute(action, key=key, data=data)

    async def _resend(self, action: ResendEmail) -> None:
        """Send the email again under a key of its own (the same key a repeated request gets: sent once)."""
        state = self._require_state()
        try:
            self._resent[action.action_id] = await workflow.execute_local_activity_method(
                EmailActivities.send_invoice_email,
                SendEmailInput(
                    invoice_id=state.invoice_id,
                    kind=action.kind,
                    reminder_step=action.reminder_step,
                    idempotency_key=f"{workflow.info().workflow_id}:resend-{action.kind.value}-{action.action_id}",
                ),
                summary=f"resend {action.kind.value} email",
                start_to_close_timeout=PROVIDER_TIMEOUT,
                retry_policy=RESEND_RETRY,
            )
            self._answers[action.action_id] = None
        except (ActivityError, ApplicationError) as err:
            cause = err.cause if isinstance(err, ActivityError) else err
            self._answers[action.action_id] = f"email: {cause.message if isinstance(cause, ApplicationError) else err}"

    async def _record_payment(self, payment: PaymentReceived, *, note: str | None) -> None:
        state = self._require_state()
        outcome = await workflow.execute_local_activity_method(
            InvoiceActivities.record_payment,
            RecordPaymentInput(
                invoice_id=state.invoice_id,
                workflow_id=workflow.info().workflow_id,
                payment=payment,
                note=note,
            ),
            summary=f"record {payment.provider} payment",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if outcome.rejected_reason:
            state.last_rejection = outcome.rejected_reason
            await self._transition(
                "rejected",
                f"Payment rejected: {outcome.rejected_reason}",
                key=f"payment-rejected-{payment.provider}-{payment.provider_reference}",
            )
            return
        state.amount_paid_minor = outcome.amount_paid_minor
        state.credited_minor = outcome.credited_minor
        self._set_status(outcome.status)

    async def _adopt_settlement(self, why: str) -> None:
        """Take the amounts and status committed outside the run (with a payment): nothing is written again."""
        state = self._require_state()
        outcome = await workflow.execute_local_activity_method(
            InvoiceActivities.read_settlement,
            SettlementInput(invoice_id=state.invoice_id, workflow_id=workflow.info().workflow_id),
            summary=why,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        state.amount_paid_minor = outcome.amount_paid_minor
        state.credited_minor = outcome.credited_minor
        self._set_status(outcome.status)

    async def _extend_due(self, action: ExtendDueDate, *, key: str, data: dict[str, str]) -> None:
        state = self._require_state()
        due = await workflow.execute_local_activity(
            schedule_activities.compute_extended_due,
            DueDateInput(
                policy=self._policy,
                timezone=state.timezone,
                due_date=state.due_date,
                due_at=state.due_at,
                change=action,
            ),
            summary="compute extended due date",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        await self._transition(
            "due_date_extended",
            f"Due date moved to {due.due_date.isoformat()}",
            key=key,
            due_date=due.due_date,
            due_at=due.due_at,
            data=data,
        )
        state.due_date, state.due_at = due.due_date, due.due_at
        state.reminders = await self._plan(state)
        state.escalated = state.escalated and workflow.now() >= state.due_at

    # --- activity helpers ---------------------------------------------------------------------------

    async def _plan(self, state: InvoiceState) -> list[ScheduledReminder]:
        plan = await workflow.execute_local_activity(
            schedule_activities.plan_reminders,
            PlanRemindersInput(
                policy=self._policy,
                timezone=state.timezone,
                issued_at=state.issued_at,
                due_date=state.due_date,
                due_at=state.due_at,
                already=state.reminders,
            ),
            summary="plan reminders",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return plan.reminders

    async def _email(
        self,
        kind: EmailKind,
        key: str,
        *,
        step: int | None = None,
        template: str | None = None,
        to_staff: bool = False,
        credit_note_id: int | None = None,
        details: dict[str, str] | None = None,
    ) -> SentEmail | None:
        """None: the provider refused the message for good (recorded on the timeline)."""
        state = self._require_state()
        # A local activity: a mail send is one short HTTP call, and running it inside the workflow task halves
        # the server round trips per invoice; the claimed message row keeps it at most once across retries.
        try:
            return await workflow.execute_local_activity_method(
                EmailActivities.send_invoice_email,
                SendEmailInput(
                    invoice_id=state.invoice_id,
                    kind=kind,
                    reminder_step=step,
                    template=template,
                    to_staff=to_staff,
                    idempotency_key=f"{workflow.info().workflow_id}:{key}",
                    credit_note_id=credit_note_id,
                    details=details or {},
                ),
                summary=f"{kind.value} email" + (f" (step {step})" if step else ""),
                start_to_close_timeout=PROVIDER_TIMEOUT,
                retry_policy=PROVIDER_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            # Refused for good (bad address, suppressed recipient): the message row says failed; record it on
            # the timeline and carry on, the invoice still has to be paid, reminded and settled.
            cause = err.cause if isinstance(err, ActivityError) else err  # local activities raise it unwrapped
            if not (isinstance(cause, ApplicationError) and cause.type == "EmailRejected"):
                raise
            await self._transition("email_failed", f"{kind.value} email refused: {cause.message}", key=f"{key}-failed")
            return None

    async def _transition(
        self, kind: str, message: str, *, key: str, data: dict[str, str] | None = None, **fields: object
    ) -> TransitionResult:
        state = self._require_state()
        result = await workflow.execute_local_activity_method(
            InvoiceActivities.apply_transition,
            InvoiceTransition(
                invoice_id=state.invoice_id,
                workflow_id=workflow.info().workflow_id,
                event_key=f"{workflow.info().workflow_id}:{key}",
                kind=kind,
                message=message,
                data=data or {},
                **fields,
            ),  # type: ignore[arg-type]
            summary=f"transition: {kind}",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._set_status(result.status)
        return result

    def _set_status(self, status: InvoiceStatus) -> None:
        state = self._require_state()
        state.status = status
        self._publish()

    def _publish(self) -> None:
        """Search attributes (only the values that changed) and current details, in step with the invoice."""
        state = self._require_state()
        updates = invoice_updates(
            status=state.status.value,
            number=state.number,
            client_id=self._client_id,
            amount_due_minor=state.balance_minor,
            currency=state.currency,
            due_date=state.due_date,
            subscription_id=self._booking.subscription_id,
            workspace_id=self._booking.workspace_id if workflow.patched(WORKSPACE_PATCH) else None,
        )
        changed = [u for u in updates if self._published.get(u.key.name) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update({u.key.name: u.value for u in changed})
        workflow.set_current_details(current_details(state))

    def _require_state(self) -> InvoiceState:
        assert self._state is not None, "invoice not issued yet"
        return self._state

    # --- signals and query --------------------------------------------------------------------------

    @workflow.signal
    def payment_received(self, payment: PaymentReceived) -> None:
        self._inbox.append(payment)

    @workflow.signal
    def payment_recorded(self, payment: PaymentReceived) -> None:
        """A payment (or refund) committed with the invoice's new status outside the run (facts first)."""
        self._inbox.append(RecordedPayment(payment))

    @workflow.signal
    def mark_paid(self, action: MarkPaid) -> None:
        self._inbox.append(action)

    @workflow.signal
    def pause_reminders(self, action: PauseReminders) -> None:
        self._inbox.append(action)

    @workflow.signal
    def resume_reminders(self, action: ResumeReminders) -> None:
        self._inbox.append(action)

    @workflow.signal
    def extend_due_date(self, action: ExtendDueDate) -> None:
        self._inbox.append(action)

    @workflow.signal
    def void(self, action: VoidInvoice) -> None:
        self._inbox.append(action)

    @workflow.signal
    def write_off(self, action: WriteOff) -> None:
        self._inbox.append(action)

    # --- staff actions that need an answer: Updates (issue 12, item 3) ----------------------------------
    # The validator refuses with the reason before anything is written to history; an accepted action is queued
    # like its signal (the signals stay, for callers that do not wait and for runs started before), applied by
    # the main loop in order, and the handler returns the resulting state. Adding handlers and waking the loop
    # for the inbox add no commands, so recorded runs replay unchanged and need no `workflow.patched`.

    @workflow.update
    async def apply_pause_reminders(self, action: PauseReminders) -> InvoiceState:
        return await self._answer(action)

    @apply_pause_reminders.validator
    def _check_pause_reminders(self, action: PauseReminders) -> None:
        self._check(action)

    @workflow.update
    async def apply_resume_reminders(self, action: ResumeReminders) -> InvoiceState:
        return await self._answer(action)

    @apply_resume_reminders.validator
    def _check_resume_reminders(self, action: ResumeReminders) -> None:
        self._check(action)

    @workflow.update
    async def apply_extend_due_date(self, action: ExtendDueDate) -> InvoiceState:
        return await self._answer(action)

    @apply_extend_due_date.validator
    def _check_extend_due_date(self, action: ExtendDueDate) -> None:
        self._check(action)

    @workflow.update
    async def apply_void(self, action: VoidInvoice) -> InvoiceState:
        return await self._answer(action)

    @apply_void.validator
    def _check_void(self, action: VoidInvoice) -> None:
        self._check(action)

    @workflow.update
    async def apply_write_off(self, action: WriteOff) -> InvoiceState:
        return await self._answer(action)

    @apply_write_off.validator
    def _check_write_off(self, action: WriteOff) -> None:
        self._check(action)

    @workflow.update
    async def apply_resend_email(self, action: ResendEmail) -> SentEmail:
        """Resend through the run's own email path, in order with its other work; answers with the message."""
        self._inbox.append(action)
        await workflow.wait_condition(lambda: action.action_id in self._answers)
        reason = self._answers.pop(action.action_id)
        if reason is not None:
            raise ApplicationError(reason.removeprefix("email: "), type="EmailFailed", non_retryable=True)
        return self._resent.pop(action.action_id)

    @apply_resend_email.validator
    def _check_resend_email(self, action: ResendEmail) -> None:
        state = self._state
        refuse = None
        if state is None:
            refuse = STILL_ISSUING
        elif action.kind not in RESENDABLE:
            refuse = f"{action.kind.value} emails cannot be resent"
        elif action.kind is EmailKind.receipt and state.status is not InvoiceStatus.paid:
            refuse = f"invoice {state.number} is {state.status.value}: no receipt to resend"
        elif action.kind is not EmailKind.receipt and state.status.is_final:
            refuse = f"invoice {state.number} is {state.status.value}: nothing to ask the client for"
        if refuse is not None:
            raise ApplicationError(refuse, type=ACTION_REJECTED, non_retryable=True)

    def _check(self, action: StaffAction) -> None:
        """Refuse an action that does not apply now; a repeat of an applied one passes (it answers the state)."""
        if self._state is None:
            raise ApplicationError(STILL_ISSUING, type=ACTION_REJECTED, non_retryable=True)
        if action.action_id in self._state.processed_action_ids:
            return
        reason = rejection_reason(self._state, action, now=workflow.now())
        if reason is not None:
            raise ApplicationError(reason, type=ACTION_REJECTED, non_retryable=True)

    async def _answer(self, action: StaffAction) -> InvoiceState:
        """Queue the action, wait until the main loop has applied it, return the state. An action the loop
        rejects after all (a payment queued ahead of it settled the invoice) fails the update with the reason."""
        state = self._require_state()
        if action.action_id not in state.processed_action_ids:
            self._inbox.append(action)
            await workflow.wait_condition(lambda: action.action_id in self._answers)
        reason = self._answers.pop(action.action_id, None)
        if reason is not None:
            raise ApplicationError(reason, type=ACTION_REJECTED, non_retryable=True)
        return self._require_state()

    @workflow.signal
    def credit_note_issued(self, issued: CreditNoteIssued) -> None:
        self._inbox.append(issued)

    @workflow.query
    def status(self) -> InvoiceState | None:
        """Live state; None only in the first moments, before the invoice is recorded."""
        return self._state

    @workflow.query
    def plan(self) -> InvoicePlan | None:
        """What happens next and when (reminders at the client's local time, overdue, holds, escalation)."""
        if self._state is None:
            return None
        terms = self._booking.late_interest
        return plan_ahead(self._state, now=workflow.now(), interest_preset=terms.preset.value if terms else None)

    @workflow.query
    def reminder_policy(self) -> ReminderPolicy:
        """The policy in force, so a dry run of a staff action can re-plan outside the workflow."""
        return self._policy
