"""Reports: aging, cash collected, DSO, top overdue clients, reminder effectiveness; date pickers, a chart,
the rows, and the same rows as CSV. Figures come from billflow.services.reports, as the API's do."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from billflow.config import Settings
from billflow.db import Database
from billflow.reporting import today_in
from billflow.services import report_snapshots, reports
from billflow.services import workspaces as workspaces_service
from billflow.web.deps import DatabaseDep, SettingsDep
from billflow.web.pages import charts, forms
from billflow.web.pages.rendering import render
from billflow.web.sessions import ViewerUser

router = APIRouter(prefix="/app/reports", include_in_schema=False)

KINDS = [
    ("aging", "Aging"),
    ("cash", "Cash collected"),
    ("dso", "Days sales outstanding"),
    ("top-overdue", "Top overdue clients"),
    ("effectiveness", "Reminder effectiveness"),
]
Q = Annotated[str, Query(max_length=40)]


class Params:
    def __init__(self, kind: str, as_of: str, start: str, end: str, grain: str) -> None:
        self.values = {"kind": kind, "as_of": as_of, "start": start, "end": end, "grain": grain}
        self.errors: dict[str, str] = {}
        self.as_of = self._day("as_of", as_of)
        self.start = self._day("start", start)
        self.end = self._day("end", end)
        self.grain = reports.Grain.month
        try:
            self.grain = reports.Grain(grain or "month")
        except ValueError:
            self.errors["grain"] = "choose day, week or month"
        if kind not in dict(KINDS):
            self.errors["kind"] = "choose a report"

    def _day(self, field: str, text: str) -> date | None:
        try:
            value = forms.day(field, text, required=False)
            return reports.check_report_day(value) if value is not None else None
        except forms.FieldError as err:
            self.errors[field] = err.message
        except ValueError as err:
            self.errors[field] = str(err)
        return None


async def _report(db: DatabaseDep, p: Params, zone: str, workspace_id: int) -> reports.Report:
    """The workspace's report. Days are the business's reporting days (the workspace's reporting time zone), as in
    the API."""
    ws = workspace_id
    kind = p.values["kind"]
    async with db.session() as session:
        if kind == "aging":
            return await reports.aging(session, as_of=p.as_of, zone=zone, workspace_id=ws)
        if kind == "cash":
            # Closed months and past days come from their snapshots (billflow/services/report_snapshots.py).
            return await report_snapshots.cash_collected(
                session, grain=p.grain, start=p.start, end=p.end, time_zone=zone, workspace_id=ws
            )
        if kind == "dso":
            return await report_snapshots.days_sales_outstanding(
                session, as_of=p.as_of or today_in(zone), zone=zone, workspace_id=ws
            )
        if kind == "top-overdue":
            return await reports.top_overdue_clients(session, as_of=p.as_of, limit=20, zone=zone, workspace_id=ws)
        return await report_snapshots.reminder_effectiveness(
            session, start=p.start, end=p.end, zone=zone, workspace_id=ws
        )


def _chart(report: reports.Report) -> str | None:
    if not report.rows:
        return None
    if isinstance(report, reports.AgingReport):
        return charts.aging(report)
    if isinstance(report, reports.CashReport):
        return charts.cash(report)
    if isinstance(report, reports.DsoReport):
        data = [{"type": "bar", "x": [r.currency for r in report.rows], "y": [r.dso_days for r in report.rows]}]
    elif isinstance(report, reports.TopOverdueReport):
        data = [
            {
                "type": "bar",
                "orientation": "h",
                "y": [f"{r.name} ({r.currency})" for r in report.rows][::-1],
                "x": [charts.major(r.overdue_minor, r.currency) for r in report.rows][::-1],
            }
        ]
    else:
        data = [{"type": "bar", "x": [f"step {r.step}" for r in report.rows], "y": [r.share_paid for r in report.rows]}]
    return json.dumps({"data": data, "layout": {**charts.LAYOUT, "showlegend": False}})


def _table(report: reports.Report) -> tuple[list[str], list[list[Any]]]:
    """Column names and cells; amounts formatted in their currency (the CSV keeps minor units)."""
    fields = list(type(report).model_fields["rows"].annotation.__args__[0].model_fields)  # type: ignore[union-attr]
    rows = []
    for row in report.rows:
        data = row.model_dump()
        rows.append(
            [
                charts.money(data[f], data["currency"]) if f.endswith("_minor") and "currency" in data else data[f]
                for f in fields
            ]
        )
    return [f.removesuffix("_minor").replace("_", " ") for f in fields], rows


async def _zone(db: Database, settings: Settings, workspace_id: int) -> str:
    """The signed-in user's workspace's reporting time zone (its profile), the installation's if unknown."""
    return await workspaces_service.reporting_zone(db, workspace_id=workspace_id, fallback=settings.reporting_timezone)


@router.get("", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: ViewerUser,
    kind: Q = "aging",
    as_of: Q = "",
    start: Q = "",
    end: Q = "",
    grain: Q = "month",
) -> HTMLResponse:
    p = Params(kind, as_of, start, end, grain)
    report = None
    zone = await _zone(db, settings, user.workspace_id)
    if not p.errors:
        try:
            report = await _report(db, p, zone, user.workspace_id)
        except ValueError as err:
            p.errors["start"] = str(err)
    columns, rows = _table(report) if report is not None else ([], [])
    return render(
        request,
        "reports.html",
        status_code=422 if p.errors else 200,
        user=user,
        zone=zone,
        kinds=KINDS,
        kind=kind,
        values=p.values,
        errors=p.errors,
        report=report,
        columns=columns,
        rows=rows,
        chart=_chart(report) if report is not None else None,
        csv_query=request.url.query,
        charts_used=True,
    )


@router.get("/{kind}.csv")
async def report_csv(
    db: DatabaseDep,
    settings: SettingsDep,
    user: ViewerUser,
    kind: Annotated[str, Path(max_length=20)],
    as_of: Q = "",
    start: Q = "",
    end: Q = "",
    grain: Q = "month",
) -> Response:
    p = Params(kind, as_of, start, end, grain)
    if p.errors:
        return Response("; ".join(f"{k}: {v}" for k, v in p.errors.items()), status_code=422, media_type="text/plain")
    try:
        report = await _report(db, p, await _zone(db, settings, user.workspace_id), user.workspace_id)
    except ValueError as err:
        return Response(f"start: {err}", status_code=422, media_type="text/plain")
    return Response(
        reports.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )
