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
