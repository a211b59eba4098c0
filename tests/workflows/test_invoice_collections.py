"""Collections over an invoice's whole life (time skipping): payments in flight, transfers the client reports,
promises and disputes. No reminder is ever sent while one of them holds the invoice."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from billflow.db import Database
from models.enums import EmailKind, InvoiceStatus
from models.workflow_io import (
    DisputeRaised,
    HoldKind,
    PaymentFailed,
    PaymentProcessing,
    PaymentPromised,
    ResolveDispute,
    TransferClaimed,
)
from tests.workflows.support import (
    DAY,
    booking,
    issued,
    payment,
    rows,
    search_status,
    skip_to,
    start,
    until,
)
from workflows.invoice import InvoiceWorkflow

pytestmark = pytest.mark.usefixtures("worker")


def processing(reference: str, at: datetime) -> PaymentProcessing:
    return PaymentProcessing(provider="stripe", provider_reference=reference, started_at=at, method="sepa_debit")


def failed(reference: str, at: datetime) -> PaymentFailed:
    return PaymentFailed(provider="stripe", provider_reference=reference, failed_at=at, reason="insufficient funds")


def answer_id() -> str:
    return uuid.uuid4().hex


async def test_async_payment_in_progress_holds_reminders_then_succeeds(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 5 * DAY)
    now = await time_env.get_current_time()
    await handle.signal(InvoiceWorkflow.payment_processing, processing("cs_async_ok", now))
    await handle.signal(InvoiceWorkflow.payment_processing, processing("cs_async_ok", now))  # delivered twice
    state = await until(handle, lambda s: s.status is InvoiceStatus.processing)
    assert state.hold is not None and state.hold.kind is HoldKind.processing
    assert await search_status(handle) == "processing"
    assert (await rows(db, data.workflow_id)).invoice.status == InvoiceStatus.processing

    await skip_to(time_env, state.due_at + 4 * DAY)  # steps -3, 0 and +3 fall due while processing
    state = await until(handle, lambda s: sum(r.skipped for r in s.reminders) == 3)
    assert state.status is InvoiceStatus.processing and state.steps_sent == 0
    await handle.signal(InvoiceWorkflow.payment_received, payment(reference="cs_async_ok"))
    outcome = await handle.result()

    assert (outcome.status, outcome.reminders_sent) == (InvoiceStatus.paid, 0)
    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert found.count_events("invoice.processing") == 1


async def test_failed_async_payment_resumes_reminders_and_tells_the_client(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 4 * DAY)
    now = await time_env.get_current_time()
    await handle.signal(InvoiceWorkflow.payment_processing, processing("cs_async_fail", now))
    await until(handle, lambda s: s.status is InvoiceStatus.processing)
    await skip_to(time_env, state.due_at + DAY)  # step -3 skipped, the due date passes while processing
    state = await until(handle, lambda s: s.reminders[0].skipped)
    assert state.status is InvoiceStatus.processing

    now = await time_env.get_current_time()
    await handle.signal(InvoiceWorkflow.payment_failed, failed("cs_async_fail", now))
    await handle.signal(InvoiceWorkflow.payment_failed, failed("cs_async_fail", now))  # delivered twice
    await handle.signal(InvoiceWorkflow.payment_processing, processing("cs_async_fail", now))  # late, out of order
    state = await until(handle, lambda s: s.status is InvoiceStatus.overdue)
    assert state.hold is None
    await skip_to(time_env, state.due_at + 4 * DAY)
    state = await until(handle, lambda s: s.steps_sent == 1)  # +3 goes out: reminders resumed

    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.payment_failed, None),
        (EmailKind.overdue, 2),
    ]
    assert found.count_events("invoice.payment_failed") == 1
    assert found.count_events("invoice.processing") == 1
    assert found.invoice.status == InvoiceStatus.overdue
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid


async def test_claimed_transfer_waits_then_resumes_when_nothing_arrives(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 4 * DAY)
    now = await time_env.get_current_time()
    claim = TransferClaimed(
        answer_id=answer_id(), received_at=now, paid_on=now.date(), reference="REF-4711", until=now + 5 * DAY
    )
    await handle.signal(InvoiceWorkflow.transfer_claimed, claim)
    await handle.signal(InvoiceWorkflow.transfer_claimed, claim)  # the same answer twice: one effect
    state = await until(handle, lambda s: s.status is InvoiceStatus.processing)
    assert state.hold is not None and "REF-4711" in state.hold.label

    await skip_to(time_env, now + 6 * DAY)  # -3 and 0 skipped, then the wait ends: overdue, reminders resume
    state = await until(handle, lambda s: s.hold is None and s.status is InvoiceStatus.overdue)
    await skip_to(time_env, state.due_at + 3 * DAY + timedelta(hours=1))
    state = await until(handle, lambda s: s.steps_sent == 1)

    found = await rows(db, data.workflow_id)
    staff = [m for m in found.emails if m.kind == EmailKind.client_answer]
    assert len(staff) == 1 and "REF-4711" in staff[0].body_text
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.client_answer, None),
        (EmailKind.overdue, 3),
    ]
    assert found.count_events("invoice.processing") == 1
    assert found.count_events("invoice.hold_ended") == 1


async def test_promise_waits_then_a_broken_promise_gets_its_own_reminder(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7, 14)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 4 * DAY)
    now = await time_env.get_current_time()
    promise = PaymentPromised(answer_id=answer_id(), received_at=now, pay_on=date.today(), until=state.due_at + 5 * DAY)
    await handle.signal(InvoiceWorkflow.payment_promised, promise)
    await until(handle, lambda s: s.hold is not None)
    await skip_to(time_env, state.due_at + 6 * DAY)  # -3, 0 and +3 skipped; the promise breaks at +5
    state = await until(handle, lambda s: s.hold is None and s.status is InvoiceStatus.overdue)
    await skip_to(time_env, state.due_at + 7 * DAY + timedelta(hours=1))
    state = await until(handle, lambda s: s.steps_sent == 1)

    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.promise_broken, None),
        (EmailKind.overdue, 4),
    ]
    assert found.count_events("invoice.promised") == 1
    assert found.count_events("invoice.promise_broken") == 1


async def test_dispute_stops_reminders_and_escalation_until_staff_resolve_it(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    now = await time_env.get_current_time()
    dispute = DisputeRaised(answer_id=answer_id(), received_at=now, reason="The session was cancelled")
    await handle.signal(InvoiceWorkflow.dispute_raised, dispute)
    # A promise and a payment in flight do not end a dispute.
    promise = PaymentPromised(answer_id=answer_id(), received_at=now, pay_on=date.today(), until=now + DAY)
    await handle.signal(InvoiceWorkflow.payment_promised, promise)
    state = await until(handle, lambda s: s.status is InvoiceStatus.disputed and len(s.handled_answer_ids) == 2)
    assert state.hold is not None and state.hold.kind is HoldKind.dispute
    assert await search_status(handle) == "disputed"

    await skip_to(time_env, state.due_at + 30 * DAY)  # every step would have gone, and the escalation
    state = await until(handle, lambda s: all(r.skipped for r in s.reminders))
    assert (state.status, state.steps_sent, state.escalated) == (InvoiceStatus.disputed, 0, False)

    await handle.signal(InvoiceWorkflow.resolve_dispute, ResolveDispute(action_id="resolve-1", resolution="Agreed"))
    state = await until(handle, lambda s: s.hold is None and s.escalated)  # back to overdue, staff escalation
    assert state.status is InvoiceStatus.overdue

    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.client_answer, None),
        (EmailKind.escalation, None),
    ]
    assert found.count_events("invoice.disputed") == 1
    assert found.count_events("invoice.answer_recorded") == 1
    assert found.count_events("invoice.dispute_resolved") == 1
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid


async def test_resolve_dispute_is_rejected_when_not_disputed(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    handle = await start(time_env.client, booking(), task_queue)
    await issued(handle)
    await handle.signal(InvoiceWorkflow.resolve_dispute, ResolveDispute(action_id="resolve-x", resolution="n/a"))
    state = await until(handle, lambda s: "resolve-x" in s.processed_action_ids)
    assert state.last_rejection and "not disputed" in state.last_rejection
    assert datetime.now(UTC) > state.issued_at - DAY  # the invoice is untouched otherwise
    assert state.status is InvoiceStatus.open


async def test_plan_shows_interest_accrual_when_the_booking_has_late_interest_terms(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    from models.enums import InterestPreset
    from models.workflow_io import LateInterestTerms

    data = booking(-3, 3, late_interest=LateInterestTerms(preset=InterestPreset.de_b2b))
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    plan = await handle.query(InvoiceWorkflow.plan)
    assert plan is not None
    interest = [e for e in plan.entries if e.kind == "interest"]
    assert len(interest) == 1 and interest[0].at == state.due_at and "de_b2b" in interest[0].label
    assert [e.kind for e in plan.entries] == ["reminder", "overdue", "interest", "reminder", "escalation"]
    assert (await rows(db, data.workflow_id)).invoice.interest_terms == {
        "preset": "de_b2b",
        "consumer": False,
        "contractual_rate_bp": None,
        "agreed_fee_minor": 0,
    }


async def test_a_policy_step_issues_the_interest_invoice_once_as_its_own_run(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    from billflow.domain.interest import ReferenceRateName
    from billflow.services import interest
    from models.enums import InterestPreset
    from models.workflow_io import LateInterestTerms, ReminderPolicy, ReminderStep

    today = date.today()
    await interest.set_rate(
        db,
        rate=ReferenceRateName.ecb_mro,
        valid_from=date(today.year - 1, 1, 1),
        valid_to=date(today.year + 1, 12, 31),
        rate_bp=215,
        source="test: one long period",
    )
    policy = ReminderPolicy(
        send_hour=None,
        steps=[
            ReminderStep(offset=-3 * DAY),
            ReminderStep(offset=3 * DAY, template="overdue", issue_interest=True),
        ],
    )
    data = booking(
        currency="EUR", reminder_policy=policy, late_interest=LateInterestTerms(preset=InterestPreset.eu_b2b)
    )
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    await skip_to(time_env, state.due_at + 3 * DAY + timedelta(hours=1))
    state = await until(handle, lambda s: s.steps_sent == 2)
    found = await until_rows_interest(db, data.workflow_id)
    child_id = next(e for e in found.events if e.kind == "invoice.interest_invoiced").data["workflow_id"]
    child = time_env.client.get_workflow_handle(child_id)
    child_state = await until(child, lambda s: s.issued_email_sent)
    # 3 days on 385.00 EUR at 2.15 + 8 = 10.15 %, rounded half up, plus the EUR 40 compensation.
    expected = (38_500 * 1015 * 3 * 2 + 3_650_000) // 7_300_000 + 4_000
    assert (child_state.total_minor, child_state.currency) == (expected, "EUR")
    assert child_state.number != state.number
    await handle.signal(InvoiceWorkflow.payment_received, payment(currency="EUR"))
    assert (await handle.result()).status is InvoiceStatus.paid
    from temporalio.client import WorkflowExecutionStatus

    # The interest invoice's run outlives the original's (abandoned, not cancelled, when the parent closes).
    assert (await child.describe()).status is WorkflowExecutionStatus.RUNNING


async def until_rows_interest(db: Database, workflow_id: str):  # type: ignore[no-untyped-def]
    from tests.workflows.support import until_rows

    return await until_rows(db, workflow_id, lambda r: r.count_events("invoice.interest_invoiced") == 1)


async def test_a_payment_in_progress_does_not_end_a_dispute_and_its_failure_keeps_the_dispute(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 3)
    handle = await start(time_env.client, data, task_queue)
    await issued(handle)
    now = await time_env.get_current_time()
    await handle.signal(
        InvoiceWorkflow.dispute_raised, DisputeRaised(answer_id=answer_id(), received_at=now, reason="Wrong rate")
    )
    await handle.signal(InvoiceWorkflow.payment_processing, processing("cs_during_dispute", now))
    await handle.signal(InvoiceWorkflow.payment_failed, failed("cs_during_dispute", now))
    state = await until(handle, lambda s: "stripe:cs_during_dispute" in s.closed_references)
    assert state.status is InvoiceStatus.disputed and state.hold is not None and state.hold.kind is HoldKind.dispute
    found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.processing_noted") == 1
    assert found.count_events("invoice.payment_failed_noted") == 1
    assert found.invoice.status == InvoiceStatus.disputed
    await handle.signal(InvoiceWorkflow.payment_received, payment())
    assert (await handle.result()).status is InvoiceStatus.paid  # money settles a disputed invoice too


async def test_a_kept_promise_sends_no_reminder_and_the_invoice_ends_paid(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3, 7)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 4 * DAY)
    now = await time_env.get_current_time()
    promise = PaymentPromised(answer_id=answer_id(), received_at=now, pay_on=date.today(), until=state.due_at + 5 * DAY)
    await handle.signal(InvoiceWorkflow.payment_promised, promise)
    await handle.signal(InvoiceWorkflow.payment_promised, promise)  # a double submit: one promise
    await until(handle, lambda s: s.hold is not None and s.hold.kind is HoldKind.promise)
    await skip_to(time_env, state.due_at + 4 * DAY)  # -3, 0 and +3 fall due while promised
    state = await until(handle, lambda s: sum(r.skipped for r in s.reminders) == 3)
    # The due date passed (the status says so), but no overdue notice went out: the promise still holds.
    assert state.steps_sent == 0 and state.status is InvoiceStatus.overdue and state.hold is not None
    await handle.signal(InvoiceWorkflow.payment_received, payment())  # paid before the promise ran out
    outcome = await handle.result()

    assert (outcome.status, outcome.reminders_sent) == (InvoiceStatus.paid, 0)
    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [(EmailKind.invoice_issued, None), (EmailKind.receipt, None)]
    assert found.count_events("invoice.promised") == 1
    assert found.count_events("invoice.promise_broken") == 0


async def test_a_claimed_transfer_that_arrives_settles_the_invoice_without_reminders(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    data = booking(-3, 0, 3)
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)

    await skip_to(time_env, state.due_at - 4 * DAY)
    now = await time_env.get_current_time()
    claim = TransferClaimed(
        answer_id=answer_id(), received_at=now, paid_on=now.date(), reference="REF-0815", until=now + 5 * DAY
    )
    await handle.signal(InvoiceWorkflow.transfer_claimed, claim)
    await until(handle, lambda s: s.status is InvoiceStatus.processing)
    await skip_to(time_env, state.due_at + DAY / 2)  # -3 and 0 skipped, the due date passes while processing
    state = await until(handle, lambda s: sum(r.skipped for r in s.reminders) == 2)
    assert state.status is InvoiceStatus.processing
    await handle.signal(InvoiceWorkflow.payment_received, payment(reference="bank-REF-0815"))
    outcome = await handle.result()

    assert (outcome.status, outcome.reminders_sent) == (InvoiceStatus.paid, 0)
    found = await rows(db, data.workflow_id)
    assert found.email_kinds == [
        (EmailKind.invoice_issued, None),
        (EmailKind.client_answer, None),
        (EmailKind.receipt, None),
    ]
    assert found.count_events("invoice.hold_ended") == 0


async def test_an_interest_step_falling_due_while_disputed_issues_no_interest_invoice(
    time_env: WorkflowEnvironment, db: Database, task_queue: str
) -> None:
    from billflow.domain.interest import ReferenceRateName
    from billflow.services import interest
    from models.enums import InterestPreset
    from models.workflow_io import LateInterestTerms, ReminderPolicy, ReminderStep

    today = date.today()
    await interest.set_rate(
        db,
        rate=ReferenceRateName.ecb_mro,
        valid_from=date(today.year - 1, 1, 1),
        valid_to=date(today.year + 1, 12, 31),
        rate_bp=215,
        source="test: one long period",
    )
    policy = ReminderPolicy(
        send_hour=None,
        steps=[ReminderStep(offset=3 * DAY, template="overdue", issue_interest=True), ReminderStep(offset=10 * DAY)],
    )
    data = booking(
        currency="EUR", reminder_policy=policy, late_interest=LateInterestTerms(preset=InterestPreset.eu_b2b)
    )
    handle = await start(time_env.client, data, task_queue)
    state = await issued(handle)
    now = await time_env.get_current_time()
    dispute = DisputeRaised(answer_id=answer_id(), received_at=now, reason="Hours are wrong")
    await handle.signal(InvoiceWorkflow.dispute_raised, dispute)
    await until(handle, lambda s: s.status is InvoiceStatus.disputed)

    await skip_to(time_env, state.due_at + 4 * DAY)  # the interest step falls due while disputed
    state = await until(handle, lambda s: s.reminders[0].skipped)
    assert state.steps_sent == 0
    await handle.signal(InvoiceWorkflow.resolve_dispute, ResolveDispute(action_id="resolve-i", resolution="Agreed"))
    await until(handle, lambda s: s.hold is None and s.status is InvoiceStatus.overdue)
    await handle.signal(InvoiceWorkflow.payment_received, payment(currency="EUR"))
    assert (await handle.result()).status is InvoiceStatus.paid

    found = await rows(db, data.workflow_id)
    assert found.count_events("invoice.interest_invoiced") == 0
    assert (EmailKind.overdue, 0) not in found.email_kinds
    assert found.count_events("invoice.dispute_resolved") == 1
