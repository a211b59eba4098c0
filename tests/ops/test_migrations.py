"""The Alembic migrations build the schema the models describe, and go down and up again on a fresh database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, make_url
from sqlmodel import SQLModel
from typer.testing import CliRunner

import models.tables  # noqa: F401  (registers every table)
from billflow import migrate
from billflow.config import get_settings
from billflow.db import Database
from starter.cli import app

ROOT = Path(__file__).resolve().parents[2]
needs_revision = pytest.mark.skipif(
    not migrate.has_revisions(), reason="no revision in migrations/versions yet (create_schema uses create_all)"
)


@pytest.fixture
def fresh_url(database_url: str) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards."""
    server = make_url(database_url)
    name = f"billflow_mig_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def fresh_db(fresh_url: str) -> AsyncIterator[Database]:
    database = Database(fresh_url, pool_size=2)
    yield database
    await database.dispose()


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


def test_one_head() -> None:
    """Two heads mean two engineers added revisions in parallel: merge them (`alembic merge heads`)."""
    assert len(migrate.head_revisions()) <= 1


@needs_revision
async def test_migrations_match_the_models(fresh_db: Database) -> None:
    await migrate.upgrade(fresh_db.engine)
    diff = await migrate.drift(fresh_db.engine)
    assert diff == [], "models and migrations disagree: add a revision with `billflow db revision -m ...`"


@needs_revision
async def test_downgrade_to_base_and_up_again(fresh_db: Database) -> None:
    await migrate.upgrade(fresh_db.engine)
    assert set(SQLModel.metadata.tables) <= await _tables(fresh_db)

    await migrate.downgrade(fresh_db.engine, "base")
    assert await _tables(fresh_db) == {"alembic_version"}
    assert await migrate.current(fresh_db.engine) is None

    await migrate.upgrade(fresh_db.engine)
    assert await migrate.current(fresh_db.engine) == migrate.head_revisions()[0]
    assert await migrate.drift(fresh_db.engine) == []


@needs_revision
async def test_create_schema_runs_the_migrations(fresh_db: Database) -> None:
    await fresh_db.create_schema()
    assert await migrate.current(fresh_db.engine) == migrate.head_revisions()[0]
    await fresh_db.create_schema()  # a second start (another worker) changes nothing
    assert await migrate.current(fresh_db.engine) == migrate.head_revisions()[0]


@needs_revision
async def test_concurrent_upgrades_wait_for_each_other(fresh_url: str, fresh_db: Database) -> None:
    """Three processes (workers, the migrate job) starting at once: the advisory lock lets one migrate, the
    others then find head; none fails on "table already exists"."""
    env = {**os.environ, "DATABASE_URL": fresh_url}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "starter.cli",
            "db",
            "upgrade",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [(await p.communicate())[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert await migrate.current(fresh_db.engine) == migrate.head_revisions()[0]
    assert await migrate.drift(fresh_db.engine) == []


@needs_revision
async def test_in_process_migrations_are_serialised(fresh_url: str) -> None:
    databases = [Database(fresh_url, pool_size=1) for _ in range(3)]
    try:
        await asyncio.gather(*(d.create_schema() for d in databases))
        assert set(SQLModel.metadata.tables) <= await _tables(databases[0])
    finally:
        await asyncio.gather(*(d.dispose() for d in databases))


@needs_revision
async def test_database_made_by_create_all_is_adopted_at_head(fresh_db: Database) -> None:
    async with fresh_db.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    await fresh_db.create_schema()
    assert await migrate.current(fresh_db.engine) == migrate.head_revisions()[0]


async def test_create_schema_creates_every_table(fresh_db: Database) -> None:
    await fresh_db.create_schema()
    assert set(SQLModel.metadata.tables) <= await _tables(fresh_db)


@needs_revision
async def test_cli_upgrade_current_downgrade(fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        behind = await asyncio.to_thread(runner.invoke, app, ["db", "current"])
        assert behind.exit_code == 1
        assert "behind" in behind.output
        up = await asyncio.to_thread(runner.invoke, app, ["db", "upgrade"])
        assert up.exit_code == 0, up.output
        assert migrate.head_revisions()[0] in up.output
        assert (await asyncio.to_thread(runner.invoke, app, ["db", "current"])).exit_code == 0
        down = await asyncio.to_thread(runner.invoke, app, ["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert "base (empty)" in down.output
    finally:
        get_settings.cache_clear()


# --- b1c2d3e4f511: clients belong to their source ---------------------------------------------------

_CLIENT = """
INSERT INTO clients (external_id, name, email, timezone, email_bounced, created_at, updated_at)
VALUES (CAST(:ext AS text), 'N', CAST(:ext AS text) || '@example.com', 'UTC', false, now(), now()) RETURNING id
"""
_INVOICE = """
INSERT INTO invoices (number, source_key, workflow_id, client_id, currency, subtotal_minor, tax_minor, total_minor,
    amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone, public_token, reminders_paused,
    created_at, updated_at)
VALUES (:key, :key, :key, :client, 'EUR', 100, 0, 100, 0, 'open', '2026-11-01', '2026-11-15', now(), now(), 'UTC',
    :key, false, now(), now())
"""
_EVENT = """
INSERT INTO booking_events (integration, event_id, type, version, booking_id, payload_sha256, payload, result,
    received_at)
VALUES (:integration, :ext, 'subscription.created', 1, :ext, 'x', CAST(:payload AS jsonb), '{}', now())
"""


@needs_revision
async def test_client_source_migration_derives_each_clients_source(fresh_db: Database) -> None:
    """On a database holding clients: an integration's invoice (booking event or Cal.com) or stored event names
    the source; staff's bookings and clients with nothing to go by get the default, "staff"."""
    import json

    from sqlalchemy import text

    await migrate.upgrade(fresh_db.engine, "a3f1c2d4e5b6")
    async with fresh_db.engine.begin() as conn:
        ids = {}
        for ext in ("shop-1", "calcom:ada@example.com", "cli-1", "sub-1", "bare-1", "api-1"):
            ids[ext] = (await conn.execute(text(_CLIENT), {"ext": ext})).scalar_one()
        for ext, key in (
            ("shop-1", "booking:shopx:b1"),
            ("shop-1", "booking:manual:b9"),  # a later staff invoice does not change the source
            ("calcom:ada@example.com", "booking:cal-main:uid-1"),
            ("cli-1", "booking:manual:b2"),
            ("api-1", "booking:api:b3"),
        ):
            await conn.execute(text(_INVOICE), {"key": key, "client": ids[ext]})
        payload = json.dumps({"data": {"client": {"external_id": "sub-1"}}})
        await conn.execute(text(_EVENT), {"integration": "shopx", "ext": "sub-1", "payload": payload})
    await migrate.upgrade(fresh_db.engine)

    async with fresh_db.engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT external_id, source FROM clients"))).tuples().all())
    assert rows == {
        "shop-1": "integration:shopx",
        "calcom:ada@example.com": "integration:cal-main",
        "cli-1": "staff",
        "sub-1": "integration:shopx",
        "bare-1": "staff",
        "api-1": "staff",
    }
    assert await migrate.drift(fresh_db.engine) == []
    # The same external id may now exist once per source, and only once per source.
    async with fresh_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO clients (source, external_id, name, email, timezone, email_bounced, "
                                "created_at, updated_at) VALUES ('integration:other', 'shop-1', 'M', 'm@example.com', "
                                "'UTC', false, now(), now())"))  # fmt: skip
    with pytest.raises(Exception, match="uq_clients_workspace_source_external_id"):
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text(_CLIENT), {"ext": "cli-1"})


@needs_revision
async def test_documents_migration_keeps_existing_invoices_and_freezes_them(fresh_db: Database) -> None:
    """c1d2e3f4a514 on a database holding invoices: lines get their tax category, each invoice its VAT
    breakdown from its lines, and from then on the trigger refuses edits of their content."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await migrate.upgrade(fresh_db.engine, "a3f1c2d4e5b6")
    async with fresh_db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO clients (id, external_id, name, email, timezone, email_bounced, created_at, updated_at) "
                "VALUES (1, 'c1', 'Ada', 'ada@example.com', 'UTC', false, now(), now())"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO invoices (id, number, source_key, workflow_id, client_id, currency, subtotal_minor, "
                "tax_minor, total_minor, amount_paid_minor, status, issue_date, due_date, issued_at, due_at, timezone, "
                "public_token, reminders_paused, created_at, updated_at) VALUES (1, 'INV-2026-000001', 'k1', 'w1', 1, "
                "'EUR', 12000, 2000, 14000, 0, 'open', '2026-11-01', '2026-11-15', now(), now(), 'UTC', 't1', false, "
                "now(), now())"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_minor, "
                "tax_rate_bp, subtotal_minor, tax_minor, total_minor) VALUES "
                "(1, 1, 'Session', 1, 10000, 2000, 10000, 2000, 12000), (1, 2, 'Travel', 1, 2000, 0, 2000, 0, 2000)"
            )
        )
    await migrate.upgrade(fresh_db.engine)
    assert await migrate.drift(fresh_db.engine) == []
    async with fresh_db.engine.begin() as conn:
        categories = (
            (await conn.execute(text("SELECT tax_category FROM invoice_lines ORDER BY position"))).scalars().all()
        )
        breakdown = (await conn.execute(text("SELECT tax_breakdown FROM invoices WHERE id = 1"))).scalar_one()
        credited, kind = (await conn.execute(text("SELECT credited_minor, kind FROM invoices"))).one()
    assert categories == ["standard", "zero"]
    assert sorted((r["category"], r["rate_bp"], r["taxable_minor"], r["tax_minor"]) for r in breakdown) == [
        ("standard", 2000, 10000, 2000),
        ("zero", 0, 2000, 0),
    ]
    assert (credited, kind) == (0, "invoice")
    with pytest.raises(DBAPIError, match="content cannot change"):
        async with fresh_db.engine.begin() as conn:
            await conn.execute(text("UPDATE invoices SET total_minor = 1 WHERE id = 1"))
    async with fresh_db.engine.begin() as conn:  # status still moves
        await conn.execute(text("UPDATE invoices SET status = 'paid', amount_paid_minor = 14000 WHERE id = 1"))
    await migrate.downgrade(fresh_db.engine, "a3f1c2d4e5b6")
    async with fresh_db.engine.begin() as conn:
        assert (await conn.execute(text("SELECT status FROM invoices WHERE id = 1"))).scalar_one() == "paid"


async def test_outbox_workspace_migration_gives_owed_messages_the_first_workspace(fresh_db: Database) -> None:
    """On a database holding outbox messages (some still owed): each becomes the first workspace's, the relay's
    fair-share index is there, and the schema matches the models."""
    from sqlalchemy import text

    await migrate.upgrade(fresh_db.engine, "0a1b2c3d4e41")
    async with fresh_db.engine.begin() as conn:
        for key, delivered in (("payment:local:a", "now()"), ("payment:local:b", "NULL")):
            await conn.execute(
                text(
                    "INSERT INTO run_outbox (key, workflow_id, kind, name, payload, created_at, available_at, "
                    f"delivered_at, attempts) VALUES (:key, 'invoice-x', 'signal', 'payment_recorded', '{{}}', "
                    f"now(), now(), {delivered}, 0)"
                ),
                {"key": key},
            )
    await migrate.upgrade(fresh_db.engine)

    async with fresh_db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT key, workspace_id FROM run_outbox ORDER BY key"))).tuples().all()
        indexes = {
            r[0] for r in await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'run_outbox'"))
        }
    assert rows == [("payment:local:a", 1), ("payment:local:b", 1)]
    assert "ix_run_outbox_pending_by_workspace" in indexes
    assert await migrate.drift(fresh_db.engine) == []
