"""A small ledger whose report figures are known by hand.

Reports run as of AS_OF = 2026-06-30 (a Tuesday). EUR invoices sit at every aging boundary (0, 1, 30, 31, 60,
61, 90, 91 days past due), plus invoices that must or must not count as of that date.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from models.clients import Client
from models.email_messages import EmailMessage
from models.invoices import Invoice
from models.payments import Payment

AS_OF = date(2026, 6, 30)


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


# (label, client, currency, total, paid, status, days past due at AS_OF) for the open EUR ledger.
OPEN_AT_AS_OF = [
    ("not-yet-due", "acme", "EUR", 100, 0, "open", -5),
    ("due-today", "acme", "EUR", 200, 0, "open", 0),
    ("dpd-1", "acme", "EUR", 400, 0, "overdue", 1),
    ("dpd-30", "acme", "EUR", 800, 0, "overdue", 30),
    ("dpd-31", "acme", "EUR", 1_600, 0, "overdue", 31),
    ("dpd-60", "acme", "EUR", 3_200, 0, "overdue", 60),
    ("dpd-61", "bolt", "EUR", 6_400, 0, "overdue", 61),
    ("dpd-90", "bolt", "EUR", 12_800, 0, "overdue", 90),
    ("dpd-91", "bolt", "EUR", 25_600, 0, "overdue", 91),
    ("part-paid-45", "acme", "EUR", 1_000, 300, "overdue", 45),  # 700 open
    ("usd-current", "acme", "USD", 5_000, 0, "open", -10),
]

EXPECTED_AGING_EUR = {
    "current_minor": 100 + 200,
    # dpd-1, dpd-30, paid-later (unpaid at AS_OF, 10 days late), refunded-june (300 reopened, 15 days late),
    # voided-later (voided only after AS_OF, 5 days late)
    "days_1_30_minor": 400 + 800 + 51_200 + 300 + 777,
    "days_31_60_minor": 1_600 + 3_200 + 700,
    "days_61_90_minor": 6_400 + 12_800,
    "over_90_minor": 25_600,
}


async def load_known_dataset(session: AsyncSession) -> None:
    clients = {}
    for key, name in (("acme", "Acme Studio"), ("bolt", "Bolt Fitness"), ("calm", "Calm Yoga")):
        client = Client(external_id=f"ds-{key}", name=name, email=f"{key}@example.com", timezone="UTC")
        session.add(client)
        await session.flush()
        clients[key] = client.id

    def invoice(label: str, client: str, currency: str, total: int, paid: int, status: str, dpd: int, **extra):
        due = AS_OF - timedelta(days=dpd)
        issue = extra.pop("issue_date", due - timedelta(days=14))
        row = Invoice(
            number=f"T-{label}",
            source_key=f"test:{label}:{uuid.uuid4().hex[:6]}",
            workflow_id=f"invoice-test-{label}-{uuid.uuid4().hex[:6]}",
            client_id=clients[client],
            currency=currency,
            subtotal_minor=total,
            total_minor=total,
            amount_paid_minor=paid,
            status=status,
            issue_date=issue,
            issued_at=at(issue, 9),
            due_date=due,
            due_at=at(due + timedelta(days=1), 0),  # the end of the due day, as issue_invoice stores it
            timezone="UTC",
            public_token=uuid.uuid4().hex,
            **extra,
        )
        session.add(row)
        return row

    for spec in OPEN_AT_AS_OF:
        invoice(*spec)
    # Settled before AS_OF: no receivable.
    paid_early = invoice("paid-early", "calm", "EUR", 9_000, 9_000, "paid", 50, paid_at=at(days_ago(50)))
    voided = invoice("voided-early", "calm", "EUR", 7_000, 0, "void", 20, voided_at=at(days_ago(25)))
    # Paid only after AS_OF: still owed at AS_OF (10 days past due then).
    paid_later = invoice("paid-later", "bolt", "EUR", 51_200, 51_200, "paid", 10, paid_at=at(AS_OF + timedelta(2)))
    # Voided only after AS_OF: still owed at AS_OF (5 days past due then).
    invoice("voided-later", "calm", "EUR", 777, 0, "void", 5, voided_at=at(AS_OF + timedelta(days=3)))
    # Issued after AS_OF: not yet a receivable.
    invoice("issued-later", "calm", "EUR", 99_999, 0, "open", -30, issue_date=AS_OF + timedelta(days=10))
    # The June payments: 4,200 received, 300 refunded: 300 owed again, 15 days past due at AS_OF.
    june = invoice("refunded-june", "calm", "EUR", 4_200, 3_900, "overdue", 15)
    await session.flush()

    def payment(inv: Invoice, amount: int, when: datetime, kind: str = "payment") -> None:
        session.add(
            Payment(
                invoice_id=inv.id,
                client_id=inv.client_id,
                kind=kind,
                provider="manual",
                provider_reference=uuid.uuid4().hex,
                amount_minor=amount,
                currency=inv.currency,
                received_at=when,
            )
        )

    payment(paid_early, 9_000, at(days_ago(50)))
    payment(paid_later, 51_200, at(AS_OF + timedelta(days=2), 8))
    payment(june, 1_000, at(date(2026, 6, 1), 10))  # Monday 1 June
    payment(june, 500, at(date(2026, 6, 1), 23, 30))
    payment(june, 2_000, at(date(2026, 6, 3), 9))  # Wednesday
    payment(june, 700, at(date(2026, 6, 4), 2))  # 4 June in UTC, still 3 June in New York
    payment(june, 300, at(date(2026, 6, 8), 15), kind="refund")  # Monday of the next ISO week
    # Reminders: step 1 reached three invoices, step 2 two (see EXPECTED_EFFECTIVENESS).
    reminded = [
        (paid_early, 1, at(days_ago(53))),  # paid 3 days later
        (paid_later, 1, at(AS_OF - timedelta(days=8))),  # paid 10 days later
        (voided, 1, at(days_ago(30))),  # never paid
        (paid_later, 2, at(AS_OF - timedelta(days=1))),  # paid 3 days later
        (june, 2, at(date(2026, 6, 20))),  # not paid
    ]
    for inv, step, sent_at in reminded:
        session.add(
            EmailMessage(
                idempotency_key=f"{inv.workflow_id}:reminder-{step}",
                invoice_id=inv.id,
                client_id=inv.client_id,
                kind="reminder",
                reminder_step=step,
                to_email="someone@example.com",
                subject=f"Reminder {step}",
                body_text="...",
                backend="outbox",
                status="sent",
                sent_at=sent_at,
            )
        )
    await session.flush()
