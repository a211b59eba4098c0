"""`billflow --help` and the read-only commands' help load no heavy module (issue 11, item 15): each runs in a
fresh interpreter, which then reports the packages it imported. A behaviour test, not a timed one (the figures
are bench/cli_startup.py's)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What `--help` must never load: the Temporal SDK, the payment and email providers, PDF rendering, the web app,
# the database layer and the workflow contracts.
HEAVY = ("temporalio", "stripe", "sendgrid", "reportlab", "fpdf", "fastapi", "sqlalchemy", "sqlmodel", "workflows")
PROBE = """
import contextlib, io, json, sys
sys.argv = ["billflow", *sys.argv[1:]]
from starter.cli import app
with contextlib.redirect_stdout(io.StringIO()) as shown, contextlib.suppress(SystemExit):
    app()
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.readline())))
print(json.dumps({"heavy": heavy, "help": shown.getvalue()}))
"""


def loaded(*args: str) -> tuple[list[str], str]:
    """(heavy packages imported, the help text) of `billflow ARGS` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(HEAVY) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(done.stdout.splitlines()[-1])
    return answer["heavy"], answer["help"]


def test_billflow_help_imports_no_heavy_module() -> None:
    heavy, shown = loaded("--help")
    assert heavy == []
    assert "invoice" in shown and "report" in shown  # the help itself is complete


READ_ONLY_HELP = [
    ["invoice", "--help"],
    ["invoice", "list", "--help"],
    ["invoice", "show", "--help"],
    ["client", "list", "--help"],
    ["report", "aging", "--help"],
    ["credit-note", "list", "--help"],
]


@pytest.mark.parametrize("command", READ_ONLY_HELP, ids=" ".join)
def test_read_only_command_help_imports_no_heavy_module(command: list[str]) -> None:
    heavy, shown = loaded(*command)
    assert heavy == []
    assert "--json" in shown or "Commands" in shown


def test_invoice_list_help_still_lists_its_options() -> None:
    _, shown = loaded("invoice", "list", "--help")
    for option in ("--status", "--client", "--limit", "--json"):
        assert option in shown
