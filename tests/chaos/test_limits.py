"""billflow.web.limits: oversized bodies are refused with 413, an unreachable database answers 503."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import psycopg
from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc

from billflow.web import limits


def small_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/db-down")
    async def db_down() -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))

    limits.install(app, max_body_bytes=1000)
    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://limits.test") as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_body_within_limit_is_served() -> None:
    response = await call("POST", "/echo", content=b"x" * 1000)
    assert response.status_code == 200 and response.json() == {"bytes": 1000}


async def test_declared_oversized_body_is_413() -> None:
    response = await call("POST", "/echo", content=b"x" * 1001)
    assert response.status_code == 413


async def test_streamed_oversized_body_without_length_is_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 400

    response = await call("POST", "/echo", content=chunks())
    assert response.status_code == 413


async def test_unreachable_database_is_503_with_retry_after() -> None:
    response = await call("GET", "/db-down")
    assert response.status_code == 503 and response.headers["retry-after"] == str(limits.RETRY_AFTER_SECONDS)


async def test_nul_in_the_url_is_400_before_any_query() -> None:
    assert (await call("GET", "/db-down%00")).status_code == 400
    assert (await call("GET", "/db-down?q=a%00b")).status_code == 400
