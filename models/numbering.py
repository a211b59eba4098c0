"""Numbering series (issue 13): per workspace and document type, a pattern, reset yearly or never, gap-free.

The tables are here; the rules of a pattern (`{prefix}-{yyyy}-{seq:06}`) and the pydantic schemas are in
models/numbering_rules.py (no SQLAlchemy), re-exported from this module.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import text_enum
from models.numbering_rules import DEFAULT_PATTERN as DEFAULT_PATTERN
from models.numbering_rules import DEFAULT_PREFIXES as DEFAULT_PREFIXES
from models.numbering_rules import NUMBER_MAX as NUMBER_MAX
from models.numbering_rules import DocumentType as DocumentType
from models.numbering_rules import NumberingSeriesIn as NumberingSeriesIn
from models.numbering_rules import NumberingSeriesOut as NumberingSeriesOut
from models.numbering_rules import NumberReset as NumberReset
from models.numbering_rules import check_pattern as check_pattern
from models.numbering_rules import check_prefix as check_prefix
from models.numbering_rules import render_number as render_number
from models.numbering_rules import split_number as split_number


class NumberingSeries(SQLModel, table=True):
    """How one workspace numbers one document type."""

    __tablename__ = "numbering_series"
    __table_args__ = (UniqueConstraint("workspace_id", "document_type", name="uq_numbering_series_workspace_type"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(sa_column=Column(Integer, ForeignKey("workspaces.id"), nullable=False))
    document_type: str = text_enum(DocumentType.invoice.value)
    prefix: str = Field(default="", sa_column=Column(String(12), nullable=False))
    pattern: str = Field(default=DEFAULT_PATTERN, max_length=64)
    reset: str = text_enum(NumberReset.yearly.value)


class NumberingCounter(SQLModel, table=True):
    """The last number handed out in a series and period (the year, or 0 for a continuous series).

    Incremented in the document's own transaction and locked until it ends: numbers are handed out in commit
    order, and a rolled-back document returns its number (no gap)."""

    __tablename__ = "numbering_counters"

    series_id: int = Field(sa_column=Column(Integer, ForeignKey("numbering_series.id"), primary_key=True))
    period: int = Field(default=0, primary_key=True)
    last_value: int = 0
