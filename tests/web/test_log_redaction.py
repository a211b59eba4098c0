"""No credential in the logs: page tokens are redacted from access lines and billflow's records; SQL errors
show the statement, never its bound values."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import secrets

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from billflow.config import Settings
from billflow.db import Database
from billflow.logging import configure_logging
from billflow.web.app import create_app
from starter.api import build_server


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_uvicorn_access_log_shows_no_page_token(
    settings: Settings, db: Database, time_env: WorkflowEnvironment
) -> None:
    app = create_app(settings, db, time_env.client)
    server = build_server(app, host="127.0.0.1", port=0, log_level="info")  # uvicorn's own logging config
    collect = Collect()
    logging.getLogger("uvicorn.access").addHandler(collect)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        token = secrets.token_urlsafe(24)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for path in (f"/i/{token}", f"/i/{token}/pdf", f"/pay/{token}?stale=1", "/healthz"):
                await http.get(path)
    finally:
        logging.getLogger("uvicorn.access").removeHandler(collect)
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=10)
    assert len(collect.lines) == 4, collect.lines
    assert not any(token in line for line in collect.lines), collect.lines
    assert any("/i/[token]/pdf" in line for line in collect.lines)
    assert any("/pay/[token]?stale=1" in line for line in collect.lines)


def test_billflow_records_are_redacted_in_json_logs(settings: Settings) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    previous, level = list(root.handlers), root.level
    try:
        configure_logging(settings.model_copy(update={"log_format": "json"}), stream=stream)
        token = secrets.token_urlsafe(24)
        logging.getLogger("billflow.test").warning("could not serve %s", f"/pay/{token}")
        logging.getLogger("billflow.test").warning(f"visit of /i/{token} failed")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in previous:
            root.addHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["could not serve /pay/[token]", "visit of /i/[token] failed"]


async def test_sql_errors_hide_bound_parameters(db: Database) -> None:
    secret = f"tok-{secrets.token_hex(8)}"
    with pytest.raises(sa_exc.DBAPIError) as raised:
        async with db.session() as session:
            await session.execute(text("SELECT CAST(:token AS text), 1 / 0"), {"token": secret})
    assert secret not in str(raised.value)
    assert "hidden" in str(raised.value)
