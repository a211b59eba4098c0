"""The report commands read through psycopg alone (starter/reads.py's ReportRows, issue 11 item 15): the same SQL
(billflow/repositories/report_sql.py) and the same service give the same figures as the session path the API uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from billflow.db import Database
from billflow.repositories import report_sql
from billflow.services import reports
from models.enums import Grain
from starter import reads
from tests.reports.dataset import AS_OF

REPORTS: dict[str, Callable[[Any], Awaitable[reports.Report]]] = {
    "aging": lambda s: reports.aging(s, as_of=AS_OF),
    "aging a day later": lambda s: reports.aging(s, as_of=date(2026, 7, 1), zone="Pacific/Kiritimati"),
    "cash by week": lambda s: reports.cash_collected(
        s, grain=Grain.week, start=date(2026, 6, 1), end=date(2026, 6, 30), time_zone="Europe/Paris"
    ),
    "cash by day": lambda s: reports.cash_collected(s, grain=Grain.day, start=date(2026, 5, 1), end=AS_OF),
    "dso": lambda s: reports.days_sales_outstanding(s, as_of=AS_OF, days=90),
    "top overdue": lambda s: reports.top_overdue_clients(s, as_of=AS_OF, limit=5, zone="Pacific/Honolulu"),
    "effectiveness": lambda s: reports.reminder_effectiveness(s, within_days=7, start=date(2026, 1, 1), end=AS_OF),
}


@pytest.fixture
def conn(reports_db: Database) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(reads.conninfo(reports_db.url), autocommit=True) as connection:
        connection.execute("SET default_transaction_read_only = on")  # as starter/reads.py's connection
        yield connection


@pytest.mark.parametrize("name", list(REPORTS))
async def test_psycopg_rows_give_the_figures_of_the_session(
    name: str, reports_db: Database, conn: psycopg.Connection[tuple[Any, ...]]
) -> None:
    compute = REPORTS[name]
    async with reports_db.session() as session:
        through_session = await compute(session)
    through_psycopg = await compute(reads.ReportRows(conn))
    assert through_session.rows  # the known ledger has figures for each report: an empty match proves nothing
    assert through_psycopg.model_dump() == through_session.model_dump()


async def test_dashboard_lists_agree_too(reports_db: Database, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    async with reports_db.session() as session:
        through_session = await reports.dashboard(session, today=AS_OF)
    through_psycopg = await reports.dashboard(reads.ReportRows(conn), today=AS_OF)
    assert through_session.overdue
    assert through_psycopg.model_dump() == through_session.model_dump()


def test_pyformat_names_every_parameter_and_keeps_casts() -> None:
    query = report_sql.cash_collected(workspace_id=1, grain="day", start=None, end=None, time_zone="UTC")  # type: ignore[arg-type]
    converted = query.pyformat
    assert "::date" in converted  # a cast, not a parameter
    for name in query.params:
        assert f"%({name})s" in converted and f":{name}" not in converted.replace("::", "")
