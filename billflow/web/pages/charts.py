"""Plotly figures (as JSON for plotly.js, served from the plotly wheel) built from the report models.

Amounts are plotted in major units of each currency; each chart has a table beside it for screen readers.
"""

from __future__ import annotations

import json
from typing import Any

from babel.numbers import get_currency_precision

from billflow.services.overview import DsoPoint
from billflow.services.reports import AgingReport, CashReport
from models.money import format_money

LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 12, "t": 12, "b": 40},
    "height": 260,
    "legend": {"orientation": "h", "y": -0.2},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"family": "system-ui, sans-serif", "size": 12},
}
AGING_BUCKETS = [
    ("current_minor", "Not yet due"),
    ("days_1_30_minor", "1-30 days"),
    ("days_31_60_minor", "31-60 days"),
    ("days_61_90_minor", "61-90 days"),
    ("over_90_minor", "Over 90 days"),
]


def major(minor: int, currency: str) -> float:
    return minor / 10 ** get_currency_precision(currency)


def money(minor: int, currency: str) -> str:
    return format_money(int(minor), currency)


def _figure(data: list[dict[str, Any]], **layout: Any) -> str:
    return json.dumps({"data": data, "layout": {**LAYOUT, **layout}})


def aging(report: AgingReport) -> str:
    data = [
        {
            "type": "bar",
            "name": label,
            "x": [row.currency for row in report.rows],
            "y": [major(getattr(row, field), row.currency) for row in report.rows],
        }
        for field, label in AGING_BUCKETS
    ]
    return _figure(data, barmode="stack")


def cash(report: CashReport, *, kind: str = "bar") -> str:
    by_currency: dict[str, tuple[list[str], list[float]]] = {}
    for row in report.rows:
        xs, ys = by_currency.setdefault(row.currency, ([], []))
        xs.append(row.period.isoformat())
        ys.append(major(row.net_minor, row.currency))
    data = [
        {"type": "bar" if kind == "bar" else "scatter", "mode": "lines+markers", "name": currency, "x": xs, "y": ys}
        for currency, (xs, ys) in sorted(by_currency.items())
    ]
    if kind == "bar":
        for trace in data:
            trace.pop("mode")
    tick = "%b %Y" if report.grain.value == "month" else "%d %b"
    return _figure(data, xaxis={"type": "date", "tickformat": tick})


def dso(points: list[DsoPoint]) -> str:
    by_currency: dict[str, tuple[list[str], list[float | None]]] = {}
    for point in points:
        xs, ys = by_currency.setdefault(point.currency, ([], []))
        xs.append(point.as_of.isoformat())
        ys.append(point.dso_days)
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": currency, "x": xs, "y": ys}
        for currency, (xs, ys) in sorted(by_currency.items())
    ]
    return _figure(data, xaxis={"type": "date", "tickformat": "%b %Y"}, yaxis={"title": {"text": "days"}})
