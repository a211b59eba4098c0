"""Every router of the app, in one list: add a module's router here to serve it."""

from fastapi import APIRouter

from billflow.web.api import catalog as api_catalog
from billflow.web.api import clients as api_clients
from billflow.web.api import documents as api_documents
from billflow.web.api import invoices as api_invoices
from billflow.web.api import reports as api_reports
from billflow.web.api import subscriptions as api_subscriptions
from billflow.web.api import workspaces as api_workspaces
from billflow.web.pages import page_routers
from billflow.web.routes import codec, health, portal, public
from billflow.web.webhooks import booking_events, calcom, sendgrid, stripe


def all_routers() -> list[APIRouter]:
    return [
        health.router,
        public.router,
        portal.router,
        stripe.router,
        sendgrid.router,
        booking_events.router,
        api_invoices.router,
        api_clients.router,
        api_documents.router,
        api_reports.router,
        api_subscriptions.router,
        api_catalog.router,
        calcom.router,
        api_workspaces.router,
        *page_routers(),
        codec.router,
    ]
