"""Reports through the staff API: JSON, CSV export, validation and authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from billflow.config import Settings
from billflow.db import Database
from billflow.services import api_keys
from billflow.web.app import create_app
from models.api_keys import ApiRole
from tests.reports.dataset import AS_OF, EXPECTED_AGING_EUR


@pytest.fixture
async def http(reports_db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, reports_db, cast(Any, None))  # reports never talk to Temporal
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as client:
        yield client


@pytest.fixture
async def viewer(reports_db: Database) -> dict[str, str]:
    key = await api_keys.create_key(reports_db, api_keys.NewApiKey(name="reports", role=ApiRole.viewer))
    return {"X-API-Key": key.token}


async def test_aging_json(http: httpx.AsyncClient, viewer: dict[str, str]) -> None:
    response = await http.get("/v1/reports/aging", params={"as_of": AS_OF.isoformat()}, headers=viewer)
    assert response.status_code == 200, response.text
    eur = next(r for r in response.json()["rows"] if r["currency"] == "EUR")
    assert {k: eur[k] for k in EXPECTED_AGING_EUR} == EXPECTED_AGING_EUR


async def test_aging_csv_export(http: httpx.AsyncClient, viewer: dict[str, str]) -> None:
    response = await http.get("/v1/reports/aging.csv", params={"as_of": AS_OF.isoformat()}, headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="aging-2026-06-30.csv"' in response.headers["content-disposition"]
    assert response.text.splitlines()[1].startswith("EUR,300,53477,5500,19200,25600,104077,")


async def test_cash_by_week_json_and_csv_agree(http: httpx.AsyncClient, viewer: dict[str, str]) -> None:
    params = {"grain": "week", "start": "2026-06-01", "end": "2026-06-30"}
    rows = (await http.get("/v1/reports/cash", params=params, headers=viewer)).json()["rows"]
    assert [(r["period"], r["net_minor"]) for r in rows] == [("2026-06-01", 4_200), ("2026-06-08", -300)]
    csv_lines = (await http.get("/v1/reports/cash.csv", params=params, headers=viewer)).text.splitlines()
    assert len(csv_lines) == 1 + len(rows)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/aging", {"as_of": "2026-02-30"}, "as_of"),
        ("/v1/reports/aging", {"as_of": "9999-12-31"}, "as_of"),
        ("/v1/reports/dso.csv", {"as_of": "0001-01-02"}, "as_of"),
        ("/v1/reports/effectiveness", {"end": "0001-01-01"}, "end"),
        ("/v1/reports/cash", {"grain": "year"}, "grain"),
        ("/v1/reports/cash", {"tz": "Mars/Olympus"}, "tz"),
        ("/v1/reports/cash", {"start": "2026-07-01", "end": "2026-06-01"}, "start"),
        ("/v1/reports/dso", {"days": "0"}, "days"),
        ("/v1/reports/top-overdue.csv", {"limit": "100000"}, "limit"),
        ("/v1/reports/effectiveness", {"within_days": "-1"}, "within_days"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    http: httpx.AsyncClient, viewer: dict[str, str], path: str, params: dict[str, str], field: str
) -> None:
    response = await http.get(path, params=params, headers=viewer)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_dso_top_overdue_and_effectiveness_answer(http: httpx.AsyncClient, viewer: dict[str, str]) -> None:
    as_of = {"as_of": AS_OF.isoformat()}
    dso = (await http.get("/v1/reports/dso", params=as_of, headers=viewer)).json()
    assert {r["currency"]: r["dso_days"] for r in dso["rows"]} == {"EUR": 119.9, "USD": 90.0}
    top = (await http.get("/v1/reports/top-overdue", params=as_of | {"limit": 1}, headers=viewer)).json()
    assert [r["external_id"] for r in top["rows"]] == ["ds-bolt"]
    params = {"start": "2026-01-01", "end": "2026-12-31"}
    effect = (await http.get("/v1/reports/effectiveness", params=params, headers=viewer)).json()
    assert [(r["step"], r["reminded"]) for r in effect["rows"]] == [(1, 3), (2, 2)]


async def test_reports_need_a_key(http: httpx.AsyncClient) -> None:
    for path in ("/v1/reports/aging", "/v1/reports/aging.csv", "/v1/reports/dashboard"):
        assert (await http.get(path)).status_code == 401


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Honolulu"])
async def test_reports_and_dashboard_read_today_in_the_reporting_time_zone(
    reports_db: Database, settings: Settings, viewer: dict[str, str], zone: str
) -> None:
    """The business's zone: the key's workspace's (its profile), whatever the installation's says."""
    from billflow.reporting import today_in
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    other = "Pacific/Honolulu" if zone == "Pacific/Kiritimati" else "Pacific/Kiritimati"  # a day apart
    installation = settings.model_copy(update={"reporting_timezone": other})
    app = create_app(installation, reports_db, cast(Any, None))
    async with workspace_profile_kept(reports_db):
        await workspaces.update_workspace(reports_db, 1, WorkspaceUpdate(reporting_timezone=zone))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billflow.test") as client:
            dashboard = (await client.get("/v1/reports/dashboard", headers=viewer)).json()
            aging = (await client.get("/v1/reports/aging", headers=viewer)).json()
            cash = (await client.get("/v1/reports/cash", headers=viewer)).json()
    assert dashboard["today"] == aging["as_of"] == cash["end"] == today_in(zone).isoformat()
    assert cash["time_zone"] == zone


def test_the_reporting_time_zone_must_be_an_iana_name() -> None:
    with pytest.raises(ValueError, match="BILLFLOW_REPORTING_TIMEZONE"):
        Settings(BILLFLOW_REPORTING_TIMEZONE="localtime")
    with pytest.raises(ValueError, match="BILLFLOW_REPORTING_TIMEZONE"):
        Settings(BILLFLOW_REPORTING_TIMEZONE="Mars/Olympus_Mons")
