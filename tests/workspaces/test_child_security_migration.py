"""0a1b2c3d4e6b on a database holding two workspaces' data: the owned rows (lines, periods, sessions, booking
events, ...) take their owner's workspace, row security is on for them, and going down removes it all. (Three of
those tables became the inbox in 0a1b2c3d4e81: their rows keep the workspace this revision gave them.)"""

from __future__ import annotations

from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)
from tests.workspaces.test_isolation_migration import SEED

BEFORE = "0a1b2c3d4e32"
REVISION = "0a1b2c3d4e6b"
OWNED = (
    "invoice_lines", "checkout_sessions", "client_answers", "rendered_documents", "webhook_events",
    "client_settings", "portal_links", "subscription_plans", "subscription_periods", "credit_note_lines",
    "booking_events", "calcom_bookings", "calcom_deliveries",
)  # fmt: skip
# Two of each: one owned by workspace 1's invoice, client or subscription, one by workspace 2's. Before this
# revision the tables have no workspace_id: the backfill has to find it.
CHILDREN = [
    "INSERT INTO integrations (workspace_id, name, secret, created_at) VALUES (1, 'one', 's', now()), "
    "(2, 'two', 's', now())",
    "INSERT INTO credit_notes (workspace_id, number, idempotency_key, invoice_id, client_id, kind, reason, currency, "
    "subtotal_minor, tax_minor, total_minor, seller, buyer, issue_date, issued_at, created_at) VALUES "
    "(1, 'CN-1', 'cn1', 1, 1, 'partial', 'r', 'EUR', 10, 0, 10, '{}', '{}', '2026-11-02', now(), now())",
    "INSERT INTO subscriptions (id, workspace_id, client_id, currency, interval, timezone, start_date, issue_hour, "
    "payment_terms_seconds, reminder_policy, status, workflow_id, periods_billed, periods_skipped, created_at, "
    "updated_at) VALUES ('s1', 1, 1, 'EUR', '{}', 'UTC', '2026-11-01', 9, 0, '{}', 'active', 'ws1', 0, 0, now(), "
    "now()), ('s2', 2, 2, 'EUR', '{}', 'UTC', '2026-11-01', 9, 0, '{}', 'active', 'ws2', 0, 0, now(), now())",
    "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, tax_rate_bp, "
    "subtotal_minor, tax_minor, total_minor) VALUES (1, 1, 'l', 1, 100, 0, 100, 0, 100), "
    "(2, 1, 'l', 1, 100, 0, 100, 0, 100)",
    "INSERT INTO checkout_sessions (invoice_id, attempt, stripe_session_id, amount_minor, currency, status, "
    "payment_status, created_at, updated_at) VALUES (1, 1, 'cs_1', 100, 'EUR', 'open', 'unpaid', now(), now()), "
    "(2, 1, 'cs_2', 100, 'EUR', 'open', 'unpaid', now(), now())",
    "INSERT INTO client_answers (invoice_id, answer_id, kind, payload, outcome, created_at) VALUES "
    "(1, 'a1', 'promise', '{}', 'pending', now()), (2, 'a2', 'promise', '{}', 'pending', now())",
    "INSERT INTO rendered_documents (invoice_id, kind, content_hash, filename, content_type, content, created_at) "
    "VALUES (1, 'pdf', 'h1', 'f', 'application/pdf', '\\x00', now()), "
    "(2, 'pdf', 'h2', 'f', 'application/pdf', '\\x00', now())",
    "INSERT INTO webhook_events (provider, event_id, type, payload, invoice_id, received_at) VALUES "
    "('stripe', 'e1', 't', '{}', 1, now()), ('stripe', 'e2', 't', '{}', 2, now()), "
    "('stripe', 'e3', 't', '{}', NULL, now())",
    "INSERT INTO client_settings (client_id, reminders_paused, auto_pay, updated_at) VALUES "
    "(1, false, false, now()), (2, true, false, now())",
    "INSERT INTO portal_links (client_id, token_hash, expires_at, created_at, single_use) VALUES "
    "(1, 'p1', now(), now(), false), (2, 'p2', now(), now(), false)",
    "INSERT INTO subscription_plans (subscription_id, effective_from, lines, created_at) VALUES "
    "('s1', '2026-11-01', '[]', now()), ('s2', '2026-11-01', '[]', now())",
    "INSERT INTO subscription_periods (subscription_id, index, period_start, period_end, outcome, reason, "
    "recorded_at) VALUES ('s1', 1, '2026-11-01', '2026-11-30', 'billed', '', now()), "
    "('s2', 1, '2026-11-01', '2026-11-30', 'billed', '', now())",
    "INSERT INTO credit_note_lines (credit_note_id, position, description, quantity, unit_price_minor, tax_rate_bp, "
    "tax_category, subtotal_minor) VALUES ((SELECT id FROM credit_notes WHERE number = 'CN-1'), 1, 'd', 1, 10, 0, "
    "'standard', 10), ((SELECT id FROM credit_notes WHERE number = 'TWO-CN-2026-000001'), 1, 'd', 1, 10, 0, "
    "'standard', 10)",
    # a signed delivery of workspace 2's integration, and a staff key of workspace 2 naming none (api-ws2)
    "INSERT INTO booking_events (integration, event_id, type, version, booking_id, payload_sha256, payload, result, "
    "received_at) VALUES ('one', 'b1', 't', 1, 'b', 's', '{}', '{}', now()), "
    "('two', 'b2', 't', 1, 'b', 's', '{}', '{}', now()), ('api-ws2', 'b3', 't', 1, 'b', 's', '{}', '{}', now())",
    "INSERT INTO calcom_bookings (integration, uid, root_uid, created_at) VALUES ('one', 'u1', 'u1', now()), "
    "('two', 'u2', 'u2', now())",
    "INSERT INTO calcom_deliveries (integration, booking_uid, trigger, payload, result, received_at) VALUES "
    "('one', 'u1', 'x', '{}', '{}', now()), ('two', 'u2', 'x', '{}', '{}', now())",
]


async def _migrated(db: Database, to: str = REVISION) -> None:
    await migrate.upgrade(db.engine, BEFORE)
    async with db.engine.begin() as conn:
        for statement in (*SEED, *CHILDREN):
            await conn.execute(text(statement))
    await migrate.upgrade(db.engine, to)


async def _workspaces(db: Database, table: str) -> list[int]:
    async with db.engine.connect() as conn:
        return sorted((await conn.execute(text(f"SELECT workspace_id FROM {table}"))).scalars())


async def test_owned_rows_take_their_owners_workspace(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    found = {table: await _workspaces(fresh_db, table) for table in OWNED}
    expected = {table: [1, 2] for table in OWNED}
    expected["webhook_events"] = [1, 1, 2]  # the event of no invoice stays the first workspace's
    expected["booking_events"] = [1, 2, 2]
    assert found == expected
    await migrate.upgrade(fresh_db.engine)  # the inbox takes the three tables' rows with their workspaces
    inbox = text("SELECT workspace_id FROM inbox_events WHERE source = :source ORDER BY workspace_id")
    async with fresh_db.engine.connect() as conn:
        moved = {s: list((await conn.execute(inbox, {"source": s})).scalars()) for s in ("booking", "calcom", "stripe")}
    assert moved == {"booking": [1, 2, 2], "calcom": [1, 2], "stripe": [1, 1, 2]}
    assert await migrate.drift(fresh_db.engine) == []


async def test_rows_written_after_it_take_their_owners_workspace(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.begin() as conn:  # a writer naming no workspace: the column would say 1
        await conn.execute(
            text(
                "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, "
                "tax_rate_bp, subtotal_minor, tax_minor, total_minor) VALUES (2, 2, 'l', 1, 1, 0, 1, 0, 1)"
            )
        )
        await conn.execute(text("UPDATE webhook_events SET invoice_id = 2 WHERE event_id = 'e3'"))
    assert await _workspaces(fresh_db, "invoice_lines") == [1, 2, 2]
    assert await _workspaces(fresh_db, "webhook_events") == [1, 2, 2]


async def test_row_security_is_on_for_them_and_going_down_removes_it(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    query = text("SELECT relname FROM pg_class WHERE relrowsecurity AND relname = ANY(:names)")
    async with fresh_db.engine.connect() as conn:
        assert set((await conn.execute(query, {"names": list(OWNED)})).scalars()) == set(OWNED)
    await migrate.downgrade(fresh_db.engine, BEFORE)
    columns = text(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'workspace_id' AND table_name = ANY(:n)"
    )
    async with fresh_db.engine.connect() as conn:
        assert not (await conn.execute(query, {"names": list(OWNED)})).all()
        assert (await conn.execute(columns, {"n": list(OWNED)})).scalar() == 0
        lines = (await conn.execute(text("SELECT count(*) FROM invoice_lines"))).scalar()
    assert lines == 2  # going down drops the column, never the rows
    await migrate.upgrade(fresh_db.engine)  # and up again on the same data, to the inbox
    assert await _workspaces(fresh_db, "subscription_periods") == [1, 2]
