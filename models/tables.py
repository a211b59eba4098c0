"""Every table, imported for its side effect on SQLModel.metadata (schema creation, migrations)."""

from sqlmodel import SQLModel

from models.api_keys import ApiKey
from models.calcom_bookings import CalcomBooking
from models.checkout_sessions import CheckoutSession
from models.client_settings import ClientSettings
from models.clients import Client
from models.collections import ClientAnswer, PortalLink, PortalLinkRequest, ReferenceRate
from models.credit_notes import CreditNote, CreditNoteLine
from models.einvoice import RenderedDocument
from models.email_messages import EmailMessage
from models.inbox import InboxEvent
from models.integrations import Integration
from models.invoices import Invoice, InvoiceLine
from models.numbering import NumberingCounter, NumberingSeries
from models.payments import Payment
from models.report_snapshots import ReportSnapshot
from models.run_outbox import RunOutboxMessage
from models.service_catalog import ServiceCatalogEntry
from models.subscriptions import Subscription, SubscriptionPeriod, SubscriptionPlan
from models.timeline import TimelineEvent
from models.users import LoginAttempt, StaffToken, StaffUser
from models.workspaces import Workspace

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "CalcomBooking",
    "CheckoutSession",
    "Client",
    "ClientAnswer",
    "ClientSettings",
    "CreditNote",
    "CreditNoteLine",
    "EmailMessage",
    "InboxEvent",
    "Integration",
    "Invoice",
    "InvoiceLine",
    "LoginAttempt",
    "NumberingCounter",
    "NumberingSeries",
    "Payment",
    "PortalLink",
    "PortalLinkRequest",
    "ReferenceRate",
    "RenderedDocument",
    "ReportSnapshot",
    "RunOutboxMessage",
    "ServiceCatalogEntry",
    "StaffToken",
    "StaffUser",
    "Subscription",
    "SubscriptionPeriod",
    "SubscriptionPlan",
    "TimelineEvent",
    "Workspace",
    "metadata",
]
