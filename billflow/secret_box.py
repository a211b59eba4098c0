"""Secrets stored in the database, sealed with the payload codec's keys (AES-256-GCM, billflow/codec.py).

A workspace's own Stripe keys (issue 13.4) must be readable by billflow to call Stripe and verify webhooks, so
they cannot be hashed; sealed, a database dump or a replica alone does not give them away. Each sealed value
names its key id (keys rotate as the codec's do) and is bound to what it is (`context`, e.g.
`workspace:2:stripe_secret_key`): a value copied into another workspace's row, or into another column, does not
open. Plain values are never logged, listed or shown: `mask` gives what the CLI and the API print.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from billflow.codec import NONCE_BYTES, KeyRing, keyring_for

if TYPE_CHECKING:
    from billflow.config import Settings

VERSION = "v1"


class SecretUnreadable(ValueError):
    """A sealed value that does not open: unknown key id, another context, or damaged."""


class SecretBox:
    def __init__(self, keyring: KeyRing) -> None:
        self._active = keyring.active
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    def seal(self, plain: str, *, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, plain.encode(), self._aad(self._active, context))
        return f"{VERSION}:{self._active}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        version, _, rest = sealed.partition(":")
        key_id, _, data = rest.rpartition(":")
        cipher = self._ciphers.get(key_id)
        if version != VERSION or cipher is None:
            raise SecretUnreadable(f"sealed with an unknown key {key_id!r} (BILLFLOW_CODEC_KEYS)")
        try:
            raw = base64.b64decode(data, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(key_id, context)).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretUnreadable(f"the sealed value of {context} does not open") from None

    @staticmethod
    def _aad(key_id: str, context: str) -> bytes:
        return f"{key_id}|{context}".encode()


def secret_box_for(settings: Settings) -> SecretBox:
    """The box of this installation: the codec's keys (a development key in the data folder without them)."""
    return SecretBox(keyring_for(settings))


def mask(secret: str) -> str:
    """What is shown of a secret: its kind prefix and last four characters (`sk_live_...a1B2`)."""
    kind = secret[: secret[:12].rfind("_") + 1]  # sk_live_, rk_test_, whsec_ (empty when there is none)
    return f"{kind}...{secret[-4:]}"
