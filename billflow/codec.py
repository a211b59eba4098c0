"""Client-side encryption of every payload billflow writes to Temporal (AES-256-GCM, keys from configuration).

Temporal stores workflow inputs, signals, results and failures for the namespace's retention, on servers billflow
may not run (Temporal Cloud); clients' names, emails and booking lines must not be readable there. The codec
encrypts each payload whole (its metadata too, so even the payload's type stays hidden) with the active key and
names the key in the outer metadata, so a new key can be introduced while runs encrypted with an older one still
decode. Payloads without billflow's marker pass through unchanged: runs started before encryption keep working.

Key lookup goes through `KeyRing`, the one seam a per-workspace key would use (docs/encryption.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

if TYPE_CHECKING:
    from billflow.config import Settings

ENCODING = b"binary/encrypted"  # the marker; what the Temporal UI shows for a payload it cannot decode
KEY_ID = "encryption-key-id"
CIPHER = "encryption-cipher"
CIPHER_NAME = b"AES-256-GCM"
NONCE_BYTES = 12  # GCM's standard nonce; random per payload (2^32 payloads per key keep collisions negligible)
KEY_BYTES = 32
DEV_KEY_FILE = "codec-keys.json"  # under the data folder: `billflow dev`'s zero-setup key
KEYS_SETTING = "BILLFLOW_CODEC_KEYS"


class CodecKeyError(ValueError):
    """A key is missing, malformed or unknown; the message names the setting to fix."""


def generate_key() -> str:
    """Fresh key material: 32 random bytes, base64."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_key(key_id: str, material: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError):
        raise CodecKeyError(f"{KEYS_SETTING}: key {key_id!r} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise CodecKeyError(f"{KEYS_SETTING}: key {key_id!r} must be {KEY_BYTES} bytes (AES-256), not {len(raw)}")
    return raw


@dataclass(frozen=True)
class KeyRing:
    """Every key that may have encrypted a payload, by id, and the one new payloads are encrypted with.

    A per-workspace key would be one more lookup here (`active_for(workspace)`), fed by the codec's
    serialization context (the workflow id carries the business key); nothing else needs to change.
    """

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise CodecKeyError(f"{KEYS_SETTING} is empty: configure at least one key")
        if self.active not in self.keys:
            raise CodecKeyError(f"BILLFLOW_CODEC_ACTIVE_KEY {self.active!r} is not one of {KEYS_SETTING}")

    @classmethod
    def from_config(cls, keys: Mapping[str, str], active: str | None = None) -> KeyRing:
        parsed = {key_id: parse_key(key_id, material) for key_id, material in keys.items()}
        if active is None:
            if len(parsed) > 1:
                raise CodecKeyError(f"several {KEYS_SETTING}: set BILLFLOW_CODEC_ACTIVE_KEY to the one to encrypt with")
            active = next(iter(parsed), "")
        return cls(parsed, active)


def load_or_create_dev_keys(data_dir: Path) -> tuple[dict[str, str], str]:
    """The development key under the data folder, created on first use. Created atomically (write, then link):
    the worker, the API and the CLI may start together, and all must end with the same key."""
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key_id = "dev-1"
        draft = path.with_name(f".{DEV_KEY_FILE}.{os.getpid()}")
        draft.write_text(json.dumps({"active": key_id, "keys": {key_id: generate_key()}}) + "\n")
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    stored = json.loads(path.read_text())
    return dict(stored["keys"]), str(stored["active"])


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each serialized payload; the key id is authenticated too (a swapped id fails to decrypt)."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encrypt(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decrypt(payloads)

    def encrypt(self, payloads: Iterable[Payload]) -> list[Payload]:
        key_id = self.keyring.active
        cipher = self._ciphers[key_id]
        aad = key_id.encode()
        out = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), aad)
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: aad, CIPHER: CIPHER_NAME}, data=nonce + sealed))
        return out

    def decrypt(self, payloads: Iterable[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)  # written before encryption (or not by billflow): already readable
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise CodecKeyError(f"a payload is encrypted with key {key_id!r}, which {KEYS_SETTING} lacks")
            data = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
            out.append(Payload.FromString(data))
        return out


def encrypted_data_converter(keyring: KeyRing) -> DataConverter:
    """pydantic payloads, encrypted; failure messages and stack traces moved into an (encrypted) payload too."""
    return replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def keyring_for(settings: Settings) -> KeyRing:
    """The configured keys; in development without any, the data folder's key (created on first start).
    Production never gets here without keys: Settings refuses BILLFLOW_ENV=production without them."""
    if settings.codec_keys:
        keys = {key_id: secret.get_secret_value() for key_id, secret in settings.codec_keys.items()}
        return KeyRing.from_config(keys, settings.codec_active_key)
    if settings.env == "production":
        raise CodecKeyError(f"BILLFLOW_ENV=production needs {KEYS_SETTING} (no generated key in production)")
    keys, active = load_or_create_dev_keys(settings.data_dir)
    return KeyRing.from_config(keys, settings.codec_active_key or active)


def data_converter_for(settings: Settings) -> DataConverter:
    return encrypted_data_converter(keyring_for(settings))
