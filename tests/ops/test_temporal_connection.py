"""The Temporal connection comes from temporalio's envconfig: API key (TLS on), mTLS certificates, namespace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import TLSConfig

from billflow import temporal
from billflow.config import Settings

ENV_NAMES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
)


@pytest.fixture
def connect_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Client.connect replaced by a recorder; a clean Temporal environment (no profile file either)."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    calls: list[dict[str, Any]] = []

    async def record(**kwargs: Any) -> Client:
        calls.append(kwargs)
        return None  # type: ignore[return-value]

    monkeypatch.setattr(Client, "connect", staticmethod(record))
    return calls


async def test_without_configuration_the_local_dev_server(connect_calls: list[dict[str, Any]]) -> None:
    await temporal.connect(Settings())
    assert connect_calls[0]["target_host"] == "127.0.0.1:7233"
    assert connect_calls[0]["namespace"] == "default"
    assert "tls" not in connect_calls[0] and "api_key" not in connect_calls[0]


async def test_temporal_cloud_with_an_api_key_turns_tls_on(
    connect_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "billing.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "billing.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "key-123")
    await temporal.connect(Settings())
    call = connect_calls[0]
    assert call["target_host"] == "billing.a1b2c.tmprl.cloud:7233"
    assert call["namespace"] == "billing.a1b2c"
    assert call["api_key"] == "key-123"
    assert call["tls"] is True


async def test_mtls_client_certificates_from_files(
    connect_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "client.pem").write_text("CERT")
    (tmp_path / "client.key").write_text("KEY")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(tmp_path / "client.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(tmp_path / "client.key"))
    await temporal.connect(Settings())
    tls = connect_calls[0]["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == b"CERT"
    assert tls.client_private_key == b"KEY"


async def test_a_profile_file_is_read(
    connect_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text('[profile.prod]\naddress = "prod.example:7233"\nnamespace = "billing"\napi_key = "k"\n')
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    await temporal.connect(Settings())
    call = connect_calls[0]
    assert (call["target_host"], call["namespace"], call["api_key"], call["tls"]) == (
        "prod.example:7233",
        "billing",
        "k",
        True,
    )
