"""`billflow --help` and the read-only commands start without importing what they do not use (issue 11, item 15).

Each check runs in a fresh interpreter and reads `sys.modules`, so it asserts what was imported, not how long it
took (bench/cli_startup.py prints the timings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from billflow.db import Database

PROBE = """
import json, sys
from typer.testing import CliRunner
from starter.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = ("temporalio", "sqlalchemy", "sqlmodel", "stripe", "sendgrid", "fastapi", "workflows", "activities", "worker",
         "alembic")
print(json.dumps({"exit": result.exit_code, "output": result.output,
                  "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def probe(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_help_imports_neither_temporal_nor_the_database_nor_providers() -> None:
    result = probe("--help")
    assert result["exit"] == 0
    assert "invoice" in str(result["output"]) and "report" in str(result["output"])
    assert result["loaded"] == []


@pytest.mark.parametrize("command", [["invoice", "list"], ["client", "list"], ["report", "aging"]])
def test_read_only_commands_import_no_temporal_web_or_provider_code(command: list[str]) -> None:
    result = probe(*command, "--help")
    assert result["exit"] == 0
    loaded = set(map(str, result["loaded"]))  # type: ignore[call-overload]
    assert not loaded & {"temporalio", "stripe", "sendgrid", "fastapi", "workflows", "activities", "worker"}


@pytest.mark.parametrize("command", [["invoice", "list"], ["client", "list"], ["report", "aging"]])
def test_read_only_commands_run_without_temporal_web_or_provider_code(
    command: list[str], database_url: str, db: Database
) -> None:
    """`db` brings the session database to head first."""
    result = probe(*command, env={**os.environ, "DATABASE_URL": database_url})
    assert result["exit"] == 0, result["output"]
    loaded = set(map(str, result["loaded"]))  # type: ignore[call-overload]
    assert not loaded & {"temporalio", "stripe", "sendgrid", "fastapi", "workflows", "activities", "worker"}
    assert "alembic" not in loaded  # the session database is at head: no migration, so no Alembic


def test_the_quick_head_check_agrees_with_alembic() -> None:
    from billflow import migrate, schema_version

    assert schema_version.head_revisions() == frozenset(migrate.head_revisions())


async def test_a_database_without_the_schema_is_not_at_head(database_url: str, tmp_path: object) -> None:
    import uuid

    import psycopg
    from sqlalchemy import make_url

    from billflow.db import Database
    from billflow.schema_version import at_head

    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"billflow_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(url.set(database=name).render_as_string(hide_password=False), pool_size=1)
    try:
        assert not await at_head(db.engine)
        await db.create_schema()
        assert await at_head(db.engine)
    finally:
        await db.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_listed_command_loads_with_the_help_it_is_listed_with() -> None:
    from starter.cli import COMMANDS, ORDER, SUBAPPS, load_command

    assert sorted(ORDER) == sorted(SUBAPPS.keys() | COMMANDS.keys())
    for name in ORDER:
        command = load_command(name)
        assert command.name == name
        listed = (SUBAPPS.get(name) or COMMANDS[name])[1]
        assert (command.help or "").split("\n")[0].strip().rstrip(".").startswith(listed.rstrip(".")[:40]), name
