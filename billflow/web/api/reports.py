"""Staff API for reports: JSON by default, and the same rows as CSV from the `.csv` sibling of each route.

Each report is computed by one dependency, shared by its JSON and CSV routes, so both take the same query
parameters and validate them the same way (422 naming the parameter).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from billflow.services import reports as reports_service
from billflow.services.reports import (
    AgingReport,
    CashReport,
    DashboardSummary,
    DsoReport,
    EffectivenessReport,
    Grain,
    Report,
    ReportDay,
    TopOverdueReport,
)
from billflow.web.auth import AUTH_RESPONSES, ViewerDep
from billflow.web.deps import SessionDep
from billflow.web.reporting_zone import ZoneDep
from models.workflow_io import TimeZoneName

# Every report is of the key's workspace (issue 13).
router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=AUTH_RESPONSES)

R = TypeVar("R")
AsOf = Annotated[ReportDay | None, Query(description="at the end of this day (reporting time zone); default today")]
Start = Annotated[ReportDay | None, Query(description="first day, inclusive")]
End = Annotated[ReportDay | None, Query(description="last day, inclusive; default today")]
CSV_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {}}, "description": "the report's rows as CSV, amounts in minor units"}
}


async def _checked(field: str, pending: Awaitable[R]) -> R:
    """A ValueError from the service concerns one query parameter: answer 422 naming it, like FastAPI does."""
    try:
        return await pending
    except ValueError as err:
        raise HTTPException(422, [{"loc": ["query", field], "msg": str(err), "type": "value_error"}]) from err


def _csv(report: Report, name: str) -> Response:
    return Response(
        reports_service.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# --- the reports, each computed once by a dependency ----------------------------------------------


async def aging_report(session: SessionDep, principal: ViewerDep, zone: ZoneDep, as_of: AsOf = None) -> AgingReport:
    return await reports_service.aging(session, as_of=as_of, zone=zone, workspace_id=principal.workspace_id)


async def cash_report(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    grain: Grain = Grain.month,
    start: Start = None,
    end: End = None,
    tz: Annotated[
        TimeZoneName | None, Query(description="IANA time zone the periods are cut in; default the reporting one")
    ] = None,
) -> CashReport:
    zone = tz or zone
    return await _checked(
        "start",
        reports_service.cash_collected(
            session, grain=grain, start=start, end=end, time_zone=zone, workspace_id=principal.workspace_id
        ),
    )


async def dso_report(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    as_of: AsOf = None,
    days: Annotated[int, Query(ge=1, le=3660, description="length of the sales period")] = 90,
) -> DsoReport:
    return await _checked(
        "days",
        reports_service.days_sales_outstanding(
            session, as_of=as_of, days=days, zone=zone, workspace_id=principal.workspace_id
        ),
    )


async def top_overdue_report(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 10,
) -> TopOverdueReport:
    return await _checked(
        "limit",
        reports_service.top_overdue_clients(
            session, as_of=as_of, limit=limit, zone=zone, workspace_id=principal.workspace_id
        ),
    )


async def effectiveness_report(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    within_days: Annotated[int, Query(ge=1, le=365, description="paid within this many days of the reminder")] = 7,
    start: Start = None,
    end: End = None,
) -> EffectivenessReport:
    return await _checked(
        "start",
        reports_service.reminder_effectiveness(
            session,
            within_days=within_days,
            start=start,
            end=end,
            zone=zone,
            workspace_id=principal.workspace_id,
        ),
    )


AgingDep = Annotated[AgingReport, Depends(aging_report)]
CashDep = Annotated[CashReport, Depends(cash_report)]
DsoDep = Annotated[DsoReport, Depends(dso_report)]
TopOverdueDep = Annotated[TopOverdueReport, Depends(top_overdue_report)]
EffectivenessDep = Annotated[EffectivenessReport, Depends(effectiveness_report)]


# --- JSON -----------------------------------------------------------------------------------------


@router.get("/aging", summary="Receivables aging by currency: current, 1-30, 31-60, 61-90, over 90 days past due")
async def aging(report: AgingDep) -> AgingReport:
    return report


@router.get("/cash", summary="Cash collected per day, week or month (refunds negative)")
async def cash(report: CashDep) -> CashReport:
    return report


@router.get("/dso", summary="Days sales outstanding per currency")
async def dso(report: DsoDep) -> DsoReport:
    return report


@router.get("/top-overdue", summary="Clients with the largest balances past due")
async def top_overdue(report: TopOverdueDep) -> TopOverdueReport:
    return report


@router.get("/effectiveness", summary="Share of invoices paid within N days of each reminder step")
async def effectiveness(report: EffectivenessDep) -> EffectivenessReport:
    return report


@router.get("/dashboard", summary="The staff dashboard's data: aging totals, overdue and due-soon invoices")
async def dashboard(
    session: SessionDep,
    principal: ViewerDep,
    zone: ZoneDep,
    due_soon_days: Annotated[int, Query(ge=0, le=90)] = 7,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DashboardSummary:
    return await reports_service.dashboard(
        session,
        due_soon_days=due_soon_days,
        limit=limit,
        zone=zone,
        workspace_id=principal.workspace_id,
    )


# --- CSV export -----------------------------------------------------------------------------------


@router.get("/aging.csv", response_class=Response, responses=CSV_RESPONSE, summary="Aging as CSV")
async def aging_csv(report: AgingDep) -> Response:
    return _csv(report, f"aging-{report.as_of}")


@router.get("/cash.csv", response_class=Response, responses=CSV_RESPONSE, summary="Cash collected as CSV")
async def cash_csv(report: CashDep) -> Response:
    return _csv(report, f"cash-{report.grain}-{report.start}-{report.end}")


@router.get("/dso.csv", response_class=Response, responses=CSV_RESPONSE, summary="DSO as CSV")
async def dso_csv(report: DsoDep) -> Response:
    return _csv(report, f"dso-{report.as_of}")


@router.get("/top-overdue.csv", response_class=Response, responses=CSV_RESPONSE, summary="Top overdue as CSV")
async def top_overdue_csv(report: TopOverdueDep) -> Response:
    return _csv(report, f"top-overdue-{report.as_of}")


@router.get("/effectiveness.csv", response_class=Response, responses=CSV_RESPONSE, summary="Effectiveness as CSV")
async def effectiveness_csv(report: EffectivenessDep) -> Response:
    return _csv(report, f"effectiveness-{report.start}-{report.end}")
