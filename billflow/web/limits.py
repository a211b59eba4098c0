"""Protective edges of the HTTP app: a request-body size limit (413), 503 while the database is unreachable,
and 4xx (never 500) for values PostgreSQL cannot hold (NUL characters, out-of-range numbers).

A body is refused as soon as its declared Content-Length, or the bytes actually received, pass the limit, so
an oversized upload is never buffered whole. The limit is per route: 1 MiB by default (BILLFLOW_MAX_BODY_BYTES),
more for the routes whose senders batch (SendGrid's event webhook, BILLFLOW_SENDGRID_MAX_BODY_BYTES).

A lost database connection is an outage, not a bug: clients get 503 with Retry-After (and retry), instead of a
500 or a request hanging on a dead pool.
"""

from __future__ import annotations

import json
import logging

import psycopg
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billflow.logging import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # booking events and staff actions are a few KiB; Stripe and Cal.com well under 1 MiB
RETRY_AFTER_SECONDS = 5

# What SQLAlchemy and psycopg raise when the server is down, restarting or the pool cannot connect.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class BodyTooLarge(HTTPException):
    """Raised while the app reads a streamed body; an HTTPException, so FastAPI answers it as a 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")


class BodySizeLimit:
    """ASGI middleware: 413 for a body over the route's limit, by Content-Length or by counting the stream.

    `route_limits` maps exact paths to their own limit; every other path gets `max_bytes`."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, route_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.route_limits = route_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            # PostgreSQL text cannot hold NUL: a token or filter with one would fail in the query as a 500
            await self._answer(send, 400, "NUL characters are not allowed in the URL")
            return
        limit = self.route_limits.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except (BodyTooLarge, BaseExceptionGroup) as err:
            # A task group between here and the route (any BaseHTTPMiddleware) wraps it in an ExceptionGroup.
            if not _is_too_large(err):
                raise
            if not started:
                await self._too_large(send, limit)

    async def _too_large(self, send: Send, limit: int) -> None:
        await self._answer(send, 413, f"request body larger than {limit} bytes")

    async def _answer(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_too_large(err: BaseException) -> bool:
    if isinstance(err, BaseExceptionGroup):
        return all(_is_too_large(inner) for inner in err.exceptions)
    return isinstance(err, BodyTooLarge)


async def database_unavailable(request: Request, err: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, redact(request.url.path), type(err).__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def value_not_storable(request: Request, err: Exception) -> JSONResponse:
    log.warning("value not storable in %s %s: %s", request.method, redact(request.url.path), err.__cause__ or err)
    return JSONResponse(
        {"detail": "a value cannot be stored: it contains a NUL character or is out of range"}, status_code=422
    )


def install(app: FastAPI, *, max_body_bytes: int = MAX_BODY_BYTES, route_limits: dict[str, int] | None = None) -> None:
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, route_limits=route_limits)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, database_unavailable)
    for error in (sa_exc.DataError, psycopg.DataError):  # SQLSTATE class 22: bad input that passed validation
        app.add_exception_handler(error, value_not_storable)
