"""Security headers on every answer; /docs, /openapi.json and /metrics off (or protected) in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from billflow.config import Settings
from billflow.db import Database
from billflow.web.app import create_app
from tests.web.conftest import start_and_wait_issued


def _assert_hardened(response: httpx.Response) -> None:
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_invoice_and_pay_pages_send_security_headers(
    http: httpx.AsyncClient, time_env: WorkflowEnvironment, worker: Worker, db: Database
) -> None:
    invoice = await start_and_wait_issued(time_env.client, worker, db)
    for path in (f"/i/{invoice.public_token}", f"/pay/{invoice.public_token}", f"/i/{invoice.public_token}/pdf"):
        response = await http.get(path)
        assert response.status_code == 200, path
        _assert_hardened(response)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp  # the pages run no script
        assert "form-action 'self'" in csp  # the local pay form posts back to this origin


@pytest.mark.parametrize("path", ["/healthz", "/i/unknown-token", "/v1/invoices", "/openapi.json", "/metrics"])
async def test_every_answer_carries_the_headers(http: httpx.AsyncClient, path: str) -> None:
    _assert_hardened(await http.get(path))


async def test_staff_app_runs_only_its_own_scripts_and_docs_get_theirs(http: httpx.AsyncClient) -> None:
    app_page = await http.get("/app/login")
    _assert_hardened(app_page)
    policy = app_page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    docs = await http.get("/docs")
    assert docs.status_code == 200
    _assert_hardened(docs)
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]  # Swagger UI's own assets


@asynccontextmanager
async def app_client(settings: Settings, db: Database, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=update), db, None)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as http:
        yield http


Get = Callable[[str], Any]


async def test_production_serves_no_docs_schema_or_metrics_by_default(settings: Settings, db: Database) -> None:
    async with app_client(settings, db, env="production") as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.get("/healthz")).status_code == 200


async def test_production_can_expose_metrics_behind_a_token_and_docs(settings: Settings, db: Database) -> None:
    update = {"env": "production", "expose_docs": True, "expose_metrics": True, "metrics_token": "s3cret-scrape"}
    async with app_client(settings, db, **update) as http:
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        scraped = await http.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert scraped.status_code == 200 and "billflow_http_requests" in scraped.text


async def test_development_serves_docs_and_metrics(settings: Settings, db: Database) -> None:
    async with app_client(settings, db) as http:
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
