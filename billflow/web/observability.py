"""The API's Prometheus side: request count and latency per route template, and the /metrics page."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from billflow import metrics


def install(app: FastAPI) -> None:
    """Count every request by method, route template and status; serve /metrics (not in the OpenAPI schema)."""

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The matched template (`/i/{token}`), never the raw path: few label values and no tokens in them.
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        metrics.HTTP_REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(method=request.method, route=route).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        body, content_type = metrics.render()
        return Response(content=body, media_type=content_type)
