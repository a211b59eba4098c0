"""The client's answers from the invoice page, with no account: "I paid by bank transfer", "I'll pay on <date>",
"I dispute this". Each is checked, stored once, and delivered to the invoice's workflow as a signal; the
workflow records it on the timeline, tells staff and holds reminders back.

Protection fit for a page whose URL is the secret: every form carries a signed, time-limited form token (an
HMAC keyed by the invoice's public token, so it is worthless for any other invoice); the answer id is derived
from the answer's content, so a double submit or a retried request has one effect; and each invoice takes at
most `client_answers_per_hour` new answers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import client_answers as answers_repo
from billflow.repositories import invoices as invoices_repo
from billflow.services.invoice_runs import WorkflowClosed, send_collection
from models.columns import utcnow
from models.enums import InvoiceStatus
from models.invoices import Invoice
from models.workflow_io import DisputeRaised, PaymentPromised, TransferClaimed

log = logging.getLogger(__name__)

FORM_TOKEN_MAX_AGE = timedelta(hours=12)
REFERENCE_MAX = 100
REASON_MIN, REASON_MAX = 3, 1000
TRANSFER_MAX_AGE_DAYS = 90  # a transfer reported as made longer ago than this is a typo


class AnswerKind(StrEnum):
    transfer = "transfer"
    promise = "promise"
    dispute = "dispute"


class AnswerInvalid(ValueError):
    """Bad input, naming the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AnswerUnavailable(Exception):
    """The workflow service could not be reached; the answer is stored and a resubmit delivers it."""


class AnswerOutcome(StrEnum):
    recorded = "recorded"
    duplicate = "duplicate"  # the same answer was already received: nothing new happens
    not_applicable = "not_applicable"  # paid, void or written off: nothing to answer
    rate_limited = "rate_limited"
    stale_form = "stale_form"  # the form token is missing, forged or too old: show a fresh page


@dataclass(frozen=True)
class AnswerResult:
    outcome: AnswerOutcome
    invoice: Invoice
    kind: AnswerKind | None = None


# --- the form token -------------------------------------------------------------------------------------


def _sign(invoice: Invoice, issued: int) -> str:
    message = f"answer-form:{invoice.id}:{issued}".encode()
    return hmac.new(invoice.public_token.encode(), message, hashlib.sha256).hexdigest()[:32]


def form_token(invoice: Invoice, *, now: datetime | None = None) -> str:
    issued = int((now or utcnow()).timestamp())
    return f"{issued}.{_sign(invoice, issued)}"


def form_token_valid(invoice: Invoice, token: str, *, now: datetime | None = None) -> bool:
    issued_text, _, signature = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    age = (now or utcnow()).timestamp() - issued
    if age < -60 or age > FORM_TOKEN_MAX_AGE.total_seconds():
        return False
    return hmac.compare_digest(signature, _sign(invoice, issued))


def can_answer(invoice: Invoice) -> bool:
    return not InvoiceStatus(invoice.status).is_final and invoice.balance_minor > 0


# --- parsing --------------------------------------------------------------------------------------------

Answer = TransferClaimed | PaymentPromised | DisputeRaised


def _date(field: str, raw: str | None) -> date:
    if not raw:
        raise AnswerInvalid(field, "a date is required")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as err:
        raise AnswerInvalid(field, "must be a date like 2026-12-31") from err


def _text(field: str, raw: str | None, *, low: int, high: int) -> str:
    value = " ".join((raw or "").split())
    if "\x00" in value or len(value) < low:
        raise AnswerInvalid(field, f"must be at least {low} characters")
    if len(value) > high:
        raise AnswerInvalid(field, f"must be at most {high} characters")
    return value


def _answer_id(invoice: Invoice, kind: AnswerKind, content: str) -> str:
    return hashlib.sha256(f"{invoice.id}|{kind.value}|{content}".encode()).hexdigest()[:32]


def parse_answer(
    invoice: Invoice, kind: AnswerKind, fields: dict[str, str | None], *, settings: Settings, now: datetime
) -> Answer:
    """The answer as the workflow's signal, with its hold end computed here (local dates need the time zone)."""
    tz = ZoneInfo(invoice.timezone)
    today = now.astimezone(tz).date()
    match kind:
        case AnswerKind.transfer:
            paid_on = _date("paid_on", fields.get("paid_on"))
            if paid_on > today:
                raise AnswerInvalid("paid_on", "lies in the future")
            if paid_on < today - timedelta(days=TRANSFER_MAX_AGE_DAYS):
                raise AnswerInvalid("paid_on", f"is more than {TRANSFER_MAX_AGE_DAYS} days ago")
            reference = _text("reference", fields.get("reference"), low=1, high=REFERENCE_MAX)
            return TransferClaimed(
                answer_id=_answer_id(invoice, kind, f"{paid_on.isoformat()}|{reference.casefold()}"),
                received_at=now,
                paid_on=paid_on,
                reference=reference,
                until=now + timedelta(days=settings.transfer_wait_days),
            )
        case AnswerKind.promise:
            pay_on = _date("pay_on", fields.get("pay_on"))
            if pay_on < today:
                raise AnswerInvalid("pay_on", "lies in the past")
            if pay_on > today + timedelta(days=settings.promise_max_days):
                raise AnswerInvalid("pay_on", f"is more than {settings.promise_max_days} days ahead")
            # Reminders wait until the end of the promised day (client's time) plus the grace period.
            end = datetime.combine(pay_on + timedelta(days=1 + settings.promise_grace_days), time(0), tzinfo=tz)
            return PaymentPromised(
                answer_id=_answer_id(invoice, kind, pay_on.isoformat()),
                received_at=now,
                pay_on=pay_on,
                until=end,
            )
        case AnswerKind.dispute:
            reason = _text("reason", fields.get("reason"), low=REASON_MIN, high=REASON_MAX)
            return DisputeRaised(answer_id=_answer_id(invoice, kind, reason.casefold()), received_at=now, reason=reason)


# --- submitting -----------------------------------------------------------------------------------------


async def submit_answer(
    db: Database,
    temporal: Client,
    settings: Settings,
    *,
    public_token: str,
    token: str,
    kind: AnswerKind,
    fields: dict[str, str | None],
    now: datetime | None = None,
) -> AnswerResult | None:
    """Check, store once and signal the answer; None for an unknown invoice token."""
    now = now or utcnow()
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, public_token=public_token)
    if invoice is None:
        return None
    assert invoice.id is not None
    if not form_token_valid(invoice, token, now=now):
        return AnswerResult(AnswerOutcome.stale_form, invoice, kind)
    if not can_answer(invoice):
        return AnswerResult(AnswerOutcome.not_applicable, invoice, kind)
    answer = parse_answer(invoice, kind, fields, settings=settings, now=now)
    async with db.session() as session:
        if await answers_repo.get_answer(session, answer_id=answer.answer_id) is None:
            hour_ago = now - timedelta(hours=1)
            recent = await answers_repo.count_answers_since(session, invoice_id=invoice.id, since=hour_ago)
            if recent >= settings.client_answers_per_hour:
                return AnswerResult(AnswerOutcome.rate_limited, invoice, kind)
        payload = answer.model_dump(mode="json", exclude={"answer_id"})
        new = await answers_repo.insert_answer_once(
            session, invoice_id=invoice.id, answer_id=answer.answer_id, kind=kind.value, payload=payload
        )
    # Signalled on every submit, new or not: the workflow applies an answer id once, and a submit whose signal
    # failed before is delivered by the next one.
    try:
        await send_collection(temporal, invoice.workflow_id, answer)
    except WorkflowClosed:
        async with db.session() as session:
            await answers_repo.set_outcome(session, answer_id=answer.answer_id, outcome="closed")
        return AnswerResult(AnswerOutcome.not_applicable, invoice, kind)
    except Exception as err:  # Temporal unreachable: stored, and a resubmit delivers it
        log.warning("client answer %s for %s not delivered: %s", answer.answer_id, invoice.number, err)
        raise AnswerUnavailable(str(err)) from err
    if new:
        async with db.session() as session:
            await answers_repo.set_outcome(session, answer_id=answer.answer_id, outcome="signalled")
    log.info("client answer %s (%s) for %s, new=%s", answer.answer_id, kind.value, invoice.number, new)
    return AnswerResult(AnswerOutcome.recorded if new else AnswerOutcome.duplicate, invoice, kind)
