"""The service catalog through the API (staff key) and `billflow catalog add|list|remove`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import api_keys, catalog
from models.api_keys import ApiRole
from starter.cli import app as cli


def _entry(event_type: str, **fields: object) -> dict[str, object]:
    return {
        "event_type": event_type,
        "service_name": "Sports massage, 45 min",
        "unit_price_minor": 6500,
        "currency": "eur",
        "tax_rate_bp": 1900,
    } | fields


async def test_staff_add_list_replace_and_remove_an_entry(
    http: httpx.AsyncClient, staff_headers: dict[str, str]
) -> None:
    slug = f"sports-{uuid.uuid4().hex[:6]}"
    created = await http.post("/v1/catalog", json=_entry(slug), headers=staff_headers)
    assert created.status_code == 201, created.text
    assert created.json()["currency"] == "EUR"
    replaced = await http.put(f"/v1/catalog/{slug}", json=_entry(slug, unit_price_minor=7000), headers=staff_headers)
    assert replaced.status_code == 200 and replaced.json()["unit_price_minor"] == 7000
    listed = await http.get("/v1/catalog", headers=staff_headers)
    assert [e["unit_price_minor"] for e in listed.json() if e["event_type"] == slug] == [7000]
    assert (await http.delete(f"/v1/catalog/{slug}", headers=staff_headers)).status_code == 204
    assert (await http.get(f"/v1/catalog/{slug}", headers=staff_headers)).status_code == 404
    assert (await http.delete(f"/v1/catalog/{slug}", headers=staff_headers)).status_code == 404


async def test_catalog_needs_a_staff_key(http: httpx.AsyncClient, db: Database) -> None:
    assert (await http.get("/v1/catalog")).status_code == 401
    viewer = await api_keys.create_key(db, api_keys.NewApiKey(name="viewer", role=ApiRole.viewer))
    response = await http.post("/v1/catalog", json=_entry("x1"), headers={"Authorization": f"Bearer {viewer.token}"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "ZZZ"),
        ("unit_price_minor", -1),
        ("tax_rate_bp", 10_001),
        ("event_type", "has space"),
        ("service_name", ""),
    ],
)
async def test_bad_entry_is_422_naming_the_field(
    http: httpx.AsyncClient, staff_headers: dict[str, str], field: str, value: object
) -> None:
    response = await http.post("/v1/catalog", json=_entry("bad-entry") | {field: value}, headers=staff_headers)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, api_settings: Settings) -> Iterator[None]:
    assert api_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", api_settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def test_cli_add_list_remove(cli_env: None, db: Database) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    code, out = await _invoke("catalog", "add", slug, "--name", "Consultation", "--price", "12000", "--currency", "GBP")
    assert code == 0, out
    assert (await catalog.get_entry(db, slug)).unit_price_minor == 12000
    code, out = await _invoke("catalog", "list", "--json")
    assert code == 0 and slug in {e["event_type"] for e in json.loads(out)}
    code, out = await _invoke("catalog", "list")
    assert code == 0 and "Consultation" in out
    code, out = await _invoke("catalog", "remove", slug)
    assert code == 0, out
    code, out = await _invoke("catalog", "remove", slug)
    assert code == 1 and "no catalog entry" in out


async def test_cli_refuses_a_bad_currency(cli_env: None) -> None:
    code, out = await _invoke("catalog", "add", "cli-bad", "--name", "X", "--price", "100", "--currency", "ZZZ")
    assert code == 2 and "currency" in out
