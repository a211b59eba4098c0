"""`billflow dev`'s codec endpoint for the dev server's UI: one staff key of its own, made once and reused,
replaced when revoked; and `billflow codec status` names the keys in use."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import api_keys
from models.api_keys import ApiRole
from starter.cli import app as cli
from starter.codec_cmd import UI_KEY_FILE, dev_ui_endpoint


async def test_the_ui_key_is_made_once_and_replaced_when_revoked(db: Database, settings: Settings) -> None:
    first = await dev_ui_endpoint(settings, db, "http://127.0.0.1:8000")
    assert first.startswith("http://127.0.0.1:8000/codec/k/bf_")
    token = first.rsplit("/", 1)[1]
    principal = await api_keys.verify_token(db, token)
    assert principal is not None and principal.role is ApiRole.staff
    assert await dev_ui_endpoint(settings, db, "http://127.0.0.1:8000") == first  # reused, no new key
    await api_keys.revoke_key(db, key_id=token.split("_")[1])
    again = await dev_ui_endpoint(settings, db, "http://127.0.0.1:8000")
    assert again != first and await api_keys.verify_token(db, again.rsplit("/", 1)[1]) is not None
    assert (settings.data_dir / UI_KEY_FILE).read_text().strip() == again.rsplit("/", 1)[1]


def test_status_names_the_keys_never_their_material(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {
        "2026-11": "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LXRlc3Q=",
        "2026-12": "b25lLW1vcmUta2V5LW9uZS1tb3JlLWtleS1vbmUtbW8=",
    }
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", json.dumps(keys))
    monkeypatch.setenv("BILLFLOW_CODEC_ACTIVE_KEY", "2026-12")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["codec", "status", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "active": "2026-12",
        "keys": ["2026-11", "2026-12"],
        "source": "BILLFLOW_CODEC_KEYS",
    }
    assert all(material not in result.output for material in keys.values())
