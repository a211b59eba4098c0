"""Staff API keys: create (plaintext returned once), list, revoke, verify.

A token is `bf_<key_id>_<secret>`: the key id finds the row, the secret (32 random bytes) is compared by its
sha256 in constant time. A random 256-bit secret needs no slow password hash: nothing can be guessed from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from billflow.db import Database
from billflow.repositories import api_keys as api_keys_repo
from models.api_keys import ApiKey, ApiRole
from models.columns import DEFAULT_WORKSPACE_ID, utcnow

PREFIX = "bf"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at precision: one write per key per minute at most
_TOKEN = re.compile(r"^bf_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")


class KeyNotFound(LookupError):
    pass


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: ApiRole = ApiRole.viewer
    workspace_id: int = Field(default=DEFAULT_WORKSPACE_ID, ge=1, le=2**31 - 1)


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    role: ApiRole
    workspace_id: int = DEFAULT_WORKSPACE_ID
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            key_id=key.key_id,
            name=key.name,
            role=ApiRole(key.role),
            workspace_id=key.workspace_id,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class CreatedApiKey(ApiKeyOut):
    token: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff API key or a booking integration."""

    kind: str  # "api_key" or "integration"
    name: str
    key_id: str
    role: ApiRole
    # The workspace the key belongs to: every read and action it makes is scoped to it (issue 13).
    workspace_id: int = DEFAULT_WORKSPACE_ID

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(db: Database, data: NewApiKey) -> CreatedApiKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with db.session() as session:
        key = await api_keys_repo.add_key(
            session,
            key=ApiKey(
                key_id=key_id,
                name=data.name,
                role=data.role.value,
                secret_hash=_hash(secret),
                workspace_id=data.workspace_id,
            ),
        )
        out = ApiKeyOut.of(key)
    return CreatedApiKey(**out.model_dump(), token=f"{PREFIX}_{key_id}_{secret}")


async def list_keys(db: Database, *, include_revoked: bool = True, workspace_id: int | None = None) -> list[ApiKeyOut]:
    """The workspace's keys (None: every workspace's, for the CLI)."""
    async with db.session() as session:
        rows = await api_keys_repo.list_keys(session, include_revoked=include_revoked, workspace_id=workspace_id)
        return [ApiKeyOut.of(k) for k in rows]


async def revoke_key(db: Database, *, key_id: str, workspace_id: int | None = None) -> ApiKeyOut:
    """Revoke (idempotent: revoking twice keeps the first instant); a key of another workspace than
    `workspace_id` (when given) is not found."""
    async with db.session() as session:
        key = await api_keys_repo.revoke_key(session, key_id=key_id, at=utcnow(), workspace_id=workspace_id)
        if key is None:
            raise KeyNotFound(f"no API key {key_id!r}")
        return ApiKeyOut.of(key)


async def verify_token(db: Database, token: str) -> Principal | None:
    """The key's principal, or None for a malformed, unknown, wrong or revoked token."""
    match = _TOKEN.match(token.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    async with db.session() as session:
        key = await api_keys_repo.get_key(session, key_id=key_id)
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    async with db.session() as session:
        await api_keys_repo.touch_key(session, key_id=key_id, at=utcnow(), every=TOUCH_EVERY)
    return Principal(
        kind="api_key", name=key.name, key_id=key.key_id, role=ApiRole(key.role), workspace_id=key.workspace_id
    )
