"""The plan ahead of an invoice run, as a pure function of its state: what will happen and when.

Used by the workflow's `plan` query and, on a copy of the state changed by a staff action that has not been
applied, by the dry runs of that action (billflow.services.invoice_plans). Local times come preformatted from
the planning activity (`ScheduledReminder.local_label`); no time-zone maths here.
"""

from __future__ import annotations

from datetime import datetime

from models.enums import InvoiceStatus
from models.workflow_io import HoldKind, InvoicePlan, InvoiceState, PlanEntry

_WAITING_FOR_DUE = (InvoiceStatus.open, InvoiceStatus.partially_paid)


def _skip_reason(state: InvoiceState, at: datetime) -> str:
    """Why a step falling due at `at` would not be sent, or "" if it would."""
    if state.paused and (state.paused_until is None or at < state.paused_until):
        return "reminders are paused"
    hold = state.hold
    if hold is not None and (hold.until is None or at < hold.until):
        return {
            HoldKind.processing: "a payment is in progress",
            HoldKind.promise: "the client promised to pay",
            HoldKind.dispute: "the client disputes the invoice",
        }[hold.kind]
    return ""


def plan_ahead(state: InvoiceState, *, now: datetime, interest_preset: str | None = None) -> InvoicePlan:
    """Everything still to come, in time order; `interest_preset` (the booking's late-payment terms) adds when
    interest starts to accrue."""
    plan = InvoicePlan(
        number=state.number,
        status=state.status,
        as_of=now,
        due_date=state.due_date,
        due_at=state.due_at,
        timezone=state.timezone,
        hold=state.hold,
    )
    if state.status.is_final:
        return plan
    entries: list[PlanEntry] = []
    if state.due_at > now and (state.status in _WAITING_FOR_DUE or state.status.is_on_hold):
        note = "once the hold ends, if still unpaid" if state.status.is_on_hold else "if still unpaid"
        entries.append(
            PlanEntry(
                at=state.due_at,
                kind="overdue",
                label=f"becomes overdue after {state.due_date.isoformat()}",
                note=note,
            )
        )
    if interest_preset is not None and not state.status.is_on_hold:
        entries.append(
            PlanEntry(
                at=max(state.due_at, now),
                kind="interest",
                label=f"late-payment interest ({interest_preset}) accrues daily after {state.due_date.isoformat()}",
                note="while unpaid; never while disputed",
            )
        )
    hold = state.hold
    if hold is not None and hold.until is not None:
        if hold.kind is HoldKind.promise:
            label = "promised payment due: if it has not arrived, a broken-promise reminder goes out"
            entries.append(PlanEntry(at=hold.until, kind="promise_ends", label=label))
        else:
            label = f"stop waiting for {hold.label}: reminders resume if nothing arrived"
            entries.append(PlanEntry(at=hold.until, kind="wait_ends", label=label))
    if state.paused and state.paused_until is not None:
        entries.append(PlanEntry(at=state.paused_until, kind="pause_ends", label="reminders resume"))
    pending = [r for r in state.reminders if not r.done]
    for step in pending:
        reason = _skip_reason(state, step.at)
        kind = "overdue reminder" if step.at > state.due_at else "reminder"
        entries.append(
            PlanEntry(
                at=step.at,
                kind="reminder",
                label=f"{kind} {step.step} of {len(state.reminders)} ({step.template})",
                local_label=step.local_label,
                step=step.step,
                skipped=bool(reason),
                note=f"skipped: {reason}" if reason else "",
            )
        )
    if not state.escalated:
        last = max([state.due_at, *(r.at for r in pending)])
        reason = _skip_reason(state, last)
        entries.append(
            PlanEntry(
                at=max(last, now),
                kind="escalation",
                label="staff are told the invoice is unpaid after every reminder",
                note=f"waits: {reason}" if reason else "if still unpaid",
            )
        )
    plan.entries = sorted(entries, key=lambda e: e.at)
    return plan
