"""`billflow client list|show|note|settings` against the session database."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from billflow.repositories import clients as clients_repo
from models.client_sources import STAFF_SOURCE
from starter.cli import app
from tests.factories import make_client

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture
async def external_id(db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    client = make_client(name="Hedy Lamarr")
    async with db.session() as session:
        await clients_repo.upsert_client(session, client=client, source=STAFF_SOURCE, actor="test")
    return client.external_id


def test_note_then_show_has_it_on_the_timeline(external_id: str) -> None:
    added = runner.invoke(app, ["client", "note", external_id, "Prefers email after 5pm", "--author", "ada"])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(app, ["client", "show", external_id, "--json"])
    assert shown.exit_code == 0, shown.output
    timeline = json.loads(shown.output)["timeline"]
    assert [(t["kind"], t["message"]) for t in timeline] == [("note.added", "Prefers email after 5pm")]


def test_show_as_a_table(external_id: str) -> None:
    result = runner.invoke(app, ["client", "show", external_id], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Hedy Lamarr" in result.output and "Reminders: active, default policy" in result.output


def test_list_searches_by_external_id(external_id: str) -> None:
    result = runner.invoke(app, ["client", "list", "-q", external_id, "--json"])
    assert [c["external_id"] for c in json.loads(result.output)] == [external_id]


def test_auto_pay_setting_without_temporal(external_id: str) -> None:
    result = runner.invoke(app, ["client", "settings", external_id, "--auto-pay", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["settings"]["auto_pay"] is True


def test_unknown_client_and_empty_note_fail_cleanly(external_id: str) -> None:
    assert runner.invoke(app, ["client", "show", "nobody-here"]).exit_code == 1
    assert runner.invoke(app, ["client", "note", external_id, "   "]).exit_code == 2


async def test_show_asks_for_the_source_when_two_sources_use_the_id(external_id: str, db: Database) -> None:
    rival = make_client(external_id=external_id, name="Mallory", email="mallory@example.com")
    async with db.session() as session:
        await clients_repo.upsert_client(session, client=rival, source="integration:rival", actor="integration:rival")
    ambiguous = await asyncio.to_thread(runner.invoke, app, ["client", "show", external_id], env=WIDE)
    assert ambiguous.exit_code == 1 and "give the source" in ambiguous.output
    own = await asyncio.to_thread(
        runner.invoke, app, ["client", "show", external_id, "--source", STAFF_SOURCE, "--json"]
    )
    assert own.exit_code == 0, own.output
    assert json.loads(own.output)["name"] == "Hedy Lamarr"
    theirs = await asyncio.to_thread(
        runner.invoke, app, ["client", "show", external_id, "--source", "integration:rival", "--json"]
    )
    assert json.loads(theirs.output)["email"] == "mallory@example.com"
