"""Column helpers shared by the tables: timezone-aware instants, JSONB, text enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


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
