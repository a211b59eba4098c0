"""Which staff action applies in which state: pure rules shared by the workflow and the API (409 answers)."""

from __future__ import annotations

from datetime import datetime

from models.workflow_io import (
    ExtendDueDate,
    HoldKind,
    InvoiceState,
    MarkPaid,
    PauseReminders,
    ResolveDispute,
    ResumeReminders,
    StaffAction,
    VoidInvoice,
    WriteOff,
)

# A run's refusal before its first task has loaded the invoice: callers that know the invoice is recorded wait
# for the run instead (billflow/services/staff_actions.py).
STILL_ISSUING = "the invoice is still being issued"


def rejection_reason(state: InvoiceState, action: StaffAction, *, now: datetime) -> str | None:
    """None if the action applies; otherwise why it does not (recorded as a rejected action)."""
    if state.status.is_final:
        return f"invoice {state.number} is {state.status.value}"
    match action:
        case MarkPaid(amount_minor=amount) if amount is not None and amount > state.balance_minor:
            return f"amount {amount} exceeds the balance {state.balance_minor}"
        case PauseReminders(until=until) if until is not None and until <= now:
            return "pause end lies in the past"
        case PauseReminders() if state.paused and state.paused_until is None:
            return "reminders are already paused"
        case ResumeReminders() if not state.paused:
            return "reminders are not paused"
        case ExtendDueDate(due_date=due_date) if due_date is not None and due_date <= state.due_date:
            return f"new due date {due_date} is not after the current one {state.due_date}"
        case ExtendDueDate(extend_by=by) if by is not None and by.total_seconds() <= 0:
            return "extend_by must be positive"
        case ResolveDispute() if state.hold is None or state.hold.kind is not HoldKind.dispute:
            return f"invoice {state.number} is not disputed"
        case VoidInvoice() if state.amount_paid_minor > 0:
            return "invoice has payments: write it off or refund instead of voiding"
        case WriteOff() | VoidInvoice() | MarkPaid() | PauseReminders() | ResumeReminders() | ExtendDueDate():
            return None
        case ResolveDispute():
            return None
    return f"unknown action {type(action).__name__}"
