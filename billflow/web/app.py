"""The billflow web app: created with its dependencies, so tests and `billflow dev` share one factory."""

from __future__ import annotations

from fastapi import FastAPI
from temporalio.client import Client

from billflow.config import Settings
from billflow.db import Database
from billflow.web import limits, observability, sessions
from billflow.web.routes import all_routers


def create_app(settings: Settings, db: Database, temporal: Client) -> FastAPI:
    app = FastAPI(
        title="billflow",
        version="0.1.0",
        description="Invoice management for service businesses, run as durable Temporal workflows.",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.temporal = temporal
    for router in all_routers():
        app.include_router(router)
    observability.install(app)  # request metrics and /metrics
    limits.install(app)  # 413 over the body limit, 503 while the database is unreachable
    sessions.install(app, settings)  # staff app: session cookie and CSRF, under /app only
    return app
