"""Staff API keys: only a hash of the secret is stored; the plaintext is shown once, at creation."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.columns import instant, text_enum, workspace_fk
from models.enums import ApiRole  # a light module: the CLI's options name it without the ORM

__all__ = ["ApiKey", "ApiRole"]


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = workspace_fk()
    # Public part of the token (`bf_<key_id>_<secret>`): finds the row without scanning hashes.
    key_id: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    role: str = text_enum(ApiRole.viewer)
    # sha256 hex of the 256-bit random secret: enough for a high-entropy token (no password stretching needed).
    secret_hash: str = Field(max_length=64)
    created_at: datetime = instant(nullable=False, default_now=True)
    revoked_at: datetime | None = instant()
    last_used_at: datetime | None = instant()
