"""0a1b2c3d4e51 on a database holding workspaces and a checkout session: they keep everything, gain no Stripe
account (the platform's, as before) and no own sender address; down again drops only the new columns."""

from __future__ import annotations

from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "0a1b2c3d4e26"
AFTER = "0a1b2c3d4e51"


async def test_existing_workspaces_stay_on_the_platform_account(fresh_db: Database) -> None:  # noqa: F811
    await migrate.upgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workspaces (slug, name, sender_name, default_currency, locale, reporting_timezone, "
                "payment_terms_days, created_at, updated_at) VALUES ('studio', 'Studio', 'Studio Nord', 'EUR', "
                "'de_DE', 'Europe/Berlin', 14, now(), now())"
            )
        )
        before = (await conn.execute(text("SELECT id, slug, name, sender_name FROM workspaces ORDER BY id"))).all()
    await migrate.upgrade(fresh_db.engine, AFTER)
    async with fresh_db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, slug, name, sender_name, stripe_account_id, sender_email FROM workspaces ORDER BY id")
            )
        ).all()
    assert [tuple(r[:4]) for r in rows] == [tuple(r) for r in before] and len(rows) == 2
    assert {(r[4], r[5]) for r in rows} == {(None, None)}

    # One account, one workspace: the column is unique.
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text("UPDATE workspaces SET stripe_account_id = 'acct_1' WHERE slug = 'studio'"))
    try:
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text("UPDATE workspaces SET stripe_account_id = 'acct_1' WHERE slug <> 'studio'"))
    except Exception as err:  # the driver's IntegrityError, wrapped by SQLAlchemy
        assert "uq_workspaces_stripe_account_id" in str(err)
    else:
        raise AssertionError("a second workspace took the same Stripe account")

    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT id, slug, name, sender_name FROM workspaces ORDER BY id"))).all()
        columns = set(
            (
                await conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name IN ('workspaces', 'checkout_sessions')"
                    )
                )
            ).scalars()
        )
    assert [tuple(r) for r in kept] == [tuple(r) for r in before]
    assert not {"stripe_account_id", "sender_email", "stripe_account"} & columns
