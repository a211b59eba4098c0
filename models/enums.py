"""Statuses as StrEnums: stored as plain text, decoupled from any provider's vocabulary."""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    open = "open"  # issued, awaiting payment
    partially_paid = "partially_paid"
    paid = "paid"
    overdue = "overdue"
    void = "void"
    uncollectible = "uncollectible"
    # Collections (issue 16): reminders stop while a payment is in flight or the client disputes the invoice.
    processing = "processing"  # a payment started but not settled (Stripe async methods, a claimed transfer)
    disputed = "disputed"  # the client disputes the invoice; staff resolve it

    @property
    def is_final(self) -> bool:
        return self in (InvoiceStatus.paid, InvoiceStatus.void, InvoiceStatus.uncollectible)

    @property
    def is_on_hold(self) -> bool:
        """Unsettled, but nobody should chase the client for now."""
        return self in (InvoiceStatus.processing, InvoiceStatus.disputed)


# Unsettled: money is still owed (what aging, balances and the dashboard count). The SQL in
# billflow/repositories (reports, clients) and the partial index ix_invoices_unsettled_due spell the same list.
UNSETTLED_STATUSES = ("open", "partially_paid", "overdue", "processing", "disputed")


class InterestPreset(StrEnum):
    """Which law (or the contract) sets late-payment interest (billflow.domain.interest)."""

    eu_b2b = "eu_b2b"
    de_b2b = "de_b2b"
    de_consumer = "de_consumer"
    fr_b2b = "fr_b2b"
    uk_b2b = "uk_b2b"
    contractual = "contractual"


class PaymentKind(StrEnum):
    payment = "payment"
    refund = "refund"


class EmailKind(StrEnum):
    invoice_issued = "invoice_issued"
    reminder = "reminder"
    overdue = "overdue"
    receipt = "receipt"
    refund = "refund"
    escalation = "escalation"
    credit_note = "credit_note"
    payment_failed = "payment_failed"  # an async payment (SEPA, ACH, bank transfer) failed: please pay again
    promise_broken = "promise_broken"  # the date the client promised to pay by has passed
    client_answer = "client_answer"  # to staff: the client says they paid by transfer, or disputes the invoice


class MessageStatus(StrEnum):
    claimed = "claimed"  # row written, provider not yet called
    sent = "sent"  # provider accepted it
    unknown = "unknown"  # provider call timed out: may or may not have gone out
    failed = "failed"
    delivered = "delivered"
    opened = "opened"
    bounced = "bounced"
    dropped = "dropped"
    spam = "spam"


# --- documents (issue 14) ---------------------------------------------------------------------------


class TaxCategory(StrEnum):
    """VAT category of a line (EN 16931 BT-151, codes from UNCL 5305)."""

    standard = "standard"
    zero = "zero"
    exempt = "exempt"  # needs its exemption reason on the document
    reverse_charge = "reverse_charge"  # the buyer accounts for the VAT: needs both VAT ids and the legal note

    @property
    def code(self) -> str:
        return {"standard": "S", "zero": "Z", "exempt": "E", "reverse_charge": "AE"}[self.value]


class InvoiceKind(StrEnum):
    invoice = "invoice"
    deposit = "deposit"  # an advance-payment invoice (UNTDID 1001 code 386)
    final = "final"  # the final invoice of a booking with a deposit, the deposit deducted


class CreditNoteKind(StrEnum):
    cancellation = "cancellation"  # the whole remaining amount: issued when an invoice is voided
    partial = "partial"  # a correction of part of the amount
    refund = "refund"  # recorded with a refund of money already paid


class BuyerKind(StrEnum):
    business = "business"
    consumer = "consumer"


class Grain(StrEnum):
    day = "day"
    week = "week"  # ISO weeks, starting on Monday
    month = "month"


class ApiRole(StrEnum):
    """Ordered: each role may do everything the roles before it may."""

    viewer = "viewer"  # read invoices, clients, reports
    staff = "staff"  # plus staff actions and notes
    admin = "admin"  # plus everything else

    @property
    def rank(self) -> int:
        return list(ApiRole).index(self)

    def allows(self, required: ApiRole) -> bool:
        return self.rank >= required.rank
