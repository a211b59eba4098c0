"""Factories for test data, instead of copied dict literals."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from models.workflow_io import BookingIn, ClientIn, LineIn, ReminderPolicy, ReminderStep


def make_client(**overrides: Any) -> ClientIn:
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "external_id": f"client-{suffix}",
        "name": "Ada Lovelace",
        "email": f"ada-{suffix}@example.com",
        "timezone": "Europe/London",
    }
    return ClientIn(**(values | overrides))


def make_booking(**overrides: Any) -> BookingIn:
    values: dict[str, Any] = {
        "booking_id": f"bk-{uuid.uuid4().hex[:10]}",
        "client": make_client(),
        "lines": [
            LineIn(description="Strategy session", quantity=2, unit_price_minor=15_000, tax_rate_bp=2000),
            LineIn(description="Travel", unit_price_minor=2_500),
        ],
        "currency": "GBP",
        "payment_terms": timedelta(days=14),
    }
    return BookingIn(**(values | overrides))


def seconds_policy(*offsets: int) -> ReminderPolicy:
    """Exact-offset policy in seconds from the due instant (what the demo uses)."""
    return ReminderPolicy(
        send_hour=None,
        steps=[
            ReminderStep(offset=timedelta(seconds=s), template="reminder" if s <= 0 else "overdue") for s in offsets
        ],
    )
