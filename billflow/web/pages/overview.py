"""The overview: what is owed, what came in, how old it is, and what needs a person today."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from billflow.services import overview as overview_service
from billflow.services import workspaces as workspaces_service
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.pages import charts
from billflow.web.pages.rendering import render
from billflow.web.sessions import ViewerUser

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def overview(request: Request, db: DatabaseDep, settings: SettingsDep, user: ViewerUser) -> HTMLResponse:
    # Today is the business's: the user's workspace's reporting time zone.
    zone = await workspaces_service.reporting_zone(
        db, workspace_id=user.workspace_id, fallback=settings.reporting_timezone
    )
    data = await overview_service.overview(db, zone=zone, workspace_id=user.workspace_id)
    return render(
        request,
        "overview.html",
        user=user,
        o=data,
        buckets=charts.AGING_BUCKETS,
        aging_chart=charts.aging(data.dashboard.aging),
        cash_months_chart=charts.cash(data.cash_months),
        cash_days_chart=charts.cash(data.cash_days, kind="line"),
        dso_chart=charts.dso(data.dso_trend),
        charts_used=True,
    )
