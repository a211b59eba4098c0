"""SubscriptionWorkflow: one durable run per subscription (id `subscription-{id}`), billing one period at a time.

Why a workflow with durable timers rather than a Temporal Schedule: see docs/recurring-billing.md. In short, the
periods are calendar dates in the client's time zone (the 31st, leap years, DST), pause/resume/cancel/plan
change are business events with rules, and the whole process runs under the time-skipping test server.
"""

from __future__ import annotations

import contextlib
import zlib
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.subscriptions import SubscriptionActivities
    from models.subscription_io import (
        CancelSubscription,
        ChangePlan,
        FindPeriodInput,
        NextPeriodInput,
        PauseSubscription,
        Period,
        PeriodBookingInput,
        PeriodOutcome,
        RecordPeriodInput,
        ResumeSubscription,
        SubscriptionAction,
        SubscriptionChange,
        SubscriptionOutcome,
        SubscriptionRunState,
        SubscriptionStatus,
        SubscriptionWorkflowInput,
        TriggerBilling,
    )
    from models.workflow_io import ACTION_REJECTED, InvoiceWorkflowInput
    from workflows.invoice import InvoiceWorkflow
    from workflows.invoice_collections import WORKSPACE_PATCH
    from workflows.search_attributes import WORKSPACE_ID, start_attributes
    from workflows.subscription_rules import rejection_reason

DB_CALL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(
        maximum_interval=timedelta(seconds=30), non_retryable_error_types=["SubscriptionNotFound"]
    ),
}
ACTION_MEMORY = 100


@workflow.defn
class SubscriptionWorkflow:
    """Wait for the next period's start, bill it (start its invoice workflow, whose id is derived from the
    subscription and the period), repeat. Actions (pause, resume, cancel, change plan, trigger), as signals or as
    Updates that answer, are queued and applied in order by the main loop; every period is billed at most once
    whatever fires twice."""

    def __init__(self) -> None:
        self._state: SubscriptionRunState | None = None
        self._inbox: list[SubscriptionAction] = []
        # Actions the main loop has applied: action id -> rejection (None if applied). Not workflow state: it only
        # tells a waiting update handler how its action went.
        self._answers: dict[str, str | None] = {}

    # --- the process -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: SubscriptionWorkflowInput) -> SubscriptionOutcome:
        state = self._state = data.carried_state or SubscriptionRunState(subscription_id=data.subscription_id)
        if state.workspace_ids is None:  # read before any upsert: a run started by earlier code has no WorkspaceId
            state.workspace_ids = workflow.info().typed_search_attributes.get(WORKSPACE_ID) is not None
        if not state.started:
            state.next_period = await self._next(None)
            state.started = True
        handled_this_run = 0

        while not state.status.is_final:
            if self._inbox:
                await self._apply(self._inbox.pop(0))
                continue
            period = state.next_period
            if period is None:
                last_day = state.current_period.end if state.current_period else None
                await self._change(SubscriptionStatus.ended, key="ended", ends_on=last_day, actor="schedule")
                break
            now = workflow.now()
            fire_at = self._fire_at(period, data.spread_seconds)
            if now >= fire_at:  # due, or overdue after an outage: each missed period is billed once
                if state.status is SubscriptionStatus.paused:
                    await self._record(period, PeriodOutcome.skipped, reason="paused")
                else:
                    await self._bill(period)
                await self._advance(period)
                handled_this_run += 1
                continue
            if handled_this_run >= data.periods_per_run or workflow.info().is_continue_as_new_suggested():
                # An update handler waits for this loop to apply its action: wake for the inbox too.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._inbox))
                if not self._inbox:
                    workflow.continue_as_new(
                        SubscriptionWorkflowInput(
                            subscription_id=data.subscription_id,
                            carried_state=state,
                            periods_per_run=data.periods_per_run,
                            spread_seconds=data.spread_seconds,
                        )
                    )
                continue
            with contextlib.suppress(TimeoutError):  # a timeout means: the next period has started
                await workflow.wait_condition(lambda: bool(self._inbox), timeout=fire_at - now)

        await workflow.wait_condition(workflow.all_handlers_finished)
        return SubscriptionOutcome(
            subscription_id=state.subscription_id,
            status=state.status,
            periods_billed=state.periods_billed,
            periods_skipped=state.periods_skipped,
        )

    def _fire_at(self, period: Period, spread_seconds: int) -> datetime:
        """The period's instant plus a stable offset (crc32, not hash(): the same on every replay and worker)."""
        if not spread_seconds:
            return period.starts_at
        key = f"{self._require_state().subscription_id}:{period.key}".encode()
        return period.starts_at + timedelta(seconds=zlib.crc32(key) % spread_seconds)

    async def _bill(self, period: Period) -> None:
        """Start the period's invoice workflow. Its id comes from the subscription and the period, so a second
        attempt (double fire, catch-up, trigger, backfill) meets the first and bills nothing."""
        state = self._require_state()
        booking = await workflow.execute_local_activity_method(
            SubscriptionActivities.subscription_period_booking,
            PeriodBookingInput(subscription_id=state.subscription_id, period=period),
            **DB_CALL,
        )
        # Issue 13: the period's invoice id carries the workspace when the subscription started so (a subscription
        # billing since before keeps the old ids, so a re-billed period still meets its invoice's run), and the
        # runs carry WorkspaceId (patched: runs recorded before set no attribute).
        invoice_id = booking.workflow_id if state.workspace_ids else booking.legacy_workflow_id
        extra: dict[str, Any] = {}
        if workflow.patched(WORKSPACE_PATCH):
            if workflow.info().typed_search_attributes.get(WORKSPACE_ID) is None:
                workflow.upsert_search_attributes([WORKSPACE_ID.value_set(booking.workspace_id)])
            extra["search_attributes"] = start_attributes(
                workspace_id=booking.workspace_id, subscription_id=state.subscription_id
            )
        try:
            await workflow.start_child_workflow(
                InvoiceWorkflow.run,
                InvoiceWorkflowInput(booking=booking),
                id=invoice_id,
                # The invoice outlives the subscription: cancelling billing never voids an issued invoice.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Subscription {state.subscription_id}, period {period.start} to {period.end}",
                **extra,
            )
        except WorkflowAlreadyStartedError:
            pass  # this period has its invoice already
        await self._record(period, PeriodOutcome.billed, invoice_workflow_id=invoice_id)
        state.last_invoice_workflow_id = invoice_id

    async def _record(
        self, period: Period, outcome: PeriodOutcome, *, invoice_workflow_id: str | None = None, reason: str = ""
    ) -> None:
        state = self._require_state()
        counts = await workflow.execute_local_activity_method(
            SubscriptionActivities.record_subscription_period,
            RecordPeriodInput(
                subscription_id=state.subscription_id,
                period=period,
                outcome=outcome,
                invoice_workflow_id=invoice_workflow_id,
                reason=reason,
            ),
            **DB_CALL,
        )
        state.periods_billed, state.periods_skipped = counts.periods_billed, counts.periods_skipped

    async def _advance(self, period: Period) -> None:
        state = self._require_state()
        state.current_period = period
        state.next_period = await self._next(period)

    async def _next(self, previous: Period | None) -> Period | None:
        state = self._require_state()
        found = await workflow.execute_local_activity_method(
            SubscriptionActivities.next_subscription_period,
            NextPeriodInput(subscription_id=state.subscription_id, previous=previous),
            **DB_CALL,
        )
        return found.period

    # --- inbound actions (signals and Updates), applied by the main loop ----------------------------

    async def _apply(self, action: SubscriptionAction) -> None:
        state = self._require_state()
        if action.action_id in state.processed_action_ids:
            self._answers.setdefault(action.action_id, None)
            return  # the same action delivered twice
        state.last_rejection = await self._act(action)
        state.processed_action_ids = [*state.processed_action_ids, action.action_id][-ACTION_MEMORY:]
        self._answers[action.action_id] = state.last_rejection

    async def _act(self, action: SubscriptionAction) -> str | None:
        """Apply one action; the reason it was rejected, or None."""
        state = self._require_state()
        if (reason := rejection_reason(state, action)) is not None:
            return reason
        key = f"action-{action.action_id}"
        match action:
            case PauseSubscription():
                await self._change(SubscriptionStatus.paused, key=key, action=action)
            case ResumeSubscription():
                await self._change(SubscriptionStatus.active, key=key, action=action)
            case CancelSubscription():
                # The current period stays billed; nothing after it is.
                last_day = state.current_period.end if state.current_period else None
                await self._change(SubscriptionStatus.cancelled, key=key, ends_on=last_day, action=action)
            case ChangePlan(lines=lines):
                assert state.next_period is not None  # the rule refuses a change with no further period
                await workflow.execute_local_activity_method(
                    SubscriptionActivities.apply_subscription_change,
                    SubscriptionChange(
                        subscription_id=state.subscription_id,
                        change_key=key,
                        lines=lines,
                        effective_from=state.next_period.start,
                        actor=action.actor,
                        note=action.note,
                    ),
                    **DB_CALL,
                )
            case TriggerBilling(period_start=day):
                return await self._trigger(day)
        return None

    async def _trigger(self, day: date | None) -> str | None:
        """Bill a period now: the next one early, one that has started (skipped, or billed: then nothing
        happens), or by default the current one."""
        state = self._require_state()
        upcoming = state.next_period
        if day is None:
            target = state.current_period or upcoming
        elif upcoming is not None and day == upcoming.start:
            target = upcoming
        else:
            found = await workflow.execute_local_activity_method(
                SubscriptionActivities.find_subscription_period,
                FindPeriodInput(subscription_id=state.subscription_id, period_start=day, not_after=workflow.now()),
                **DB_CALL,
            )
            if found.period is None:
                return found.reason
            target = found.period
        assert target is not None  # the rule refuses a trigger with neither a current nor a next period
        await self._bill(target)
        if upcoming is not None and target.start == upcoming.start:
            await self._advance(target)
        return None

    async def _change(
        self,
        status: SubscriptionStatus,
        *,
        key: str,
        ends_on: date | None = None,
        action: SubscriptionAction | None = None,
        actor: str = "staff",
    ) -> None:
        state = self._require_state()
        state.status = await workflow.execute_local_activity_method(
            SubscriptionActivities.apply_subscription_change,
            SubscriptionChange(
                subscription_id=state.subscription_id,
                change_key=key,
                status=status,
                ends_on=ends_on,
                actor=action.actor if action else actor,
                note=action.note if action else None,
            ),
            **DB_CALL,
        )

    def _require_state(self) -> SubscriptionRunState:
        assert self._state is not None
        return self._state

    # --- signals and query (all usable from the Temporal UI: `{}` is a valid input for each but change_plan) --

    @workflow.signal
    def pause(self, action: PauseSubscription) -> None:
        self._inbox.append(action)

    @workflow.signal
    def resume(self, action: ResumeSubscription) -> None:
        self._inbox.append(action)

    @workflow.signal
    def cancel(self, action: CancelSubscription) -> None:
        self._inbox.append(action)

    @workflow.signal
    def change_plan(self, action: ChangePlan) -> None:
        self._inbox.append(action)

    @workflow.signal
    def trigger(self, action: TriggerBilling) -> None:
        self._inbox.append(action)

    @workflow.query
    def status(self) -> SubscriptionRunState | None:
        return self._state

    # --- actions that need an answer: Updates (issue 12, item 3) -----------------------------------------
    # The validator refuses with the reason before anything is written to history; an accepted action is queued
    # like its signal (the signals stay, for callers that do not wait and for runs started before), applied by
    # the main loop in order, and the handler returns the state after it. Adding handlers and waking the loop for
    # the inbox add no commands, so recorded runs replay unchanged and need no `workflow.patched`.

    @workflow.update
    async def apply_pause(self, action: PauseSubscription) -> SubscriptionRunState:
        return await self._answer(action)

    @apply_pause.validator
    def _check_pause(self, action: PauseSubscription) -> None:
        self._check(action)

    @workflow.update
    async def apply_resume(self, action: ResumeSubscription) -> SubscriptionRunState:
        return await self._answer(action)

    @apply_resume.validator
    def _check_resume(self, action: ResumeSubscription) -> None:
        self._check(action)

    @workflow.update
    async def apply_cancel(self, action: CancelSubscription) -> SubscriptionRunState:
        return await self._answer(action)

    @apply_cancel.validator
    def _check_cancel(self, action: CancelSubscription) -> None:
        self._check(action)

    @workflow.update
    async def apply_change_plan(self, action: ChangePlan) -> SubscriptionRunState:
        return await self._answer(action)

    @apply_change_plan.validator
    def _check_change_plan(self, action: ChangePlan) -> None:
        self._check(action)

    @workflow.update
    async def apply_trigger(self, action: TriggerBilling) -> SubscriptionRunState:
        return await self._answer(action)

    @apply_trigger.validator
    def _check_trigger(self, action: TriggerBilling) -> None:
        self._check(action)

    def _check(self, action: SubscriptionAction) -> None:
        """Refuse an action that does not apply now; a repeat of a processed one passes (it answers the state).
        Before the run has found its first period the main loop decides (the handler then answers its reason)."""
        state = self._state
        if state is None or not state.started or action.action_id in state.processed_action_ids:
            return
        if (reason := rejection_reason(state, action)) is not None:
            raise ApplicationError(reason, type=ACTION_REJECTED, non_retryable=True)

    async def _answer(self, action: SubscriptionAction) -> SubscriptionRunState:
        """Queue the action, wait until the main loop has applied it, return the state. An action the loop
        refuses after all (one queued ahead of it changed the subscription, a trigger's period is not billable),
        or never reaches (the run ended first), fails the update with the reason."""
        if self._state is None or action.action_id not in self._state.processed_action_ids:
            self._inbox.append(action)
            await workflow.wait_condition(lambda: action.action_id in self._answers or self._ended())
        state = self._require_state()
        reason = self._answers.pop(action.action_id, None)
        if reason is None and action.action_id not in state.processed_action_ids:
            reason = rejection_reason(state, action)  # the run ended with the action still queued
        if reason is not None:
            raise ApplicationError(reason, type=ACTION_REJECTED, non_retryable=True)
        return state

    def _ended(self) -> bool:
        return self._state is not None and self._state.status.is_final
