"""`billflow user create|list|set-password`: the first admin comes from the command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from billflow.config import Settings, get_settings
from billflow.db import Database
from billflow.services import users
from starter.cli import app as cli
from tests.app.support import PASSWORD


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str, stdin: str = "") -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), input=stdin)
    return result.exit_code, result.output


async def test_the_first_admin_is_created_from_the_cli_and_can_sign_in(cli_env: None, db: Database) -> None:
    email = f"Boss-{uuid.uuid4().hex[:6]}@Example.com"
    code, out = await invoke("user", "create", email, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, out
    signed = await users.sign_in(db, email=email, password=PASSWORD, address="cli-test")
    assert signed.email == email.lower() and signed.role.value == "admin"
    again = await invoke("user", "create", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert again[0] == 1 and "already exists" in again[1]
    code, out = await invoke("user", "list", "--json")
    assert code == 0 and email.lower() in [u["email"] for u in json.loads(out)]
    assert "password_hash" not in out


async def test_a_prompted_password_is_asked_twice(cli_env: None, db: Database) -> None:
    email = f"p-{uuid.uuid4().hex[:6]}@example.com"
    code, out = await invoke("user", "create", email, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, out
    assert (await users.sign_in(db, email=email, password=PASSWORD, address="cli-test")).email == email


async def test_bad_input_is_refused_with_the_field_named(cli_env: None) -> None:
    short = await invoke("user", "create", "a@example.com", "--password-stdin", stdin="short\n")
    assert short[0] == 2 and "at least 12 characters" in short[1]
    bad = await invoke("user", "create", "not-an-address", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad[0] == 2 and "email" in bad[1]


async def test_set_password_ends_the_old_password(cli_env: None, db: Database) -> None:
    email = f"s-{uuid.uuid4().hex[:6]}@example.com"
    await invoke("user", "create", email, "--password-stdin", stdin=PASSWORD + "\n")
    code, out = await invoke("user", "set-password", email, "--password-stdin", stdin="another long passphrase\n")
    assert code == 0, out
    with pytest.raises(users.LoginFailed):
        await users.sign_in(db, email=email, password=PASSWORD, address="cli-test-2")
    missing = await invoke("user", "set-password", "ghost@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert missing[0] == 1 and "no user" in missing[1]
