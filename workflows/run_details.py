"""What an invoice run shows an operator in the Temporal UI: its current details and the label of its timer.

Pure functions of the workflow state, so workflow code can call them; local times come preformatted from the
planning activity (`ScheduledReminder.local_label`), never from ZoneInfo inside the sandbox.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.numbers import get_currency_precision, list_currencies

from models.enums import InvoiceStatus
from models.workflow_io import InvoiceState

_WAITING_FOR_DUE = (InvoiceStatus.open, InvoiceStatus.partially_paid)
# Read from CLDR once, at import outside the sandbox: babel opens data files, which workflow code may not.
_DECIMALS = {code: get_currency_precision(code) for code in list_currencies()}


def format_money(amount_minor: int, currency: str) -> str:
    """`385.00 GBP`, `1200 JPY`: the currency's own number of decimals, no locale data needed."""
    return f"{Decimal(amount_minor).scaleb(-_DECIMALS.get(currency, 2)):f} {currency}"


def utc_label(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def headline(state: InvoiceState) -> str:
    """`INV-2026-0001 · 120.00 GBP of 150.00 GBP due 2026-12-08 · open`."""
    amount = format_money(state.balance_minor, state.currency)
    if state.amount_paid_minor:
        amount += f" of {format_money(state.total_minor, state.currency)}"
    return f"{state.number} · {amount} due {state.due_date.isoformat()} · {state.status.value}"


def next_event(state: InvoiceState) -> str:
    """What the run waits for next, e.g. `reminder 2 of 5 at 2026-12-01 09:00 Europe/London`."""
    if state.status.is_final:
        return f"nothing: closed as {state.status.value}"
    step = state.next_reminder
    step_label = f"{step.step} of {len(state.reminders)} at {step.local_label or utc_label(step.at)}" if step else ""
    if state.hold is not None:  # collections: a payment in flight, a promise or a dispute holds reminders back
        until = f" until {utc_label(state.hold.until)}" if state.hold.until else ""
        return f"{state.hold.kind.value}: {state.hold.label}; reminders wait{until}"
    if state.paused:
        if state.paused_until is None:
            return "reminders paused until a staff member resumes them; waiting for payment"
        text = f"paused until {utc_label(state.paused_until)}"
        if step is not None and step.at < state.paused_until:
            text += f" (reminder {step_label} will be skipped)"
        return text
    # The same candidates as the workflow's wake-up time, each with its label; the earliest wins.
    candidates: list[tuple[datetime, str]] = []
    if step is not None:
        candidates.append((step.at, f"reminder {step_label}"))
    if state.status in _WAITING_FOR_DUE:
        candidates.append((state.due_at, f"overdue after {state.due_date.isoformat()} ({utc_label(state.due_at)})"))
    if not candidates:
        if state.status is InvoiceStatus.overdue and not state.escalated:
            return "escalation to staff"
        return "payment or a staff action (every reminder sent)"
    return min(candidates, key=lambda c: c[0])[1]


def current_details(state: InvoiceState) -> str:
    """The run's current details (markdown in the UI): the invoice at a glance, then what happens next."""
    lines = [headline(state), f"Next: {next_event(state)}"]
    if state.last_rejection:
        lines.append(f"Last rejected action: {state.last_rejection}")
    return "\n\n".join(lines)
