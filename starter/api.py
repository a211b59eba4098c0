"""`billflow api`: serve the HTTP API (booking events, staff endpoints, pages) with uvicorn.

`serve_app` is what `billflow dev` can call too: one way to serve the app beside a worker.
"""

from __future__ import annotations

from typing import Any

import typer
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.logging import configure_logging
from billflow.web.app import create_app
from starter.common import console, database, run, temporal_client


async def serve_app(
    settings: Settings, db: Database, client: Client, *, host: str | None = None, port: int | None = None
) -> None:
    """Serve create_app(settings, db, client) until Ctrl-C / SIGTERM (uvicorn handles the signals)."""
    app = create_app(settings, db, client)
    configure_logging(settings)  # JSON in production; uvicorn's own records go through it too (log_config=None)
    port = settings.api_port if port is None else port
    await build_server(app, host=host or settings.api_host, port=port, log_config=None).serve()


def build_server(
    app: FastAPI, *, host: str, port: int, log_level: str = "info", log_config: Any = uvicorn.config.LOGGING_CONFIG
) -> uvicorn.Server:
    """A uvicorn server for the app (port 0: a free one, read back from server.servers once started)."""
    return uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", log_config=log_config)
    )


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api(
        host: str = typer.Option(None, "--host", help="Interface to bind (default BILLFLOW_API_HOST)."),
        port: int = typer.Option(None, "--port", min=0, max=65535, help="Port (default BILLFLOW_API_PORT)."),
    ) -> None:
        """Run the HTTP API against the configured database and Temporal (start a worker separately)."""

        async def go() -> None:
            settings = get_settings()
            client = await temporal_client(settings)
            async with database(settings) as db:
                console.print(
                    f"billflow API on http://{host or settings.api_host}:{settings.api_port if port is None else port}"
                    "  (OpenAPI document at /docs)"
                )
                await serve_app(settings, db, client, host=host, port=port)

        run(go())
