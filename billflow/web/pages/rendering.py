"""Jinja2 rendering for the staff app: one environment, money and date filters, the CSRF token and flash notes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from models.money import format_money


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value:%Y-%m-%d}"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("billflow", "templates/app"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency: format_money(int(minor), currency)
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.filters["qty"] = lambda q: format(Decimal(q).normalize(), "f")
    env.filters["label"] = lambda value: str(getattr(value, "value", value)).replace("_", " ")
    env.globals["query"] = lambda params, **changes: (
        "?" + urlencode([(k, v) for k, v in {**params, **changes}.items() if v not in (None, "")], doseq=True)
    )
    return env


def flash(request: Request, text: str, *, kind: str = "ok") -> None:
    """A note shown once on the next page (after a redirect)."""
    notes = list(request.session.get("flash", []))
    notes.append({"kind": kind, "text": text[:500]})
    request.session["flash"] = notes[-5:]


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    token = request.scope.get("csrftoken")
    context.setdefault("user", None)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    notes = request.session.pop("flash", []) if "session" in request.scope else []
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            csrf=token() if callable(token) else "",
            notes=notes,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # after a POST: the browser GETs the result page
