"""The payload codec: encryption, key ids and rotation, pass-through of old payloads, keys from configuration."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from billflow.codec import (
    DEV_KEY_FILE,
    ENCODING,
    CodecKeyError,
    EncryptionCodec,
    KeyRing,
    encrypted_data_converter,
    generate_key,
    keyring_for,
)
from billflow.config import Settings, get_settings
from starter.cli import app as cli
from tests.codec.support import CLIENT_EMAIL, personal_booking

OLD, NEW = generate_key(), generate_key()
CLEAR = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"email": CLIENT_EMAIL}).encode())


def codec(active: str = "old", **keys: str) -> EncryptionCodec:
    return EncryptionCodec(KeyRing.from_config(keys or {"old": OLD}, active))


def test_a_payload_is_sealed_whole_and_names_its_key() -> None:
    (sealed,) = codec().encrypt([CLEAR])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"old"
    assert CLIENT_EMAIL.encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the inner metadata is encrypted too
    assert codec().decrypt([sealed]) == [CLEAR]
    assert codec().encrypt([CLEAR])[0].data != sealed.data  # a fresh nonce every time


def test_after_rotation_old_payloads_decode_and_new_ones_use_the_new_key() -> None:
    before = codec().encrypt([CLEAR])
    rotated = codec("new", old=OLD, new=NEW)
    after = rotated.encrypt([CLEAR])
    assert after[0].metadata["encryption-key-id"] == b"new"
    assert rotated.decrypt(before + after) == [CLEAR, CLEAR]


def test_a_payload_of_a_removed_key_fails_naming_the_key() -> None:
    sealed = codec().encrypt([CLEAR])
    with pytest.raises(CodecKeyError, match=r"'old'.*BILLFLOW_CODEC_KEYS"):
        codec("new", new=NEW).decrypt(sealed)


def test_a_relabelled_key_id_does_not_decrypt() -> None:
    (sealed,) = codec("a", a=OLD, b=OLD).encrypt([CLEAR])
    sealed.metadata["encryption-key-id"] = b"b"  # same material, other id: the id is authenticated
    with pytest.raises(InvalidTag):
        codec("a", a=OLD, b=OLD).decrypt([sealed])


def test_unencrypted_payloads_pass_through() -> None:
    assert codec().decrypt([CLEAR]) == [CLEAR]


async def test_values_and_failure_messages_are_encrypted_by_the_data_converter() -> None:
    converter = encrypted_data_converter(KeyRing.from_config({"old": OLD}))
    booking = personal_booking()
    (payload,) = await converter.encode([booking])
    assert CLIENT_EMAIL.encode() not in payload.SerializeToString()
    assert (await converter.decode([payload], [type(booking)]))[0] == booking
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"bounced: {CLIENT_EMAIL}", "details", type="Bounce"), failure)
    assert CLIENT_EMAIL.encode() not in failure.SerializeToString()
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    restored = await converter.decode_failure(failure)
    assert isinstance(restored, ApplicationError) and restored.message == f"bounced: {CLIENT_EMAIL}"
    # Without the codec a failure would carry the message in clear (what this converter prevents).
    plain = Failure()
    await pydantic_data_converter.encode_failure(ApplicationError(f"bounced: {CLIENT_EMAIL}"), plain)
    assert CLIENT_EMAIL.encode() in plain.SerializeToString()


def test_production_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILLFLOW_CODEC_KEYS")
    providers = {  # production's real backends (the demo ones are refused first)
        "BILLFLOW_PAYMENT_BACKEND": "stripe",
        "STRIPE_API_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "BILLFLOW_EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": "SG.x",
    }
    with pytest.raises(ValidationError, match="BILLFLOW_CODEC_KEYS"):
        Settings(BILLFLOW_ENV="production", DATABASE_URL="postgresql://db/billflow", **providers)
    ready = Settings(
        BILLFLOW_ENV="production", DATABASE_URL="postgresql://db/x", BILLFLOW_CODEC_KEYS={"k": OLD}, **providers
    )
    assert keyring_for(ready).active == "k"


def test_development_generates_one_key_under_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BILLFLOW_CODEC_KEYS")
    settings = Settings(BILLFLOW_DATA_DIR=tmp_path)
    first = keyring_for(settings)
    assert (tmp_path / DEV_KEY_FILE).exists()
    assert stat.S_IMODE((tmp_path / DEV_KEY_FILE).stat().st_mode) == 0o600
    assert keyring_for(Settings(BILLFLOW_DATA_DIR=tmp_path)) == first  # every process of the folder: one key


def test_configured_keys_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", json.dumps({"a": OLD, "b": NEW}))
    with pytest.raises(CodecKeyError, match="BILLFLOW_CODEC_ACTIVE_KEY"):
        keyring_for(Settings())
    monkeypatch.setenv("BILLFLOW_CODEC_ACTIVE_KEY", "b")
    assert keyring_for(Settings()).active == "b"
    monkeypatch.setenv("BILLFLOW_CODEC_ACTIVE_KEY", "c")
    with pytest.raises(CodecKeyError, match="'c' is not one of BILLFLOW_CODEC_KEYS"):
        keyring_for(Settings())
    monkeypatch.delenv("BILLFLOW_CODEC_ACTIVE_KEY")
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", json.dumps({"short": "c2hvcnQ="}))
    with pytest.raises(CodecKeyError, match="'short' must be 32 bytes"):
        keyring_for(Settings())


def test_generate_key_adds_an_active_key_beside_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", json.dumps({"2026-11": OLD}))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["codec", "generate-key", "--id", "2026-12", "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["BILLFLOW_CODEC_ACTIVE_KEY"] == "2026-12"
        keys = json.loads(out["BILLFLOW_CODEC_KEYS"])
        assert keys["2026-11"] == OLD and len(keys) == 2
        assert KeyRing.from_config(keys, "2026-12").active == "2026-12"
        again = CliRunner().invoke(cli, ["codec", "generate-key", "--id", "2026-11"])
        assert again.exit_code == 2 and "already" in again.output
    finally:
        get_settings.cache_clear()


def test_the_env_template_values_mean_no_keys_and_garbage_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", "")
    monkeypatch.setenv("BILLFLOW_CODEC_ACTIVE_KEY", "")
    assert (Settings().codec_keys, Settings().codec_active_key) == ({}, None)
    monkeypatch.setenv("BILLFLOW_CODEC_KEYS", "k1:abc")
    with pytest.raises(ValidationError, match="BILLFLOW_CODEC_KEYS"):
        Settings()
