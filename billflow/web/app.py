"""The billflow web app: created with its dependencies, so tests and `billflow dev` share one factory."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.logging import redact_access_log
from billflow.web import limits, observability, sessions, throttle
from billflow.web.routes import all_routers
from billflow.web.security_headers import SecurityHeaders
from models.workspaces import OWN_STRIPE_FIELDS

SECRET_FIELDS = frozenset(OWN_STRIPE_FIELDS)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """The standard 422, except that a secret's value (a workspace's own Stripe keys) is never echoed back."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {**e, "input": "**********"} if SECRET_FIELDS & {str(part) for part in e.get("loc", ())} else e
        for e in exc.errors()
    ]
    return await request_validation_exception_handler(request, RequestValidationError(errors))


def create_app(settings: Settings, db: Database, temporal: Client) -> FastAPI:
    docs = settings.docs_exposed  # off by default in production (BILLFLOW_EXPOSE_DOCS)
    app = FastAPI(
        title="billflow",
        version="0.1.0",
        description="Invoice management for service businesses, run as durable Temporal workflows.",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.temporal = temporal
    for router in all_routers():
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Middleware added last runs first: headers on every answer, then body limits, throttling, metrics.
    observability.install(app, settings)  # request metrics and /metrics
    throttle.install(app, settings)  # 429 for an address that keeps failing authentication or guessing tokens
    limits.install(  # 413 over the body limit, 503 while the database is unreachable
        app,
        max_body_bytes=settings.max_body_bytes,
        route_limits={"/webhooks/sendgrid": settings.sendgrid_max_body_bytes},
    )
    app.add_middleware(SecurityHeaders)
    redact_access_log()  # page tokens never reach the access log, however uvicorn's logging is configured
    sessions.install(app, settings)  # staff app: session cookie and CSRF, under /app only
    return app
