"""Who a client belongs to (pure, no SQLAlchemy: workflow contracts import it).

A client belongs to the source that created it: each integration (booking events and Cal.com deliveries signed
with its secret) or staff (API keys, the CLI, the demo, subscriptions staff create). The same external id from
another source is another client, so one source can never redirect another's invoices by reusing its ids.
"""

from __future__ import annotations

STAFF_SOURCE = "staff"
SOURCE_MAX = 80
# Booking sources (BookingIn.source) of staff: the CLI's default, staff API keys, subscriptions, the demo.
STAFF_BOOKING_SOURCES = frozenset({"manual", "api", "subscription", "demo"})


def integration_source(name: str) -> str:
    return f"integration:{name}"


def source_of_booking(booking_source: str) -> str:
    """The client source a booking source implies, for bookings that do not say (runs started before clients
    had sources): staff's, or the integration of that name."""
    return STAFF_SOURCE if booking_source in STAFF_BOOKING_SOURCES else integration_source(booking_source)
