"""The staff dashboard: one HTML page; its data and actions go through the authenticated JSON API.

The page itself carries no invoice data, so it needs no key: the staff member types an API key into it, the
browser keeps it in sessionStorage (gone when the tab closes) and sends it with every API call
(GET /v1/reports/dashboard, POST /v1/invoices/{number}/...). Everything is inline: no CDN, no build step.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from billflow.web.deps import SettingsDep

router = APIRouter(tags=["dashboard"])


@lru_cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("billflow", "templates/dashboard"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


@router.get("/dashboard", response_class=HTMLResponse, summary="Staff dashboard (HTML)", include_in_schema=False)
async def dashboard(settings: SettingsDep) -> HTMLResponse:
    html = _templates().get_template("index.html").render(business_name=settings.business_name)
    # The page runs only its own inline script and talks only to this origin.
    csp = (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})
