"""Staff users of the web app: argon2 password hashes, one-time link tokens (invitations, resets), login attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.api_keys import ApiRole
from models.columns import instant, text_enum, workspace_fk


class TokenPurpose(StrEnum):
    invite = "invite"  # an admin invited the address; the link sets the first password
    reset = "reset"  # "forgot my password"; the link sets a new one


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_users"

    id: int | None = Field(default=None, primary_key=True)
    # The one workspace whose staff app this person signs in to (migration 0a1b2c3d4e71: existing users, the first).
    workspace_id: int = workspace_fk()
    # Unique across the installation, not per workspace: sign-in and "forgot my password" take an address alone,
    # so it must name one account (someone working for two businesses uses one address for each).
    email: str = Field(max_length=320, unique=True)  # stored lower-case
    name: str = Field(default="", max_length=200)
    role: str = text_enum(ApiRole.viewer)
    # argon2id encoded hash (parameters and salt included); None until an invitation is accepted.
    password_hash: str | None = Field(default=None, max_length=256)
    # Part of every session cookie: raising it (password set or reset, user disabled) ends every session at once.
    session_epoch: int = 0
    created_at: datetime = instant(nullable=False, default_now=True)
    last_login_at: datetime | None = instant()
    disabled_at: datetime | None = instant()


class StaffToken(SQLModel, table=True):
    """A one-time link: only the sha256 of its 256-bit random secret is stored."""

    __tablename__ = "staff_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_users.id", index=True)
    purpose: str = text_enum(TokenPurpose.invite, length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = instant(nullable=False, default_now=True)
    expires_at: datetime = instant(nullable=False)
    used_at: datetime | None = instant()


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, counted per address and per account for throttling."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    address: str = Field(max_length=64)
    succeeded: bool = False
    at: datetime = instant(nullable=False, default_now=True)
