"""Invoices a scenario runs: bookings with a reminder policy in seconds, started and paid through Temporal
with bounded concurrency, every call retried (bounded) while servers are down."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.client import Client
from temporalio.service import RPCError

from billflow.services import invoice_runs
from models.workflow_io import BookingIn, ClientIn, LineIn, PaymentReceived, ReminderPolicy, ReminderStep

T = TypeVar("T")

# Due 8 s after issue; reminders 4 s before and on the due instant, then two overdue notices 2 and 4 s after.
STEP_OFFSETS = (-4, 0, 2, 4)
TERMS = timedelta(seconds=8)
UNIT_PRICE = 12_345
TOTAL = 14_814  # 12,345 + 20 % tax, rounded as billflow rounds


def seconds_policy(offsets: tuple[int, ...] = STEP_OFFSETS) -> ReminderPolicy:
    return ReminderPolicy(
        send_hour=None,
        steps=[
            ReminderStep(offset=timedelta(seconds=s), template="reminder" if s <= 0 else "overdue") for s in offsets
        ],
    )


@dataclass
class Planned:
    """One invoice of the run and what must be true of it at the end."""

    booking: BookingIn
    pay: bool  # paid once (the payment delivered twice); otherwise it runs to overdue and escalation

    @property
    def workflow_id(self) -> str:
        return self.booking.workflow_id


def plan(count: int, *, paid_share: float = 0.5, terms: timedelta = TERMS) -> list[Planned]:
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(count):
        booking = BookingIn(
            source="chaos",
            booking_id=f"{run}-{i}",
            client=ClientIn(
                external_id=f"chaos-{run}-{i % 20}",
                name=f"Chaos Client {i % 20}",
                email=f"client{i % 20}@example.com",
                timezone="Europe/London",
            ),
            lines=[LineIn(description="Session", unit_price_minor=UNIT_PRICE, tax_rate_bp=2000)],
            currency="GBP",
            payment_terms=terms,
            reminder_policy=seconds_policy(),
        )
        out.append(Planned(booking=booking, pay=(i % 10) < paid_share * 10))
    return out


async def retrying(call: Callable[[], Awaitable[T]], *, for_seconds: float = 120, what: str = "call") -> T:
    """Retry a Temporal call while its server is unreachable (bounded in time)."""
    deadline = time.monotonic() + for_seconds
    delay = 0.2
    while True:
        try:
            return await call()
        except (RPCError, RuntimeError) as err:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} kept failing for {for_seconds:.0f} s: {err}") from err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def start_all(client: Client, planned: list[Planned], *, task_queue: str, concurrency: int = 20) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(p: Planned) -> None:
        async with limit:
            await retrying(lambda: invoice_runs.start_invoice(client, p.booking, task_queue=task_queue), what="start")

    await asyncio.gather(*(one(p) for p in planned))


def payment_for(p: Planned) -> PaymentReceived:
    return PaymentReceived(
        provider="local",
        provider_reference=f"chaos-pay-{p.workflow_id}",
        amount_minor=TOTAL,
        currency="GBP",
        received_at=datetime.now(UTC),
    )


async def pay(client: Client, p: Planned, *, deliveries: int = 2) -> None:
    """The same payment signalled `deliveries` times (a provider retrying its notification)."""
    payment = payment_for(p)
    for _ in range(deliveries):
        await retrying(lambda: invoice_runs.send_payment(client, p.workflow_id, payment), what="payment signal")
