"""Helpers for the API tests: signed event deliveries and event bodies built from the factories."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from billflow.services.integrations import signed_headers


def confirmed_event(booking_id: str | None = None, **data: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "booking_id": booking_id or f"bk-{suffix}",
        "client": {
            "external_id": f"cus-{suffix}",
            "name": f"Grace Hopper {suffix}",
            "email": f"grace-{suffix}@example.com",
            "timezone": "Europe/London",
        },
        "services": [
            {"description": "Massage, 60 min", "quantity": 1, "unit_price_minor": 9000},
            {"description": "Oil", "quantity": 2, "unit_price_minor": 1200, "tax_rate_bp": 0},
        ],
        "currency": "GBP",
        "tax_rate_bp": 2000,
        "payment_terms_days": 14,
    }
    return {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": "booking.confirmed", "version": 1, "data": body | data}


# 90.00 + 20 % tax, plus 2 x 12.00 untaxed.
CONFIRMED_TOTAL = 10_800 + 2_400


def event(kind: str, booking_id: str, **data: Any) -> dict[str, Any]:
    return {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": kind, "version": 1, "data": {"booking_id": booking_id} | data}


async def post_signed(
    http: httpx.AsyncClient,
    name: str,
    secret: str,
    body: dict[str, Any] | bytes,
    *,
    timestamp: int | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = signed_headers(name, secret, raw, timestamp=timestamp) | {"Content-Type": "application/json"}
    return await http.post("/v1/events", content=raw, headers=headers)
