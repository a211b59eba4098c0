"""The staff app's own CSS/JS (billflow/static/app) and plotly.js straight from the installed plotly wheel:
every asset is served by billflow itself (no CDN; nothing third-party copied into the repository)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter(prefix="/app/static", include_in_schema=False)

OWN = Path(__file__).resolve().parents[2] / "static" / "app"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
CACHE = "public, max-age=3600"


@lru_cache
def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@router.get("/vendor/plotly.min.js")
async def plotly_bundle() -> FileResponse:
    return FileResponse(plotly_js(), media_type=TYPES[".js"], headers={"Cache-Control": CACHE})


@router.get("/{name}")
async def own_asset(name: str) -> FileResponse:
    path = OWN / name
    if "/" in name or path.suffix not in TYPES or not path.is_file():
        raise HTTPException(404, "no such asset")
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": CACHE})
