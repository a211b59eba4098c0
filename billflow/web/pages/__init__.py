"""The staff app: server-rendered pages under /app (Jinja2 templates in billflow/templates/app)."""

from fastapi import APIRouter

from billflow.web.pages import (
    accounts,
    admin,
    assets,
    catalog,
    clients,
    integrations,
    invoices,
    new_invoice,
    overview,
    policy,
    profile,
    reports,
    subscriptions,
)


def page_routers() -> list[APIRouter]:
    # new_invoice before invoices: /app/invoices/new must not be read as an invoice number.
    return [
        assets.router,
        accounts.router,
        overview.router,
        new_invoice.router,
        invoices.router,
        clients.router,
        subscriptions.router,
        reports.router,
        policy.router,
        catalog.router,
        profile.router,
        integrations.router,
        admin.router,
    ]
