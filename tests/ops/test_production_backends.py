"""Production refuses the demo backends: the local pay page records payments with no money moving, and the
outbox stores emails that are never sent (issue 11, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from billflow.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {
    "DATABASE_URL": "postgresql://db/billflow",
    "STRIPE_API_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "SENDGRID_API_KEY": "SG.x",
    "BILLFLOW_CODEC_KEYS": '{"k1": "' + "A" * 43 + '="}',  # a 32-byte key, base64
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    for name in (*PROVIDERS, "BILLFLOW_ENV", "BILLFLOW_PAYMENT_BACKEND", "BILLFLOW_EMAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def test_production_refuses_the_local_pay_backend() -> None:
    with pytest.raises(ValidationError, match="BILLFLOW_PAYMENT_BACKEND=local") as err:
        Settings(
            BILLFLOW_ENV="production", BILLFLOW_PAYMENT_BACKEND="local", BILLFLOW_EMAIL_BACKEND="sendgrid", **PROVIDERS
        )
    assert "stripe" in str(err.value)


def test_production_refuses_the_default_backends() -> None:
    with pytest.raises(ValidationError, match="BILLFLOW_PAYMENT_BACKEND=local"):
        Settings(BILLFLOW_ENV="production", **PROVIDERS)


def test_production_refuses_the_outbox_email_backend() -> None:
    with pytest.raises(ValidationError, match="BILLFLOW_EMAIL_BACKEND=outbox"):
        Settings(
            BILLFLOW_ENV="production", BILLFLOW_PAYMENT_BACKEND="stripe", BILLFLOW_EMAIL_BACKEND="outbox", **PROVIDERS
        )


@pytest.mark.parametrize("email", ["sendgrid", "smtp"])
def test_production_starts_with_stripe_and_a_real_email_backend(email: str) -> None:
    settings = Settings(
        BILLFLOW_ENV="production", BILLFLOW_PAYMENT_BACKEND="stripe", BILLFLOW_EMAIL_BACKEND=email, **PROVIDERS
    )
    assert settings.payment_backend == "stripe"


def test_development_keeps_the_zero_setup_backends() -> None:
    settings = Settings()
    assert (settings.payment_backend, settings.email_backend) == ("local", "outbox")


def test_env_example_is_production_shaped() -> None:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values["BILLFLOW_PAYMENT_BACKEND"] == "stripe"
    assert values["BILLFLOW_EMAIL_BACKEND"] in {"sendgrid", "smtp"}
    for secret in (
        "STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SENDGRID_API_KEY",
        "POSTGRES_PASSWORD",
        "BILLFLOW_CODEC_KEYS",
    ):
        assert values[secret] == "", f"{secret} is a placeholder to fill in, never a value"
    # Filled in, the example is accepted by production settings (docker-compose sets BILLFLOW_ENV=production).
    filled = {**values, **PROVIDERS, "BILLFLOW_ENV": "production"}
    Settings(**filled)  # extra names (POSTGRES_PASSWORD, host ports) are ignored
