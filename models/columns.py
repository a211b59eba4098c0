"""Column helpers shared by the tables: timezone-aware instants, JSONB, text enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

# The installation's first workspace (issue 13), defined without SQLAlchemy for the CLI's light reads.
from models.workspace_ids import DEFAULT_WORKSPACE_ID as DEFAULT_WORKSPACE_ID


def utcnow() -> datetime:
    return datetime.now(UTC)


def instant(*, nullable: bool = True, index: bool = False, default_now: bool = False) -> Any:
    """A timestamptz column; PostgreSQL stores it in UTC."""
    return Field(
        default_factory=utcnow if default_now else lambda: None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


def minor_units(*, default: int = 0) -> Any:
    return Field(default=default, sa_column=Column(BigInteger, nullable=False, default=default))


def text_enum(default: str, *, index: bool = False, length: int = 32) -> Any:
    return Field(default=default, sa_column=Column(String(length), nullable=False, index=index))


def jsonb() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, default=dict))


def workspace_fk() -> Any:
    """The workspace a row belongs to: NOT NULL, indexed, the first workspace for writers that name none."""
    return Field(
        default=DEFAULT_WORKSPACE_ID,
        sa_column=Column(
            Integer,
            ForeignKey("workspaces.id"),
            nullable=False,
            index=True,
            server_default=text(str(DEFAULT_WORKSPACE_ID)),
        ),
    )


def owned_workspace_fk() -> Any:
    """The workspace of a row owned by another (an invoice's line, a subscription's period): for row-level
    security only, kept equal to its owner's by a trigger on insert (migration 0a1b2c3d4e6b) whatever the writer
    names; not indexed, since such rows are reached through their owner."""
    return Field(
        default=DEFAULT_WORKSPACE_ID,
        sa_column=Column(
            Integer, ForeignKey("workspaces.id"), nullable=False, server_default=text(str(DEFAULT_WORKSPACE_ID))
        ),
    )
