"""0a1b2c3d4e41 on a database holding two workspaces' data: emails, events and credit notes take their owner's
workspace, numbers become unique per workspace, row-level security is on, and going down refuses to merge."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "0a1b2c3d4e51"
SEED = [
    "INSERT INTO workspaces (id, slug, name, default_currency, locale, reporting_timezone, payment_terms_days, "
    "created_at, updated_at) VALUES (2, 'two', 'Two', 'EUR', 'en_US', 'UTC', 14, now(), now())",
    "INSERT INTO clients (id, workspace_id, source, external_id, name, email, timezone, email_bounced, created_at, "
    "updated_at) VALUES (1, 1, 'staff', 'c-1', 'Ada', 'a@example.com', 'UTC', false, now(), now()), "
    "(2, 2, 'staff', 'c-1', 'Bea', 'b@example.com', 'UTC', false, now(), now())",
    "INSERT INTO invoices (id, workspace_id, number, source_key, workflow_id, client_id, currency, subtotal_minor, "
    "tax_minor, total_minor, amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone, "
    "public_token, reminders_paused, created_at, updated_at) VALUES "
    "(1, 1, 'INV-2026-000001', 'k1', 'w1', 1, 'EUR', 100, 0, 100, 0, 'open', '2026-11-01', '2026-11-15', now(), "
    "now(), 'UTC', 't1', false, now(), now()), "
    "(2, 2, 'TWO-INV-2026-000001', 'k2', 'w2', 2, 'EUR', 100, 0, 100, 0, 'open', '2026-11-01', '2026-11-15', now(), "
    "now(), 'UTC', 't2', false, now(), now())",
    "SELECT setval(pg_get_serial_sequence('invoices', 'id'), 2)",
    "SELECT setval(pg_get_serial_sequence('clients', 'id'), 2)",
    "SELECT setval(pg_get_serial_sequence('workspaces', 'id'), 2)",
    "INSERT INTO email_messages (idempotency_key, invoice_id, client_id, kind, to_email, subject, body_text, backend, "
    "status, attempts, created_at, updated_at) VALUES "
    "('m1', 1, 1, 'invoice_issued', 'a@example.com', 's', 'b', 'outbox', 'sent', 1, now(), now()), "
    "('m2', 2, 2, 'invoice_issued', 'b@example.com', 's', 'b', 'outbox', 'sent', 1, now(), now()), "
    "('m3', NULL, 2, 'portal_link', 'b@example.com', 's', 'b', 'outbox', 'sent', 1, now(), now())",
    "INSERT INTO timeline_events (client_id, invoice_id, kind, message, data, occurred_at) VALUES "
    "(1, 1, 'invoice.issued', '', '{}', now()), (2, 2, 'invoice.issued', '', '{}', now()), "
    "(2, NULL, 'note', 'hi', '{}', now())",
    "INSERT INTO credit_notes (number, idempotency_key, invoice_id, client_id, kind, reason, currency, "
    "subtotal_minor, tax_minor, total_minor, seller, buyer, issue_date, issued_at, created_at) VALUES "
    "('TWO-CN-2026-000001', 'cn2', 2, 2, 'partial', 'r', 'EUR', 10, 0, 10, '{}', '{}', '2026-11-02', now(), now())",
    "INSERT INTO service_catalog (event_type, service_name, unit_price_minor, currency, tax_rate_bp, created_at, "
    "updated_at) VALUES ('60min', 'Massage', 9000, 'EUR', 0, now(), now())",
]


async def _migrated(db: Database) -> None:
    await migrate.upgrade(db.engine, BEFORE)
    async with db.engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement))
    await migrate.upgrade(db.engine)


async def _owners(db: Database, table: str, key: str) -> dict[str, int]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT {key}, workspace_id FROM {table}"))).all()
    return {str(k): w for k, w in rows}


async def test_rows_take_their_owners_workspace(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    assert await _owners(fresh_db, "email_messages", "idempotency_key") == {"m1": 1, "m2": 2, "m3": 2}
    async with fresh_db.engine.connect() as conn:
        events = (await conn.execute(text("SELECT client_id, workspace_id FROM timeline_events"))).all()
    assert sorted(map(tuple, events)) == [(1, 1), (2, 2), (2, 2)]
    assert await _owners(fresh_db, "credit_notes", "number") == {"TWO-CN-2026-000001": 2}
    assert await _owners(fresh_db, "service_catalog", "event_type") == {"60min": 1}
    assert await migrate.drift(fresh_db.engine) == []


async def test_new_rows_take_their_owners_workspace(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.begin() as conn:  # a writer that names no workspace: the column says 1
        await conn.execute(
            text(
                "INSERT INTO email_messages (idempotency_key, invoice_id, client_id, kind, to_email, subject, "
                "body_text, backend, status, attempts, created_at, updated_at) VALUES ('m4', 2, 2, 'reminder', "
                "'b@example.com', 's', 'b', 'outbox', 'sent', 1, now(), now())"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO timeline_events (client_id, kind, message, data, occurred_at) "
                "VALUES (2, 'x', 'new', '{}', now())"
            )
        )
    assert (await _owners(fresh_db, "email_messages", "idempotency_key"))["m4"] == 2
    assert (await _owners(fresh_db, "timeline_events", "message"))["new"] == 2


def _invoice(number: str, key: str) -> str:
    return (
        "INSERT INTO invoices (workspace_id, number, source_key, workflow_id, client_id, currency, subtotal_minor, "
        "tax_minor, total_minor, amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone, "
        f"public_token, reminders_paused, created_at, updated_at) VALUES (2, '{number}', '{key}', '{key}', 2, 'EUR', "
        f"1, 0, 1, 0, 'open', '2026-11-01', '2026-11-15', now(), now(), 'UTC', '{key}', false, now(), now())"
    )


async def test_two_workspaces_may_issue_the_same_number(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.begin() as conn:  # workspace 1 has INV-2026-000001 already
        await conn.execute(text(_invoice("INV-2026-000001", "k3")))
    with pytest.raises(Exception, match="uq_invoices_workspace_number"):
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text(_invoice("INV-2026-000001", "k4")))


async def test_row_security_is_on_and_going_down_refuses_to_merge(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.connect() as conn:
        secured = (
            await conn.execute(text("SELECT relname FROM pg_class WHERE relrowsecurity ORDER BY relname"))
        ).scalars()
        assert {"clients", "invoices", "payments", "email_messages", "timeline_events", "credit_notes"} <= set(secured)
    with pytest.raises(Exception, match="more than one workspace"):
        await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.begin() as conn:
        cleanup = (
            "ALTER TABLE credit_notes DISABLE TRIGGER credit_notes_frozen",  # issued documents refuse deletes
            "DELETE FROM credit_notes",
            "DELETE FROM timeline_events",
            "DELETE FROM email_messages",
            "DELETE FROM invoices WHERE id = 2",
            "DELETE FROM clients WHERE id = 2",
            "DELETE FROM numbering_series WHERE workspace_id = 2",
            "DELETE FROM workspaces WHERE id = 2",
            "ALTER TABLE credit_notes ENABLE TRIGGER credit_notes_frozen",
        )
        for statement in cleanup:
            await conn.execute(text(statement))
    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        assert not (await conn.execute(text("SELECT count(*) FROM pg_class WHERE relrowsecurity"))).scalar()
