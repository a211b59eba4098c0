"""`billflow workspace create|list|show|update|numbering` and `key create --workspace` on the session database."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from billflow.config import Settings
from billflow.db import Database
from starter.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def slug(db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("starter.common.get_settings", lambda: settings)
    return f"cli-{uuid.uuid4().hex[:8]}"


def test_create_then_show_and_list(slug: str) -> None:
    created = runner.invoke(
        app,
        ["workspace", "create", slug, "--name", "Atelier Lumière", "--country", "fr", "--vat-id", "FR40303265045",
         "--currency", "EUR", "--timezone", "Europe/Paris", "--locale", "fr_FR"],
        env=WIDE,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Atelier Lumière" in created.output and "FR40303265045" in created.output
    shown = json.loads(runner.invoke(app, ["workspace", "show", slug, "--json"]).output)
    assert (shown["country"], shown["reporting_timezone"], shown["locale"]) == ("FR", "Europe/Paris", "fr_FR")
    listed = runner.invoke(app, ["workspace", "list"], env=WIDE)
    assert listed.exit_code == 0 and slug in listed.output and "default" in listed.output


def test_a_bad_vat_id_fails_naming_the_option(slug: str) -> None:
    result = runner.invoke(app, ["workspace", "create", slug, "--name", "X", "--vat-id", "FR1"], env=WIDE)
    assert result.exit_code == 2
    assert "--vat-id" in result.output


def test_update_and_clear(slug: str) -> None:
    assert runner.invoke(app, ["workspace", "create", slug, "--name", "X", "--city", "Lyon"]).exit_code == 0
    updated = runner.invoke(app, ["workspace", "update", slug, "--footer", "Merci", "--clear", "city", "--json"])
    assert updated.exit_code == 0, updated.output
    assert (json.loads(updated.output)["invoice_footer"], json.loads(updated.output)["city"]) == ("Merci", None)
    refused = runner.invoke(app, ["workspace", "update", slug, "--clear", "currency"], env=WIDE)
    assert refused.exit_code == 2 and "--currency" in refused.output
    assert runner.invoke(app, ["workspace", "update", slug]).exit_code == 2  # nothing to change


def test_unknown_workspace_fails(slug: str) -> None:
    result = runner.invoke(app, ["workspace", "show", slug], env=WIDE)
    assert result.exit_code == 1 and f"no workspace '{slug}'" in result.output


def test_numbering_and_a_key_of_the_workspace(slug: str) -> None:
    assert runner.invoke(app, ["workspace", "create", slug, "--name", "X"]).exit_code == 0
    set_ = runner.invoke(
        app, ["workspace", "numbering", slug, "--prefix", "R", "--pattern", "{prefix}{yy}-{seq:04}", "--json"]
    )
    assert set_.exit_code == 0, set_.output
    series = {s["document_type"]: s for s in json.loads(set_.output)["numbering"]}
    assert series["invoice"]["next_example"].startswith("R") and series["invoice"]["next_example"].endswith("-0001")
    bad = runner.invoke(app, ["workspace", "numbering", slug, "--pattern", "{seq}"], env=WIDE)
    assert bad.exit_code == 2 and "--pattern" in bad.output
    key = runner.invoke(app, ["key", "create", "front desk", "--workspace", slug, "--json"])
    assert key.exit_code == 0, key.output
    assert json.loads(key.output)["workspace_id"] == json.loads(set_.output)["id"]
    assert runner.invoke(app, ["key", "create", "x", "--workspace", "no-such-ws"]).exit_code == 1


def test_a_workspace_connects_its_stripe_account_and_sender(slug: str) -> None:
    assert runner.invoke(app, ["workspace", "create", slug, "--name", "Studio"]).exit_code == 0
    account = f"acct_{uuid.uuid4().hex[:16]}"
    updated = runner.invoke(
        app,
        ["workspace", "update", slug, "--stripe-account", account, "--sender-name", "Studio Nord",
         "--sender-email", "rechnung@studio.example", "--reply-to", "buero@studio.example", "--json"],
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    shown = json.loads(updated.output)
    assert (shown["stripe_account"], shown["sender_email"]) == (account, "rechnung@studio.example")
    # One account, one workspace: its Connect webhooks must name one business.
    other = f"{slug}-b"
    assert runner.invoke(app, ["workspace", "create", other, "--name", "Other"]).exit_code == 0
    taken = runner.invoke(app, ["workspace", "update", other, "--stripe-account", account], env=WIDE)
    assert taken.exit_code == 2 and "--stripe-account" in taken.output and slug in taken.output
    cleared = runner.invoke(app, ["workspace", "update", slug, "--clear", "stripe-account", "--json"])
    assert cleared.exit_code == 0 and json.loads(cleared.output)["stripe_account"] is None


def test_a_malformed_stripe_account_fails_naming_the_option(slug: str) -> None:
    assert runner.invoke(app, ["workspace", "create", slug, "--name", "Studio"]).exit_code == 0
    result = runner.invoke(app, ["workspace", "update", slug, "--stripe-account", "sk_live_oops"], env=WIDE)
    assert result.exit_code == 2 and "--stripe-account" in result.output


def test_own_stripe_keys_are_set_masked_and_never_printed(slug: str) -> None:
    tag = uuid.uuid4().hex
    key, hook = f"sk_test_cli{tag}", f"whsec_cli{tag}"
    assert runner.invoke(app, ["workspace", "create", slug, "--name", "X"]).exit_code == 0
    alone = runner.invoke(app, ["workspace", "update", slug, "--stripe-secret-key", key], env=WIDE)
    assert alone.exit_code == 2 and "--stripe-webhook-secret" in alone.output and key not in alone.output
    bad = runner.invoke(app, ["workspace", "update", slug, "--stripe-secret-key", "pk_live_x"], env=WIDE)
    assert bad.exit_code == 2 and "--stripe-secret-key" in bad.output and "pk_live_x" not in bad.output
    updated = runner.invoke(
        app, ["workspace", "update", slug, "--stripe-secret-key", key, "--stripe-webhook-secret", hook], env=WIDE
    )
    assert updated.exit_code == 0, updated.output
    shown = runner.invoke(app, ["workspace", "show", slug], env=WIDE)
    assert f"sk_test_...{key[-4:]}" in shown.output and "/webhooks/stripe/w/" in shown.output
    as_json = runner.invoke(app, ["workspace", "show", slug, "--json"]).output
    assert key not in shown.output + as_json and hook not in shown.output + as_json
    assert json.loads(as_json)["stripe_webhook_secret"] == f"whsec_...{hook[-4:]}"
    cleared = runner.invoke(
        app, ["workspace", "update", slug, "--clear", "stripe-secret-key", "--clear", "stripe-webhook-secret", "--json"]
    )
    assert cleared.exit_code == 0 and json.loads(cleared.output)["stripe_secret_key"] is None
