"""0a1b2c3d4e71 on a database holding staff users: each becomes the first workspace's, row security is on for
them as for every workspace table, and going down refuses while another workspace has staff."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from billflow import migrate
from billflow.db import Database
from tests.ops.test_migrations import fresh_db, fresh_url  # noqa: F401  (fixtures)

BEFORE = "0a1b2c3d4e61"
SEED = [
    "INSERT INTO staff_users (email, name, role, password_hash, session_epoch, created_at) VALUES "
    "('ada@example.com', 'Ada', 'admin', 'x', 0, now()), ('bob@example.com', 'Bob', 'viewer', NULL, 0, now())",
    "INSERT INTO workspaces (id, slug, name, default_currency, locale, reporting_timezone, payment_terms_days, "
    "created_at, updated_at) VALUES (2, 'two', 'Two', 'EUR', 'en_US', 'UTC', 14, now(), now())",
]


async def _migrated(db: Database) -> None:
    await migrate.upgrade(db.engine, BEFORE)
    async with db.engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement))
    await migrate.upgrade(db.engine)


async def test_existing_staff_users_belong_to_the_first_workspace(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.connect() as conn:
        rows: dict[str, int] = dict((await conn.execute(text("SELECT email, workspace_id FROM staff_users"))).all())
        secured = (
            await conn.execute(text("SELECT relrowsecurity FROM pg_class WHERE relname = 'staff_users'"))
        ).scalar_one()
        policies = set(
            (await conn.execute(text("SELECT policyname FROM pg_policies WHERE tablename = 'staff_users'"))).scalars()
        )
    assert rows == {"ada@example.com": 1, "bob@example.com": 1}
    assert secured is True and policies == {"workspace_rows", "all_workspaces"}


async def test_going_down_refuses_while_another_workspace_has_staff(fresh_db: Database) -> None:  # noqa: F811
    await _migrated(fresh_db)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO staff_users (workspace_id, email, name, role, session_epoch, created_at) "
                "VALUES (2, 'cy@example.com', 'Cy', 'admin', 0, now())"
            )
        )
    with pytest.raises(RuntimeError, match="other workspaces"):
        await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM staff_users WHERE workspace_id = 2"))
    await migrate.downgrade(fresh_db.engine, BEFORE)
    async with fresh_db.engine.connect() as conn:
        columns = set(
            (
                await conn.execute(
                    text("SELECT column_name FROM information_schema.columns WHERE table_name = 'staff_users'")
                )
            ).scalars()
        )
    assert "workspace_id" not in columns and "email" in columns
