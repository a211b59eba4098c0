"""0a1b2c3d4e61 on a database holding workspaces and a checkout session: they keep everything and gain no own
Stripe keys (nothing changes for them); down again drops only the new columns."""

from __future__ import annotations

from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "0a1b2c3d4e6b"
AFTER = "0a1b2c3d4e61"
NEW_WORKSPACE_COLUMNS = {
    "stripe_secret_key_sealed", "stripe_secret_key_hint", "stripe_webhook_secret_sealed", "stripe_webhook_secret_hint"
}  # fmt: skip


async def _columns(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        query = text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name IN ('workspaces', 'checkout_sessions')"
        )
        return set((await conn.execute(query)).scalars())


async def test_existing_workspaces_and_sessions_gain_no_own_keys(fresh_db: Database) -> None:  # noqa: F811
    await migrate.upgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workspaces (slug, name, stripe_account_id, default_currency, locale, reporting_timezone, "
                "payment_terms_days, created_at, updated_at) VALUES ('studio', 'Studio', 'acct_1', 'EUR', "
                "'de_DE', 'Europe/Berlin', 14, now(), now())"
            )
        )
        before = (await conn.execute(text("SELECT id, slug, stripe_account_id FROM workspaces ORDER BY id"))).all()
    await migrate.upgrade(fresh_db.engine, AFTER)
    assert NEW_WORKSPACE_COLUMNS | {"stripe_keys_workspace_id"} <= await _columns(fresh_db)
    async with fresh_db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, slug, stripe_account_id, stripe_secret_key_sealed, stripe_webhook_secret_sealed, "
                    "stripe_secret_key_hint FROM workspaces ORDER BY id"
                )
            )
        ).all()
    assert [tuple(r[:3]) for r in rows] == [tuple(r) for r in before] and len(rows) == 2
    assert {tuple(r[3:]) for r in rows} == {(None, None, None)}

    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT id, slug, stripe_account_id FROM workspaces ORDER BY id"))).all()
    assert [tuple(r) for r in kept] == [tuple(r) for r in before]
    assert not (NEW_WORKSPACE_COLUMNS | {"stripe_keys_workspace_id"}) & await _columns(fresh_db)
