"""Numbering rules (issue 13): document types, patterns and how a number renders, with the pydantic schemas of a
series (in and out). The tables are in models/numbering.py, which re-exports these.

Pure pydantic (no SQLAlchemy): `billflow workspace show` builds NumberingSeriesOut from psycopg rows without
importing the ORM (issue 11, item 15).

A pattern is text with placeholders: `{prefix}`, `{yyyy}` (the issue year), `{yy}`, and `{seq}` or `{seq:0N}`
(the sequence number, zero-padded to N digits). `{seq}` is required, and a yearly series needs the year in its
pattern, or two years would print the same numbers.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic import Field as PydanticField


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

    @classmethod
    def of(cls, series: SeriesColumns, *, year: int) -> NumberingSeriesOut:
        """A stored series (its table row, or a psycopg row of its columns), its example number of `year`."""
        return cls(
            document_type=DocumentType(series.document_type),
            prefix=series.prefix,
            pattern=series.pattern,
            reset=NumberReset(series.reset),
            next_example=render_number(series.pattern, prefix=series.prefix, year=year, seq=1),
        )


class SeriesColumns(Protocol):
    """The columns of a numbering_series row that NumberingSeriesOut shows."""

    @property
    def document_type(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def pattern(self) -> str: ...
    @property
    def reset(self) -> str: ...
