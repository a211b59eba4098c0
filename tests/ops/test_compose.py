"""docker-compose.yml parses and validates (Debian's docker-compose 1.29 needs no engine for `config`), refuses
to run without its secrets, and keeps the worker scalable."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed (apt-get install docker-compose)")


def _project(tmp_path: Path, env: str) -> Path:
    """The compose file beside an .env, in a scratch directory (env_file and interpolation read ./.env)."""
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text(env)
    return tmp_path


def _compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    return subprocess.run(
        [COMPOSE, "-f", "docker-compose.yml", *args], cwd=project, capture_output=True, text=True, timeout=60
    )


def _filled_env_example() -> str:
    return (ROOT / ".env.example").read_text().replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=test-only\n")


def _config(tmp_path: Path) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    result = _compose(_project(tmp_path, _filled_env_example()), "config")
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_compose_file_validates_with_the_example_env(tmp_path: Path) -> None:
    result = _compose(_project(tmp_path, _filled_env_example()), "config", "-q")
    assert result.returncode == 0, result.stderr


def test_refuses_to_run_without_the_database_password(tmp_path: Path) -> None:
    result = _compose(_project(tmp_path, (ROOT / ".env.example").read_text()), "config", "-q")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text
    for word in ("STRIPE_API_KEY", "SENDGRID_API_KEY", "sk_live", "sk_test"):
        assert word not in text


def test_services_and_their_order(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert set(services) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
    }
    assert "healthcheck" in services["postgres"]
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["migrate"]["command"][-1].startswith("billflow db upgrade && (billflow temporal setup")
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["BILLFLOW_ENV"] == "production"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://billflow:test-only@postgres")


def test_worker_scales(tmp_path: Path) -> None:
    """`--scale worker=3` needs no fixed container name and no host port on the worker."""
    worker = _config(tmp_path)["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["stop_grace_period"] == "30s"  # longer than the worker's 20 s graceful shutdown
