"""0a1b2c3d4e26 on a database holding a saved business profile: it becomes workspace 1's profile (it was the
seller of new invoices, so it wins over the settings) and the business_profiles table goes."""

from __future__ import annotations

from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "0a1b2c3d4e24"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SAVED = (
    "INSERT INTO business_profiles (workspace, legal_name, address_line1, postcode, city, country, vat_id, iban, "
    "bic, sender_name, reply_to, default_currency, reporting_timezone, payment_terms_days, invoice_footer, logo, "
    "logo_type, updated_at, updated_by) VALUES ('default', 'Studio Nord GmbH', 'Hauptstr. 1', '10115', 'Berlin', "
    "'DE', 'DE136695976', 'DE89370400440532013000', 'COBADEFFXXX', 'Studio Nord', 'billing@studio-nord.example', "
    "'CHF', 'Europe/Berlin', 30, 'Thank you!', :logo, 'image/png', now(), 'admin@example.com')"
)
COLUMNS = (
    "name, legal_name, address_line1, city, country, vat_id, iban, bic, sender_name, reply_to, default_currency, "
    "reporting_timezone, payment_terms_days, invoice_footer, logo, logo_type"
)


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return set((await conn.execute(text(sql))).scalars())


async def test_the_saved_profile_becomes_workspace_1_and_its_table_goes(fresh_db: Database) -> None:  # noqa: F811
    await migrate.upgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text(SAVED), {"logo": PNG})
    await migrate.upgrade(fresh_db.engine)

    async with fresh_db.engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT {COLUMNS} FROM workspaces ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [
        (
            "Studio Nord",
            "Studio Nord GmbH",
            "Hauptstr. 1",
            "Berlin",
            "DE",
            "DE136695976",
            "DE89370400440532013000",
            "COBADEFFXXX",
            "Studio Nord",
            "billing@studio-nord.example",
            "CHF",
            "Europe/Berlin",
            30,
            "Thank you!",
            PNG,
            "image/png",
        )
    ]
    assert "business_profiles" not in await _tables(fresh_db)
    assert await migrate.drift(fresh_db.engine) == []

    # Down again: workspace 1 is the saved profile the older code reads.
    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        saved = (await conn.execute(text("SELECT legal_name, vat_id, logo FROM business_profiles"))).all()
    assert [tuple(r) for r in saved] == [("Studio Nord GmbH", "DE136695976", PNG)]


async def test_without_a_saved_profile_workspace_1_keeps_what_the_settings_made(fresh_db: Database) -> None:  # noqa: F811
    await migrate.upgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        before = (await conn.execute(text(f"SELECT {COLUMNS} FROM workspaces"))).all()
    await migrate.upgrade(fresh_db.engine)
    async with fresh_db.engine.connect() as conn:
        after = (await conn.execute(text(f"SELECT {COLUMNS} FROM workspaces"))).all()
    assert after == before and len(after) == 1
    assert "business_profiles" not in await _tables(fresh_db)
