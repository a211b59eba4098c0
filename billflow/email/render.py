"""Email bodies rendered from Jinja2 templates (plain text and HTML) under billflow/templates/email."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, pass_context, select_autoescape
from jinja2.runtime import Context

from models.money import format_money


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@lru_cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("billflow", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    return env


@pass_context
def _money(context: Context, minor: int, currency: str) -> str:
    """Amounts in the context's `locale` (the issuing workspace's: '1.234,50 €' in de_DE), en_US without one."""
    return format_money(minor, currency, context.get("locale") or "en_US")


def render_email(template: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `<template>.txt.j2` (whose first line is `Subject: ...`) and `<template>.html.j2` if it exists."""
    env = _environment()
    text = env.get_template(f"{template}.txt.j2").render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {template}.txt.j2 must start with a Subject: line")
    try:
        html: str | None = env.get_template(f"{template}.html.j2").render(**context)
    except TemplateNotFound:
        html = None
    return RenderedEmail(subject=first.removeprefix("Subject: ").strip(), text=body.lstrip("\n"), html=html)
