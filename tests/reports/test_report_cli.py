"""`billflow report ...` on the known ledger: readable tables, --json, --csv, clean errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from starter.cli import app
from tests.reports.dataset import AS_OF

runner = CliRunner()


@pytest.fixture
def cli_settings(reports_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the report tests' database."""
    ours = settings.model_copy(update={"database_url": reports_db.url})
    monkeypatch.setattr("starter.common.get_settings", lambda: ours)


def test_aging_table_shows_each_bucket(cli_settings: None) -> None:
    result = runner.invoke(app, ["report", "aging", "--as-of", AS_OF.isoformat()], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Receivables aging as of 2026-06-30" in result.output
    for amount in ("€3.00", "€534.77", "€55.00", "€192.00", "€256.00", "€1,040.77"):
        assert amount in result.output


def test_aging_json(cli_settings: None) -> None:
    result = runner.invoke(app, ["report", "aging", "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["currency"]: r for r in json.loads(result.output)["rows"]}
    assert rows["EUR"]["over_90_minor"] == 25_600


def test_cash_csv(cli_settings: None) -> None:
    args = ["report", "cash", "--grain", "week", "--start", "2026-06-01", "--end", "2026-06-30", "--csv"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "period,currency,received_minor,refunded_minor,net_minor,payment_count,refund_count",
        "2026-06-01,EUR,4200,0,4200,4,0",
        "2026-06-08,EUR,0,300,-300,0,1",
    ]


def test_dso_and_top_overdue_tables(cli_settings: None) -> None:
    dso = runner.invoke(app, ["report", "dso", "--as-of", AS_OF.isoformat()], env={"COLUMNS": "160"})
    assert dso.exit_code == 0 and "119.9" in dso.output
    top = runner.invoke(app, ["report", "top-overdue", "--as-of", AS_OF.isoformat()], env={"COLUMNS": "160"})
    assert top.exit_code == 0 and top.output.index("Bolt Fitness") < top.output.index("Acme Studio")


def test_unknown_time_zone_is_a_clear_error(cli_settings: None) -> None:
    result = runner.invoke(app, ["report", "cash", "--tz", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "unknown time zone" in result.output


def test_bad_date_is_refused_by_the_option_parser(cli_settings: None) -> None:
    result = runner.invoke(app, ["report", "aging", "--as-of", "30/06/2026"])
    assert result.exit_code == 2


async def test_reports_read_today_in_the_first_workspaces_reporting_time_zone(
    cli_settings: None, reports_db: Database
) -> None:
    """The CLI's reports are the first workspace's: today is its reporting day, not the installation's."""
    import asyncio

    from billflow.reporting import today_in
    from billflow.services import workspaces
    from models.workspaces import WorkspaceUpdate
    from tests.app.support import workspace_profile_kept

    for zone in ("Pacific/Kiritimati", "Pacific/Honolulu"):  # a day apart: one of them is not UTC's today
        async with workspace_profile_kept(reports_db):
            await workspaces.update_workspace(reports_db, 1, WorkspaceUpdate(reporting_timezone=zone))
            result = await asyncio.to_thread(runner.invoke, app, ["report", "aging", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["as_of"] == today_in(zone).isoformat()
