"""0a1b2c3d4e25 on a database holding data: the installation's business becomes workspace 1, every row belongs
to it, and its numbering series go on from the last invoice and credit-note numbers issued."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from billflow import migrate
from billflow.config import get_settings
from billflow.db import Database
from billflow.repositories import numbering as numbering_repo
from models.numbering import DocumentType
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "f1a2b3c4d517"
OWNED = ("clients", "invoices", "payments", "api_keys", "integrations")
SEED = [
    "INSERT INTO clients (id, source, external_id, name, email, timezone, email_bounced, created_at, updated_at) "
    "VALUES (1, 'staff', 'c-1', 'Ada', 'ada@example.com', 'UTC', false, now(), now()), "
    "(2, 'integration:shop', 'c-1', 'Ada (shop)', 'ada@example.com', 'UTC', false, now(), now())",
    "SELECT setval(pg_get_serial_sequence('clients', 'id'), 2)",
    "INSERT INTO invoices (id, number, source_key, workflow_id, client_id, currency, subtotal_minor, tax_minor, "
    "total_minor, amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone, public_token, "
    "reminders_paused, created_at, updated_at) VALUES (1, 'INV-2026-000041', 'k1', 'w1', 1, 'EUR', 100, 0, 100, "
    "100, 'paid', '2026-11-01', '2026-11-15', now(), now(), 'UTC', 't1', false, now(), now())",
    "INSERT INTO payments (invoice_id, client_id, kind, provider, provider_reference, amount_minor, currency, "
    "method, received_at, created_at) VALUES (1, 1, 'payment', 'manual', 'r1', 100, 'EUR', 'cash', now(), now())",
    "INSERT INTO api_keys (key_id, name, role, secret_hash, created_at) VALUES ('abc', 'k', 'admin', 'h', now())",
    "INSERT INTO integrations (name, secret, created_at) VALUES ('shop', 's', now())",
    "INSERT INTO invoice_counters (year, last_value) VALUES (2025, 310), (2026, 41)",
    "INSERT INTO credit_note_counters (year, last_value) VALUES (2026, 3)",
]


@pytest.fixture
def business_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installation's business profile, as its operator configured it."""
    for name, value in {
        "BILLFLOW_BUSINESS_NAME": "Studio Nord",
        "BILLFLOW_BUSINESS_LEGAL_NAME": "Studio Nord GmbH",
        "BILLFLOW_BUSINESS_COUNTRY": "de",
        "BILLFLOW_BUSINESS_VAT_ID": "DE136695976",
        "BILLFLOW_BUSINESS_IBAN": "DE89370400440532013000",
        "BILLFLOW_REPORTING_TIMEZONE": "Europe/Berlin",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _seeded(db: Database) -> None:
    await migrate.upgrade(db.engine, BEFORE)
    async with db.engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement))


async def test_existing_rows_become_the_first_workspaces(fresh_db: Database, business_settings: None) -> None:  # noqa: F811
    await _seeded(fresh_db)
    await migrate.upgrade(fresh_db.engine)

    async with fresh_db.engine.connect() as conn:
        workspace = (
            await conn.execute(
                text("SELECT id, slug, name, legal_name, country, vat_id, iban, reporting_timezone FROM workspaces")
            )
        ).all()  # fmt: skip
        owners = {
            t: (await conn.execute(text(f"SELECT DISTINCT workspace_id FROM {t}"))).scalars().all() for t in OWNED
        }
    assert [tuple(w) for w in workspace] == [
        (
            1,
            "default",
            "Studio Nord",
            "Studio Nord GmbH",
            "DE",
            "DE136695976",
            "DE89370400440532013000",
            "Europe/Berlin",
        )
    ]
    assert owners == {t: [1] for t in OWNED}
    assert await migrate.drift(fresh_db.engine) == []


async def test_numbers_continue_after_the_last_one_issued(fresh_db: Database, business_settings: None) -> None:  # noqa: F811
    await _seeded(fresh_db)
    await migrate.upgrade(fresh_db.engine)
    async with fresh_db.session() as session:
        numbers = [
            await numbering_repo.next_number(session, workspace_id=1, document_type=DocumentType.invoice, year=2026),
            await numbering_repo.next_number(session, workspace_id=1, document_type=DocumentType.invoice, year=2025),
            await numbering_repo.next_number(
                session, workspace_id=1, document_type=DocumentType.credit_note, year=2026
            ),
        ]
    assert numbers == ["INV-2026-000042", "INV-2025-000311", "CN-2026-000004"]

    # Down again: the old per-year counters hold what the series counted meanwhile.
    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        counters = dict((await conn.execute(text("SELECT year, last_value FROM invoice_counters"))).all())
    assert counters == {2025: 311, 2026: 42}


async def test_clients_are_unique_per_workspace_and_source(fresh_db: Database, business_settings: None) -> None:  # noqa: F811
    await _seeded(fresh_db)
    await migrate.upgrade(fresh_db.engine)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO workspaces (slug, name, default_currency, locale, reporting_timezone, "
                                "payment_terms_days, created_at, updated_at) VALUES ('two', 'Two', 'EUR', 'en_US', "
                                "'UTC', 14, now(), now())"))  # fmt: skip
        await conn.execute(text("INSERT INTO clients (workspace_id, source, external_id, name, email, timezone, "
                                "email_bounced, created_at, updated_at) VALUES (2, 'staff', 'c-1', 'Other Ada', "
                                "'o@example.com', 'UTC', false, now(), now())"))  # fmt: skip
    with pytest.raises(Exception, match="uq_clients_workspace_source_external_id"):
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO clients (source, external_id, name, email, timezone, email_bounced, "
                                    "created_at, updated_at) VALUES ('staff', 'c-1', 'Dup', 'd@example.com', 'UTC', "
                                    "false, now(), now())"))  # fmt: skip
    with pytest.raises(RuntimeError, match="more than one workspace"):
        await migrate.downgrade(fresh_db.engine, BEFORE)
