"""Statuses as StrEnums: stored as plain text, decoupled from any provider's vocabulary."""

from enum import StrEnum


class InvoiceStatus(StrEnum):
    open = "open"  # issued, awaiting payment
    partially_paid = "partially_paid"
    paid = "paid"
    overdue = "overdue"
    void = "void"
    uncollectible = "uncollectible"

    @property
    def is_final(self) -> bool:
        return self in (InvoiceStatus.paid, InvoiceStatus.void, InvoiceStatus.uncollectible)


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
