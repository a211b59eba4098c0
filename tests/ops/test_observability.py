"""Metrics, health and logs as operators consume them: the real worker process on the dev server (business
counters, SDK metrics, /readyz, JSON logs with invoice and workflow), the API's /metrics and readiness."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.logging import bind, configure_logging
from billflow.services.invoice_runs import start_invoice
from billflow.web.app import create_app
from models.workflow_io import MarkPaid
from tests.factories import make_booking
from workflows.invoice import InvoiceWorkflow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


# --- the worker process -----------------------------------------------------------------------------


@pytest.fixture
async def worker_process(
    dev_env: WorkflowEnvironment, database_url: str, db: Database, task_queue: str, tmp_path: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    """`python -m worker` with JSON logs and its metrics endpoint, on this test's task queue.

    JSON logs as production writes them; production itself refuses the demo backends this test runs on.
    """
    port = _free_port()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "BILLFLOW_ENV": "development",
        "BILLFLOW_LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "BILLFLOW_TASK_QUEUE": task_queue,
        "BILLFLOW_METRICS_PORT": str(port),
        "BILLFLOW_DATA_DIR": str(tmp_path / "data"),
        "BILLFLOW_PUBLIC_URL": "http://billflow.test",
    }
    with log_path.open("w") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", cwd=ROOT, env=env, stderr=log_file, stdout=log_file
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert proc.returncode is None, log_path.read_text()
                    assert time.monotonic() < deadline, log_path.read_text()
                    await asyncio.sleep(0.1)
            yield proc, base, log_path
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.mark.devserver
async def test_worker_exports_business_and_sdk_metrics_and_json_logs(
    dev_env: WorkflowEnvironment, worker_process: tuple[asyncio.subprocess.Process, str, Path], task_queue: str
) -> None:
    proc, base, log_path = worker_process
    async with httpx.AsyncClient(base_url=base) as http:
        before = (await http.get("/metrics")).text
        booking = make_booking()
        handle = await start_invoice(dev_env.client, booking, task_queue=task_queue)
        await handle.signal(InvoiceWorkflow.mark_paid, MarkPaid())
        outcome = await asyncio.wait_for(handle.result(), timeout=30)
        after = (await http.get("/metrics")).text
        assert (await http.get("/healthz")).status_code == 200

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("billflow_invoices_issued_total", currency="GBP") == 1
    assert grew("billflow_invoices_paid_total", currency="GBP") == 1
    assert grew("billflow_emails_sent_total", kind="invoice_issued") == 1
    assert grew("billflow_emails_sent_total", kind="receipt") == 1
    # The SDK's own metrics, re-exported on the same page.
    assert any(name.startswith("temporal_workflow_completed") for name, _ in _samples(after))

    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0

    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert records, log_path.read_text()
    issued = [r for r in records if r.get("invoice_number") == outcome.number]
    assert issued, "no log record carries the invoice number"
    assert issued[0]["workflow_id"] == booking.workflow_id
    assert {"time", "level", "logger", "message"} <= set(issued[0])


# --- the API ----------------------------------------------------------------------------------------


async def test_api_counts_requests_by_route_template(
    db: Database, settings: Settings, time_env: WorkflowEnvironment
) -> None:
    app = create_app(settings, db, time_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as http:
        before = (await http.get("/metrics")).text
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/i/not-a-real-token")).status_code in (404, 410)
        response = await http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert (
        _value(after, "billflow_http_requests_total", **labels)
        - _value(before, "billflow_http_requests_total", **labels)
        == 1
    )
    assert "not-a-real-token" not in after  # the template, never the raw path


async def test_api_readiness_names_what_is_down(
    db: Database, settings: Settings, time_env: WorkflowEnvironment
) -> None:
    app = create_app(settings, db, time_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as http:
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        broken = Database("postgresql://postgres@127.0.0.1:1/nowhere", pool_size=1)
        app.state.db = broken
        try:
            response = await http.get("/readyz")
        finally:
            app.state.db = db
            await broken.dispose()
    assert response.status_code == 503
    assert set(response.json()["failed"]) == {"database"}


# --- logs and production settings -------------------------------------------------------------------


def test_json_logs_carry_invoice_and_workflow() -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(BILLFLOW_LOG_FORMAT="json"), stream=stream)
    try:
        with bind(invoice_number="INV-2026-000042"):
            logging.getLogger("billflow.test").info(
                "reminder sent", extra={"temporal_activity": {"workflow_id": "invoice-manual-b1", "run_id": "r1"}}
            )
    finally:
        logging.getLogger().removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["message"] == "reminder sent"
    assert record["invoice_number"] == "INV-2026-000042"
    assert record["workflow_id"] == "invoice-manual-b1"
    assert "temporal_activity" not in record


def test_production_refuses_missing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "BILLFLOW_PAYMENT_BACKEND", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    real = {"BILLFLOW_PAYMENT_BACKEND": "stripe", "BILLFLOW_EMAIL_BACKEND": "smtp"}
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(BILLFLOW_ENV="production", STRIPE_API_KEY="sk_x", STRIPE_WEBHOOK_SECRET="whsec_x", **real)
    with pytest.raises(ValidationError, match="STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET"):
        Settings(BILLFLOW_ENV="production", DATABASE_URL="postgresql://db/billflow", **real)
    assert Settings(
        BILLFLOW_ENV="production",
        DATABASE_URL="postgresql://db/billflow",
        STRIPE_API_KEY="sk_x",
        STRIPE_WEBHOOK_SECRET="whsec_x",
        **real,
    ).json_logs
