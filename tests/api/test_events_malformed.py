"""Signed but malformed booking events: 422 naming the field (never a 5xx), and nothing recorded."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from billflow.db import Database
from models.inbox import InboxEvent
from tests.api.support import confirmed_event, post_signed


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


async def test_signed_malformed_events_are_422_and_record_nothing(
    http: httpx.AsyncClient, db: Database, integration: tuple[str, str]
) -> None:
    name, secret = integration
    base = confirmed_event()
    cases: dict[str, dict[str, Any] | bytes] = {
        "JSON array": b"[1, 2]",
        "not JSON": b"{oops",
        "occurred_at a word": _with(base, ("occurred_at",), "abc"),
        "starts_at beyond datetime": _with(base, ("data", "starts_at"), "99999-01-01T00:00:00Z"),
        "version a word": _with(base, ("version",), "one"),
        "unit price a word": _with(base, ("data", "services", 0, "unit_price_minor"), "lots"),
        "unit price 1e20": _with(base, ("data", "services", 0, "unit_price_minor"), 1e20),
        "client a list": _with(base, ("data", "client"), ["x"]),
        "data a string": _with(base, ("data",), "booking"),
    }
    for label, body in cases.items():
        response = await post_signed(http, name, secret, body)
        assert response.status_code == 422, (label, response.status_code, response.text[:300])
        assert "loc" in response.text, label  # FastAPI's detail names the field
    async with db.session() as session:
        stored = (
            await session.exec(
                select(func.count()).where(InboxEvent.source == "booking", col(InboxEvent.channel) == name)
            )
        ).one()
    assert stored == 0
