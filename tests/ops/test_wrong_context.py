"""No silent wrong context (issue 11, item 14): a command run where no billflow data lives says which database it
answers from; `billflow dev` refuses to join a Temporal server already listening on its port unless asked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a shell outside the project: no billflow or database settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BILLFLOW_", "DATABASE_URL", "TEMPORAL_"))}
    return env | extra


def billflow(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_command_outside_the_project_says_it_answers_from_a_new_empty_database(tmp_path: Path) -> None:
    done = billflow("invoice", "show", "INV-2026-000001", cwd=tmp_path, env=clean_env())
    assert done.returncode != 0
    stderr = " ".join(done.stderr.split())  # rich wraps long lines
    assert "no invoice numbered INV-2026-000001" in stderr
    assert "new, empty embedded database" in stderr
    assert str(tmp_path / ".billflow" / "postgres") in stderr.replace(" ", "") or ".billflow/postgres" in stderr

    again = billflow("invoice", "list", cwd=tmp_path, env=clean_env())
    assert again.returncode == 0
    assert "no `billflow dev` is running on it" in " ".join(again.stderr.split())


def test_a_configured_database_gets_no_note(tmp_path: Path, database_url: str) -> None:
    done = billflow("invoice", "list", "--limit", "1", cwd=tmp_path, env=clean_env(DATABASE_URL=database_url))
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stderr


@pytest.fixture
def listening_port() -> object:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_dev_refuses_a_temporal_server_already_on_its_port(tmp_path: Path, listening_port: int) -> None:
    env = clean_env(TEMPORAL_ADDRESS=f"127.0.0.1:{listening_port}", BILLFLOW_DATA_DIR=str(tmp_path / "data"))
    done = billflow("dev", cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 1
    stderr = " ".join(done.stderr.split())
    assert f"already listening at 127.0.0.1:{listening_port}" in stderr
    assert "--use-running-temporal" in stderr
    assert not (tmp_path / "data" / "postgres").exists()  # refused before starting anything
