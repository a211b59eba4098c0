"""The API's Prometheus side: request count and latency per route template, and the /metrics page.

The counter is plain ASGI middleware, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware reads the
request body in its own task group, so an exception raised while the body streams in (the body limit's 413)
would reach the outer middleware wrapped in an ExceptionGroup and become a 500.

/metrics is public in development; in production it is off unless BILLFLOW_EXPOSE_METRICS=true, and with
BILLFLOW_METRICS_TOKEN set it asks for `Authorization: Bearer <token>` (what Prometheus' `authorization`
scrape option sends).
"""

from __future__ import annotations

import hmac
import time

from fastapi import FastAPI, HTTPException, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billflow import metrics
from billflow.config import Settings


class RequestMetrics:
    """Count every HTTP request by method, matched route template and status; observe its latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is answered 500 by the server error handler

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            # The matched template (`/i/{token}`), never the raw path: few label values and no tokens in them.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.HTTP_LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)


def install(app: FastAPI, settings: Settings) -> None:
    """Count requests; serve /metrics (not in the OpenAPI schema) when the settings expose it."""
    app.add_middleware(RequestMetrics)
    if not settings.metrics_exposed:
        return
    token = settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    async def _metrics(request: Request) -> Response:
        if token:
            presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(presented.encode(), token.encode()):
                raise HTTPException(401, "metrics need Authorization: Bearer <BILLFLOW_METRICS_TOKEN>")
        body, content_type = metrics.render()
        return Response(content=body, media_type=content_type)
