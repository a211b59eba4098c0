from __future__ import annotations

from fastapi import APIRouter

from billflow.web.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers")
async def readyz(db: DatabaseDep) -> dict[str, str]:
    await db.ping()
    return {"status": "ready"}
