"""Every table, imported for its side effect on SQLModel.metadata (schema creation, migrations)."""

from sqlmodel import SQLModel

from models.clients import Client
from models.email_messages import EmailMessage
from models.invoices import Invoice, InvoiceCounter, InvoiceLine
from models.payments import Payment
from models.timeline import TimelineEvent

metadata = SQLModel.metadata

__all__ = [
    "Client",
    "EmailMessage",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "Payment",
    "TimelineEvent",
    "metadata",
]
