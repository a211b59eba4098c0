"""0a1b2c3d4e81 on a database holding booking events, Cal.com deliveries and Stripe/SendGrid events: the inbox
takes every row with its answer, outcome, invoice and workspace, each source's rows in their old order; going down
gives the three tables back as they were."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)
from tests.workspaces.test_isolation_migration import SEED

BEFORE = "0a1b2c3d4e71"
STARTED = "invoice_started"
ANSWER = '{"outcome": "invoice_started", "invoice_number": "INV-2026-000001"}'
# Inserted out of arrival order on purpose (b2 was received before b1, by id it is newer): the ids decide.
OLD_ROWS = [
    "INSERT INTO integrations (workspace_id, name, secret, created_at) VALUES (1, 'one', 's', now()), "
    "(2, 'two', 's', now())",
    "INSERT INTO booking_events (workspace_id, integration, event_id, type, version, booking_id, payload_sha256, "
    "payload, result, received_at, processed_at, sent_by) VALUES "
    f"(1, 'one', 'b1', 'booking.confirmed', 1, 'bk-1', 'h1', '{{\"version\": 1, \"data\": {{\"booking_id\": "
    f"\"bk-1\"}}}}', '{ANSWER}', now() - interval '1 minute', now(), 'integration:one'), "
    "(2, 'two', 'b2', 'booking.cancelled', 1, 'bk-2', 'h2', '{\"data\": {\"booking_id\": \"bk-2\"}}', '{}', "
    "now() - interval '2 minutes', NULL, 'api:key'), "
    "(2, 'one', 'b3', 'booking.rescheduled', 1, 'bk-3', 'h3', '{\"data\": {\"booking_id\": \"bk-3\"}}', "
    '\'{"outcome": "no_invoice"}\', now(), now(), NULL)',
    "INSERT INTO calcom_deliveries (integration, booking_uid, trigger, payload, result, received_at, processed_at) "
    f"VALUES ('one', 'u1', 'BOOKING_CREATED', '{{\"uid\": \"u1\"}}', '{ANSWER}', now(), now()), "
    "('two', 'u:2', 'BOOKING_CANCELLED', '{}', '{}', now(), NULL)",  # a uid with a colon: split at the trigger
    "INSERT INTO webhook_events (provider, event_id, type, payload, invoice_id, outcome, received_at, processed_at) "
    "VALUES ('stripe', 'evt_1', 'checkout.session.completed', '{\"id\": \"evt_1\"}', 1, 'paid', now(), now()), "
    "('stripe:w2', 'evt_1', 'checkout.session.completed', '{}', 2, 'paid', now(), now()), "
    "('sendgrid', 'sg1', 'delivered', '{}', NULL, NULL, now(), NULL)",
]
COLUMNS = {
    "booking_events": "workspace_id, integration, event_id, type, version, booking_id, payload_sha256, payload, "
    "result, received_at, processed_at, sent_by",
    "calcom_deliveries": "workspace_id, integration, booking_uid, trigger, payload, result, received_at, processed_at",
    "webhook_events": "workspace_id, provider, event_id, type, payload, invoice_id, outcome, received_at, processed_at",
}


async def _old_tables(db: Database) -> dict[str, list[Any]]:
    async with db.engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY id"))).all()
            for table, columns in COLUMNS.items()
        }


async def _inbox(db: Database) -> list[Any]:
    query = (
        "SELECT source, channel, event_key, type, workspace_id, payload_sha256, result->>'outcome', outcome, "
        "invoice_id, sent_by, processed_at IS NOT NULL FROM inbox_events ORDER BY id"
    )
    async with db.engine.connect() as conn:
        return (await conn.execute(text(query))).all()


async def _seeded(db: Database) -> dict[str, list[Any]]:
    await migrate.upgrade(db.engine, BEFORE)
    async with db.engine.begin() as conn:
        for statement in (*SEED, *OLD_ROWS):
            await conn.execute(text(statement))
    return await _old_tables(db)


def _of(rows: list[Any], source: str) -> list[Any]:
    return [r[1:] for r in rows if r[0] == source]


async def test_the_inbox_takes_every_row_of_the_three_tables(fresh_db: Database) -> None:  # noqa: F811
    await _seeded(fresh_db)
    await migrate.upgrade(fresh_db.engine)
    rows = await _inbox(fresh_db)
    assert _of(rows, "booking") == [
        ("one", "b1", "booking.confirmed", 1, "h1", STARTED, STARTED, None, "integration:one", True),
        ("two", "b2", "booking.cancelled", 2, "h2", None, None, None, "api:key", False),
        ("one", "b3", "booking.rescheduled", 2, "h3", "no_invoice", "no_invoice", None, None, True),
    ]
    assert _of(rows, "calcom") == [
        ("one", "u1:BOOKING_CREATED", "BOOKING_CREATED", 1, None, STARTED, STARTED, None, None, True),
        ("two", "u:2:BOOKING_CANCELLED", "BOOKING_CANCELLED", 2, None, None, None, None, None, False),
    ]
    assert _of(rows, "stripe") == [
        ("", "evt_1", "checkout.session.completed", 1, None, None, "paid", 1, None, True),
        ("w2", "evt_1", "checkout.session.completed", 2, None, None, "paid", 2, None, True),
    ]
    assert _of(rows, "sendgrid") == [("", "sg1", "delivered", 1, None, None, None, None, None, False)]
    assert await migrate.drift(fresh_db.engine) == []
    old = {"booking_events", "calcom_deliveries", "webhook_events"}
    async with fresh_db.engine.begin() as conn:
        listed = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        tables = set(listed.scalars())
        assert tables & old == set()
        # Its sequence goes on after the copied rows; an event applied to workspace 2's invoice follows it.
        await conn.execute(
            text(
                "INSERT INTO inbox_events (source, channel, event_key, type, payload, result, received_at) "
                "VALUES ('sendgrid', '', 'sg2', 'open', '{}', '{}', now())"
            )
        )
        await conn.execute(text("UPDATE inbox_events SET invoice_id = 2 WHERE event_key = 'sg2'"))
        owner = await conn.execute(text("SELECT workspace_id FROM inbox_events WHERE event_key = 'sg2'"))
        assert owner.scalar_one() == 2


async def test_going_down_gives_the_three_tables_back(fresh_db: Database) -> None:  # noqa: F811
    before = await _seeded(fresh_db)
    await migrate.upgrade(fresh_db.engine)
    await migrate.downgrade(fresh_db.engine, BEFORE)
    assert await _old_tables(fresh_db) == before
    async with fresh_db.engine.begin() as conn:  # their sequences, triggers and row security are back
        await conn.execute(
            text(
                "INSERT INTO calcom_deliveries (integration, booking_uid, trigger, payload, result, received_at) "
                "VALUES ('two', 'u3', 'BOOKING_CREATED', '{}', '{}', now())"
            )
        )
        owner = await conn.execute(text("SELECT workspace_id FROM calcom_deliveries WHERE booking_uid = 'u3'"))
        assert owner.scalar_one() == 2
        await conn.execute(text("UPDATE webhook_events SET invoice_id = 2 WHERE event_id = 'sg1'"))
        owner = await conn.execute(text("SELECT workspace_id FROM webhook_events WHERE event_id = 'sg1'"))
        assert owner.scalar_one() == 2
        secured = await conn.execute(
            text("SELECT count(*) FROM pg_class WHERE relrowsecurity AND relname = ANY(:names)"),
            {"names": list(COLUMNS)},
        )
        assert secured.scalar_one() == 3
        inbox = await conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'inbox_events'"))
        assert inbox.scalar_one() == 0
    await migrate.upgrade(fresh_db.engine)  # and up again on the same data
    assert len(await _inbox(fresh_db)) == 9
    assert await migrate.drift(fresh_db.engine) == []
