"""What the worker tells operators: business counters and log context per activity (an interceptor), the
Temporal SDK's metrics (a Runtime with Prometheus), and an HTTP endpoint with /metrics, /healthz, /readyz.

The interceptor reads activity results, so activities stay free of metrics code, and counts only what an
activity reports as newly done (an email not `already_sent`, a payment `recorded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import REGISTRY
from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor, Worker

from billflow import metrics
from billflow.config import Settings
from billflow.db import Database
from billflow.logging import bind
from models.enums import InvoiceStatus

log = logging.getLogger("billflow.worker")


class TelemetryInterceptor(Interceptor):
    """Binds workflow id, activity and invoice to the logs of each activity and counts business events."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityTelemetry(next)


class _ActivityTelemetry(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        arg = input.args[0] if input.args else None
        with bind(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            activity_type=info.activity_type,
            invoice_id=getattr(arg, "invoice_id", None),
        ):
            result = await super().execute_activity(input)
            count_business_events(info.activity_type, arg, result)
        return result


def count_business_events(activity_type: str, arg: Any, result: Any) -> None:
    """Map an invoice activity's outcome to the business counters (and one log line carrying the number)."""
    match activity_type:
        case "record_invoice":
            with bind(invoice_number=result.number, invoice_id=result.invoice_id):
                log.info("invoice %s issued (%s %s)", result.number, result.total_minor, result.currency)
            metrics.invoice_issued(result.currency)
        case "record_payment" if result.recorded and result.status == InvoiceStatus.paid:
            metrics.invoice_paid(arg.payment.currency)
        case "apply_transition" if arg.kind == "overdue" and result.status == InvoiceStatus.overdue:
            metrics.invoice_overdue()
        case "send_invoice_email" if not result.already_sent:
            metrics.email_sent(str(getattr(arg.kind, "value", arg.kind)))


# --- SDK metrics ------------------------------------------------------------------------------------


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_sdk_metrics() -> str:
    """Make the default Temporal runtime export its metrics on a loopback port and re-export them on billflow's
    /metrics page. Call before the first client connects; returns the SDK's own metrics URL."""
    address = f"127.0.0.1:{_free_loopback_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address, counters_total_suffix=True))
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    url = f"http://{address}/metrics"
    REGISTRY.register(metrics.SdkMetricsCollector(url))
    return url


# --- the worker's HTTP endpoint ---------------------------------------------------------------------


def health_app(worker: Worker, db: Database, client: Client, stopping: asyncio.Event) -> FastAPI:
    app = FastAPI(title="billflow worker", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Liveness: the worker polls (or is draining in-flight tasks after SIGTERM)."""
        alive = worker.is_running or stopping.is_set()
        return Response(status_code=200 if alive else 503, content="ok" if alive else "worker stopped")

    @app.get("/readyz")
    async def readyz() -> Response:
        """Readiness: polling, database and Temporal answer; 503 once shutting down."""
        if stopping.is_set() or not worker.is_running:
            return Response(status_code=503, content="shutting down")
        try:
            await db.ping()
            await client.service_client.check_health()
        except Exception as err:  # any failure means: not ready
            return Response(status_code=503, content=f"not ready: {type(err).__name__}")
        return Response(content="ready")

    @app.get("/metrics")
    async def metrics_page() -> Response:
        body, content_type = await asyncio.to_thread(metrics.render)
        return Response(content=body, media_type=content_type)

    return app


class _EndpointServer(uvicorn.Server):
    """uvicorn without its signal capture: SIGTERM belongs to the worker, which drains before this stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def health_server(app: FastAPI, settings: Settings) -> uvicorn.Server:
    assert settings.metrics_port is not None
    config = uvicorn.Config(
        app, host=settings.metrics_host, port=settings.metrics_port, log_config=None, lifespan="off", access_log=False
    )
    return _EndpointServer(config)
