"""Liveness and readiness for load balancers and orchestrators (docker compose health checks, Kubernetes)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from billflow.web.deps import DatabaseDep, TemporalDep

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database and Temporal answer (503 naming the one that does not)")
async def readyz(db: DatabaseDep, temporal: TemporalDep) -> JSONResponse:
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "database": db.ping,
        "temporal": temporal.service_client.check_health,
    }
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await check()
        except Exception as err:  # any failure means: do not send traffic here
            log.warning("readiness: %s failed: %s", name, err)
            failed[name] = type(err).__name__
    if failed:
        return JSONResponse({"status": "not ready", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ready"})
