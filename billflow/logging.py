"""Logging for every billflow process: JSON lines in production (one object per record, for log shippers),
readable text in development; each record carries the invoice and workflow it concerns when known.

Context comes from three places: `bind(invoice_number=...)` (a contextvar, so concurrent activities never mix
theirs up), the worker's interceptor (workflow id, run id, activity type of the running activity), and the
`temporal_workflow` / `temporal_activity` extras temporalio's own loggers attach.

The invoice and pay pages' tokens (`/i/{token}`, `/pay/{token}`) are the only credential for those pages: every
record is redacted before it is written (`RedactTokens`, on billflow's handler and on uvicorn's access logger,
which has its own handlers when uvicorn configures logging itself).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from billflow.config import Settings

CONTEXT_FIELDS = ("invoice_number", "invoice_id", "workflow_id", "run_id", "activity_type", "subscription_id")
_DROPPED_EXTRAS = ("temporal_workflow", "temporal_activity", "color_message")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("billflow_log_context", default=None)


_TOKEN_IN_PATH = re.compile(r"(/(?:i|pay)/)[^/?#\s\"'<>]+")
REDACTED = "[token]"
ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    """`/i/<token>/pdf?x` -> `/i/[token]/pdf?x`, `/pay/<token>` -> `/pay/[token]`."""
    return _TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)


class RedactTokens(logging.Filter):
    """Removes page tokens from the message and its arguments (uvicorn's access line passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def redact_access_log() -> None:
    """Attach the redaction to uvicorn's access logger itself (idempotent), whatever handlers it ends up with."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields to every record logged inside the block (and in tasks it starts)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bound() -> dict[str, Any]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copies the bound context and temporalio's extras onto the record as top-level fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = bound()
        for extra in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, extra, None)
            if isinstance(info, dict):
                fields.setdefault("workflow_id", info.get("workflow_id"))
                fields.setdefault("run_id", info.get("run_id"))
                if "activity_type" in info:
                    fields.setdefault("activity_type", info["activity_type"])
        for name in CONTEXT_FIELDS:
            if fields.get(name) is not None and not hasattr(record, name):
                setattr(record, name, fields[name])
        return True


class TextFormatter(logging.Formatter):
    """`time level logger message [invoice_number=... workflow_id=...]`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if hasattr(record, n))
        return f"{line} [{context}]" if context else line


def configure_logging(settings: Settings, *, stream: Any = None) -> logging.Handler:
    """Replace the root logger's handlers with one that writes JSON (production) or text; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactTokens())
    redact_access_log()
    if settings.json_logs:
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                timestamp="time",  # ISO 8601, UTC
                rename_fields={"levelname": "level", "name": "logger"},
                # temporalio's nested dicts are flattened by ContextFilter; keep the records small.
                reserved_attrs=[*JsonFormatter().reserved_attrs, *_DROPPED_EXTRAS],
            )
        )
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin at every start
    return handler
