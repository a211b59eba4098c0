"""Late-payment interest on real invoices: reference rates kept in the database, quotes from an invoice's own
payments, and the interest invoice (a separate invoice that references the original, never an edit of it).

The arithmetic is billflow.domain.interest; this module loads its inputs and issues its result.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from billflow.db import Database
from billflow.domain.interest import (
    RULES,
    InterestExcluded,
    InterestQuote,
    MissingReferenceRate,
    Preset,
    RatePeriod,
    ReferenceRateName,
    Settlement,
    quote_interest,
)
from billflow.repositories import clients as clients_repo
from billflow.repositories import invoices as invoices_repo
from billflow.repositories import payments as payments_repo
from billflow.repositories import reference_rates as rates_repo
from models.collections import ReferenceRate
from models.columns import utcnow
from models.enums import InvoiceStatus, PaymentKind
from models.invoices import Invoice
from models.workflow_io import BookingIn, ClientIn, LateInterestTerms, LineIn, PreparedInterest, ReminderPolicy

RATE_MIN_BP, RATE_MAX_BP = -1_000, 5_000  # -10 % .. 50 %: anything outside is a typo


class InvoiceNotFound(LookupError):
    pass


class RateInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _six_months_on(day: date) -> date:
    months = day.month - 1 + 6
    year, month = day.year + months // 12, months % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def set_rate(
    db: Database, *, rate: ReferenceRateName, valid_from: date, rate_bp: int, source: str, valid_to: date | None = None
) -> ReferenceRate:
    """Enter a reference rate for a period (by default the six months from `valid_from`)."""
    end = valid_to or (_six_months_on(valid_from) - timedelta(days=1))
    if end < valid_from:
        raise RateInvalid("valid_to", "must not lie before valid_from")
    if not RATE_MIN_BP <= rate_bp <= RATE_MAX_BP:
        raise RateInvalid("rate_bp", f"must be between {RATE_MIN_BP} and {RATE_MAX_BP} basis points")
    if not source.strip():
        raise RateInvalid("source", "name where the rate was published")
    async with db.session() as session:
        existing = await rates_repo.list_rates(session, rate=rate.value)
        for other in existing:
            other_end = other.valid_to or date.max
            if other.valid_from != valid_from and other.valid_from <= end and valid_from <= other_end:
                raise RateInvalid("valid_from", f"overlaps the period from {other.valid_from} ({other.rate_bp} bp)")
        return await rates_repo.put_rate(
            session, rate=rate.value, valid_from=valid_from, valid_to=end, rate_bp=rate_bp, source=source.strip()
        )


async def list_rates(db: Database, *, rate: ReferenceRateName | None = None) -> list[ReferenceRate]:
    async with db.session() as session:
        return list(await rates_repo.list_rates(session, rate=rate.value if rate else None))


@dataclass(frozen=True)
class InvoiceInterest:
    number: str
    quote: InterestQuote


async def quote_for_invoice(
    db: Database,
    *,
    number: str,
    preset: Preset,
    until: date | None = None,
    consumer: bool = False,
    contractual_rate_bp: int | None = None,
    agreed_fee_minor: int = 0,
) -> InvoiceInterest:
    """Interest owed on the invoice up to `until` (default: the day it was paid, or today in the client's
    time zone), from its payments and refunds; InterestExcluded while disputed or where the preset excludes it."""
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        quote = await quote_in_session(
            session,
            invoice,
            preset=preset,
            until=until,
            consumer=consumer,
            contractual_rate_bp=contractual_rate_bp,
            agreed_fee_minor=agreed_fee_minor,
        )
    return InvoiceInterest(number=number, quote=quote)


async def quote_in_session(
    session: AsyncSession,
    invoice: Invoice,
    *,
    preset: Preset,
    until: date | None = None,
    consumer: bool = False,
    contractual_rate_bp: int | None = None,
    agreed_fee_minor: int = 0,
) -> InterestQuote:
    assert invoice.id is not None
    status = InvoiceStatus(invoice.status)
    if status is InvoiceStatus.disputed:
        raise InterestExcluded(f"invoice {invoice.number} is disputed: no interest until the dispute is resolved")
    if status in (InvoiceStatus.void, InvoiceStatus.uncollectible):
        raise InterestExcluded(f"invoice {invoice.number} is {status.value}")
    payments = await payments_repo.list_payments(session, invoice_id=invoice.id)
    rule = RULES[preset]
    rates = await rates_repo.list_rates(session, rate=rule.reference.value) if rule.reference else []
    tz = ZoneInfo(invoice.timezone)
    settlements = [
        Settlement(
            on=p.received_at.astimezone(tz).date(),
            amount_minor=p.amount_minor if p.kind == PaymentKind.payment.value else -p.amount_minor,
        )
        for p in payments
    ]
    end = until or (invoice.paid_at.astimezone(tz).date() if invoice.paid_at else utcnow().astimezone(tz).date())
    # An interest invoice issued before covered the days up to its end: count from the day after, no second fee.
    covered = [
        _covered_until(key, invoice.number)
        for key in await rates_repo.interest_invoice_keys(session, number=invoice.number)
    ]
    last = max((d for d in covered if d is not None), default=None)
    return quote_interest(
        preset,
        principal_minor=invoice.total_minor,
        currency=invoice.currency,
        due_date=invoice.due_date,
        until=end,
        settlements=settlements,
        rates=[RatePeriod(r.valid_from, r.valid_to, r.rate_bp) for r in rates],
        consumer=consumer,
        contractual_rate_bp=contractual_rate_bp,
        agreed_fee_minor=agreed_fee_minor,
        accrue_from=last + timedelta(days=1) if last else None,
        with_compensation=last is None,
    )


def _covered_until(source_key: str, number: str) -> date | None:
    try:
        return date.fromisoformat(source_key.removeprefix(f"booking:interest:{number}-"))
    except ValueError:
        return None


async def prepare_interest_booking(session: AsyncSession, *, invoice_id: int, as_of: datetime) -> PreparedInterest:
    """The interest invoice a policy step issues: interest accrued up to `as_of`'s local day under the invoice's
    own terms, or why there is none (no terms, nothing owed, excluded, a reference rate missing)."""
    invoice = await invoices_repo.get_invoice(session, invoice_id=invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    if not invoice.interest_terms:
        return PreparedInterest(reason="the invoice has no late-interest terms")
    terms = LateInterestTerms.model_validate(invoice.interest_terms)
    until = as_of.astimezone(ZoneInfo(invoice.timezone)).date()
    try:
        quote = await quote_in_session(
            session,
            invoice,
            preset=terms.preset,
            until=until,
            consumer=terms.consumer,
            contractual_rate_bp=terms.contractual_rate_bp,
            agreed_fee_minor=terms.agreed_fee_minor,
        )
    except (InterestExcluded, MissingReferenceRate, ValueError) as err:
        return PreparedInterest(reason=str(err))
    if quote.total_minor <= 0:
        return PreparedInterest(reason="no interest is owed")
    client = await clients_repo.get_client(session, client_id=invoice.client_id)
    assert client is not None
    client_in = ClientIn(external_id=client.external_id, name=client.name, email=client.email, timezone=client.timezone)
    return PreparedInterest(booking=interest_booking(invoice, client_in, quote, client_source=client.source))


async def accrued_for_email(session: AsyncSession, invoice: Invoice) -> dict[str, object] | None:
    """What a reminder email says about interest: accrued so far under the invoice's terms, or None (no terms,
    not late yet, disputed, excluded, or a reference rate missing: the email then says nothing about it)."""
    if not invoice.interest_terms:
        return None
    terms = LateInterestTerms.model_validate(invoice.interest_terms)
    try:
        quote = await quote_in_session(
            session,
            invoice,
            preset=terms.preset,
            consumer=terms.consumer,
            contractual_rate_bp=terms.contractual_rate_bp,
            agreed_fee_minor=terms.agreed_fee_minor,
        )
    except (InterestExcluded, MissingReferenceRate, ValueError):
        return None
    if quote.total_minor <= 0:
        return None
    return {
        "preset": terms.preset.value,
        "interest_minor": quote.interest_minor,
        "compensation_minor": quote.compensation_minor,
        "until": quote.until.isoformat(),
    }


def interest_booking(invoice: Invoice, client: ClientIn, quote: InterestQuote, *, client_source: str) -> BookingIn:
    """The interest invoice: its own booking (source `interest`, keyed by the original and the end date), so
    issuing it twice creates one invoice; it references the original in its lines and memo."""
    lines = []
    if quote.interest_minor:
        lines.append(
            LineIn(
                description=f"Late-payment interest on invoice {invoice.number} ({quote.preset.value}), "
                f"{quote.segments[0].first_day if quote.segments else quote.until} to {quote.until}",
                unit_price_minor=quote.interest_minor,
            )
        )
    if quote.compensation_minor:
        lines.append(
            LineIn(
                description=f"Fixed compensation for recovery costs, invoice {invoice.number}",
                unit_price_minor=quote.compensation_minor,
            )
        )
    return BookingIn(
        source="interest",
        booking_id=f"{invoice.number}-{quote.until.isoformat()}",
        client=client,
        lines=lines,
        currency=invoice.currency,
        payment_terms=timedelta(days=14),
        memo=f"Interest and compensation for the late payment of invoice {invoice.number}. "
        f"Invoice {invoice.number} itself is unchanged.",
        reminder_policy=ReminderPolicy.standard(),
        client_source=client_source,  # the original's client, not a new one under the "interest" source
        workspace_id=invoice.workspace_id,  # the original's business issues it (and numbers it)
    )


async def issue_interest_invoice(
    db: Database, temporal: Client, *, number: str, task_queue: str, quote: InterestQuote
) -> str:
    """Start the interest invoice's workflow (once per original and end date); returns its workflow id."""
    if quote.total_minor <= 0:
        raise InterestExcluded(f"invoice {number}: no interest or compensation is owed")
    async with db.session() as session:
        invoice = await invoices_repo.get_invoice(session, number=number)
        if invoice is None:
            raise InvoiceNotFound(f"no invoice numbered {number}")
        client = await clients_repo.get_client(session, client_id=invoice.client_id)
        assert client is not None
    if InvoiceStatus(invoice.status) is InvoiceStatus.disputed:
        raise InterestExcluded(f"invoice {number} is disputed: no interest until the dispute is resolved")
    client_in = ClientIn(external_id=client.external_id, name=client.name, email=client.email, timezone=client.timezone)
    booking = interest_booking(invoice, client_in, quote, client_source=client.source)
    from billflow.services import invoice_runs  # here: the email activities import this module for quotes

    handle = await invoice_runs.start_invoice(temporal, booking, task_queue=task_queue)
    return handle.id
