"""Numbering series (issue 13): per workspace and document type, a pattern, reset yearly or never, gap-free.

A pattern is text with placeholders: `{prefix}`, `{yyyy}` (the issue year), `{yy}`, and `{seq}` or `{seq:0N}`
(the sequence number, zero-padded to N digits). `{seq}` is required, and a yearly series needs the year in its
pattern, or two years would print the same numbers.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import text_enum


class DocumentType(StrEnum):
    invoice = "invoice"
    credit_note = "credit_note"


class NumberReset(StrEnum):
    yearly = "yearly"  # the sequence starts at 1 every issue year
    continuous = "continuous"  # one sequence forever


# The numbers billflow printed before series existed; the first workspace's series keep them going.
DEFAULT_PATTERN = "{prefix}-{yyyy}-{seq:06}"
DEFAULT_PREFIXES = {DocumentType.invoice: "INV", DocumentType.credit_note: "CN"}
NUMBER_MAX = 32  # invoices.number and credit_notes.number

_PLACEHOLDER = re.compile(r"\{([a-z]+)(?::0?(\d{1,2}))?\}")
_NAMES = {"prefix", "yyyy", "yy", "seq"}
_PREFIX = re.compile(r"^[A-Za-z0-9._-]{0,12}$")
# What a number may hold: the invoice routes accept [A-Za-z0-9._-] in a path.
_NUMBER_CHARS = re.compile(r"^[A-Za-z0-9._-]+$")


def check_pattern(pattern: str, *, reset: NumberReset) -> str:
    """The pattern if it renders unique, URL-safe numbers; ValueError naming what is wrong."""
    names = [m.group(1) for m in _PLACEHOLDER.finditer(pattern)]
    unknown = sorted(set(names) - _NAMES)
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: use {{prefix}}, {{yyyy}}, {{yy}}, {{seq:06}}")
    if names.count("seq") != 1:
        raise ValueError("needs exactly one {seq} (or {seq:06} for zero padding)")
    if reset is NumberReset.yearly and not {"yyyy", "yy"} & set(names):
        raise ValueError("a yearly series needs {yyyy} or {yy}: each year starts again at 1")
    sample = render_number(pattern, prefix="X", year=2026, seq=1)
    if not _NUMBER_CHARS.fullmatch(sample):
        raise ValueError("numbers may hold only letters, digits, '.', '_' and '-'")
    if len(render_number(pattern, prefix="X" * 12, year=2026, seq=10**9)) > NUMBER_MAX:
        raise ValueError(f"numbers must fit in {NUMBER_MAX} characters")
    return pattern


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("at most 12 letters, digits, '.', '_' or '-'")
    return prefix


def render_number(pattern: str, *, prefix: str, year: int, seq: int) -> str:
    """The document number for sequence value `seq` issued in `year`."""

    def one(match: re.Match[str]) -> str:
        name, width = match.group(1), match.group(2)
        if name == "seq":
            return f"{seq:0{int(width)}d}" if width else str(seq)
        return {"prefix": prefix, "yyyy": f"{year:04d}", "yy": f"{year % 100:02d}"}[name]

    return _PLACEHOLDER.sub(one, pattern)


def split_number(pattern: str, *, prefix: str, year: int) -> tuple[str, int, str]:
    """The number around its sequence value: (text before, zero-padding width or 0, text after), so the
    database can render `head + seq + tail` in the statement that takes the value (the pattern has one {seq})."""
    marker = "\x00"
    rendered = _PLACEHOLDER.sub(
        lambda m: marker if m.group(1) == "seq" else render_number(m.group(0), prefix=prefix, year=year, seq=0),
        pattern,
    )
    head, tail = rendered.split(marker)
    width = next(int(m.group(2) or 0) for m in _PLACEHOLDER.finditer(pattern) if m.group(1) == "seq")
    return head, width, tail


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


class NumberingSeriesIn(BaseModel):
    """How a workspace numbers one document type; checked so every number it prints is unique and URL-safe."""

    model_config = ConfigDict(extra="forbid")

    document_type: DocumentType
    reset: NumberReset = NumberReset.yearly
    prefix: str = PydanticField(default="", max_length=12, description="what {prefix} prints")
    pattern: str = PydanticField(default=DEFAULT_PATTERN, min_length=1, max_length=64, examples=[DEFAULT_PATTERN])

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_prefix(value)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str, info: ValidationInfo) -> str:
        return check_pattern(value, reset=info.data.get("reset", NumberReset.yearly))


class NumberingSeriesOut(BaseModel):
    document_type: DocumentType
    prefix: str
    pattern: str
    reset: NumberReset
    next_example: str = PydanticField(description="what a number of this series looks like (sequence value 1)")
