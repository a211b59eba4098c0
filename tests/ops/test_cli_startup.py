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

PROBE = """
import json, sys
from typer.testing import CliRunner
from starter.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = ("temporalio", "sqlalchemy", "sqlmodel", "stripe", "sendgrid", "fastapi", "workflows", "activities", "worker")
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
def test_read_only_commands_run_without_temporal_web_or_provider_code(command: list[str], database_url: str) -> None:
    result = probe(*command, env={**os.environ, "DATABASE_URL": database_url})
    assert result["exit"] == 0, result["output"]
    loaded = set(map(str, result["loaded"]))  # type: ignore[call-overload]
    assert not loaded & {"temporalio", "stripe", "sendgrid", "fastapi", "workflows", "activities", "worker"}


def test_every_listed_command_loads_with_the_help_it_is_listed_with() -> None:
    from starter.cli import COMMANDS, ORDER, SUBAPPS, load_command

    assert sorted(ORDER) == sorted(SUBAPPS.keys() | COMMANDS.keys())
    for name in ORDER:
        command = load_command(name)
        assert command.name == name
        listed = (SUBAPPS.get(name) or COMMANDS[name])[1]
        assert (command.help or "").split("\n")[0].strip().rstrip(".").startswith(listed.rstrip(".")[:40]), name
