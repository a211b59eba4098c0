"""Every router of the app, in one list: add a module's router here to serve it."""

from fastapi import APIRouter

from billflow.web.api import events as api_events
from billflow.web.api import invoices as api_invoices
from billflow.web.routes import health, public


def all_routers() -> list[APIRouter]:
    return [health.router, public.router, api_events.router, api_invoices.router]
