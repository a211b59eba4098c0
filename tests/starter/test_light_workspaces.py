"""`workspace show`, `workspace list --json` and `interest rates list` read through psycopg alone (issue 11,
item 15): none imports the ORM or temporalio, and each prints (table and --json) what the services' models
printed before, on the same data: secrets masked, the logo by its size, the numbering series with an example."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.domain.interest import ReferenceRateName
from billflow.secret_box import secret_box_for
from billflow.services import interest, workspaces
from models.numbering import NumberingSeriesIn
from models.workspaces import WorkspaceCreate
from starter.cli import app
from starter.reads import interest as interest_reads
from starter.reads import workspace_records
from tests.starter.test_light_commands import imported_heavy

runner = CliRunner()
WIDE = {"COLUMNS": "220"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300


@pytest.fixture
async def full_workspace(db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """A workspace with every kind of field the models shape: a logo, its own Stripe keys, a reminder policy and
    a numbering series of its own."""
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    tag = uuid.uuid4().hex[:8]
    data = WorkspaceCreate.model_validate(
        {
            "slug": f"light-{tag}",
            "name": f"Light {tag}",
            "country": "DE",
            "iban": "DE89370400440532013000",
            "sender_email": f"billing-{tag}@example.com",
            "stripe_secret_key": f"sk_test_light{tag}",
            "stripe_webhook_secret": f"whsec_light{tag}",
            "reminder_policy": {"steps": [{"offset": "-P2D"}, {"offset": "P5D", "template": "overdue"}]},
            "invoice_footer": "Thank you",
        }
    )
    created = await workspaces.create_workspace(db, data, logo=PNG, secrets=secret_box_for(settings))
    series = NumberingSeriesIn(document_type="invoice", prefix="LT", pattern="{prefix}{yy}-{seq:04}", reset="yearly")
    await workspaces.set_numbering(db, created.slug, series)
    return created.slug


async def test_show_prints_through_psycopg_what_the_service_printed(
    full_workspace: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = await workspaces.get_workspace(db, full_workspace)
    assert detail.logo_bytes == len(PNG) and detail.stripe_secret_key and detail.reminder_policy
    for ref in (full_workspace, str(detail.id)):
        light_json = runner.invoke(app, ["workspace", "show", ref, "--json"], env=WIDE)
        assert light_json.exit_code == 0, light_json.output
        assert json.loads(light_json.output) == detail.model_dump(mode="json")
    assert "sk_test_light" not in light_json.output and "whsec_light" not in light_json.output
    light_table = runner.invoke(app, ["workspace", "show", full_workspace], env=WIDE)
    assert light_table.exit_code == 0, light_table.output

    monkeypatch.setattr(workspace_records, "workspace_detail", lambda conn, ref: detail)
    through_models = runner.invoke(app, ["workspace", "show", full_workspace], env=WIDE)
    assert through_models.exit_code == 0, through_models.output
    assert light_table.output == through_models.output
    assert f"{len(PNG)} bytes" in light_table.output and "e.g. LT" in light_table.output


async def test_show_of_an_unknown_workspace_fails_as_the_service_did(full_workspace: str, db: Database) -> None:
    for ref in ("no-such-workspace", "2147483000"):
        with pytest.raises(workspaces.WorkspaceNotFound) as raised:
            await workspaces.get_workspace(db, ref)
        done = runner.invoke(app, ["workspace", "show", ref], env=WIDE)
        assert done.exit_code == 1 and done.output == f"error: {raised.value}\n"
    too_long = runner.invoke(app, ["workspace", "show", "99999999999"], env=WIDE)  # no integer id: no workspace
    assert too_long.exit_code == 1 and too_long.output == "error: no workspace '99999999999'\n"


async def test_list_json_is_the_services_list(full_workspace: str, db: Database) -> None:
    models = await workspaces.list_workspaces(db)
    assert any(m.slug == full_workspace for m in models)
    light = runner.invoke(app, ["workspace", "list", "--json"], env=WIDE)
    assert light.exit_code == 0, light.output
    assert json.loads(light.output) == [m.model_dump(mode="json") for m in models]


@pytest.mark.parametrize("only", [None, ReferenceRateName.de_basiszins], ids=["every rate", "one rate"])
async def test_rates_list_prints_through_psycopg_what_the_service_printed(
    only: ReferenceRateName | None, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    await interest.set_rate(db, rate=ReferenceRateName.de_basiszins, valid_from=date(1991, 1, 1), rate_bp=-88,
                            source="Bundesbank")  # fmt: skip
    await interest.set_rate(db, rate=ReferenceRateName.boe_base, valid_from=date(1991, 1, 1), rate_bp=1375,
                            source="BoE")  # fmt: skip
    models: list[Any] = await interest.list_rates(db, rate=only)
    assert models and (only is None) == (len({m.rate for m in models}) > 1)
    command = ["interest", "rates", "list", *(["--rate", only.value] if only else [])]
    light_table = runner.invoke(app, command, env=WIDE)
    light_json = runner.invoke(app, [*command, "--json"], env=WIDE)
    assert light_table.exit_code == 0 and light_json.exit_code == 0, light_table.output + light_json.output
    assert json.loads(light_json.output) == [m.model_dump(mode="json") for m in models]

    monkeypatch.setattr(interest_reads, "rates", lambda conn, **_: models)
    through_models = runner.invoke(app, command, env=WIDE)
    assert through_models.exit_code == 0, through_models.output
    assert light_table.output == through_models.output and "-0.88" in light_table.output


@pytest.mark.parametrize(
    "command",
    [["workspace", "show", "1"], ["workspace", "show", "default", "--json"],
     ["workspace", "list", "--json"], ["interest", "rates", "list"], ["interest", "rates", "list", "--json"]],
    ids=" ".join,
)  # fmt: skip
def test_imports_neither_the_orm_nor_temporal(command: list[str], database_url: str, db: Database) -> None:
    assert imported_heavy(*command, database_url=database_url) == []
